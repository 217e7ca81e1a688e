"""Property tests on the planner over random steps, replica counts and event sequences.

Whatever happens (pods slow or fast, HPAs, actions, new revisions, reverts, time passing):
- every weight a plan writes is within 0–100 and the stable side gets the rest;
- with router ``none``, a plan never asks for more than ``R + maxSurge`` pods in all;
- no weight above 0 ever goes to a canary without an available pod;
- carrying out a plan twice leaves the objects as carrying it out once;
- planning again right after a plan was carried out, with nothing else changed, asks for nothing
  more (the planner reaches its fixed point in one round);
- a release always ends: promoted to Healthy when pods become available and promote is asked.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from webhook.release import scaling
from webhook.release.bookkeeping import Books
from webhook.release.replicas import user_total
from webhook.spec import Phase

from .sim import Sim

STEP = st.one_of(
    st.integers(0, 100).map(lambda w: f"- setWeight: {w}"),
    st.sampled_from([0, 5, 30]).map(lambda s: f"- pause: {{duration: {s}}}"),
    st.just("- pause: {}"),
    st.integers(0, 6).map(lambda r: f"- setCanaryScale: {{replicas: {r}}}"),
    st.integers(0, 100).map(lambda w: f"- setCanaryScale: {{weight: {w}}}"),
    st.just("- setCanaryScale: {matchTrafficWeight: true}"),
    st.just(
        '- setHeaderRoute: {name: beta, match: [{headerName: X-B, headerValue: {exact: "1"}}]}'
    ),
    st.just("- setHeaderRoute: {name: beta}"),
)
NONE_STEP = st.one_of(
    st.integers(0, 95).map(lambda w: f"- setWeight: {w}"),
    st.sampled_from([0, 5, 30]).map(lambda s: f"- pause: {{duration: {s}}}"),
    st.just("- pause: {}"),
)

EVENT = st.one_of(
    st.just(("settle",)),
    st.tuples(st.just("slow"), st.integers(0, 3)),
    st.tuples(st.just("advance"), st.sampled_from([1, 5, 30, 60])),
    st.tuples(
        st.just("action"),
        st.sampled_from(["promote", "promote-full", "abort", "retry", "pause", "resume"]),
    ),
    st.tuples(st.just("template"), st.sampled_from(["v2", "v3", "v4"])),
    st.just(("revert",)),
    st.tuples(st.just("replicas"), st.integers(0, 12)),
    st.just(("resync",)),
)


def build(data: st.DataObject) -> Sim:
    routed = data.draw(st.booleans(), label="routed")
    steps = data.draw(
        st.lists(STEP if routed else NONE_STEP, min_size=1, max_size=6), label="steps"
    )
    dss = routed and data.draw(st.booleans(), label="dss")
    replicas = data.draw(st.integers(1, 10), label="replicas")
    adopted = data.draw(st.booleans(), label="adopted")
    return make(steps, routed=routed, dss=dss, replicas=replicas, adopted=adopted)


def make(
    steps: list[str], *, routed: bool, dss: bool = False, replicas: int, adopted: bool = False
) -> Sim:
    """The Sim ``build`` draws, from the values hypothesis reports."""
    annotations = {"canarist.io/steps": "\n".join(steps)}
    if routed:
        annotations["canarist.io/traffic-router"] = "proxy"
        if dss:
            annotations["canarist.io/dynamic-stable-scale"] = "true"
    return Sim(annotations, replicas=replicas, adopted=adopted)


def play(sim: Sim, event: tuple[Any, ...]) -> bool:
    """Carry out one event; ``True`` when it asks for a resync reconcile."""
    kind = event[0]
    if kind == "settle":
        sim.canary_limit = None
        sim.settle()
    elif kind == "slow":
        sim.canary_limit = event[1]
        sim.settle()
    elif kind == "advance":
        sim.advance(event[1])
    elif kind == "action":
        sim.annotate(event[1])
    elif kind == "template":
        sim.update_template(event[1])
    elif kind == "revert" and sim.status.stable_hash:
        stable = sim.status.stable_hash
        for version in ("v1", "v2", "v3", "v4"):
            for adopted in (False, True):
                from webhook.spec.hashing import revision_hash

                from .sim import pod_template

                if revision_hash(pod_template(version, stamp=not adopted)) == stable:
                    sim.revert(version, adopted=adopted)
                    return False
    elif kind == "replicas":
        sim.set_replicas(event[1])
    return bool(kind == "resync")


def asked(sim: Sim) -> int:
    """Pods asked for: the user's Deployment's and the canary's."""
    return int(sim.d_spec["replicas"]) + (sim.canary_replicas() or 0)


