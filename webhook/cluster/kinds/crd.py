"""CustomResourceDefinitions and the custom resources they define (apiextensions-apiserver)."""

from __future__ import annotations

from typing import Any

from webhook.cluster.kinds.base import GEN_NON_METADATA, GEN_NON_METADATA_STATUS, GEN_SPEC, Strategy
from webhook.cluster.kinds.common import immutable, invalid, not_supported, required
from webhook.cluster.kinds.typed import DecodeReport
from webhook.cluster.resources import ResourceType
from webhook.cluster.schema import prune_and_default
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
        return out

    def validate_update(self, new: dict[str, Any], old: dict[str, Any]) -> list[Cause]:
        out = super().validate_update(new, old)
        for key in ("group", "scope"):
            if (new.get("spec") or {}).get(key) != (old.get("spec") or {}).get(key):
                out.append(immutable(f"spec.{key}", (new.get("spec") or {}).get(key)))
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
