"""Admission under cluster policies (pure): adoption without the label, opt-out, precedence,
guardrails with the policy and rule named, enforcement (opt-out, unpause, status) denied to the
non-exempt and recorded for the exempt, the bypass record guarded, and two calls of one request
(two webhook entries) ending as one."""

from __future__ import annotations

import copy
import json
from typing import Any

import jsonpatch
import pytest

from tests.admission.builders import deployment, hash_of, review, with_image
from tests.policy.helpers import document
from webhook.admission import decode_patch
from webhook.admission.mutate import review as decide_review
from webhook.policy import BypassRecord, PolicyStore
from webhook.spec.names import ACTION, BYPASS, ENABLED_LABEL, HASH_LABEL, STATUS

RECONCILER = "system:serviceaccount:canarist:canarist-reconciler"
TRUSTED = frozenset({RECONCILER})
V2 = "registry.example.com/shop/web:1.5.0"
STEPS = "- setWeight: 20\n- pause: {duration: 2m}\n- setWeight: 40\n- pause: {}\n"


def store(**extra: Any) -> PolicyStore:
    policy: dict[str, Any] = {
        "name": "team-a", "namespaces": ["shop"], "adopt": True,
        "defaults": {"steps": STEPS, "traffic-router": "proxy"},
        "rules": {"maxWeightIncrease": 25, "allowPromoteFull": False},
        "exempt": {"groups": ["platform-admins"], "users": ["root"]},
    }
    policy.update(extra)
    s = PolicyStore()
    s.load(document(policy, {"name": "elsewhere", "namespaces": ["other"]}), "test")
    return s


POLICIES = store()
ENFORCED = store(enforce=True)


def plain(**kw: Any) -> dict[str, Any]:
    """An unlabelled Deployment without canarist annotations."""
    return deployment(enabled=False, annotations={}, **kw)


def by(user: str, body: dict[str, Any], *groups: str) -> dict[str, Any]:
    body["request"]["userInfo"] = {"username": user,
                                   "groups": [*groups, "system:authenticated"]}
    return body


def decide(body: dict[str, Any], policies: PolicyStore | None = POLICIES,
           trusted: frozenset[str] | None = TRUSTED) -> tuple[dict[str, Any], dict[str, Any]]:
    """The stored object after the webhook's patch (the request's object if denied), and the
    response."""
    response = decide_review(body, trusted=trusted, policies=policies).response.to_dict()
    obj = copy.deepcopy(body["request"]["object"])
    ops = decode_patch(response)
    return (jsonpatch.apply_patch(obj, ops) if ops else obj), response["response"]


def status_of(obj: dict[str, Any]) -> dict[str, Any] | None:
    text = obj["metadata"].get("annotations", {}).get(STATUS)
    return None if text is None else json.loads(text)


def adopted() -> dict[str, Any]:
    """An unlabelled Deployment the reconciler adopted: status at rest, template untouched."""
    obj = plain()
    digest = hash_of(obj)
    obj["metadata"]["annotations"][STATUS] = json.dumps(
        {"phase": "Healthy", "stableHash": digest, "canaryHash": digest, "step": 4,
         "steps": 4, "weight": 0, "policy": "team-a"}, separators=(",", ":"))
    return obj


def held(obj: dict[str, Any]) -> dict[str, Any]:
    """``obj`` after a template change the webhook held."""
    stored, response = decide(by("bob", review("UPDATE", with_image(obj, V2), obj)))
    assert response["allowed"], response
    return stored


# --- adoption, opt-out, precedence -------------------------------------------------------------


def test_a_policy_adopts_without_the_label_and_holds_with_its_steps() -> None:
    stored, response = decide(review("CREATE", plain()))
    labels = stored["spec"]["template"]["metadata"]["labels"]
    assert response["allowed"] and labels[HASH_LABEL] == hash_of(plain())
    obj = adopted()
    stored, response = decide(review("UPDATE", copy.deepcopy(obj), obj))
    assert response["allowed"] and "patch" not in response  # no pod restarts
    stored = held(obj)
    assert stored["spec"]["paused"] is True
    status = status_of(stored)
    assert status is not None and status["steps"] == 4  # the policy's steps
    assert status["canaryHash"] == hash_of(with_image(obj, V2))
    assert ENABLED_LABEL not in stored["metadata"]["labels"]


def test_a_policy_starting_to_cover_a_running_deployment_restarts_nothing() -> None:
    obj = plain()  # no status yet: the reconciler has not adopted it
    _, response = decide(review("UPDATE", copy.deepcopy(obj), obj))
    assert response["allowed"] and "patch" not in response


@pytest.mark.parametrize("namespace", ["elsewhere-entirely", "other"])
def test_outside_an_adopting_policy_nothing_is_touched(namespace: str) -> None:
    obj = plain(namespace=namespace)
    new = with_image(obj, V2)
    _, response = decide(review("UPDATE", new, obj, namespace=namespace))
    assert response["allowed"] and "patch" not in response and "warnings" not in response


