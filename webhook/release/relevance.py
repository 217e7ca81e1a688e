"""Which watch events matter to which Deployment: the loop's filters and index functions.

Events of a Deployment at rest that change only what its controller keeps in ``status`` do not
wake it, nor ReplicaSet events that change no count: with many Deployments at rest those would
fill the work queue ahead of the releases in flight (found with ``scripts/bench/reconciler.py``).
"""

from __future__ import annotations

from webhook.kube.protocol import JSON
from webhook.release.names import MANAGED_BY_ANNOTATION
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
    spec, status = rs.get("spec") or {}, rs.get("status") or {}
    return (spec.get("replicas"), status.get("replicas"), status.get("availableReplicas"))


def selector_pairs(svc: JSON) -> list[str]:
    ns = str(meta_of(svc).get("namespace") or "")
    selector = (svc.get("spec") or {}).get("selector") or {}
    return [f"{ns}/{k}={v}" for k, v in selector.items() if k not in PIN_KEYS]


def managed_by(svc: JSON) -> list[str]:
    meta = meta_of(svc)
    owner = (meta.get("annotations") or {}).get(MANAGED_BY_ANNOTATION)
    return [f"{meta.get('namespace') or ''}/{owner}"] if owner else []
