"""Which actions a release allows, and what the confirmation says (a table)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from webhook.dashboard.permitted import ACTIONS, READ_ONLY, verdicts
from webhook.kube.display import ReleaseView
from webhook.spec import parse_canary_spec
from webhook.spec.names import ENABLED_LABEL, HASH_LABEL, STATUS

STEPS = parse_canary_spec({"canarist.io/steps": "[{setWeight: 20}, {pause: {}}, {setWeight: 50}, "
                                                "{pause: {duration: 30s}}]"}).spec.steps


def view(status: dict[str, Any] | None, *, template: str = "bbb222", managed: bool = True
         ) -> ReleaseView:
    return ReleaseView.of({
        "metadata": {"namespace": "shop", "name": "web",
                     "labels": {ENABLED_LABEL: "true"} if managed else {},
                     "annotations": {STATUS: json.dumps(status)} if status else {}},
        "spec": {"template": {"metadata": {"labels": {HASH_LABEL: template}}}},
    })


RELEASE = {"phase": "Paused", "step": 1, "steps": 4, "weight": 20, "stableHash": "aaa111",
           "canaryHash": "bbb222"}
ALL = set(ACTIONS)


@pytest.mark.parametrize(("status", "template", "allowed"), [
    (RELEASE, "bbb222", {"promote", "promote-full", "abort", "pause", "undo"}),
    (dict(RELEASE, phase="Progressing", step=0), "bbb222",
     {"promote", "promote-full", "abort", "pause", "undo"}),
    (dict(RELEASE, userPaused=True), "bbb222", {"promote", "promote-full", "abort", "resume",
                                                 "undo"}),
    (dict(RELEASE, phase="Degraded", abortedAt="2026-01-01T00:00:00Z"), "bbb222",
     {"retry", "promote-full", "undo"}),
    (dict(RELEASE, phase="Promoting", step=4), "bbb222", {"undo"}),  # undo = revert: allowed
    (dict(RELEASE, phase="Progressing", step=4), "bbb222", {"promote-full", "abort", "pause",
                                                             "undo"}),
    ({"phase": "Healthy", "step": 4, "steps": 4, "weight": 0, "stableHash": "aaa111",
      "canaryHash": "aaa111"}, "aaa111", {"undo"}),
])
def test_allowed_actions(status: dict[str, Any], template: str, allowed: set[str]) -> None:
    got = {v.action: v for v in verdicts(view(status, template=template), STEPS, replicas=4,
                                         read_only=False)}
    assert list(got) == list(ACTIONS)
    assert {a for a, v in got.items() if v.allowed} == allowed
    for action in ALL - allowed:
        assert got[action].reason, action  # a refusal always says why
    for action in allowed:
        assert got[action].reason == ""


def test_reasons_are_the_clis() -> None:
    got = {v.action: v for v in verdicts(view(dict(RELEASE, phase="Degraded",
                                                   abortedAt="2026-01-01T00:00:00Z")),
                                         STEPS, replicas=4, read_only=False)}
    assert got["promote"].reason == "the release is aborted; retry it, or promote --full"
    assert got["resume"].reason == "the release is aborted; retry it, or promote --full"
    healthy = {"phase": "Healthy", "stableHash": "aaa111", "canaryHash": "aaa111"}
    at_rest = {v.action: v for v in verdicts(view(healthy, template="aaa111"), STEPS,
                                             replicas=4, read_only=False)}
    assert at_rest["abort"].reason == "no release in progress (phase Healthy): nothing to abort"
    unmanaged = {v.action: v for v in verdicts(view(None, managed=False), STEPS, replicas=4,
                                               read_only=False)}
    assert not any(v.allowed for v in unmanaged.values())


def test_read_only_allows_nothing() -> None:
    for v in verdicts(view(RELEASE), STEPS, replicas=4, read_only=True):
        assert (v.allowed, v.reason) == (False, READ_ONLY)


def test_the_confirmation_says_what_will_happen() -> None:
    got = {v.action: v.effect for v in verdicts(view(RELEASE), STEPS, replicas=4,
                                                read_only=False)}
    assert got["promote"] == ("Skips step 2/4 (pause); the release goes on with step 3/4 "
                              "(setWeight 50).")
    assert got["promote-full"] == ("Skips every remaining step: the canary bbb222 is scaled to "
                                   "4 pods, then takes 100% of the traffic and becomes the "
                                   "stable revision.")
    assert got["abort"].startswith("Sends all traffic back to the stable revision aaa111 at "
                                   "once and scales the canary bbb222 away.")
    assert got["pause"] == ("Holds the release at step 2/4 (pause): no step advances until "
                            "Resume (a timed pause keeps counting).")
    assert got["undo"].startswith("Rolls back to the stable revision aaa111")
    last = {v.action: v.effect for v in verdicts(view(dict(RELEASE, step=3)), STEPS, replicas=4,
                                                 read_only=False)}
    assert last["promote"].startswith("Skips step 4/4 (pause 30s); every step is then done")
