"""The ServiceAccount admission plugin on pod create (plugin/pkg/admission/serviceaccount).

- ``spec.serviceAccountName`` defaults to ``default`` (the deprecated ``serviceAccount``
  mirrors it);
- a pod naming a ServiceAccount that does not exist is refused: ``pods "x" is forbidden:
  error looking up service account ns/sa: serviceaccount "sa" not found`` (the ``default``
  one is waited for a little, as upstream, since a controller creates it);
- unless ``automountServiceAccountToken: false`` (the pod's wins over the ServiceAccount's),
  a projected volume ``kube-api-access-<5 chars>`` (token valid 3607 s, ``ca.crt`` from the
  ``kube-root-ca.crt`` ConfigMap, the namespace from the Downward API) is added and mounted
  read-only at /var/run/secrets/kubernetes.io/serviceaccount in every (init) container that
  mounts nothing there yet;
- the ServiceAccount's ``imagePullSecrets`` are copied when the pod names none.
Mirror pods are left as they are.
"""

from __future__ import annotations

import asyncio
import random
from typing import TYPE_CHECKING, Any

from webhook.cluster.admission.attributes import Attributes
from webhook.cluster.auth.errors import forbidden
from webhook.cluster.meta import metadata, random_suffix

if TYPE_CHECKING:
    from webhook.cluster.core import APICore

MOUNT_PATH = "/var/run/secrets/kubernetes.io/serviceaccount"
VOLUME_PREFIX = "kube-api-access-"
TOKEN_SECONDS = 3607
MIRROR_ANNOTATION = "kubernetes.io/config.mirror"
DEFAULT_ATTEMPTS = 10


def token_volume(name: str) -> dict[str, Any]:
    return {"name": name, "projected": {"defaultMode": 420, "sources": [
        {"serviceAccountToken": {"expirationSeconds": TOKEN_SECONDS, "path": "token"}},
        {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt",
                                                             "path": "ca.crt"}]}},
        {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {
            "apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}},
    ]}}


def should_automount(sa: dict[str, Any], spec: dict[str, Any]) -> bool:
    if isinstance(spec.get("automountServiceAccountToken"), bool):
        return bool(spec["automountServiceAccountToken"])
    if isinstance(sa.get("automountServiceAccountToken"), bool):
        return bool(sa["automountServiceAccountToken"])
    return True


def mount_token(spec: dict[str, Any]) -> None:
    """Add the token volume and its mounts to a pod spec, as upstream's plugin does."""
    volumes: list[Any] = spec["volumes"] if isinstance(spec.get("volumes"), list) else []
    existing = next((v.get("name") for v in volumes if isinstance(v, dict)
                     and str(v.get("name", "")).startswith(VOLUME_PREFIX)), None)
    name = existing or VOLUME_PREFIX + random_suffix()
    mount = {"name": name, "readOnly": True, "mountPath": MOUNT_PATH}
    needs_volume = False
    for key in ("initContainers", "containers"):
        for c in spec.get(key) or []:
            if not isinstance(c, dict):
                continue
            mounts: list[Any] = (c["volumeMounts"] if isinstance(c.get("volumeMounts"), list)
                                 else [])
            if any(isinstance(m, dict) and m.get("mountPath") == MOUNT_PATH for m in mounts):
                continue
            c["volumeMounts"] = [*mounts, dict(mount)]
            needs_volume = True
    if existing is None and needs_volume:
        spec["volumes"] = [*volumes, token_volume(name)]


def _display_name(attrs: Attributes, pod: dict[str, Any]) -> str:
    """admission.extractResourceName: the name, else generateName (not generated yet)."""
    md = metadata(pod)
    return attrs.name or str(md.get("name") or md.get("generateName") or "Unknown")


class ServiceAccountAdmission:
    def __init__(self, api: APICore) -> None:
        self.api = api

    async def _service_account(self, ns: str, name: str) -> dict[str, Any] | None:
        attempts = DEFAULT_ATTEMPTS if name == "default" else 1
        for i in range(attempts):
            if i:
                await asyncio.sleep(random.uniform(0.1, 0.2))
            sa = self.api.store.get("serviceaccounts", ns, name)
            if sa is not None:
                return sa
        return None

    async def __call__(self, attrs: Attributes,
                       obj: dict[str, Any] | None) -> dict[str, Any] | None:
        if (attrs.operation != "CREATE" or attrs.rt.key != "pods" or attrs.subresource
                or obj is None or not isinstance(obj.get("spec"), dict)):
            return obj
        if MIRROR_ANNOTATION in (metadata(obj).get("annotations") or {}):
            return obj
        spec: dict[str, Any] = obj["spec"]
        name = str(spec.get("serviceAccountName") or spec.get("serviceAccount") or "default")
        spec["serviceAccountName"] = spec["serviceAccount"] = name
        sa = await self._service_account(attrs.namespace, name)
        if sa is None:
            raise forbidden("", "pods", _display_name(attrs, obj),
                            f"error looking up service account {attrs.namespace}/{name}: "
                            f'serviceaccount "{name}" not found')
        if should_automount(sa, spec):
            mount_token(spec)
        pull = sa.get("imagePullSecrets") or []
        if not spec.get("imagePullSecrets") and pull:
            spec["imagePullSecrets"] = [{"name": p.get("name")} for p in pull
                                        if isinstance(p, dict)]
        return obj
