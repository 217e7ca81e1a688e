"""Serving custom resources as their CustomResourceDefinitions come and go.

A write hook on the API: a stored CRD registers (or updates) its resource at once and gets the
``NamesAccepted`` and ``Established`` conditions upstream's controllers set; a removed CRD takes
every custom resource of its kind with it (upstream: the ``customresourcecleanup`` finalizer).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from webhook.cluster.meta import clone, metadata, now
from webhook.cluster.resources import ResourceType, resource_from_crd
from webhook.cluster.store import Event

if TYPE_CHECKING:
    from webhook.cluster.core import APICore

CRD_KEY = "customresourcedefinitions.apiextensions.k8s.io"


def established_status(crd: dict[str, object]) -> dict[str, object]:
    spec = crd.get("spec")
    names = spec.get("names", {}) if isinstance(spec, dict) else {}
    stamp = now()
    cond = [
        {"type": "NamesAccepted", "status": "True", "reason": "NoConflicts",
         "message": "no conflicts found", "lastTransitionTime": stamp},
        {"type": "Established", "status": "True", "reason": "InitialNamesAccepted",
         "message": "the initial names have been accepted", "lastTransitionTime": stamp},
    ]
    versions = spec.get("versions", []) if isinstance(spec, dict) else []
    stored = [v["name"] for v in versions if isinstance(v, dict) and v.get("storage")]
    return {"conditions": cond, "acceptedNames": clone(names), "storedVersions": stored}


class CRDHook:
    def __init__(self, api: APICore) -> None:
        self.api = api

    def after_write(self, rt: ResourceType, event: Event) -> None:
        if rt.key != CRD_KEY:
            return
        crd = event.obj
        spec = crd.get("spec") or {}
        key = f"{spec['names']['plural']}.{spec['group']}"
        if event.type == "DELETED":
            self._remove(key)
            return
        if metadata(crd).get("deletionTimestamp"):
            return
        self.api.registry.put(resource_from_crd(crd))
        if not (crd.get("status") or {}).get("conditions"):
            new = clone(crd)
            new["status"] = established_status(crd)
            self.api.store.put(CRD_KEY, new)

    def _remove(self, key: str) -> None:
        store = self.api.store
        for obj in list(store.iter(key)):
            md = metadata(obj)
            store.remove(key, md.get("namespace", "") or "", md["name"])
        self.api.registry.remove(key)
