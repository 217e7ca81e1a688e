"""Events: correlation decisions as tables, and the recorder against the embedded API server
(one Event with an exact count for a flood of repeats, combined similar events, paced writes,
a vanished Event created again, what kubectl shows)."""

from __future__ import annotations

import asyncio
import subprocess

import pytest

from tests.kube.conftest import deployment
from webhook.cluster.runtime import RunningCluster
from webhook.errors import InvalidInput
from webhook.kube.client import KubeClient
from webhook.kube.eventcorr import (
    COMBINED,
    MAX_MESSAGE,
    Allowance,
    Correlator,
    Involved,
    Record,
    event_body,
)
from webhook.kube.events import EventRecorder
from webhook.kube.protocol import JSON, ObjectRef

WEB = Involved("apps/v1", "Deployment", "shop", "web", "uid-1")
API = Involved("apps/v1", "Deployment", "shop", "api", "uid-2")


def rec(reason: str = "StepCompleted", message: str = "step 1/3 done",
        involved: Involved = WEB, etype: str = "Normal") -> Record:
    return Record(involved, etype, reason, message)


# (records as (reason, message, involved, seconds), expected (name index, count) per record)
CASES = [
    ("repeats count up on one Event",
     [("R", "m", WEB, 0), ("R", "m", WEB, 1), ("R", "m", WEB, 2)], [(0, 1), (0, 2), (0, 3)]),
    ("another message is another Event",
     [("R", "m", WEB, 0), ("R", "n", WEB, 1), ("R", "m", WEB, 2)], [(0, 1), (1, 1), (0, 2)]),
    ("another object is another Event",
     [("R", "m", WEB, 0), ("R", "m", API, 0)], [(0, 1), (1, 1)]),
    ("another reason is another Event",
     [("R", "m", WEB, 0), ("S", "m", WEB, 0)], [(0, 1), (1, 1)]),
    ("a repeat after the window starts over",
     [("R", "m", WEB, 0), ("R", "m", WEB, 601), ("R", "m", WEB, 602)], [(0, 1), (1, 1), (1, 2)]),
]


@pytest.mark.parametrize(("what", "records", "expected"), CASES, ids=[c[0] for c in CASES])
def test_correlation(what: str, records: list[tuple[str, str, Involved, float]],
                     expected: list[tuple[int, int]]) -> None:
    corr = Correlator(window=600)
    names: list[str] = []
    for (reason, message, involved, at), (index, count) in zip(records, expected, strict=True):
        occ = corr.observe(rec(reason, message, involved), 1000.0 + at)
        if occ.name not in names:
            names.append(occ.name)
        assert (names.index(occ.name), occ.count) == (index, count), what


def test_similar_messages_are_combined_after_the_threshold() -> None:
    corr = Correlator(similar=3)
    occs = [corr.observe(rec("WeightChanged", f"weight {w}"), 10.0 + w) for w in range(6)]
    assert [o.message for o in occs[:3]] == ["weight 0", "weight 1", "weight 2"]
    assert occs[3].message == COMBINED + "weight 3"
    assert len({o.name for o in occs}) == 6  # combined messages differ, so new names
    again = corr.observe(rec("WeightChanged", "weight 5"), 20.0)
    assert again.name == occs[5].name and again.count == 2


def test_names_are_unique_and_messages_bounded() -> None:
    corr = Correlator()
    a = corr.observe(rec(message="a"), 5.0)
    b = corr.observe(rec(message="b"), 5.0)  # same instant
    assert a.name != b.name and a.name.startswith("web.")
    long = corr.observe(rec(message="x" * 5000), 6.0)
    assert len(long.message) == MAX_MESSAGE


def test_tables_are_bounded() -> None:
    corr = Correlator(max_keys=50)
    for i in range(500):
        corr.observe(rec(message=f"m{i}", involved=Involved("v1", "Pod", "ns", f"p{i}")), i)
    assert len(corr._seen) == 50 and len(corr._messages) == 50


def test_bad_records_are_refused() -> None:
    with pytest.raises(InvalidInput, match="type: must be Normal or Warning, got 'Info'"):
        rec(etype="Info")
    with pytest.raises(InvalidInput, match="reason: required"):
        rec(reason="")


@pytest.mark.parametrize(("burst", "rate", "takes", "at", "wait"), [
    (2, 1.0, 0, 0.0, 0.0),
    (2, 1.0, 2, 0.0, 1.0),
    (2, 1.0, 2, 0.5, 0.5),
    (2, 1.0, 2, 5.0, 0.0),
    (1, 0.0, 1, 100.0, float("inf")),
])
def test_allowance(burst: int, rate: float, takes: int, at: float, wait: float) -> None:
    a = Allowance(burst, rate, 0.0)
    for _ in range(takes):
        assert a.wait(0.0) == 0.0
        a.take()
    assert a.wait(at) == pytest.approx(wait)


