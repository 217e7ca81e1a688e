"""A release of v2 held at its last step on the simulator, for the hand-over's tests."""

from __future__ import annotations

from webhook.spec import Phase

from .sim import Sim
from .sim_actors import JSON

STEPS = "- setWeight: 50\n- pause: {}\n- setWeight: 100\n- pause: {}\n"
PROXY = {"canarist.io/steps": STEPS, "canarist.io/traffic-router": "proxy",
         "canarist.io/scale-down-delay": "0s"}
R = 4


def at_100(annotations: dict[str, str] | None = None, *, replicas: int = R) -> Sim:
    """v2 at its last step: all traffic on the canary's R pods, waiting for promote."""
    sim = Sim(annotations or PROXY, replicas=replicas)
    sim.run()
    sim.update_template("v2")
    sim.run()
    while sim.status.step < sim.status.steps - 1:  # on to the last step, a pause
        sim.annotate("promote")
        sim.run()
    status = sim.status
    assert (status.phase, status.weight, sim.router.weight) == (Phase.PAUSED, 100, 100), status
    return sim


def canary_rs(sim: Sim) -> JSON:
    return next(rs for rs in sim.replica_sets if rs["metadata"]["name"].startswith("web-canary"))
