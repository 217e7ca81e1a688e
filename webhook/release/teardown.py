"""A Deployment leaving canarist: the opt-in label removed, or the Deployment deleted.

Opting out (label removed or ``"false"``, or no policy adopting it any more; possibly
mid-release): the routers' ``cleanup`` (traffic back to
stable, managed routes and added destinations removed), the canary Deployment deleted, the
Services canarist changed restored and the one it created deleted, the Deployment unpaused if a
release held it (and given back its replica count after dynamic stable scale), the status
annotation removed.

Deleted: everything canarist created goes with it by ownerReference (canary Deployment, canary
Service, router objects it created); what remains is to restore the shared objects it changed —
the user's Services, and (through the routers' ``cleanup``) the routing objects — and to delete
a ReplicaSet a hand-over left orphaned.
"""

from __future__ import annotations

from webhook.policy import manage
from webhook.release.bookkeeping import Books
from webhook.release.draft import Draft
from webhook.release.model import World
from webhook.release.ops import (
    CleanupRoutes,
    DeleteCanary,
    DeleteReplicaSet,
    DeleteService,
    PatchDeployment,
    Plan,
    WriteStatus,
)
from webhook.release.replicas import user_total
from webhook.release.services import restore_patch
from webhook.spec import Phase
from webhook.spec.names import ACTION, STATUS


def _unroute(world: World, draft: Draft) -> None:
    status = world.status
    books = Books.of(status)
    if books.routed_hashes is None or world.spec is None or not world.spec.traffic_routed:
        return  # never routed (or no routers to ask): nothing to undo
    draft.add(CleanupRoutes())
    if status.weight:
        draft.event("WeightChanged", f"traffic weight updated from {status.weight} to 0")


def restore_services(world: World, draft: Draft, *, delete_owned: bool) -> None:
    """Give the Services canarist pinned their selectors back; with ``delete_owned``, delete the
    canary Service it created."""
    d = world.deployment
    for svc in world.services:
        if d.uid and d.uid in svc.owner_uids:
            if delete_owned:
                draft.add(DeleteService(svc.name))
        elif svc.managed_for(d.name):
            draft.add(restore_patch(svc))
            draft.event("ServiceRestored", f"Service {svc.name} selector restored")


def opt_out(world: World) -> Plan:
    d, status = world.deployment, world.status
    books = Books.of(status)
    owned_services = any(d.uid and d.uid in s.owner_uids for s in world.services)
    managed = any(s.managed_for(d.name) for s in world.services)
    canary = world.canary if world.canary and world.canary.owned else None
    if canary is not None and canary.deleting:
        canary = None  # orphaned by a hand-over: another delete would take its pods along
    if STATUS not in d.annotations and canary is None and not owned_services and not managed:
        return Plan()
    draft = Draft()
    _unroute(world, draft)
    held = d.paused and (status.in_release or status.phase == Phase.PROMOTING)
    total = user_total(d.replicas, books).replicas
    replicas = total if total != d.replicas else None
    if held or replicas is not None:  # the stable pods' full count back before the canary goes
        draft.add(PatchDeployment(paused=False if held else None, replicas=replicas))
    if canary is not None:
        draft.add(DeleteCanary(canary.name))
    restore_services(world, draft, delete_owned=True)
    draft.add(WriteStatus(None, consume_action=ACTION in d.annotations))
    why = manage(d.labels, d.annotations, world.policy).reason
    draft.event("OptedOut", f"{why}: canarist no longer manages this Deployment")
    record = world.bypass
    if record is not None and record.uid and record.uid != books.bypass_recorded:
        draft.event("PolicyBypassed", record.event_message(), warning=True)
    return draft.plan()


def gone(world: World) -> Plan:
    """The Deployment is being deleted (or was): restore the shared objects canarist changed,
    and delete the ReplicaSet a hand-over orphaned if no Deployment adopted it (nothing else
    would: a Deployment being deleted adopts nothing)."""
    draft = Draft()
    _unroute(world, draft)
    restore_services(world, draft, delete_owned=False)
    name = Books.of(world.status).handover
    for rs in world.canary_replica_sets:
        if name and rs.name == name and rs.controller is None and not rs.deleting:
            draft.add(DeleteReplicaSet(rs.name, rs.uid))
    return draft.plan()
