"""``canarist undo NAME [--to-revision N] [--skip-steps]``: Argo Rollouts' ``undo`` for a
Deployment canarist releases.

The revisions are the Deployment's ReplicaSets and their ``deployment.kubernetes.io/revision``
annotations, as ``kubectl rollout undo`` reads them; undo writes the chosen ReplicaSet's pod
template back into the Deployment (without Kubernetes' ``pod-template-hash`` label), and the
admission webhook and the reconciler do the rest:

- a template equal to the **stable** revision is a fast rollback: the webhook unpauses the
  Deployment, the reconciler drops the canary (no step runs, no pod of the Deployment changes).
  Mid-release, that is what ``undo`` without ``--to-revision`` does;
- any other template is a **new release** through the steps (at rest, ``undo`` without
  ``--to-revision`` releases the previous revision); with ``--skip-steps`` the same write asks
  for ``promote-full``: every step skipped, traffic to 100% once the canary is fully available.

Unlike ``kubectl rollout undo``, undo works on the paused Deployment of a release (kubectl
refuses paused Deployments), and the Deployment's annotations are left as they are (kubectl
copies the old ReplicaSet's, which would bring back an old ``canarist.io/status``).

``plan_undo`` is the pure decision (table-tested); ``request_undo`` reads and writes (the CLI's
``run_undo`` and the dashboard call it), ``preview_undo`` only reads. The
write is a JSON patch that sets ``metadata.resourceVersion`` to the version just read, so a
Deployment that changed in between is judged again (409), never overwritten.
"""

from __future__ import annotations

import copy
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, TextIO

from webhook.errors import Conflict
from webhook.kube.client import KubeClient
from webhook.kube.config import ClientOptions
from webhook.kube.controls import EXIT_FAILED, EXIT_OK, check_name, read_deployment, run_body
from webhook.kube.display import ReleaseView
from webhook.kube.protocol import JSON, ObjectRef
from webhook.spec import Action, Phase, ReleaseStatus
from webhook.spec.hashing import POD_TEMPLATE_HASH, revision_hash
from webhook.spec.names import ACTION, ENABLED_LABEL, STATUS

REVISION = "deployment.kubernetes.io/revision"


class Kind(StrEnum):
    ROLLBACK = "rollback"  # to the stable revision: no step runs
    RELEASE = "release"  # another revision, through the steps
    SKIP = "skip"  # another revision, every step skipped (promote-full)
    NOTHING = "nothing"  # the template already is that revision


@dataclass(frozen=True)
class Undo:
    kind: Kind
    revision: int
    hash: str
    template: Mapping[str, Any]

    def patch(self, resource_version: str, annotations: bool) -> list[JSON]:
        """The JSON patch: the template, guarded by ``resource_version``; ``promote-full`` with
        ``--skip-steps`` (``annotations``: the Deployment has an annotations map already)."""
        ops: list[JSON] = [
            {"op": "replace", "path": "/metadata/resourceVersion", "value": resource_version},
            {"op": "replace", "path": "/spec/template", "value": dict(self.template)},
        ]
        if self.kind is Kind.SKIP:
            action = Action.PROMOTE_FULL.value
            if annotations:
                path = "/metadata/annotations/" + ACTION.replace("~", "~0").replace("/", "~1")
                ops.append({"op": "add", "path": path, "value": action})
            else:
                value = {ACTION: action}
                ops.append({"op": "add", "path": "/metadata/annotations", "value": value})
        return ops


@dataclass(frozen=True)
class Refused:
    reason: str


def _revision(rs: Mapping[str, Any]) -> int | None:
    text = ((rs.get("metadata") or {}).get("annotations") or {}).get(REVISION)
    try:
        number = int(str(text))
    except ValueError:
        return None
    return number if number > 0 else None


def _owned_by(rs: Mapping[str, Any], uid: str) -> bool:
    refs = (rs.get("metadata") or {}).get("ownerReferences") or ()
    return bool(uid) and any(isinstance(r, Mapping) and r.get("uid") == uid for r in refs)


def history(
    deployment: Mapping[str, Any], replica_sets: Iterable[Mapping[str, Any]]
) -> dict[int, Mapping[str, Any]]:
    """Revision number → pod template, from the ReplicaSets the Deployment owns."""
    uid = str((deployment.get("metadata") or {}).get("uid") or "")
    out: dict[int, Mapping[str, Any]] = {}
    for rs in replica_sets:
        number = _revision(rs)
        if number is not None and _owned_by(rs, uid):
            out[number] = (rs.get("spec") or {}).get("template") or {}
    return out


