"""Writing route tables: the text the ``proxy`` router stores, read back equal by the parser."""

from __future__ import annotations

import json
from typing import Any

from webhook.spec.routetable.model import Route, RouteTable
from webhook.spec.yamldump import dump_yaml


def route_to_dict(route: Route) -> dict[str, Any]:
    out: dict[str, Any] = {"name": route.name}
    if route.hosts:
        out["hosts"] = list(route.hosts)
    if route.path_prefix != "/":
        out["pathPrefix"] = route.path_prefix
    out["stable"] = route.stable.to_dict()
    if route.canary is not None:
        out["canary"] = route.canary.to_dict()
    out["weight"] = route.weight
    if route.header_routes:
        out["headerRoutes"] = [
            {"name": h.name, "match": [m.to_dict() for m in h.match]} for h in route.header_routes
        ]
    if route.mirror is not None:
        mirror: dict[str, Any] = {"percentage": route.mirror.percentage}
        if route.mirror.match:
            mirror["match"] = [m.to_dict() for m in route.mirror.match]
        out["mirror"] = mirror
    if route.sticky is not None:
        out["sticky"] = {"cookie": route.sticky.cookie, "maxAge": route.sticky.max_age}
    if route.canary_hash:
        out["canaryHash"] = route.canary_hash
    if route.stable_hash:
        out["stableHash"] = route.stable_hash
    return out


def route_table_to_dict(table: RouteTable) -> dict[str, Any]:
    return {"routes": [route_to_dict(r) for r in table.routes]}


def dump_route_table(table: RouteTable, *, as_json: bool = False) -> str:
    """The text a router writes (YAML by default); ``parse_route_table`` reads it back equal."""
    data = route_table_to_dict(table)
    if as_json:
        return json.dumps(data, indent=2) + "\n"
    return dump_yaml(data)
