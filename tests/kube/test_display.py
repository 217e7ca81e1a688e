"""The CLI's pure half: reading a Deployment leniently (fuzzed), the refusal rules as a table,
the progress bar and the table layout."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from webhook.kube.display import ReleaseView, bar, progress_line, refusal, status_text, table
from webhook.spec import Action
from webhook.spec.names import ACTION, ENABLED_LABEL, HASH_LABEL, STATUS


def dep(status: dict[str, Any] | str | None, *, managed: bool = True, tpl: str = "",
        action: str = "") -> dict[str, Any]:
    ann = {}
    if status is not None:
        ann[STATUS] = status if isinstance(status, str) else json.dumps(status)
    if action:
        ann[ACTION] = action
    return {"metadata": {"name": "web", "namespace": "shop", "resourceVersion": "9",
                         "labels": {ENABLED_LABEL: "true"} if managed else {},
                         "annotations": ann},
            "spec": {"template": {"metadata": {"labels": {HASH_LABEL: tpl} if tpl else {}}}}}


REL = {"phase": "Progressing", "step": 1, "steps": 3, "weight": 20, "stableHash": "s",
       "canaryHash": "c"}

ALL = list(Action)


@pytest.mark.parametrize(("status", "allowed"), [
    (REL, {Action.PROMOTE, Action.PROMOTE_FULL, Action.ABORT, Action.PAUSE}),
    (dict(REL, userPaused=True), {Action.PROMOTE, Action.PROMOTE_FULL, Action.ABORT,
                                  Action.RESUME}),
    (dict(REL, phase="Degraded", abortedAt="t"), {Action.RETRY, Action.PROMOTE_FULL}),
    (dict(REL, phase="Promoting", step=3), set()),
    (dict(REL, step=3), {Action.PROMOTE_FULL, Action.ABORT, Action.PAUSE}),
    ({"phase": "Healthy", "stableHash": "s", "canaryHash": "s", "steps": 3, "step": 3}, set()),
    (None, set()),
])
def test_what_each_state_allows(status: dict[str, Any] | None, allowed: set[Action]) -> None:
    view = ReleaseView.of(dep(status))
    assert {a for a in ALL if not refusal(view, a)} == allowed


def test_unmanaged_refuses_everything() -> None:
    view = ReleaseView.of(dep(REL, managed=False))
    assert all("not managed by canarist" in refusal(view, a) for a in ALL)


def test_a_template_held_by_the_webhook_is_a_release() -> None:
    healthy = {"phase": "Healthy", "stableHash": "s", "canaryHash": "s", "steps": 3}
    assert not ReleaseView.of(dep(healthy, tpl="s")).in_release
    view = ReleaseView.of(dep(healthy, tpl="new"))
    assert view.in_release and not view.ended and refusal(view, Action.ABORT) == ""


@given(st.one_of(st.none(), st.text(max_size=80),
                 st.dictionaries(st.sampled_from(["phase", "step", "steps", "weight",
                                                  "stableHash", "canaryHash", "userPaused",
                                                  "abortedAt", "message", "headerRoutes"]),
                                 st.one_of(st.none(), st.integers(-5, 200), st.text(max_size=8),
                                           st.booleans(), st.lists(st.text(max_size=3))))),
       st.text(max_size=6), st.text(max_size=10))
def test_any_annotation_reads_and_renders(status: Any, tpl: str, action: str) -> None:
    view = ReleaseView.of(dep(status, tpl=tpl, action=action))
    status_text(view)
    progress_line(view)
    table([view], all_namespaces=True)
    for a in ALL:
        refusal(view, a)
    json.dumps(view.to_json())


@given(st.integers(-50, 150), st.integers(1, 60))
def test_bar_has_its_width(weight: int, width: int) -> None:
    b = bar(weight, width)
    assert len(b) == width and set(b) <= {"#", "."}


def test_table_columns_line_up() -> None:
    views = [ReleaseView.of(dep(REL)), ReleaseView.of(dep(dict(REL, userPaused=True, weight=5)))]
    lines = table(views, all_namespaces=False).splitlines()
    assert lines[0].split() == ["NAME", "PHASE", "STEP", "WEIGHT", "STABLE", "CANARY", "POLICY"]
    assert lines[2].split()[1] == "Progressing*"
    starts = {line.index("2/3") for line in lines[1:]}
    assert len(starts) == 1 and lines[0].index("STEP") in starts
