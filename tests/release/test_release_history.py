"""``canarist.io/history``: the reconciler records each change of phase, step and weight in the
status write it makes anyway (planner tables through the simulator)."""

from __future__ import annotations

from webhook.release.execute import deployment_patch, write_status_patch
from webhook.release.ops import PatchDeployment, WriteStatus
from webhook.spec import ReleaseStatus
from webhook.spec.history import History
from webhook.spec.names import HISTORY, STATUS

from .sim import Sim

STEPS = """
- setWeight: 20
- pause: {duration: 30s}
- setWeight: 50
- pause: {}
"""
T0 = 1772366400  # 2026-03-01T12:00:00Z, the simulator's clock at start


def history(sim: Sim) -> list[list[object]]:
    h = History.from_json(sim.annotations.get(HISTORY))
    return [[p.at - T0, p.set_weight, p.weight, p.phase, p.step] for p in h.points]


def test_a_release_records_a_point_per_change_and_nothing_else() -> None:
    sim = Sim({"canarist.io/steps": STEPS, "canarist.io/traffic-router": "proxy"})
    sim.run()
    assert HISTORY not in sim.annotations  # adopted, never released: nothing to show
    sim.update_template("v2")
    v2 = sim.hash()
    sim.run()
    sim.advance(30)
    sim.run()
    sim.advance(5)
    sim.annotate("promote")
    sim.run()
    sim.advance(30)
    sim.run()
    assert History.from_json(sim.annotations[HISTORY]).release == v2
    assert history(sim) == [
        [0, 20, 0, "Progressing", 0],  # step 1 asks 20%, the canary is scaling
        [0, 20, 20, "Paused", 1],  # 20% applied, the timed pause runs
        [30, 50, 20, "Progressing", 2],  # the pause is over: step 3 asks 50%
        [30, 50, 50, "Paused", 3],  # applied; paused until promote
        [35, 100, 50, "Progressing", 4],  # promoted: every step done, scaling to full
        [35, 100, 100, "Progressing", 4],  # all traffic on v2; the old pods stay 30 s
        [65, 100, 100, "Promoting", 4],  # the canary's ReplicaSet handed over
        [65, 0, 0, "Healthy", 4],  # v2 is the stable revision
    ]
    # the history cost no write: the simulator reached a fixed point, and every write of the
    # history was a status write
    for plan in sim.plans:
        for op in plan.ops:
            if isinstance(op, WriteStatus | PatchDeployment) and op.history is not None:
                assert op.status is not None


def test_abort_and_retry_continue_the_history_and_a_new_release_starts_one() -> None:
    sim = Sim({"canarist.io/steps": STEPS, "canarist.io/traffic-router": "proxy"})
    sim.run()
    sim.update_template("v2")
    sim.run()
    sim.annotate("abort")
    sim.run()
    assert history(sim)[-1] == [0, 0, 0, "Degraded", 1]
    sim.advance(10)
    sim.annotate("retry")
    sim.run()
    assert history(sim)[-1] == [10, 20, 20, "Paused", 1]
    assert len(history(sim)) == 4  # the canary pods were still there: straight to 20%
    sim.advance(10)
    sim.update_template("v3")
    sim.run()
    h = History.from_json(sim.annotations[HISTORY])
    assert h.release == sim.hash()
    assert history(sim)[0] == [20, 20, 0, "Progressing", 0]
    sim.revert("v1")  # the user goes back to the stable template
    sim.run()
    assert history(sim)[-1][1:4] == [0, 0, "Healthy"]


def test_the_history_travels_in_the_status_write() -> None:
    status = ReleaseStatus()
    body = write_status_patch(WriteStatus(status, history='{"release":"x","points":[]}'), "7")
    assert body["metadata"]["annotations"] == {
        STATUS: status.to_json(),
        HISTORY: '{"release":"x","points":[]}',
    }
    assert HISTORY not in write_status_patch(WriteStatus(status), "7")["metadata"]["annotations"]
    # removing the status (opt-out) removes the history with it
    assert write_status_patch(WriteStatus(None), "7")["metadata"]["annotations"] == {
        STATUS: None,
        HISTORY: None,
    }
    unpause = deployment_patch(PatchDeployment(paused=False, status=status, history="h"), "7")
    assert unpause["metadata"]["annotations"][HISTORY] == "h"
    assert HISTORY not in deployment_patch(PatchDeployment(replicas=3), "7")["metadata"]
