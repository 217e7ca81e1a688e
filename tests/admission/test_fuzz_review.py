"""hypothesis: whatever the body, the mutation answers or raises BadReview — nothing else — and
every patch it returns applies to the object it was computed for."""

from __future__ import annotations

import copy
import json
from typing import Any

import jsonpatch
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.admission.builders import review, with_image
from tests.admission.cases import R1, S1
from webhook.admission import decode_patch
from webhook.admission import review as admit
from webhook.errors import BadReview
from webhook.policy import PolicyStore

SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

scalars = (
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20)
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=20,
)
SEEDS = [
    review("CREATE", S1),
    review("UPDATE", with_image(S1, "x:2"), S1),
    review("UPDATE", with_image(R1, "x:3"), R1),
    review("UPDATE", R1, R1),
]


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(node, dict):
        for key, value in node.items():
            out += _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            out += _paths(value, (*prefix, i))
    return out


def _check(body: bytes) -> None:
    try:
        decision = admit(body)
    except BadReview as exc:
        assert str(exc).startswith("bad AdmissionReview: ")
        return
    response = decision.response.to_dict()
    assert response["response"]["uid"]
    ops = decode_patch(response)
    if ops:
        obj = json.loads(body)["request"]["object"]
        jsonpatch.apply_patch(copy.deepcopy(obj), ops)  # must not raise
    if not response["response"]["allowed"]:
        assert response["response"]["status"]["message"]


@SETTINGS
@given(json_values)
def test_any_json_body(value: Any) -> None:
    _check(json.dumps(value).encode())


@SETTINGS
@given(st.binary(max_size=200))
def test_any_bytes(body: bytes) -> None:
    _check(body)


@SETTINGS
@given(st.sampled_from(SEEDS), st.data(), json_values)
def test_one_field_replaced(seed: dict[str, Any], data: st.DataObject, value: Any) -> None:
    request = copy.deepcopy(seed)
    path = data.draw(st.sampled_from(_paths(request)[1:]))
    node: Any = request
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    _check(json.dumps(request).encode())


@SETTINGS
@given(st.sampled_from(SEEDS), st.data())
def test_one_field_removed(seed: dict[str, Any], data: st.DataObject) -> None:
    request = copy.deepcopy(seed)
    path = data.draw(st.sampled_from(_paths(request)[1:]))
    node: Any = request
    for key in path[:-1]:
        node = node[key]
    del node[path[-1]]
    _check(json.dumps(request).encode())


annotation_keys = st.sampled_from(
    [
        "canarist.io/steps",
        "canarist.io/traffic-router",
        "canarist.io/status",
        "canarist.io/sticky",
        "canarist.io/analysis",
        "canarist.io/proxy-hosts",
        "canarist.io/stable-service",
        "canarist.io/canary-service",
        "canarist.io/bogus",
        "other/key",
    ]
) | st.text(max_size=30)


@SETTINGS
@given(st.dictionaries(annotation_keys, st.text(max_size=80) | json_values, max_size=6))
def test_random_annotations(annotations: dict[str, Any]) -> None:
    for seed in SEEDS[:3]:
        request = copy.deepcopy(seed)
        request["request"]["object"]["metadata"]["annotations"] = annotations
        _check(json.dumps(request).encode())


# --- under cluster policies ------------------------------------------------------------------

ENFORCED = PolicyStore()
ENFORCED.load(yaml.safe_dump({"policies": [{
    "name": "shop", "namespaces": ["shop"], "adopt": True, "enforce": True,
    "defaults": {"traffic-router": "proxy", "steps": "- setWeight: 10\n- pause: {}"},
    "rules": {"maxWeightIncrease": 20, "minPause": "1m", "allowPromoteFull": False,
              "requireAnalysis": False, "allowedRouters": ["proxy", "istio"]},
    "exempt": {"groups": ["admins"]}}]}), "fuzz")
label_values = st.sampled_from(["true", "false", "", "yes"]) | st.text(max_size=5)
users = st.fixed_dictionaries({"username": st.sampled_from(["alice", "bob", ""]),
                               "groups": st.lists(st.sampled_from(["admins", "dev"]),
                                                  max_size=2)})


def _check_policies(body: bytes) -> None:
    try:
        decision = admit(body, trusted=frozenset({"reconciler"}), policies=ENFORCED)
    except BadReview:
        return
    response = decision.response.to_dict()
    ops = decode_patch(response)
    if ops:
        jsonpatch.apply_patch(copy.deepcopy(json.loads(body)["request"]["object"]), ops)
    if not response["response"]["allowed"]:
        assert response["response"]["status"]["message"].startswith("Deployment ")


@SETTINGS
@given(st.sampled_from(SEEDS), st.dictionaries(annotation_keys, st.text(max_size=80) |
                                               json_values, max_size=5),
       st.none() | label_values, users, st.booleans())
def test_policies_never_crash_and_deny_with_a_message(
        seed: dict[str, Any], annotations: dict[str, Any], label: str | None,
        user: dict[str, Any], unpause: bool) -> None:
    request = copy.deepcopy(seed)
    obj = request["request"]["object"]
    obj["metadata"]["annotations"] = annotations
    if label is None:
        obj["metadata"]["labels"].pop("canarist.io/enabled", None)
    else:
        obj["metadata"]["labels"]["canarist.io/enabled"] = label
    if unpause:
        obj["spec"]["paused"] = False
    request["request"]["userInfo"] = user
    _check_policies(json.dumps(request).encode())
