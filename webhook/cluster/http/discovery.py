"""Discovery documents: legacy (APIVersions, APIGroupList, APIResourceList) and aggregated
(apidiscovery.k8s.io/v2 APIGroupDiscoveryList), built from the resource registry."""

from __future__ import annotations

import hashlib
from typing import Any

from webhook.cluster.resources import CREATE_ONLY_SUBRESOURCES, ResourceRegistry, ResourceType

AGGREGATED_CT = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
_SUB_VERBS = ["get", "patch", "update"]
VERSION_INFO = {
    "major": "1",
    "minor": "32",
    "gitVersion": "v1.32.0-canarist",
    "gitCommit": "0000000000000000000000000000000000000000",
    "gitTreeState": "clean",
    "buildDate": "2026-01-01T00:00:00Z",
    "goVersion": "go1.23.0",
    "compiler": "gc",
    "platform": "linux/amd64",
}


def wants_aggregated(accept: str) -> bool:
    first = accept.split(",", maxsplit=1)[0] if accept else ""
    return "as=APIGroupDiscoveryList" in first


def _gv(group: str, version: str) -> str:
    return f"{group}/{version}" if group else version


def _storage_hash(rt: ResourceType) -> str:
    return hashlib.sha256(rt.key.encode()).hexdigest()[:11]


def _sub_kind(rt: ResourceType, sub: str, version: str) -> tuple[str, str, str]:
    if sub == "scale":
        return "autoscaling", "v1", "Scale"
    if sub in CREATE_ONLY_SUBRESOURCES:
        return CREATE_ONLY_SUBRESOURCES[sub]
    return rt.group, version, rt.kind


def _sub_verbs(sub: str) -> list[str]:
    return ["create"] if sub in CREATE_ONLY_SUBRESOURCES else _SUB_VERBS


def api_versions(address: str) -> dict[str, Any]:
    return {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": address}],
    }


def _group_entry(group: str, rts: list[ResourceType]) -> dict[str, Any]:
    versions: list[str] = []
    for rt in rts:
        for v in rt.versions:
            if v not in versions:
                versions.append(v)
    preferred = rts[0].versions[0]
    return {
        "name": group,
        "versions": [{"groupVersion": _gv(group, v), "version": v} for v in versions],
        "preferredVersion": {"groupVersion": _gv(group, preferred), "version": preferred},
    }


def group_list(registry: ResourceRegistry) -> dict[str, Any]:
    groups = [_group_entry(g, rts) for g, rts in registry.groups().items() if g]
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}


def group_doc(registry: ResourceRegistry, group: str) -> dict[str, Any] | None:
    rts = registry.groups().get(group)
    if not rts or not group:
        return None
    return {"kind": "APIGroup", "apiVersion": "v1", **_group_entry(group, rts)}


def resource_list(registry: ResourceRegistry, group: str, version: str) -> dict[str, Any] | None:
    rts = [rt for rt in registry.groups().get(group, []) if version in rt.versions]
    if not rts:
        return None
    resources: list[dict[str, Any]] = []
    for rt in rts:
        entry: dict[str, Any] = {
            "name": rt.plural,
            "singularName": rt.singular,
            "namespaced": rt.namespaced,
            "kind": rt.kind,
            "verbs": list(rt.verbs),
            "storageVersionHash": _storage_hash(rt),
        }
        if rt.short_names:
            entry["shortNames"] = list(rt.short_names)
        if rt.categories:
            entry["categories"] = list(rt.categories)
        resources.append(entry)
        for sub in sorted(rt.subresources):
            g, v, k = _sub_kind(rt, sub, version)
            item = {"name": f"{rt.plural}/{sub}", "singularName": "", "namespaced": rt.namespaced,
                    "kind": k, "verbs": _sub_verbs(sub)}
            if (g, v) != (rt.group, version):
                item.update(group=g, version=v)
            resources.append(item)
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": _gv(group, version),
            "resources": resources}


def aggregated(registry: ResourceRegistry, *, core: bool) -> dict[str, Any]:
    items = []
    for group, rts in registry.groups().items():
        if (group == "") != core:
            continue
        versions: dict[str, list[dict[str, Any]]] = {}
        for rt in rts:
            for v in rt.versions:
                versions.setdefault(v, []).append(_aggregated_resource(rt, v))
        order = _group_entry(group, rts)["versions"]
        items.append({
            "metadata": {"name": group, "creationTimestamp": None},
            "versions": [{"version": e["version"], "resources": versions[e["version"]],
                          "freshness": "Current"} for e in order],
        })
    return {"kind": "APIGroupDiscoveryList", "apiVersion": "apidiscovery.k8s.io/v2",
            "metadata": {}, "items": items}


def _aggregated_resource(rt: ResourceType, version: str) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "resource": rt.plural,
        "responseKind": {"group": rt.group, "version": version, "kind": rt.kind},
        "scope": "Namespaced" if rt.namespaced else "Cluster",
        "singularResource": rt.singular,
        "verbs": list(rt.verbs),
    }
    if rt.short_names:
        entry["shortNames"] = list(rt.short_names)
    if rt.categories:
        entry["categories"] = list(rt.categories)
    subs = []
    for sub in sorted(rt.subresources):
        g, v, k = _sub_kind(rt, sub, version)
        subs.append({"subresource": sub, "responseKind": {"group": g, "version": v, "kind": k},
                     "verbs": _sub_verbs(sub)})
    if subs:
        entry["subresources"] = subs
    return entry
