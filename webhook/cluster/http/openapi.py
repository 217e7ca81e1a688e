"""Just enough OpenAPI v3 for kubectl.

``kubectl apply`` (default ``--validate=strict``) reads ``/openapi/v3`` and the document of the
object's group-version to learn whether the server supports ``fieldValidation`` on PATCH for
that kind (a PATCH operation tagged ``x-kubernetes-group-version-kind`` with a query parameter
``fieldValidation``); when it does, kubectl leaves validation to the server (``Strict``), which
``ClusterAPI`` performs from the client models and CRD schemas. No strategic-merge-patch
request body is advertised, so kubectl computes its patches for built-in kinds from its
compiled-in types, as it does against a server without OpenAPI. For custom resources, the
component schema is the CRD's ``openAPIV3Schema`` (``kubectl explain`` works on it).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from webhook.cluster.resources import ResourceRegistry, ResourceType

_PATCH_TYPES = ("application/json-patch+json", "application/merge-patch+json")


def _gv_path(group: str, version: str) -> str:
    return f"apis/{group}/{version}" if group else f"api/{version}"


def group_versions(registry: ResourceRegistry) -> dict[tuple[str, str], list[ResourceType]]:
    out: dict[tuple[str, str], list[ResourceType]] = {}
    for rt in registry.all():
        for v in rt.versions:
            out.setdefault((rt.group, v), []).append(rt)
    return out


def root(registry: ResourceRegistry) -> dict[str, Any]:
    paths = {}
    for (group, version), rts in group_versions(registry).items():
        doc = gv_document(group, version, rts)
        digest = hashlib.sha512(json.dumps(doc, sort_keys=True).encode()).hexdigest()[:32]
        gv = _gv_path(group, version)
        paths[gv] = {"serverRelativeURL": f"/openapi/v3/{gv}?hash={digest.upper()}"}
    return {"paths": paths}


def _schema_name(rt: ResourceType, version: str) -> str:
    group = rt.group or "core"
    return f"{'.'.join(reversed(group.split('.')))}.{version}.{rt.kind}"


def gv_document(group: str, version: str, rts: list[ResourceType]) -> dict[str, Any]:
    paths: dict[str, Any] = {}
    schemas: dict[str, Any] = {}
    base = "/" + _gv_path(group, version)
    for rt in rts:
        gvk = {"group": rt.group, "version": version, "kind": rt.kind}
        prefix = f"{base}/namespaces/{{namespace}}" if rt.namespaced else base
        patch_op = {
            "operationId": f"patch{rt.kind}",
            "x-kubernetes-action": "patch",
            "x-kubernetes-group-version-kind": gvk,
            "parameters": [
                {"name": "dryRun", "in": "query", "schema": {"type": "string"}},
                {"name": "fieldManager", "in": "query", "schema": {"type": "string"}},
                {"name": "fieldValidation", "in": "query", "schema": {"type": "string"}},
            ],
            "requestBody": {"content": {ct: {"schema": {"type": "object"}}
                                        for ct in _PATCH_TYPES}},
            "responses": {"200": {"description": "OK"}},
        }
        item_path = {
            "get": {"operationId": f"read{rt.kind}", "x-kubernetes-action": "get",
                    "x-kubernetes-group-version-kind": gvk,
                    "responses": {"200": {"description": "OK"}}},
            "patch": patch_op,
            "parameters": [{"name": "name", "in": "path", "required": True,
                            "schema": {"type": "string"}}],
        }
        paths[f"{prefix}/{rt.plural}/{{name}}"] = item_path
        paths[f"{prefix}/{rt.plural}"] = {
            "post": {"operationId": f"create{rt.kind}", "x-kubernetes-action": "post",
                     "x-kubernetes-group-version-kind": gvk,
                     "parameters": [{"name": "fieldValidation", "in": "query",
                                     "schema": {"type": "string"}}],
                     "responses": {"201": {"description": "Created"}}},
        }
        schema: dict[str, Any] = {"type": "object", "x-kubernetes-group-version-kind": [gvk]}
        if rt.custom:
            schema.update(dict(rt.schemas.get(version) or {}))
            schema["x-kubernetes-group-version-kind"] = [gvk]
        schemas[_schema_name(rt, version)] = schema
    return {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": "v1.32.0"},
        "paths": paths,
        "components": {"schemas": schemas},
    }