def test_the_opt_out_label_leaves_the_deployment_alone_unless_enforced() -> None:
    obj = plain()
    obj["metadata"]["labels"][ENABLED_LABEL] = "false"
    _, response = decide(review("UPDATE", with_image(obj, V2), obj))
    assert response["allowed"] and "patch" not in response
    new = adopted()
    new["metadata"]["labels"][ENABLED_LABEL] = "false"
    _, response = decide(by("bob", review("UPDATE", new, adopted())))
    assert response["allowed"] and "patch" not in response


def test_own_annotations_win_and_a_policys_defaults_are_named_in_problems() -> None:
    own = deployment(annotations={"canarist.io/steps": "- setWeight: 10\n- pause: {}",
                                  "canarist.io/traffic-router": "proxy"})
    _, response = decide(review("CREATE", own))
    assert response["allowed"]
    bad = plain()
    bad["metadata"]["annotations"]["canarist.io/traffic-router"] = "nginx"
    policies = store(defaults={"steps": "- setMirrorRoute: {name: m, percentage: 5, match: "
                                        "[{method: {exact: GET}}]}"}, rules={})
    _, response = decide(review("CREATE", bad), policies)
    message = response["status"]["message"]
    assert "canarist.io/steps[0].setMirrorRoute: traffic router \"nginx\" cannot mirror" in message
    assert message.endswith("(from policy team-a: canarist.io/steps)")


# --- guardrails ---------------------------------------------------------------------------------


def test_a_guardrail_names_the_policy_and_the_rule() -> None:
    obj = adopted()
    new = copy.deepcopy(obj)
    new["metadata"]["annotations"]["canarist.io/steps"] = (
        "- setWeight: 10\n- pause: {}\n- setWeight: 50\n- pause: {}")
    _, response = decide(by("bob", review("UPDATE", new, obj)))
    assert not response["allowed"]
    assert response["status"]["message"] == (
        "Deployment web: canarist.io/steps[2].setWeight: raises the weight by 40 (from 10 to 50);"
        " policy team-a allows at most 25 (rules.maxWeightIncrease)")
    # nothing that could start a release is judged: a scale is let through
    broken = copy.deepcopy(new)
    scaled = copy.deepcopy(new)
    scaled["spec"]["replicas"] = 9
    _, response = decide(by("bob", review("UPDATE", scaled, broken)))
    assert response["allowed"]
    # a new template is
    _, response = decide(by("bob", review("UPDATE", with_image(broken, V2), broken)))
    assert not response["allowed"] and "rules.maxWeightIncrease" in response["status"]["message"]


def test_an_exempt_writer_breaks_a_rule_and_it_is_recorded() -> None:
    obj = adopted()
    new = copy.deepcopy(obj)
    new["metadata"]["annotations"]["canarist.io/steps"] = "- setWeight: 100"
    stored, response = decide(by("alice", review("UPDATE", new, obj), "platform-admins"))
    assert response["allowed"]
    record = BypassRecord.of(stored["metadata"]["annotations"])
    assert record is not None and record.user == "alice" and record.policy == "team-a"
    assert record.rules == ("rules.maxWeightIncrease",)
    assert record.uid == review("UPDATE", new, obj)["request"]["uid"]
    assert "platform-admins" in record.groups
    assert any("alice is exempt from policy team-a: rules.maxWeightIncrease bypassed" in w
               for w in response["warnings"])


def test_promote_full_is_refused_in_the_clis_words() -> None:
    obj = held(adopted())
    new = copy.deepcopy(obj)
    new["metadata"]["annotations"][ACTION] = "promote-full"
    _, response = decide(by("bob", review("UPDATE", new, obj)))
    assert response["status"]["message"] == (
        "Deployment web: canarist.io/action: promote-full is not allowed: policy team-a forbids "
        "skipping the remaining steps (rules.allowPromoteFull: false)")
    stored, response = decide(by("root", review("UPDATE", new, obj)))
    assert response["allowed"]
    assert BypassRecord.of(stored["metadata"]["annotations"]).rules == (  # type: ignore[union-attr]
        "rules.allowPromoteFull",)
    # the reconciler consuming an action is not judged
    consumed = copy.deepcopy(obj)
    _, response = decide(by(RECONCILER, review("UPDATE", consumed, new)))
    assert response["allowed"]


# --- enforcement ---------------------------------------------------------------------------------


