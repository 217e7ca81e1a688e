"""Services, Namespaces, Secrets and the other core/networking kinds with rules of their own."""

from __future__ import annotations

import base64
import binascii
import random
from typing import Any

from webhook.cluster.kinds.base import GEN_NON_METADATA, GEN_SPEC, Strategy
from webhook.cluster.kinds.common import (
    duplicate,
    invalid,
    not_supported,
    required,
    validate_labels,
    validate_object_meta_update,
)
from webhook.cluster.status import Cause

SERVICE_TYPES = ["ClusterIP", "ExternalName", "LoadBalancer", "NodePort"]
_PROTOCOLS = ["SCTP", "TCP", "UDP"]
_rng = random.Random()


class ServiceStrategy(Strategy):
    return_deleted_object = True
    name_rule = "dns1035"

    def default(self, obj: dict[str, Any]) -> None:
        spec = obj.get("spec")
        if not isinstance(spec, dict):
            return
        spec.setdefault("type", "ClusterIP")
        spec.setdefault("sessionAffinity", "None")
        if spec["type"] != "ExternalName":
            spec.setdefault("ipFamilies", ["IPv4"])
            spec.setdefault("ipFamilyPolicy", "SingleStack")
            spec.setdefault("internalTrafficPolicy", "Cluster")
        if spec["type"] in ("NodePort", "LoadBalancer"):
            spec.setdefault("externalTrafficPolicy", "Cluster")
        for p in spec.get("ports") or []:
            if isinstance(p, dict):
                p.setdefault("protocol", "TCP")
                if "port" in p:
                    p.setdefault("targetPort", p["port"])

    def prepare_create(self, obj: dict[str, Any]) -> None:
        obj["status"] = {"loadBalancer": {}}
        spec = obj.get("spec")
        if not isinstance(spec, dict) or spec.get("type") == "ExternalName":
            return
        if not spec.get("clusterIP"):
            ip = f"10.96.{_rng.randrange(0, 256)}.{_rng.randrange(1, 255)}"
            spec["clusterIP"] = ip
        spec.setdefault("clusterIPs", [spec["clusterIP"]])
        if spec.get("type") in ("NodePort", "LoadBalancer"):
            for p in spec.get("ports") or []:
                if isinstance(p, dict):
                    p.setdefault("nodePort", _rng.randrange(30000, 32768))

    def prepare_update(self, new: dict[str, Any], old: dict[str, Any]) -> None:
        super().prepare_update(new, old)
        spec, old_spec = new.get("spec"), old.get("spec") or {}
        if not isinstance(spec, dict):
            return
        # Upstream keeps allocated values a client left out (patchAllocatedValues).
        for key in ("clusterIP", "clusterIPs"):
            if not spec.get(key) and old_spec.get(key) and spec.get("type") != "ExternalName":
                spec[key] = old_spec[key]
        old_ports = {(p.get("port"), p.get("protocol")): p for p in old_spec.get("ports") or []}
        for p in spec.get("ports") or []:
            if isinstance(p, dict) and "nodePort" not in p and spec.get("type") in (
                "NodePort", "LoadBalancer"
            ):
                prev = old_ports.get((p.get("port"), p.get("protocol")))
                if prev and prev.get("nodePort"):
                    p["nodePort"] = prev["nodePort"]

    def validate(self, obj: dict[str, Any]) -> list[Cause]:
        out = super().validate(obj)
        spec = obj.get("spec")
        if not isinstance(spec, dict):
            return [*out, required("spec")]
        t = spec.get("type")
        if t not in SERVICE_TYPES:
            out.append(not_supported("spec.type", t, SERVICE_TYPES))
        ports = spec.get("ports") or []
        headless = spec.get("clusterIP") == "None"
        if not ports and t != "ExternalName" and not headless:
            out.append(required("spec.ports"))
        names: set[str] = set()
        seen: set[tuple[Any, Any]] = set()
        for i, p in enumerate(ports):
            path = f"spec.ports[{i}]"
            if not isinstance(p, dict):
                out.append(invalid(path, p, "must be an object"))
                continue
            name = p.get("name")
            if len(ports) > 1 and not name:
                out.append(required(f"{path}.name"))
            if name:
                if name in names:
                    out.append(duplicate(f"{path}.name", name))
                names.add(name)
            port = p.get("port")
            if port is None:
                out.append(required(f"{path}.port"))
            elif not isinstance(port, int) or not 1 <= port <= 65535:
                out.append(invalid(f"{path}.port", port, "must be between 1 and 65535, inclusive"))
            if p.get("protocol") not in _PROTOCOLS:
                out.append(not_supported(f"{path}.protocol", p.get("protocol"), _PROTOCOLS))
            tp = p.get("targetPort")
            if isinstance(tp, int) and not 1 <= tp <= 65535:
                out.append(invalid(f"{path}.targetPort", tp,
                                   "must be between 1 and 65535, inclusive"))
            key = (port, p.get("protocol"))
            if key in seen:
                out.append(duplicate(path, p))
            seen.add(key)
        out += validate_labels("spec.selector", spec.get("selector"))
        return out

    def validate_update(self, new: dict[str, Any], old: dict[str, Any]) -> list[Cause]:
        out = super().validate_update(new, old)
        spec, old_spec = new.get("spec") or {}, old.get("spec") or {}
        if (old_spec.get("clusterIP") and spec.get("type") != "ExternalName"
                and spec.get("clusterIP") != old_spec.get("clusterIP")):
            out.append(invalid("spec.clusterIPs[0]", spec.get("clusterIP"),
                               "may not change once set"))
        return out


