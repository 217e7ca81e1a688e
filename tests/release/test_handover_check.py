"""``handover.check`` in a table, one row per condition the hand-over stands on (go, wait, or
roll out with or without a Warning); who else selects the canary's pods; that the canary runs
the Deployment's very template; ``canarist reconcile --promotion``."""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable
from typing import Any

import pytest

from webhook.release import handover
from webhook.release.bookkeeping import Books
from webhook.release.draft import Ctx, Work
from webhook.release.model import selecting
from webhook.release.names import HASH_LABEL
from webhook.release.replicas import user_total

from .handover_sim import R, at_100, canary_rs
from .sim import Sim
from .sim_actors import JSON, UID


def verdict(sim: Sim, **world: Any) -> handover.Check:
    w = sim.world()
    w = type(w)(**{**w.__dict__, **world})
    work = Work(w.status, Books.of(w.status))
    work.total = user_total(w.deployment.replicas, work.books).replicas
    assert w.spec is not None
    return handover.check(Ctx(w, w.spec, sim.now), work)


def other_deployment(selector: dict[str, Any]) -> JSON:
    return {"metadata": {"name": "other"}, "spec": {"selector": selector}}


def _set_canary_label(sim: Sim) -> None:
    assert sim.canary is not None
    sim.canary["spec"]["template"]["metadata"]["labels"]["extra"] = "x"


def _rs(change: Callable[[JSON], None]) -> Callable[[Sim], None]:
    return lambda sim: change(canary_rs(sim))


def _second_rs(sim: Sim) -> None:
    twin = copy.deepcopy(canary_rs(sim))
    twin["metadata"].update(name="web-canary-twin", uid="uid-twin")
    sim.replica_sets.append(twin)


def _own_rs_of_this_template(sim: Sim) -> None:
    twin = copy.deepcopy(canary_rs(sim))
    twin["metadata"].update(name="web-old-v2", uid="uid-old-v2", ownerReferences=[
        {"uid": UID, "kind": "Deployment", "controller": True}])
    twin["spec"]["replicas"] = 0
    sim.replica_sets.insert(0, twin)


def _drop_canary_rs(sim: Sim) -> None:
    sim.replica_sets.remove(canary_rs(sim))


def _lower_replicas(sim: Sim) -> None:
    sim.d_spec["replicas"] = 3
    sim.annotations["canarist.io/status"] = sim.status.with_(
        extra={**sim.status.extra, "replicas": 4, "stableReplicas": 3}).to_json()


def _unobserved(sim: Sim) -> None:
    sim.deployment["metadata"]["generation"] += 1


# (what is changed in the world at weight 100, extra World fields, the verdict wanted)
ROWS: list[tuple[str, Callable[[Sim], None] | None, dict[str, Any], str, str]] = [
    ("all conditions hold", None, {}, "go", ""),
    ("turned off", None, {"handover": False}, "fallback", "turned off"),
    ("canary template differs", _set_canary_label, {}, "fallback!", "pod template of web-canary"),
    ("RS template differs", _rs(lambda rs: rs["spec"]["template"]["spec"].update(x=1)), {},
     "fallback!", "does not run web's pod template"),
    ("RS labels off the selector", _rs(lambda rs: rs["metadata"]["labels"].update(app="x")),
     {}, "fallback!", "selector does not match"),
    ("RS being deleted", _rs(lambda rs: rs["metadata"].update(deletionTimestamp="t")), {},
     "fallback!", "is being deleted"),
    ("two canary RSs", _second_rs, {}, "fallback!", "several ReplicaSets"),
    ("the Deployment has an RS of this template", _own_rs_of_this_template, {}, "fallback!",
     "already has ReplicaSet web-old-v2"),
    ("another Deployment selects the pods", None, {"selecting": ("other",)}, "fallback!",
     "Deployment other also selects"),
    ("no canary RS yet", _drop_canary_rs, {}, "wait", "the ReplicaSet of web-canary"),
    ("spec.replicas below R", _lower_replicas, {}, "wait", "web back to 4 replicas"),
    ("spec not observed", _unobserved, {}, "wait", "web back to 4 replicas"),
    ("RS not saturated", _rs(lambda rs: rs["status"].update(availableReplicas=3)), {}, "wait",
     "at 4 available pods (3/4)"),
    ("RS annotation behind", _rs(lambda rs: rs["metadata"]["annotations"].update(
        {"deployment.kubernetes.io/desired-replicas": "2"})), {}, "wait", "at 4 available"),
]


