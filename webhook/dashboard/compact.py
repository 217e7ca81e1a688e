"""What the dashboard's cache keeps of each object: only the fields it shows (pure transforms).

The informers run these on every object they receive, so the cache's memory grows with the
managed Deployments, not with the cluster: a Deployment canarist does not manage becomes a stub
of its name, a ReplicaSet or Pod keeps its counts and readiness, an Event its text. Annotations
other than canarist's are dropped (they can be large and are never shown).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from webhook.spec.hashing import revision_hash
from webhook.spec.names import CANARY_OF_LABEL, ENABLED_LABEL, HASH_LABEL, PREFIX, STATUS

JSON = dict[str, Any]
REVISION = "deployment.kubernetes.io/revision"
MESSAGE_LIMIT = 1024  # characters of an Event message kept


def _map(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _meta(obj: Mapping[str, Any], *, labels: bool = True) -> JSON:
    meta = _map(obj.get("metadata"))
    out: JSON = {
        "name": _str(meta.get("name")),
        "namespace": _str(meta.get("namespace")),
        "uid": _str(meta.get("uid")),
        "resourceVersion": _str(meta.get("resourceVersion")),
    }
    if labels:
        out["labels"] = {str(k): str(v) for k, v in _map(meta.get("labels")).items()}
    refs = [_str(r.get("uid")) for r in _list(meta.get("ownerReferences")) if isinstance(r, dict)]
    if refs:
        out["owners"] = [r for r in refs if r]
    return out


def is_managed(labels: Mapping[str, Any], annotations: Mapping[str, Any]) -> bool:
    """Released by canarist: opted in, or carrying its status (adopted by a cluster policy)."""
    return labels.get(ENABLED_LABEL) == "true" or STATUS in annotations


def containers(template: Mapping[str, Any]) -> list[JSON]:
    spec = _map(template.get("spec"))
    return [
        {"name": _str(c.get("name")), "image": _str(c.get("image"))}
        for c in _list(spec.get("containers"))
        if isinstance(c, Mapping)
    ]


def template_hash_label(template: Mapping[str, Any]) -> str:
    labels = _map(_map(template.get("metadata")).get("labels"))
    return _str(labels.get(HASH_LABEL))


def deployment(obj: JSON) -> JSON:
    """A managed Deployment or a canary: what the pages show; anything else: a stub."""
    raw = _map(obj.get("metadata"))
    labels, annotations = _map(raw.get("labels")), _map(raw.get("annotations"))
    canary_of = _str(labels.get(CANARY_OF_LABEL))
    if not canary_of and not is_managed(labels, annotations):
        return {"metadata": _meta(obj, labels=False)}
    spec, status = _map(obj.get("spec")), _map(obj.get("status"))
    template = _map(spec.get("template"))
    meta = _meta(obj)
    meta["annotations"] = {
        str(k): v for k, v in annotations.items() if str(k).startswith(PREFIX) and
        isinstance(v, str)
    }
    meta["creationTimestamp"] = _str(raw.get("creationTimestamp"))
    replicas = spec.get("replicas")
    stamp = template_hash_label(template)
    return {
        "metadata": meta,
        "spec": {  # a subset of the real shape, so ReleaseView reads it as it is
            "replicas": replicas if isinstance(replicas, int) else 1,
            "paused": spec.get("paused") is True,
            "template": {
                "metadata": {"labels": {HASH_LABEL: stamp} if stamp else {}},
                "spec": {"containers": containers(template)},
            },
        },
        "status": {
            key: _int(status.get(key))
            for key in ("replicas", "readyReplicas", "availableReplicas", "updatedReplicas")
        },
    }


def replica_set(obj: JSON) -> JSON:
    """A ReplicaSet: its revision (canarist's hash: the stamp, else the template's content hash,
    as the reconciler computes it for a revision adopted before its first release), counts,
    images."""
    meta, spec, status = _map(obj.get("metadata")), _map(obj.get("spec")), _map(obj.get("status"))
    template = _map(spec.get("template"))
    labels = _map(meta.get("labels"))
    revision = _str(_map(meta.get("annotations")).get(REVISION))
    return {
        "metadata": _meta(obj, labels=False),
        "hash": revision_hash(template),
        "podTemplateHash": _str(labels.get("pod-template-hash")),
        "revision": int(revision) if revision.isdigit() else 0,
        "containers": containers(template),
        "replicas": _int(spec.get("replicas")),
        "ready": _int(status.get("readyReplicas")),
        "available": _int(status.get("availableReplicas")),
    }


def pod(obj: JSON) -> JSON:
    meta, status = _map(obj.get("metadata")), _map(obj.get("status"))
    labels = _map(meta.get("labels"))
    ready = any(
        isinstance(c, Mapping) and c.get("type") == "Ready" and c.get("status") == "True"
        for c in _list(status.get("conditions"))
    )
    restarts = sum(
        _int(c.get("restartCount"))
        for c in _list(status.get("containerStatuses"))
        if isinstance(c, Mapping)
    )
    return {
        "metadata": _meta(obj, labels=False),
        "hash": _str(labels.get(HASH_LABEL)),
        "phase": _str(status.get("phase")) or "Pending",
        "ready": ready,
        "restarts": restarts,
        "deleting": bool(meta.get("deletionTimestamp")),
    }


def event(obj: JSON) -> JSON:
    involved = _map(obj.get("involvedObject"))
    message = _str(obj.get("message"))
    when = (
        _str(obj.get("lastTimestamp"))
        or _str(obj.get("eventTime"))
        or _str(obj.get("firstTimestamp"))
        or _str(_map(obj.get("metadata")).get("creationTimestamp"))
    )
    return {
        "metadata": _meta(obj, labels=False),
        "object": f"{_str(involved.get('namespace'))}/{_str(involved.get('name'))}",
        "type": _str(obj.get("type")) or "Normal",
        "reason": _str(obj.get("reason")),
        "message": message[:MESSAGE_LIMIT],
        "count": max(1, _int(obj.get("count"))),
        "time": when,
    }