class NamespaceStrategy(Strategy):
    name_rule = "label"

    def default(self, obj: dict[str, Any]) -> None:
        md = obj.get("metadata")
        if isinstance(md, dict) and isinstance(md.get("name"), str) and md["name"]:
            labels = md.get("labels")
            if not isinstance(labels, dict):
                labels = md["labels"] = {}
            labels["kubernetes.io/metadata.name"] = md["name"]

    def prepare_create(self, obj: dict[str, Any]) -> None:
        obj["status"] = {"phase": "Active"}
        spec = obj.setdefault("spec", {})
        if isinstance(spec, dict):
            spec["finalizers"] = ["kubernetes"]

    def prepare_update(self, new: dict[str, Any], old: dict[str, Any]) -> None:
        super().prepare_update(new, old)
        new["spec"] = old.get("spec", {})  # spec.finalizers change only through /finalize


class SecretStrategy(Strategy):
    def default(self, obj: dict[str, Any]) -> None:
        obj.setdefault("type", "Opaque")
        string_data = obj.pop("stringData", None)
        if isinstance(string_data, dict):
            data = obj.get("data")
            if not isinstance(data, dict):
                data = obj["data"] = {}
            for k, v in string_data.items():
                data[k] = base64.b64encode(str(v).encode()).decode()

    def validate(self, obj: dict[str, Any]) -> list[Cause]:
        out = super().validate(obj)
        data = obj.get("data") or {}
        for k, v in data.items():
            try:
                base64.b64decode(str(v), validate=True)
            except (binascii.Error, ValueError):
                out.append(invalid(f"data[{k}]", "<secret contents redacted>",
                                   "illegal base64 data"))
        out += _typed_secret_keys(obj.get("type"), data if isinstance(data, dict) else {})
        return out

    def validate_update(self, new: dict[str, Any], old: dict[str, Any]) -> list[Cause]:
        out = super().validate_update(new, old)
        if new.get("type") != old.get("type"):
            out.append(invalid("type", new.get("type"), "field is immutable"))
        if old.get("immutable") and (new.get("data") != old.get("data")):
            out.append(invalid("data", "<secret contents redacted>",
                               "field is immutable when `immutable` is set"))
        return out


# The keys a typed Secret must carry (ValidateSecret), with upstream's field paths.
_SECRET_KEYS = {
    "kubernetes.io/tls": ("tls.crt", "tls.key"),
    "kubernetes.io/ssh-auth": ("ssh-privatekey",),
    "kubernetes.io/dockercfg": (".dockercfg",),
    "kubernetes.io/dockerconfigjson": (".dockerconfigjson",),
}


def _typed_secret_keys(secret_type: Any, data: dict[str, Any]) -> list[Cause]:
    return [required(f"data[{key}]") for key in _SECRET_KEYS.get(str(secret_type), ())
            if key not in data]


class ReturnsObject(Strategy):
    return_deleted_object = True


ENDPOINTS_WRITER = "system:serviceaccount:kube-system:endpoint-controller"
NAMESPACE_WRITER = "system:serviceaccount:kube-system:namespace-controller"


class EndpointsStrategy(Strategy):
    """v1 Endpoints: the cluster writes them from each Service's EndpointSlices (and removes
    them with their namespace); clients read them."""

    writers = (ENDPOINTS_WRITER, NAMESPACE_WRITER)
    read_only = ("endpoints are read-only on this cluster: it writes them from each Service's "
                 "EndpointSlices; write an EndpointSlice (label kubernetes.io/service-name) "
                 "instead")


class NotRunStrategy(Strategy):
    """Kinds served only so that clients which list every kind they know work (``kubectl
    apply --prune`` without an allowlist): no controller runs them, so creating one is
    refused rather than stored and never acted on."""

    writers = (NAMESPACE_WRITER,)

    @property
    def read_only(self) -> str:  # type: ignore[override]
        return (f"this cluster does not run {self.rt.qualified()} (no controller, kubelet or "
                "storage acts on them); it serves them for reading only")


class LeaseStrategy(Strategy):
    unconditional_update = False


class EndpointSliceStrategy(Strategy):
    generation = GEN_NON_METADATA

    def validate(self, obj: dict[str, Any]) -> list[Cause]:
        out = super().validate(obj)
        at = obj.get("addressType")
        kinds = ["FQDN", "IPv4", "IPv6"]
        if at is None:
            out.append(required("addressType"))
        elif at not in kinds:
            out.append(not_supported("addressType", at, kinds))
        for i, ep in enumerate(obj.get("endpoints") or []):
            if not isinstance(ep, dict) or not ep.get("addresses"):
                out.append(required(f"endpoints[{i}].addresses", "must contain at least 1 address"))
        return out


class SpecGeneration(Strategy):
    generation = GEN_SPEC


class IngressStrategy(SpecGeneration):
    """networking.k8s.io/v1 Ingress: on create, the legacy class annotation and
    ``spec.ingressClassName`` may not both be set (upstream ``ValidateIngressCreate``)."""

    CLASS_ANNOTATION = "kubernetes.io/ingress.class"

    def validate(self, obj: dict[str, Any]) -> list[Cause]:
        out = super().validate(obj)
        spec = obj.get("spec")
        annotations = (obj.get("metadata") or {}).get("annotations") or {}
        has_class = isinstance(spec, dict) and spec.get("ingressClassName") is not None
        if has_class and self.CLASS_ANNOTATION in annotations:
            out.append(invalid(
                f"annotations.{self.CLASS_ANNOTATION}", annotations[self.CLASS_ANNOTATION],
                "can not be set when the class field is also set"))
        return out

    def validate_update(self, new: dict[str, Any], old: dict[str, Any]) -> list[Cause]:
        # upstream checks the class conflict on create only
        return super().validate(new) + validate_object_meta_update(new, old)

