"""Whose number ``spec.replicas`` is while canarist runs the stable pods below the user's count
(dynamic stable scale, router ``none``), on the release simulator and as a table."""

from __future__ import annotations

import pytest

from webhook.release.bookkeeping import Books
from webhook.release.ops import PatchDeployment, WriteStatus
from webhook.release.replicas import Total, user_total
from webhook.spec import Phase

from .sim import Sim, released
from .test_release_routing import dynamic_stable_sim

ISSUE_STEPS = "- setWeight: 25\n- pause: {}\n- setWeight: 75\n- pause: {}\n"


@pytest.mark.parametrize(
    ("spec_replicas", "books", "total"),
    [
        (4, Books(), Total(4)),  # canarist wrote nothing: the user's
        (3, Books(replicas=4, stable_replicas=3), Total(4)),  # canarist's 3, the user's 4
        (6, Books(replicas=4, stable_replicas=3), Total(6)),  # kubectl scale / an HPA: new total
        (4, Books(replicas=4, stable_replicas=3), Total(4, overridden=True)),  # set back to 4
        (2, Books(replicas=4), Total(2)),  # half a record counts as none
    ],
)
def test_user_total(spec_replicas: int, books: Books, total: Total) -> None:
    assert user_total(spec_replicas, books) == total


def counts(sim: Sim) -> tuple[int, int]:
    """(stable, canary) spec replicas."""
    return sim.d_spec["replicas"], sim.canary_replicas() or 0


def test_dynamic_stable_scale_counts_are_argos_at_every_step() -> None:
    """The issue's R = 4 at 25% then 75%: stable 3 / canary 1, then stable 1 / canary 3."""
    sim = released(dynamic_stable_sim(ISSUE_STEPS, replicas=4))
    assert counts(sim) == (3, 1)
    assert sim.status.extra["replicas"] == 4  # the user's count, kept beside canarist's 3
    sim.annotate("promote")
    sim.run()
    assert sim.status.weight == 75
    assert counts(sim) == (1, 3)
    sim.annotate("abort")
    first = sim.reconcile()
    assert sim.d_spec["replicas"] == 4  # the stable pods come back first...
    assert sim.canary_replicas() == 3  # ...while the canary keeps its pods
    assert "replicas" not in (first.status or sim.status).extra
    sim.settle()
    sim.run()
    sim.advance(30)
    sim.run()
    assert counts(sim) == (4, 0)


def test_the_replica_count_is_written_with_the_books_in_one_write() -> None:
    """The issue's total of 3: the count and the user's total were written separately, the
    second write conflicted, and the next plan took canarist's own 3 for the user's."""
    sim = dynamic_stable_sim(ISSUE_STEPS, replicas=4)
    sim.run()
    sim.update_template("v2")
    sim.reconcile()
    sim.settle()
    shift = sim.reconcile()
    assert shift.of_type(WriteStatus) == []
    (write,) = shift.of_type(PatchDeployment)
    assert write.replicas == 3
    assert write.status is not None and write.status.extra["replicas"] == 4


def test_an_hpa_resizing_mid_release_is_the_new_total() -> None:
    sim = released(dynamic_stable_sim(ISSUE_STEPS, replicas=4))
    assert counts(sim) == (3, 1)
    sim.set_replicas(8)  # the HPA (or kubectl scale) sets a new total
    sim.settle()
    sim.run()
    assert counts(sim) == (6, 2)
    sim.annotate("abort")
    sim.run()
    sim.advance(30)
    sim.run()
    assert counts(sim) == (8, 0)


def test_someone_insisting_on_the_total_is_not_fought() -> None:
    """An HPA's minReplicas or a GitOps sync sets spec.replicas back to the total: canarist
    stops writing it for the rest of the release (and says so) instead of a write war."""
    sim = released(dynamic_stable_sim(ISSUE_STEPS, replicas=4))
    assert counts(sim) == (3, 1)
    sim.set_replicas(4)
    sim.settle()
    sim.run()
    assert "ReplicasOverridden" in sim.reasons()
    assert counts(sim) == (4, 1)
    sim.annotate("promote")
    sim.run()
    assert counts(sim) == (4, 3)  # the canary still follows the steps
    sim.annotate("promote")
    sim.run()
    assert sim.status.phase == Phase.HEALTHY
    assert sim.status.extra.get("replicasHeld") is None  # the next release scales again
    sim.update_template("v3")
    sim.run()
    assert counts(sim) == (3, 1)


@pytest.mark.parametrize("ending", ["rollback", "opt-out", "promote-full"])
def test_every_ending_gives_the_full_count_back(ending: str) -> None:
    sim = released(dynamic_stable_sim(ISSUE_STEPS, replicas=4))
    sim.annotate("promote")
    sim.run()
    assert counts(sim) == (1, 3)
    if ending == "rollback":
        sim.revert()
    elif ending == "opt-out":
        sim.opt_out()
    else:
        sim.annotate("promote-full")
    for _ in range(4):
        sim.run()
        sim.settle()
        sim.advance(31)
    sim.run()
    assert sim.d_spec["replicas"] == 4
    assert sim.canary is None or sim.canary_replicas() == 0
    assert sim.violations == []


def test_router_none_restart_scales_the_old_canary_away_first() -> None:
    sim = released(Sim({"canarist.io/steps": ISSUE_STEPS}, replicas=4))
    sim.annotate("promote")
    sim.run()
    assert counts(sim) == (1, 3)
    sim.update_template("v3")
    sim.reconcile()
    assert sim.status.weight == 0
    assert sim.d_spec["replicas"] + (sim.canary_replicas() or 0) <= 5  # R + maxSurge
    for _ in range(6):
        sim.settle()
        sim.reconcile()
        assert sim.d_spec["replicas"] + (sim.canary_replicas() or 0) <= 5
    assert sim.status.canary_hash == sim.hash()
    assert counts(sim) == (3, 1)