@pytest.mark.parametrize(("change", "world", "kind", "reason"),
                         [row[1:] for row in ROWS], ids=[row[0] for row in ROWS])
def test_check(change: Callable[[Sim], None] | None, world: dict[str, Any], kind: str,
               reason: str) -> None:
    sim = at_100()
    if change is not None:
        change(sim)
    found = verdict(sim, **world)
    got = "go" if found.go else "wait" if found.wait else "fallback!" if found.warn else "fallback"
    assert got == kind, found
    assert reason in found.reason


def test_check_router_none_and_zero_replicas_roll_out_without_warning() -> None:
    sim = at_100()
    spec = sim.world().spec
    assert spec is not None
    none = verdict(sim, spec=dataclasses.replace(spec, routers=("none",)))
    assert (none.go, none.wait, none.warn) == (False, False, False)
    assert "router none" in none.reason
    sim.d_spec["replicas"] = 0
    zero = verdict(sim)
    assert (zero.go, zero.wait, zero.warn, zero.reason) == (
        False, False, False, "the Deployment runs no pods")


def test_other_deployments_selecting_the_pods_are_found_by_their_selector() -> None:
    sim = at_100()
    world = sim.world()
    others = [other_deployment({"matchLabels": {"app": "web"}}),
              other_deployment({"matchExpressions": [{"key": "app", "operator": "In",
                                                       "values": ["web", "x"]}]}),
              other_deployment({"matchLabels": {"app": "api"}}),
              other_deployment({}),  # selects everything, so no controller acts on it
              {"metadata": {"name": "web"}, "spec": {"selector": {"matchLabels": {"app": "web"}}}},
              {"metadata": {"name": "gone", "deletionTimestamp": "t"},
               "spec": {"selector": {"matchLabels": {"app": "web"}}}}]
    for i, d in enumerate(others[:4]):
        d["metadata"]["name"] = f"other{i}"
    assert selecting(world, others) == ("other0", "other1")


def test_the_canary_runs_exactly_the_template_the_webhook_stamped() -> None:
    """The hand-over needs the canary's template to be the Deployment's: canarist adds only
    ``rollouts-pod-template-hash``, which the admission webhook already stamped into the
    Deployment's template. canarist's own labels are on the canary *Deployment*, not its pods."""
    from webhook.release.canary import canary_body

    sim = at_100()
    d = sim.world().deployment
    body = canary_body(d, R)
    assert body["spec"]["template"] == d.template
    assert body["metadata"]["labels"] == {"app": "web", "canarist.io/canary-of": "web"}
    unstamped = copy.deepcopy(dict(d.template))
    del unstamped["metadata"]["labels"][HASH_LABEL]  # a template changed behind the webhook
    assert not handover.same_template(body["spec"]["template"], unstamped)
    pth = copy.deepcopy(body["spec"]["template"])
    pth["metadata"]["labels"]["pod-template-hash"] = "abc"  # what its ReplicaSet adds
    assert handover.same_template(pth, d.template)


@pytest.mark.parametrize(("flags", "handover"), [([], True), (["--promotion", "handover"], True),
                                                (["--promotion", "rollout"], False)])
def test_canarist_reconcile_promotion_flag(flags: list[str], handover: bool) -> None:
    from webhook.cli import build_parser
    from webhook.cli.release import loop_options

    args = build_parser().parse_args(["reconcile", *flags])
    assert loop_options(args).handover is handover


def test_canarist_reconcile_refuses_an_unknown_promotion(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from webhook.cli import build_parser

    with pytest.raises(SystemExit) as exited:
        build_parser().parse_args(["reconcile", "--promotion", "both"])
    assert exited.value.code == 2
    assert "--promotion: invalid choice: 'both'" in capsys.readouterr().err