def plan_undo(
    deployment: Mapping[str, Any],
    replica_sets: Iterable[Mapping[str, Any]],
    *,
    to_revision: int | None = None,
    skip_steps: bool = False,
) -> Undo | Refused:
    """What ``undo`` writes: the revision it goes back to and how, or why it cannot."""
    meta = deployment.get("metadata") or {}
    name = f"{meta.get('namespace', '')}/{meta.get('name', '')}"
    if not ReleaseView.of(deployment).managed:  # labelled, or adopted by a cluster policy
        return Refused(
            f"Deployment {name} is not managed by canarist (label {ENABLED_LABEL}=true is "
            "missing, and no cluster policy adopted it); use kubectl rollout undo"
        )
    revisions = history(deployment, replica_sets)
    status = ReleaseStatus.from_json((meta.get("annotations") or {}).get(STATUS))
    current = revision_hash((deployment.get("spec") or {}).get("template"))
    stable = status.stable_hash or current
    releasing = current != stable
    if to_revision is not None:
        if to_revision not in revisions:
            known = ", ".join(str(n) for n in sorted(revisions)) or "none"
            return Refused(f"unable to find revision {to_revision} (revisions: {known})")
        number = to_revision
    elif releasing:
        stable_revisions = [n for n, t in revisions.items() if revision_hash(t) == stable]
        if not stable_revisions:
            return Refused(f"no ReplicaSet of the stable revision {stable} was found")
        number = max(stable_revisions)
    else:
        older = sorted(n for n, t in revisions.items() if revision_hash(t) != current)
        if not older:
            return Refused("no earlier revision to go back to (rollout history is empty)")
        number = older[-1]
    template = copy.deepcopy(dict(revisions[number]))
    labels = (template.get("metadata") or {}).get("labels")
    if isinstance(labels, dict):
        labels.pop(POD_TEMPLATE_HASH, None)
    target = revision_hash(template)
    if target == current:
        kind = Kind.NOTHING
    elif target == stable:
        kind = Kind.ROLLBACK
    else:
        kind = Kind.SKIP if skip_steps else Kind.RELEASE
    return Undo(kind, number, target, template)


def effect(undo: Undo, phase: Phase | None) -> str:
    """What writing ``undo`` does, in one sentence (the dashboard's confirmation)."""
    where = f"revision {undo.revision} ({undo.hash})"
    if undo.kind is Kind.NOTHING:
        return f"Nothing to do: the template already is {where}."
    if undo.kind is Kind.ROLLBACK:
        dropped = " (the release in progress is dropped)" if phase is not Phase.HEALTHY else ""
        return (f"Rolls back to the stable {where}{dropped}: the template goes back and no "
                "step runs.")
    if undo.kind is Kind.SKIP:
        return (f"Releases {where} with every step skipped (promote-full): all traffic once its "
                "canary is fully available.")
    return f"Releases {where} through the canary steps."


def describe(undo: Undo, name: str, namespace: str, phase: Phase | None) -> str:
    head = f"deployment.apps/{name}"
    follow = f"follow it with: canarist status {name} -n {namespace} -w"
    where = f"revision {undo.revision} ({undo.hash})"
    if undo.kind is Kind.NOTHING:
        return f"{head}: skipped, the template already is {where}"
    if undo.kind is Kind.ROLLBACK:
        dropped = " (the release in progress is dropped)" if phase is not Phase.HEALTHY else ""
        return f"{head}: rolling back to the stable {where}{dropped}, no step runs; {follow}"
    if undo.kind is Kind.SKIP:
        return (
            f"{head}: releasing {where} with every step skipped (promote-full): all traffic "
            f"once its canary is fully available; {follow}"
        )
    return f"{head}: releasing {where} through the canary steps; {follow}"


def run_undo(
    options: ClientOptions,
    name: str,
    *,
    to_revision: int | None = None,
    skip_steps: bool = False,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    check_name(name)
    out, err = out or sys.stdout, err or sys.stderr

    async def body(client: KubeClient) -> int:
        return await undo(client, name, to_revision, skip_steps, out, err)

    return run_body(options, err, body)


@dataclass(frozen=True)
class UndoResult:
    """What asking for an undo came to: ``done`` (written, or nothing to do), or why not."""

    done: bool
    message: str


async def preview_undo(
    client: KubeClient, ns: str, name: str, *, to_revision: int | None = None,
    skip_steps: bool = False,
) -> tuple[Undo | Refused, Phase | None]:
    """What ``undo`` would do now (read only), and the release's phase."""
    deployment = await read_deployment(client, ns, name)
    replica_sets = await client.list("apps/v1", "ReplicaSet", ns)
    meta = deployment.get("metadata") or {}
    phase = ReleaseStatus.from_json((meta.get("annotations") or {}).get(STATUS)).phase
    return plan_undo(deployment, replica_sets, to_revision=to_revision,
                     skip_steps=skip_steps), phase


async def request_undo(
    client: KubeClient, ns: str, name: str, *, to_revision: int | None = None,
    skip_steps: bool = False,
) -> UndoResult:
    """Decide and write the undo of Deployment ``ns/name``, judged again if it changed in
    between; API errors are raised as they come."""
    ref = ObjectRef("apps/v1", "Deployment", ns, name)
    for _ in range(5):
        deployment = await read_deployment(client, ns, name)
        replica_sets = await client.list("apps/v1", "ReplicaSet", ns)
        decided = plan_undo(deployment, replica_sets, to_revision=to_revision,
                            skip_steps=skip_steps)
        if isinstance(decided, Refused):
            return UndoResult(False, f"undo refused: {decided.reason}")
        meta = deployment.get("metadata") or {}
        phase = ReleaseStatus.from_json((meta.get("annotations") or {}).get(STATUS)).phase
        if decided.kind is not Kind.NOTHING:
            patch = decided.patch(str(meta.get("resourceVersion", "")),
                                  isinstance(meta.get("annotations"), dict))
            try:
                await client.patch(ref, patch, patch_type="json")
            except Conflict:
                continue  # changed since read: judge again
        return UndoResult(True, describe(decided, name, ns, phase))
    return UndoResult(False, f"deployment {ns}/{name} kept changing; try again")


async def undo(
    client: KubeClient,
    name: str,
    to_revision: int | None,
    skip_steps: bool,
    out: TextIO,
    err: TextIO,
) -> int:
    result = await request_undo(client, client.namespace, name, to_revision=to_revision,
                                skip_steps=skip_steps)
    if not result.done:
        print(f"canarist: {result.message}", file=err)
        return EXIT_FAILED
    print(result.message, file=out)
    return EXIT_OK
