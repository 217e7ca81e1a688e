"""The disruption controller's and the eviction subresource's decisions, and the Endpoints built
from EndpointSlices, as tables (``controllers/disruption.py``, ``controllers/endpoints.py``)."""

from __future__ import annotations

from typing import Any

import pytest

from webhook.cluster.controllers import disruption as dis
from webhook.cluster.controllers import endpoints as epc
from webhook.cluster.controllers.objects import format_time

T0 = 1_800_000_000.0


def pod(name: str, *, ready: bool = True, owner: str | None = "rs-1", phase: str = "Running",
        deleting: bool = False) -> dict[str, Any]:
    md: dict[str, Any] = {"name": name, "namespace": "ns", "labels": {"app": "web"},
                          "resourceVersion": "5"}
    if owner:
        md["ownerReferences"] = [{"kind": "ReplicaSet", "name": owner, "uid": owner,
                                  "controller": True}]
    if deleting:
        md["deletionTimestamp"] = format_time(T0)
    return {"metadata": md, "status": {"phase": phase, "conditions": [
        {"type": "Ready", "status": "True" if ready else "False"}]}}


def pdb(generation: int = 1, **spec: Any) -> dict[str, Any]:
    status = spec.pop("status", {})
    return {"metadata": {"name": "web", "namespace": "ns", "generation": generation},
            "spec": {"selector": {"matchLabels": {"app": "web"}}, **spec}, "status": status}


def scale_of(replicas: int) -> dis.ScaleOf:
    return lambda ref, ns: ("deploy-1", replicas) if ref.get("kind") == "ReplicaSet" else None


COUNT_CASES: list[tuple[str, dict[str, Any], int, tuple[int, int]]] = [
    ("an integer minAvailable counts the pods", {"minAvailable": 2}, 5, (3, 2)),
    ("a percentage minAvailable counts the controller's scale, rounded up",
     {"minAvailable": "50%"}, 5, (5, 3)),
    ("maxUnavailable as a number", {"maxUnavailable": 1}, 4, (4, 3)),
    ("maxUnavailable as a percentage rounds the unavailable up", {"maxUnavailable": "30%"},
     4, (4, 2)),
    ("maxUnavailable above the scale gives 0 desired", {"maxUnavailable": 10}, 4, (4, 0)),
    ("neither: nothing expected", {}, 4, (0, 0)),
]


@pytest.mark.parametrize(("spec", "replicas", "want"), [c[1:] for c in COUNT_CASES],
                         ids=[c[0] for c in COUNT_CASES])
def test_expected_count(spec: dict[str, Any], replicas: int, want: tuple[int, int]) -> None:
    pods = [pod("a"), pod("b"), pod("c")]
    expected, desired, unmanaged = dis.expected_count(pdb(**spec), pods, scale_of(replicas))
    assert (expected, desired) == want and unmanaged == []


def test_a_pod_whose_controller_has_no_scale_fails_the_count() -> None:
    job_pod = pod("j")
    job_pod["metadata"]["ownerReferences"][0]["kind"] = "Job"
    with pytest.raises(dis.ExpectedCountError, match='found no controllers for pod "j"'):
        dis.expected_count(pdb(minAvailable="50%"), [job_pod], scale_of(1))
    _, _, unmanaged = dis.expected_count(pdb(maxUnavailable=1), [pod("x", owner=None)],
                                         scale_of(1))
    assert unmanaged == ["x"]


def test_status_allowed_and_condition() -> None:
    pods = [pod("a"), pod("b", ready=False), pod("c", deleting=True), pod("d")]
    healthy = dis.count_healthy(pods, {"d": format_time(T0 - 10)}, T0)
    assert healthy == 1  # b unready, c deleting, d just evicted
    status = dis.new_status(pdb(3), 3, 2, 3, {}, T0)
    assert status is not None
    assert {k: status[k] for k in ("currentHealthy", "desiredHealthy", "expectedPods",
                                   "disruptionsAllowed", "observedGeneration")} == {
        "currentHealthy": 3, "desiredHealthy": 2, "expectedPods": 3, "disruptionsAllowed": 1,
        "observedGeneration": 3}
    assert status["conditions"] == [{"type": "DisruptionAllowed", "status": "True",
                                     "reason": "SufficientPods", "message": "",
                                     "observedGeneration": 3,
                                     "lastTransitionTime": format_time(T0)}]
    assert dis.new_status(pdb(3, status=status), 3, 2, 3, {}, T0 + 5) is None  # unchanged
    none_expected = dis.new_status(pdb(3), 3, 0, 0, {}, T0)
    assert none_expected is not None and none_expected["disruptionsAllowed"] == 0