def test_event_body_is_what_kubectl_lists() -> None:
    occ = Correlator().observe(rec(), 1_700_000_000.0)
    body = event_body(occ, "canarist", "pod-1")
    assert body["involvedObject"] == {"apiVersion": "apps/v1", "kind": "Deployment",
                                      "namespace": "shop", "name": "web", "uid": "uid-1"}
    assert body["firstTimestamp"] == body["lastTimestamp"] == "2023-11-14T22:13:20Z"
    assert body["count"] == 1 and body["source"] == {"component": "canarist"}


# --- against the API ------------------------------------------------------------------------------


async def events_in(client: KubeClient, ns: str) -> list[JSON]:
    """canarist's Events (the cluster's controllers record their own too)."""
    return [e for e in await client.list("v1", "Event", ns)
            if e.get("reportingComponent") == "canarist"]


async def test_a_flood_of_repeats_is_one_event_with_an_exact_count(client: KubeClient,
                                                                   ns: str) -> None:
    web = await client.create(deployment(ns))
    recorder = EventRecorder(client)
    for _ in range(200):
        recorder.record(web, "Warning", "ActionIgnored", "promote ignored: no release")
    await recorder.aclose()
    events = await events_in(client, ns)
    ours = [e for e in events if e.get("reason") == "ActionIgnored"]
    assert len(ours) == 1
    ev = ours[0]
    assert ev["count"] == 200 and ev["type"] == "Warning"
    assert ev["involvedObject"]["uid"] == web["metadata"]["uid"]
    assert recorder.written <= 5  # coalesced: not 200 writes


async def test_writes_are_paced_per_object(client: KubeClient, ns: str) -> None:
    web = await client.create(deployment(ns))
    recorder = EventRecorder(client, burst=3, rate=0.0)
    for i in range(6):
        recorder.record(web, "Normal", f"Reason{i}", "m")
    for _ in range(50):
        if recorder.written >= 3:
            break
        await asyncio.sleep(0.02)
    assert recorder.written == 3 and recorder.pending == 3  # the rest wait for budget
    await recorder.aclose()  # flushes
    assert len(await events_in(client, ns)) == 6


async def test_a_vanished_event_is_created_again(client: KubeClient, ns: str) -> None:
    web = await client.create(deployment(ns))
    recorder = EventRecorder(client)
    occ = recorder.record(web, "Normal", "Promoted", "web promoted")
    await recorder.aclose()
    recorder = EventRecorder(client, correlator=recorder.correlator)
    await client.delete(ObjectRef("v1", "Event", ns, occ.name))
    again = recorder.record(web, "Normal", "Promoted", "web promoted")
    assert again.name == occ.name and again.count == 2
    await recorder.aclose()
    got = await client.get(ObjectRef("v1", "Event", ns, occ.name))
    assert got is not None and got["count"] == 2


async def test_api_failures_never_reach_the_caller(client: KubeClient, ns: str) -> None:
    recorder = EventRecorder(client)
    ghost = {"apiVersion": "apps/v1", "kind": "Deployment",
             "metadata": {"name": "x", "namespace": "no-such-namespace"}}
    recorder.record(ghost, "Normal", "R", "m")
    await recorder.aclose()
    assert recorder.written == 0


def test_kubectl_describe_shows_the_aggregated_event(embedded_cluster: RunningCluster,
                                                     client_ns_events: tuple[str, int]) -> None:
    ns, count = client_ns_events
    out = subprocess.run(
        ["kubectl", "--kubeconfig", str(embedded_cluster.kubeconfig), "-n", ns,
         "describe", "deployment", "web"], capture_output=True, text=True, timeout=60,
        check=False)
    assert out.returncode == 0, out.stderr
    events = out.stdout.split("Events:", 1)[1]
    line = next(x for x in events.splitlines() if "StepCompleted" in x)
    assert f"(x{count} over" in line and "canarist" in line and "step 1/3 done" in line


@pytest.fixture
async def client_ns_events(client: KubeClient, ns: str) -> tuple[str, int]:
    web = await client.create(deployment(ns))
    recorder = EventRecorder(client)
    for _ in range(7):
        recorder.record(web, "Normal", "StepCompleted", "step 1/3 done")
    await recorder.aclose()
    return ns, 7
