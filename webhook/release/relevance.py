"""Which watch events matter to which Deployment: the loop's filters and index functions.

Events of a Deployment at rest that change only what its controller keeps in ``status`` do not
wake it, nor ReplicaSet events that change no count: with many Deployments at rest those would
fill the work queue ahead of the releases in flight (found with ``scripts/bench/reconciler.py``).
"""

from __future__ import annotations

from webhook.kube.protocol import JSON
from webhook.release.names import DESIRED_REPLICAS, MANAGED_BY_ANNOTATION
from webhook.release.services import PIN_KEYS
from webhook.spec import Phase, ReleaseStatus
from webhook.spec.names import ENABLED_LABEL, STATUS


def meta_of(obj: JSON) -> JSON:
    meta = obj.get("metadata")
    return meta if isinstance(meta, dict) else {}


def released(obj: JSON | None) -> bool:
    """Canarist acts on this Deployment: opted in, or still carrying its status."""
    if obj is None:
        return False
    meta = meta_of(obj)
    labels = meta.get("labels") or {}
    return labels.get(ENABLED_LABEL) == "true" or STATUS in (meta.get("annotations") or {})


def active(obj: JSON | None) -> bool:
    """A release is under way (or ending): its pods' availability matters to the next plan."""
    if obj is None:
        return False
    status = ReleaseStatus.from_json((meta_of(obj).get("annotations") or {}).get(STATUS))
    return (
        status.in_release
        or status.phase in (Phase.PROMOTING, Phase.PROGRESSING, Phase.PAUSED)
        or "scaleDownAt" in status.extra
        or status.weight != 0
    )


def same_but_status(obj: JSON, old: JSON) -> bool:
    a, b = meta_of(obj), meta_of(old)
    return (
        obj.get("spec") == old.get("spec")
        and a.get("labels") == b.get("labels")
        and a.get("annotations") == b.get("annotations")
        and a.get("deletionTimestamp") == b.get("deletionTimestamp")
    )


def counts(rs: JSON) -> tuple[object, ...]:
    """What of a ReplicaSet a plan reads: its counts, its controller (a hand-over orphans and
    adopts it) and the count the Deployment controller last scaled it for."""
    spec, status = rs.get("spec") or {}, rs.get("status") or {}
    meta = meta_of(rs)
    return (
        spec.get("replicas"),
        status.get("replicas"),
        status.get("availableReplicas"),
        controller_of(rs),
        (meta.get("annotations") or {}).get(DESIRED_REPLICAS),
    )


def controller_of(obj: JSON) -> str:
    """The name of the Deployment controlling ``obj`` (a ReplicaSet), or ``""``."""
    for ref in meta_of(obj).get("ownerReferences") or ():
        if isinstance(ref, dict) and ref.get("controller") is True and ref.get("kind") == (
            "Deployment"
        ):
            return str(ref.get("name", ""))
    return ""


def orphaned_in(rs: JSON) -> list[str]:
    """Index function: the namespace of a ReplicaSet no controller owns (a hand-over leaves the
    canary's so until the user's Deployment adopts it)."""
    refs = meta_of(rs).get("ownerReferences") or ()
    if any(isinstance(r, dict) and r.get("controller") is True for r in refs):
        return []
    return [str(meta_of(rs).get("namespace") or "")]


def selector_pairs(svc: JSON) -> list[str]:
    ns = str(meta_of(svc).get("namespace") or "")
    selector = (svc.get("spec") or {}).get("selector") or {}
    return [f"{ns}/{k}={v}" for k, v in selector.items() if k not in PIN_KEYS]


def managed_by(svc: JSON) -> list[str]:
    meta = meta_of(svc)
    owner = (meta.get("annotations") or {}).get(MANAGED_BY_ANNOTATION)
    return [f"{meta.get('namespace') or ''}/{owner}"] if owner else []


def label_pairs(obj: JSON) -> list[str]:
    """Index function for Deployments: ``ns/key=value`` for each of the selector's
    ``matchLabels`` (``ns/*`` when it has only expressions), so the Deployments that may select
    a set of labels are found without a scan of the namespace."""
    ns = str(meta_of(obj).get("namespace") or "")
    selector = (obj.get("spec") or {}).get("selector") or {}
    match = selector.get("matchLabels") if isinstance(selector, dict) else None
    if isinstance(match, dict) and match:
        return [f"{ns}/{k}={v}" for k, v in match.items()]
    return [f"{ns}/*"]