def test_evicted_pods_are_forgotten_when_deleted_or_late() -> None:
    listed = {"a": format_time(T0 - 10), "b": format_time(T0 - 200), "c": format_time(T0)}
    kept, recheck, late = dis.disrupted_pods(pdb(status={"disruptedPods": listed}),
                                             [pod("a"), pod("b"), pod("c", deleting=True)], T0)
    assert kept == {"a": listed["a"]} and late == ["b"]
    assert recheck == T0 - 10 + dis.DELETION_TIMEOUT


EVICTION_CASES: list[tuple[str, dict[str, Any], dict[str, Any], str]] = [
    ("a disruption left", {"status": {"disruptionsAllowed": 1, "observedGeneration": 1}},
     {}, "decrement"),
    ("none left", {"status": {"disruptionsAllowed": 0, "observedGeneration": 1,
                              "desiredHealthy": 2, "currentHealthy": 2}}, {}, "refuse"),
    ("a status older than the spec", {"status": {"disruptionsAllowed": 3,
                                                 "observedGeneration": 0}}, {}, "refuse"),
    ("an unready pod of a met budget goes",
     {"status": {"disruptionsAllowed": 0, "observedGeneration": 1, "desiredHealthy": 2,
                 "currentHealthy": 2}}, {"ready": False}, "delete"),
    ("an unready pod of an unmet budget is guarded",
     {"status": {"disruptionsAllowed": 0, "observedGeneration": 1, "desiredHealthy": 2,
                 "currentHealthy": 1}}, {"ready": False}, "refuse"),
    ("AlwaysAllow lets an unready pod go",
     {"unhealthyPodEvictionPolicy": "AlwaysAllow",
      "status": {"disruptionsAllowed": 0, "observedGeneration": 1, "desiredHealthy": 2,
                 "currentHealthy": 1}}, {"ready": False}, "delete"),
    ("a negative budget forbids", {"status": {"disruptionsAllowed": -1,
                                              "observedGeneration": 1}}, {}, "forbid"),
]


@pytest.mark.parametrize(("budget", "pod_args", "outcome"), [c[1:] for c in EVICTION_CASES],
                         ids=[c[0] for c in EVICTION_CASES])
def test_judge_eviction(budget: dict[str, Any], pod_args: dict[str, Any], outcome: str) -> None:
    verdict = dis.judge_eviction(pod("a", **pod_args), [pdb(**budget)])
    assert verdict.outcome == outcome


def test_eviction_without_budget_or_with_two() -> None:
    assert dis.judge_eviction(pod("a"), []).outcome == "delete"
    assert dis.judge_eviction(pod("a"), [pdb(), pdb()]).outcome == "multiple"
    everything = pdb()
    everything["spec"]["selector"] = {}
    assert dis.judge_eviction(pod("a"), [everything]).outcome == "delete"  # empty matches none
    assert dis.can_ignore_budget(pod("a", phase="Pending"))
    assert not dis.can_ignore_budget(pod("a"))


def test_a_decrement_marks_the_pod_and_updates_the_condition() -> None:
    status = dis.decremented(pdb(status={"disruptionsAllowed": 1, "observedGeneration": 1}),
                             "a", T0)
    assert status["disruptionsAllowed"] == 0
    assert status["disruptedPods"] == {"a": format_time(T0)}
    assert status["conditions"][0]["reason"] == "InsufficientPods"


def slice_(*endpoints: tuple[str, bool, bool], port: int = 8080) -> dict[str, Any]:
    return {"metadata": {"name": "web-x", "labels": {"kubernetes.io/service-name": "web"}},
            "ports": [{"name": "", "port": port, "protocol": "TCP"}],
            "endpoints": [{"addresses": [ip], "conditions": {"ready": ready,
                                                             "terminating": terminating},
                           "targetRef": {"kind": "Pod", "name": f"p-{ip}", "namespace": "ns",
                                         "uid": ip}}
                          for ip, ready, terminating in endpoints]}


def test_endpoints_from_slices() -> None:
    service = {"metadata": {"name": "web", "namespace": "ns", "labels": {"team": "a"}},
               "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]}}
    want = epc.desired(service, [slice_(("127.0.0.9", True, False), ("127.0.0.10", True, False),
                                        ("127.0.0.2", False, False), ("127.0.0.3", False, True))])
    assert want is not None
    assert want["metadata"] == {"name": "web", "namespace": "ns", "labels": {"team": "a"}}
    subset = want["subsets"][0]
    assert [a["ip"] for a in subset["addresses"]] == ["127.0.0.9", "127.0.0.10"]
    assert [a["ip"] for a in subset["notReadyAddresses"]] == ["127.0.0.2"]
    assert subset["ports"] == [{"port": 8080, "protocol": "TCP"}]
    empty = epc.desired(service, [])
    assert empty is not None and "subsets" not in empty
    no_selector = {"metadata": {"name": "web", "namespace": "ns"}, "spec": {"ports": []}}
    assert epc.desired(no_selector, []) is None
    assert epc.desired(no_selector, [slice_(("127.0.0.1", True, False))]) is not None