def test_opting_out_is_refused_under_enforcement_and_recorded_for_the_exempt() -> None:
    obj = adopted()
    new = copy.deepcopy(obj)
    new["metadata"]["labels"][ENABLED_LABEL] = "false"
    _, response = decide(by("bob", review("UPDATE", new, obj)), ENFORCED)
    assert response["status"]["message"] == (
        'Deployment web: canarist.io/enabled: opting out (label canarist.io/enabled: "false") is '
        "not allowed: policy team-a enforces canary releases (enforce: true)")
    stored, response = decide(by("alice", review("UPDATE", new, obj), "platform-admins"),
                              ENFORCED)
    assert response["allowed"]
    record = BypassRecord.of(stored["metadata"]["annotations"])
    assert record is not None and record.rules == ("optOut",)
    # leaving the policy's selector is opting out too
    picky = store(enforce=True, selector={"matchLabels": {"team": "checkout"}})
    moved = copy.deepcopy(obj)
    moved["metadata"]["labels"]["team"] = "elsewhere"
    _, response = decide(by("bob", review("UPDATE", moved, obj)), picky)
    assert "labels that policy team-a no longer selects" in response["status"]["message"]


def test_unpausing_a_held_release() -> None:
    obj = held(adopted())
    new = copy.deepcopy(obj)
    new["spec"]["paused"] = False
    # not enforced: kept paused, with a warning (as for any Deployment)
    stored, response = decide(by("bob", review("UPDATE", new, obj)))
    assert response["allowed"] and stored["spec"]["paused"] is True
    # enforced: refused
    _, response = decide(by("bob", review("UPDATE", new, obj)), ENFORCED)
    assert "spec.paused: unpausing a release held for canary steps is not allowed: policy " \
           "team-a enforces canary releases (enforce: true)" in response["status"]["message"]
    # the exempt: a promote-full, the rule it breaks recorded too
    stored, response = decide(by("root", review("UPDATE", new, obj)), ENFORCED)
    assert response["allowed"] and stored["spec"]["paused"] is True
    assert stored["metadata"]["annotations"][ACTION] == "promote-full"
    record = BypassRecord.of(stored["metadata"]["annotations"])
    assert record is not None and record.rules == ("unpause", "rules.allowPromoteFull")
    assert any("is a promote-full" in w for w in response["warnings"])


@pytest.mark.parametrize("change", ["forge", "delete"])
def test_the_status_under_enforcement(change: str) -> None:
    obj = held(adopted())
    new = copy.deepcopy(obj)
    if change == "forge":
        status = status_of(obj)
        assert status is not None
        new["metadata"]["annotations"][STATUS] = json.dumps(
            {**status, "stableHash": status["canaryHash"]})
    else:
        del new["metadata"]["annotations"][STATUS]
    _, response = decide(by("bob", review("UPDATE", new, obj)), ENFORCED)
    what = "changing it" if change == "forge" else "removing it"
    assert f"canarist.io/status: is written by canarist only ({what} is not allowed): policy " \
           "team-a enforces" in response["status"]["message"]
    # not enforced: undone, as for any Deployment
    stored, response = decide(by("bob", review("UPDATE", new, obj)))
    assert response["allowed"] and status_of(stored) == status_of(obj)
    # the reconciler writes it
    _, response = decide(by(RECONCILER, review("UPDATE", new, obj)), ENFORCED)
    assert response["allowed"]
    # through the status subresource too
    body = review("UPDATE", new, obj, sub_resource="status")
    _, response = decide(by("bob", body), ENFORCED)
    assert not response["allowed"]
    stored, response = decide(by("alice", body, "platform-admins"), ENFORCED)
    assert response["allowed"]
    assert BypassRecord.of(stored["metadata"]["annotations"]).rules == ("status",)  # type: ignore[union-attr]


def test_the_bypass_record_is_the_webhooks_alone() -> None:
    obj = adopted()
    new = copy.deepcopy(obj)
    new["metadata"]["annotations"][BYPASS] = BypassRecord(
        "made-up", "root", (), "team-a", ("optOut",), "").to_json()
    for who, groups in (("bob", ()), ("alice", ("platform-admins",))):
        _, response = decide(by(who, review("UPDATE", new, obj), *groups), ENFORCED)
        assert not response["allowed"]
        assert "canarist.io/bypass: is written by canarist's admission webhook only" in response[
            "status"]["message"]


# --- one request, two webhook entries ----------------------------------------------------------


@pytest.mark.parametrize("case", ["hold", "exempt-opt-out", "exempt-unpause"])
def test_a_second_call_for_the_same_request_ends_the_same(case: str) -> None:
    obj = held(adopted()) if case == "exempt-unpause" else adopted()
    new = with_image(obj, V2) if case == "hold" else copy.deepcopy(obj)
    if case == "exempt-opt-out":
        new["metadata"]["labels"][ENABLED_LABEL] = "false"
    if case == "exempt-unpause":
        new["spec"]["paused"] = False
    body = by("alice", review("UPDATE", new, obj), "platform-admins")
    first, response = decide(body, ENFORCED)
    assert response["allowed"]
    again = copy.deepcopy(body)
    again["request"]["object"] = first
    second, response = decide(again, ENFORCED)
    assert response["allowed"], response
    assert second == first
