"""The list rows, filters, "needs attention", and the detail page's sections (pure tables)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.dashboard.builders import canary, deployment, pod, replica_set
from webhook.dashboard import compact
from webhook.dashboard.detail import detail, phase_times
from webhook.dashboard.summary import STUCK_AFTER, Filters, attention, summary, timestamp
from webhook.errors import InvalidInput
from webhook.spec.history import History, Point

RELEASE = {"phase": "Paused", "step": 1, "steps": 4, "weight": 20, "stableHash": "aaa111",
           "canaryHash": "bbb222", "startedAt": "2026-03-01T12:00:00Z",
           "stepStartedAt": "2026-03-01T12:00:10Z", "message": "step 2/4: pause"}
STEPS = """
- setWeight: 20
- setHeaderRoute: {name: beta, match: [{headerName: x-beta, headerValue: {exact: "1"}}]}
- pause: {duration: 1m}
- setWeight: 50
"""
T = timestamp("2026-03-01T12:00:10Z") or 0.0


def test_compact_keeps_what_pages_show_and_drops_the_rest() -> None:
    d = deployment(status=RELEASE, annotations={"other.io/big": "x" * 1000})
    assert set(d["metadata"]["annotations"]) == {"canarist.io/status"}
    assert d["spec"]["template"]["spec"]["containers"] == [{"name": "app", "image": "demo:v2"}]
    stub = compact.deployment({"metadata": {"name": "x", "namespace": "y", "labels": {"a": "b"},
                                            "annotations": {"a": "b" * 1000}},
                               "spec": {"template": {}}})
    assert stub == {"metadata": {"name": "x", "namespace": "y", "uid": "",
                                 "resourceVersion": ""}}
    event = compact.event({"involvedObject": {"namespace": "shop", "name": "web"},
                           "reason": "R", "message": "m" * 5000, "count": 3,
                           "lastTimestamp": "2026-03-01T12:00:00Z", "metadata": {}})
    assert (event["object"], event["count"], len(event["message"])) == ("shop/web", 3, 1024)


def test_a_row() -> None:
    history = History("bbb222", (Point(1, 20, 0, "Progressing", 0),
                                 Point(2, 20, 20, "Paused", 1))).to_json()
    row = summary(deployment(status=RELEASE, history=history), canary())
    assert {k: row[k] for k in ("key", "phase", "stepText", "weight", "setWeight", "stableHash",
                                "canaryHash", "inRelease", "policy", "images")} == {
        "key": "shop/web", "phase": "Paused", "stepText": "2/4", "weight": 20, "setWeight": 20,
        "stableHash": "aaa111", "canaryHash": "bbb222", "inRelease": True, "policy": "",
        "images": ["demo:v2"]}
    assert row["replicas"] == {"desired": 4, "ready": 3, "available": 3}
    assert row["canary"] == {"desired": 1, "ready": 1, "available": 1}
    with_policy = summary(deployment(status=dict(RELEASE, policy="team-a")), None)
    assert with_policy["policy"] == "team-a"


@pytest.mark.parametrize(("status", "now", "expected"), [
    (RELEASE, T, ["paused"]),
    (dict(RELEASE, phase="Progressing", userPaused=True), T, ["paused"]),
    (dict(RELEASE, phase="Degraded", abortedAt="2026-03-01T12:01:00Z"), T, ["degraded"]),
    (dict(RELEASE, phase="Progressing"), T + STUCK_AFTER - 1, []),
    (dict(RELEASE, phase="Progressing"), T + STUCK_AFTER, ["stuck"]),
    (dict(RELEASE, phase="Promoting"), T + STUCK_AFTER + 5, ["stuck"]),
    (dict(RELEASE, phase="Progressing", message="waiting: no stable Service"), T, ["stuck"]),
    (dict(RELEASE, phase="Paused"), T + 10 * STUCK_AFTER, ["paused"]),  # a long pause is fine
    ({"phase": "Healthy", "stableHash": "aaa111", "canaryHash": "aaa111"}, T, []),
])
def test_needs_attention(status: dict[str, Any], now: float, expected: list[str]) -> None:
    template = "aaa111" if status["phase"] == "Healthy" else "bbb222"
    assert attention(summary(deployment(status=status, template=template), None), now) == expected


ROWS = [
    summary(deployment("web", "shop", status=RELEASE), None),
    summary(deployment("api", "shop", status={"phase": "Healthy", "stableHash": "a",
                                              "canaryHash": "a"}, template="a"), None),
    summary(deployment("front", "blog", status=dict(RELEASE, policy="team-a",
                                                    phase="Progressing")), None),
]


@pytest.mark.parametrize(("query", "names"), [
    ({}, ["web", "api", "front"]),
    ({"ns": ["shop"]}, ["web", "api"]),
    ({"ns": ["shop", "blog"]}, ["web", "api", "front"]),
    ({"phase": ["Paused", "Progressing"]}, ["web", "front"]),
    ({"policy": ["team-a"]}, ["front"]),
    ({"attention": ["1"]}, ["web"]),
    ({"attention": ["0"]}, ["web", "api", "front"]),
    ({"q": ["FR"]}, ["front"]),
    ({"ns": ["shop"], "attention": ["1"], "q": ["we"]}, ["web"]),
])
def test_filters(query: dict[str, list[str]], names: list[str]) -> None:
    f = Filters.parse(query)
    assert [r["name"] for r in ROWS if f.matches(r, T)] == names


@pytest.mark.parametrize(("query", "message"), [
    ({"phase": ["Sleeping"]}, "phase: unknown phase 'Sleeping' (phases: Healthy, Progressing, "
                              "Paused, Promoting, Degraded, Unknown)"),
    ({"attention": ["yes"]}, "attention: must be 1 or 0"),
    ({"ns": ["x" * 300]}, "ns: longer than 253 characters"),
])
def test_bad_filters_are_refused_with_their_name(query: dict[str, list[str]],
                                                 message: str) -> None:
    with pytest.raises(InvalidInput) as exc:
        Filters.parse(query)
    assert str(exc.value) == f"filters: {message}"


def test_phase_times() -> None:
    h = History("r", (Point(100, 20, 0, "Progressing", 0), Point(110, 20, 20, "Paused", 1),
                      Point(170, 50, 20, "Progressing", 2), Point(175, 50, 50, "Paused", 3)))
    assert phase_times(h, now=200) == [{"phase": "Progressing", "seconds": 15},
                                       {"phase": "Paused", "seconds": 85}]
    done = History("r", (*h.points, Point(300, 0, 0, "Healthy", 4)))
    assert phase_times(done, now=10_000) == [{"phase": "Progressing", "seconds": 15},
                                             {"phase": "Paused", "seconds": 185},
                                             {"phase": "Healthy", "seconds": 0}]
    assert phase_times(History(), now=1) == []


def test_the_detail_page() -> None:
    status = dict(RELEASE, step=2, headerRoutes=["beta"], analysis={"step": {
        "step": 2, "phase": "Running", "metrics": [{"name": "success-rate", "phase": "Running",
                                                     "measurements": [{"at": "t1", "phase":
                                                                       "Successful",
                                                                       "value": 0.99}]}]}})
    analysis = "{background: true, metrics: [{name: success-rate, provider: builtin, min: 0.95}]}"
    d = deployment(status=status, annotations={"canarist.io/steps": STEPS,
                                               "canarist.io/traffic-router": "proxy",
                                               "canarist.io/analysis": analysis})
    c = canary()
    sets = [replica_set("web-1", "uid-web", "aaa111", 1, 3, 3),
            replica_set("web-0", "uid-web", "zzz000", 0, 0, 0),
            replica_set("web-canary-1", "uid-canary", "bbb222", 1, 1, 0)]
    pods = {"uid-web-1": [pod("web-1-b", "uid-web-1"), pod("web-1-a", "uid-web-1")],
            "uid-web-canary-1": [pod("web-canary-1-a", "uid-web-canary-1", ready=False,
                                     restarts=2)]}
    doc = detail(d, c, sets, pods, [], now=T + 15, read_only=False)
    assert [(s["text"], s["state"]) for s in doc["stepList"]] == [
        ("setWeight 20", "done"), ("setHeaderRoute beta", "done"), ("pause 1m", "current"),
        ("setWeight 50", "pending")]
    assert doc["stepList"][2]["endsAt"] == T + 60
    assert doc["setWeight"] == 20
    assert [(r["role"], r["hash"]) for r in doc["revisions"]] == [
        ("canary", "bbb222"), ("stable", "aaa111"), ("previous", "zzz000")]
    assert [p["name"] for p in doc["revisions"][1]["replicaSets"][0]["pods"]] == [
        "web-1-a", "web-1-b"]
    assert doc["revisions"][0]["replicaSets"][0]["pods"][0]["ready"] is False
    assert doc["routes"]["headers"] == [{"name": "beta", "matches": [
        {"headerName": "x-beta", "headerValue": {"exact": "1"}}]}]
    metric = doc["analysis"][0]["metrics"][0]
    assert (metric["min"], metric["max"], metric["provider"]) == (0.95, None, "builtin")
    assert metric["measurements"] == [{"at": "t1", "phase": "Successful", "value": 0.99,
                                       "message": ""}]
    assert doc["routers"] == ["proxy"]
    assert {a["action"]: a["allowed"] for a in doc["actions"]}["retry"] is False
    json.dumps(doc)  # all of it is JSON


def test_a_detail_page_with_bad_annotations_says_so() -> None:
    d = deployment(status=RELEASE, annotations={"canarist.io/steps": "[{setWeight: 500}]"})
    doc = detail(d, None, [], {}, [], now=T, read_only=True)
    assert "canarist.io/steps[0].setWeight: must be between 0 and 100" in doc["specProblem"]
    assert doc["stepList"] == []
    assert not any(a["allowed"] for a in doc["actions"])
