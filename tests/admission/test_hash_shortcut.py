"""The old template is hashed only when the decision needs it.

Each case is an UPDATE; the answer must be exactly the one given when both templates are hashed
(the reference), and the table says whether the old template was hashed at all.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import pytest

from tests.admission.builders import review
from tests.admission.cases import H1, H2, HEALTHY, IN_RELEASE, R1, S1, _set_status, _stamped
from webhook.admission import context, mutate
from webhook.spec import hashing
from webhook.spec.hashing import HASH_LABEL

Change = Callable[[dict[str, Any]], None]


def _template(obj: dict[str, Any]) -> dict[str, Any]:
    template: dict[str, Any] = obj["spec"]["template"]
    return template


def image(tag: str) -> Change:
    def change(obj: dict[str, Any]) -> None:
        _template(obj)["spec"]["containers"][0]["image"] = f"registry.example.com/shop/web:{tag}"

    return change


def drop_label(obj: dict[str, Any]) -> None:
    _template(obj)["metadata"]["labels"].pop(HASH_LABEL, None)


def wrong_label(obj: dict[str, Any]) -> None:
    _template(obj)["metadata"]["labels"][HASH_LABEL] = "zzzzzzzzzz"


def api_defaults(obj: dict[str, Any]) -> None:
    """What the API server and kubectl add or omit freely: the hash ignores it."""
    template = _template(obj)
    assert not {"creationTimestamp", "hostAliases", "envFrom"} & (
        template["metadata"].keys()
        | template["spec"].keys()
        | template["spec"]["containers"][0].keys()
    )
    template["metadata"]["creationTimestamp"] = None
    template["spec"]["hostAliases"] = []
    template["spec"]["containers"][0]["envFrom"] = []
    template["spec"]["containers"][0]["securityContext"] = {"runAsUser": None}


def int_to_float(obj: dict[str, Any]) -> None:
    """Equal as Python values (30 == 30.0): taken as the same template, nothing is hashed."""
    spec = _template(obj)["spec"]
    spec["terminationGracePeriodSeconds"] = float(spec["terminationGracePeriodSeconds"])


def int_to_float_and_label_dropped(obj: dict[str, Any]) -> None:
    """Equal canonical forms but different JSON: both hashes are computed, and they differ."""
    int_to_float(obj)
    drop_label(obj)


def no_status(obj: dict[str, Any]) -> None:
    obj["metadata"]["annotations"].pop("canarist.io/status", None)


def revert_to(stable: dict[str, Any]) -> Change:
    def change(obj: dict[str, Any]) -> None:
        obj["spec"]["template"] = copy.deepcopy(stable["spec"]["template"])

    return change


CASES: list[tuple[str, dict[str, Any], tuple[Change, ...], str, bool]] = [
    # name, old object, changes to it (the new object), expected reason, old template hashed?
    ("image-with-stable-hash", S1, (image("2.0"),), "canary", False),
    ("image-and-label-dropped", S1, (image("2.0"), drop_label), "canary", False),
    ("label-dropped", S1, (drop_label,), "unchanged", True),
    ("label-wrong", S1, (wrong_label,), "unchanged", True),
    ("api-defaults-only", S1, (api_defaults,), "unchanged", True),
    ("api-defaults-and-label-dropped", S1, (api_defaults, drop_label), "unchanged", True),
    ("int-to-float", S1, (int_to_float,), "unchanged", False),
    ("int-to-float-and-label-dropped", S1, (int_to_float_and_label_dropped,), "canary", True),
    ("image-no-status", _set_status(S1, None), (image("2.0"),), "canary", True),
    (
        "image-no-stable-hash",
        _set_status(S1, {"phase": "Healthy"}),
        (image("2.0"),),
        "canary",
        True,
    ),
    ("mid-release-new-image", R1, (image("3.0"),), "canary", False),
    ("mid-release-revert", R1, (revert_to(_stamped(S1, H2)),), "revert", False),
    ("mid-release-revert-labelled", R1, (revert_to(S1),), "revert", False),
    ("mid-release-label-dropped", R1, (drop_label,), "unchanged", True),
]


def _request(old: dict[str, Any], changes: tuple[Change, ...]) -> dict[str, Any]:
    new = copy.deepcopy(old)
    for change in changes:
        change(new)
    return review("UPDATE", new, old)


@pytest.mark.parametrize(
    ("old", "changes", "reason", "old_hashed"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_answer_is_the_one_both_hashes_give(
    monkeypatch: pytest.MonkeyPatch,
    old: dict[str, Any],
    changes: tuple[Change, ...],
    reason: str,
    old_hashed: bool,
) -> None:
    request = _request(old, changes)
    old_form = hashing.canonical_form(_template(request["request"]["oldObject"]))
    hashed: list[dict[str, Any]] = []
    real = hashing.form_hash

    def counting(form: dict[str, Any]) -> str:
        hashed.append(form)
        return real(form)

    monkeypatch.setattr(context, "form_hash", counting)
    decision = mutate.review(json.dumps(request).encode())
    assert decision.reason == reason
    assert any(form is old_form or form == old_form for form in hashed) is old_hashed
    assert decision.response.to_dict() == _reference(monkeypatch, request).response.to_dict()


def _reference(monkeypatch: pytest.MonkeyPatch, request: dict[str, Any]) -> mutate.Decision:
    """The decision when both templates are always hashed (what the code did before)."""

    def both(self: Any, old_template: dict[str, Any] | None, status: Any) -> tuple[str, str | None]:
        if self.template == old_template:
            return "", ""
        return hashing.template_hash(self.template), hashing.template_hash(old_template)

    monkeypatch.setattr(context.Context, "hashes", both)
    return mutate.review(json.dumps(request).encode())


def test_table_covers_releases_with_and_without_a_stable_hash() -> None:
    assert json.loads(S1["metadata"]["annotations"]["canarist.io/status"]) == HEALTHY
    assert json.loads(R1["metadata"]["annotations"]["canarist.io/status"]) == IN_RELEASE
    assert HEALTHY["stableHash"] == H1 and IN_RELEASE["canaryHash"] == H2