def check_round(sim: Sim, *, resync: bool) -> None:
    before = asked(sim)
    p = sim.reconcile(resync=resync)
    books = Books.of(sim.status)
    if (
        "canarist.io/traffic-router" not in sim.annotations
        and sim.annotations.get("canarist.io/status")
        and not books.replicas_held
    ):
        # router none asks for no more than R + maxSurge pods (or what was asked already) —
        # unless someone holds spec.replicas at R: then the canary's pods come on top
        total = user_total(sim.d_spec["replicas"], books).replicas
        surge = scaling.fenceposts(total, None, None)[0]
        assert asked(sim) <= max(before, total + surge), p.ops
    once = sim.state()
    for op in p.ops:
        sim.apply_op(op)
    assert sim.state() == once, f"carrying out the plan twice differs: {p.ops}"
    again = sim.reconcile()
    assert not again.ops, f"a second plan right after the first: {again.ops} after {p.ops}"
    assert sim.violations == [], sim.violations
    status = sim.status
    assert 0 <= status.weight <= 100


def keeps_the_invariants(sim: Sim, events: list[tuple[Any, ...]]) -> None:
    check_round(sim, resync=False)
    for event in events:
        resync = play(sim, event)
        check_round(sim, resync=resync)


def can_finish(sim: Sim, events: list[tuple[Any, ...]]) -> None:
    """A release of v2, then ``events``; from any state it reaches Healthy."""
    sim.run()
    sim.update_template("v2")
    for event in events:
        play(sim, event)
        sim.reconcile()
    # from any state: pods become available, retry/promote as needed, time passes
    sim.canary_limit = None
    for _ in range(60):
        if sim.status.phase == Phase.HEALTHY and sim.canary is None:
            break
        status = sim.status
        if status.phase == Phase.DEGRADED:
            sim.annotate("retry")
        elif status.phase == Phase.PAUSED:
            sim.annotate("resume" if "paused by user" in status.message else "promote")
        sim.reconcile()
        sim.settle()
        sim.advance(31)
    assert sim.status.phase == Phase.HEALTHY, sim.status
    assert sim.canary is None
    assert sim.router.weight == 0
    assert not sim.paused()
    assert sim.violations == []


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_random_histories_keep_the_invariants(data: st.DataObject) -> None:
    sim = build(data)
    keeps_the_invariants(sim, data.draw(st.lists(EVENT, max_size=25), label="events"))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_every_release_can_finish(data: st.DataObject) -> None:
    sim = build(data)
    can_finish(sim, data.draw(st.lists(EVENT, max_size=10), label="events"))


# Histories the properties once failed on (as hypothesis reported them), kept deterministic.
HEADER = '- setHeaderRoute: {name: beta, match: [{headerName: X-B, headerValue: {exact: "1"}}]}'
PROXY_DSS = {"routed": True, "dss": True}
NONE = {"routed": False}
FINISHES: list[Any] = [
    pytest.param(
        ["- setWeight: 0"], PROXY_DSS, 1, False,
        [("settle",), ("settle",), ("template", "v3"), ("template", "v2")],
        id="dss-handover-cut-by-v3-then-back-to-v2",
    ),
    pytest.param(
        [HEADER], PROXY_DSS, 1, False,
        [("settle",), ("settle",), ("template", "v3"), ("action", "abort")],
        id="dss-header-handover-cut-by-v3-then-abort",
    ),
    pytest.param(
        ["- setWeight: 30"], NONE, 3, False,
        [("template", "v3"), ("settle",), ("settle",), ("settle",), ("template", "v2")],
        id="none-promotion-cut-by-a-new-template",
    ),
]


@pytest.mark.parametrize(("steps", "router", "replicas", "adopted", "events"), FINISHES)
def test_known_histories_finish(
    steps: list[str],
    router: dict[str, bool],
    replicas: int,
    adopted: bool,
    events: list[tuple[Any, ...]],
) -> None:
    can_finish(make(steps, replicas=replicas, adopted=adopted, **router), events)


HISTORIES: list[Any] = [
    pytest.param(
        ["- setWeight: 10"], NONE, 1, False,
        [("template", "v2"), ("replicas", 10), ("replicas", 10), ("action", "abort")],
        id="none-replicas-held-then-abort",
    ),
    pytest.param(
        ["- setWeight: 56"], NONE, 1, False,
        [("template", "v2"), ("replicas", 4), ("template", "v3"), ("action", "promote"),
         ("settle",)],
        id="none-promotion-over-an-old-canary-within-surge",
    ),
    pytest.param(
        ["- setCanaryScale: {matchTrafficWeight: true}"], {"routed": True}, 1, False,
        [("template", "v2"), ("settle",), ("action", "abort"), ("advance", 30),
         ("action", "promote-full")],
        id="promote-full-rescales-the-canary-and-hands-it-over-in-one-plan",
    ),
]


@pytest.mark.parametrize(("steps", "router", "replicas", "adopted", "events"), HISTORIES)
def test_known_histories_keep_the_invariants(
    steps: list[str],
    router: dict[str, bool],
    replicas: int,
    adopted: bool,
    events: list[tuple[Any, ...]],
) -> None:
    keeps_the_invariants(make(steps, replicas=replicas, adopted=adopted, **router), events)
