"""CustomResourceDefinitions and the custom resources they define (apiextensions-apiserver)."""

from __future__ import annotations

import base64
import binascii
from typing import Any

from webhook.cluster.kinds.base import GEN_NON_METADATA, GEN_NON_METADATA_STATUS, GEN_SPEC, Strategy
from webhook.cluster.kinds.common import forbidden, immutable, invalid, not_supported, required
from webhook.cluster.kinds.typed import DecodeReport
from webhook.cluster.resources import ResourceType
from webhook.cluster.schema import pattern_causes, prune_and_default
from webhook.cluster.schema import validate as schema_validate
from webhook.cluster.status import Cause


class CRDStrategy(Strategy):
    generation = GEN_SPEC

    def default(self, obj: dict[str, Any]) -> None:
        spec = obj.get("spec")
        if not isinstance(spec, dict):
            return
        names = spec.get("names")
        if isinstance(names, dict) and isinstance(names.get("kind"), str):
            names.setdefault("singular", names["kind"].lower())
            names.setdefault("listKind", names["kind"] + "List")
        spec.setdefault("conversion", {"strategy": "None"})

    def validate(self, obj: dict[str, Any]) -> list[Cause]:
        out = super().validate(obj)
        spec = obj.get("spec")
        if not isinstance(spec, dict):
            return [*out, required("spec")]
        group = spec.get("group")
        names = spec.get("names") or {}
        if not group:
            out.append(required("spec.group"))
        elif "." not in str(group):
            out.append(invalid("spec.group", group, "should be a domain with at least one dot"))
        for key in ("plural", "kind"):
            if not names.get(key):
                out.append(required(f"spec.names.{key}"))
        name = (obj.get("metadata") or {}).get("name")
        if names.get("plural") and group and name != f"{names['plural']}.{group}":
            out.append(invalid("metadata.name", name, 'must be spec.names.plural+"."+spec.group'))
        scope = spec.get("scope")
        if scope not in ("Cluster", "Namespaced"):
            out.append(not_supported("spec.scope", scope, ["Cluster", "Namespaced"]))
        versions = spec.get("versions") or []
        if not versions:
            out.append(required("spec.versions", "must have exactly one version marked as "
                                "storage version"))
        elif sum(1 for v in versions if isinstance(v, dict) and v.get("storage")) != 1:
            out.append(invalid("spec.versions", [v.get("name") for v in versions
                                                 if isinstance(v, dict)],
                               "must have exactly one version marked as storage version"))
        out += _conversion_causes(spec.get("conversion"))
        for i, v in enumerate(versions):
            if not isinstance(v, dict):
                continue
            if not v.get("name"):
                out.append(required(f"spec.versions[{i}].name"))
            schema = (v.get("schema") or {}).get("openAPIV3Schema")
            if not isinstance(schema, dict):
                out.append(required(f"spec.versions[{i}].schema.openAPIV3Schema",
                                    "schemas are required"))
            elif schema.get("type") != "object":
                out.append(invalid(f"spec.versions[{i}].schema.openAPIV3Schema.type",
                                   schema.get("type"), "must be object at the root"))
            if isinstance(schema, dict):
                out += pattern_causes(schema, f"spec.versions[{i}].schema.openAPIV3Schema")
        return out

    def validate_update(self, new: dict[str, Any], old: dict[str, Any]) -> list[Cause]:
        out = super().validate_update(new, old)
        for key in ("group", "scope"):
            if (new.get("spec") or {}).get(key) != (old.get("spec") or {}).get(key):
                out.append(immutable(f"spec.{key}", (new.get("spec") or {}).get(key)))
        return out


_CONVERSION = "spec.conversion"


def pem_bundle_problem(bundle: str) -> str | None:
    """Why a base64 ``caBundle`` does not load as root certificates (client-go's
    ``cert.NewPoolFromBytes`` wording), or None."""
    from cryptography import x509

    try:
        raw = base64.b64decode(bundle, validate=True)
    except (binascii.Error, ValueError):
        return "unable to load root certificates: unable to parse bytes as PEM block"
    if b"-----BEGIN" not in raw:
        return "unable to load root certificates: unable to parse bytes as PEM block"
    try:
        x509.load_pem_x509_certificates(raw)
    except ValueError:
        return ("unable to load root certificates: data does not contain any valid RSA or "
                "ECDSA certificates")
    return None


def _conversion_causes(conversion: Any) -> list[Cause]:
    """validateCustomResourceConversion, with the internal type's field names (a v1
    ``conversion.webhook.clientConfig`` is reported as ``conversion.webhookClientConfig``)."""
    if not isinstance(conversion, dict):
        return []
    strategy = conversion.get("strategy")
    if strategy not in ("None", "Webhook"):
        return [not_supported(f"{_CONVERSION}.strategy", strategy, ["None", "Webhook"])]
    webhook = conversion.get("webhook") or {}
    config = webhook.get("clientConfig") if isinstance(webhook, dict) else None
    where = f"{_CONVERSION}.webhookClientConfig"
    if strategy == "None":
        return [forbidden(where, "should not be set when strategy is not set to Webhook")] \
            if config else []
    out: list[Cause] = []
    if not isinstance(config, dict):
        return [required(where, "required when strategy is set to Webhook")]
    if bool(config.get("url")) == bool(config.get("service")):
        out.append(required(where, "exactly one of url or service is required"))
    bundle = config.get("caBundle")
    if isinstance(bundle, str) and bundle:
        problem = pem_bundle_problem(bundle)
        if problem:
            out.append(invalid(f"{where}.caBundle", bundle, problem))
    versions = webhook.get("conversionReviewVersions") if isinstance(webhook, dict) else None
    if not versions:
        out.append(required(f"{_CONVERSION}.conversionReviewVersions",
                            "must include at least one of v1, v1beta1"))
    return out


class CustomResourceStrategy(Strategy):
    unconditional_update = False

    def __init__(self, rt: ResourceType) -> None:
        super().__init__(rt)
        self.generation = (GEN_NON_METADATA_STATUS if "status" in rt.subresources
                           else GEN_NON_METADATA)
        self.schema: dict[str, Any] = dict(rt.schemas.get(rt.version) or {})

    def decode(self, obj: dict[str, Any]) -> DecodeReport:
        return DecodeReport(unknown=prune_and_default(obj, self.schema))

    def default(self, obj: dict[str, Any]) -> None:
        prune_and_default(obj, self.schema)

    def validate(self, obj: dict[str, Any]) -> list[Cause]:
        return super().validate(obj) + schema_validate(obj, self.schema)

    def validate_status_update(self, new: dict[str, Any], old: dict[str, Any]) -> list[Cause]:
        return super().validate_status_update(new, old) + schema_validate(new, self.schema)
