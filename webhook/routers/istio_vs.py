"""Istio VirtualService shapes (pure): which routes to split, their weights, managed routes.

Host-level split: the stable and canary destinations differ by host (the stable Service and the
canary Service, matched by short name, and by namespace when the host names one). Subset-level
split: one host (the DestinationRule's), destinations differ by subset. Weights: the canary gets
``W`` percent of what stable and canary together carry, stable the rest; every other destination
keeps its weight (Argo Rollouts #3125) — with only the two, that is ``100 - W`` and ``W``.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from webhook.errors import RouterError
from webhook.routers.istio_match import Element, combine
from webhook.routers.matching import split_pair
from webhook.routers.objects import added_marks, restore_weight
from webhook.spec import DestinationRuleRef, VirtualServiceRef
from webhook.spec.names import ISTIO_VIRTUAL_SERVICE

Route = dict[str, Any]
KINDS = ("http", "tls", "tcp")


def short_host_matches(host: str, service: str, namespace: str) -> bool:
    """``web``, ``web.shop``, ``web.shop.svc.cluster.local`` name Service ``web`` of ``shop``."""
    parts = host.split(".")
    return parts[0] == service and (len(parts) == 1 or parts[1] == namespace)


@dataclass(frozen=True)
class Split:
    """How to tell the stable destination from the canary one, and build the latter."""

    namespace: str
    stable_service: str
    canary_service: str
    subsets: DestinationRuleRef | None = None
    subset_host: str = ""  # the DestinationRule's spec.host (subset-level)

    def is_stable(self, dest: Any) -> bool:
        subset = self.subsets.stable_subset if self.subsets else None
        return self._is(dest, self.stable_service, subset)

    def is_canary(self, dest: Any) -> bool:
        subset = self.subsets.canary_subset if self.subsets else None
        return self._is(dest, self.canary_service, subset)

    def _is(self, dest: Any, service: str, subset: str | None) -> bool:
        if not isinstance(dest, dict):
            return False
        host = str(dest.get("host", ""))
        if subset is not None:
            short = self.subset_host.split(".")[0]
            return short_host_matches(host, short, self.namespace) and dest.get("subset") == subset
        return short_host_matches(host, service, self.namespace)

    def canary_destination(self, stable: dict[str, Any]) -> dict[str, Any]:
        """The stable destination pointed at the canary (same host form and port)."""
        out = {k: copy.deepcopy(v) for k, v in stable.items() if k in ("host", "port")}
        if self.subsets is not None:
            out["subset"] = self.subsets.canary_subset
        else:
            host = str(stable["host"])
            out["host"] = self.canary_service + host[len(host.split(".", maxsplit=1)[0]) :]
        return out


# --- selecting the routes to split -------------------------------------------------------------


def route_key(kind: str, index: int, route: Route) -> str:
    return str(route["name"]) if kind == "http" and route.get("name") else f"{kind}[{index}]"


def _ports(route: Route) -> set[int]:
    return {
        int(m["port"]) for m in route.get("match") or [] if isinstance(m, dict) and m.get("port")
    }


def select(
    vs: dict[str, Any], ref: VirtualServiceRef, split: Split, managed: frozenset[str]
) -> list[tuple[str, int]]:
    """``(kind, index)`` of the routes to split: those the option names (an http route's name,
    or ``tls:PORT``/``tcp:PORT``), else every route with a stable destination."""
    spec = vs.get("spec") or {}
    where = f"VirtualService {(vs.get('metadata') or {}).get('namespace')}/{ref.name}"
    found: list[tuple[str, int]] = []
    for name in ref.routes:
        hits = _named(spec, name, managed)
        if not hits:
            raise RouterError(f"{where}: no route {name!r} ({_route_names(spec, managed)})")
        found += [h for h in hits if h not in found]
    if not ref.routes:
        found = [
            (kind, i)
            for kind in KINDS
            for i, route in enumerate(spec.get(kind) or [])
            if not (kind == "http" and route.get("name") in managed)
            and any(split.is_stable(d.get("destination")) for d in route.get("route") or [])
        ]
        if not found:
            raise RouterError(
                f"{where}: no route sends traffic to {_stable(split)} "
                "(spec.http[].route[].destination)"
            )
    for kind, i in found:
        route = spec[kind][i]
        if not any(split.is_stable(d.get("destination")) for d in route.get("route") or []):
            raise RouterError(
                f"{where}: route {route_key(kind, i, route)!r} has no destination for "
                f"{_stable(split)} (spec.{kind}[{i}].route[].destination)"
            )
    return found


def _stable(split: Split) -> str:
    if split.subsets is not None:
        return f"subset {split.subsets.stable_subset!r} of host {split.subset_host!r}"
    return f"the stable Service {split.stable_service!r}"


def _named(spec: dict[str, Any], name: str, managed: frozenset[str]) -> list[tuple[str, int]]:
    kind, sep, port = name.partition(":")
    if sep and kind in ("tls", "tcp") and port.isdigit():
        return [(kind, i) for i, r in enumerate(spec.get(kind) or []) if int(port) in _ports(r)]
    if name in managed:
        return []
    return [("http", i) for i, r in enumerate(spec.get("http") or []) if r.get("name") == name]


def _route_names(spec: dict[str, Any], managed: frozenset[str]) -> str:
    names = [str(r["name"]) for r in spec.get("http") or [] if r.get("name")]
    names = [n for n in names if n not in managed]
    names += [f"{k}:{p}" for k in ("tls", "tcp") for r in spec.get(k) or [] for p in _ports(r)]
    listed = ", ".join(sorted(set(names))) or "none"
    return f"routes: {listed}; name http routes in {ISTIO_VIRTUAL_SERVICE} as name:route,tcp:PORT"


# --- weights -----------------------------------------------------------------------------------


def weigh(route: Route, split: Split, weight: int) -> list[str]:
    """Set the stable/canary weights of one route. Returns the record suffixes of
    ``added_marks`` when the canary destination had to be added, else nothing."""
    dests: list[dict[str, Any]] = route.setdefault("route", [])

    def current(d: dict[str, Any]) -> int:
        return int(d.get("weight", 100 if len(dests) == 1 else 0))

    stable_i = next(i for i, d in enumerate(dests) if split.is_stable(d.get("destination")))
    canary_i = next((i for i, d in enumerate(dests) if split.is_canary(d.get("destination"))), None)
    pair = current(dests[stable_i]) + (current(dests[canary_i]) if canary_i is not None else 0)
    marks: list[str] = []
    if canary_i is None:
        marks = added_marks(dests[stable_i])
        canary_i = stable_i + 1
        dest = split.canary_destination(dests[stable_i]["destination"])
        dests.insert(canary_i, {"destination": dest})
    stable_weight, canary_weight = split_pair(pair, weight)
    dests[stable_i]["weight"] = stable_weight
    dests[canary_i]["weight"] = canary_weight
    return marks


def drop_canary(route: Route, split: Split, added: Iterable[str], key: str) -> None:
    """Remove the canary destination canarist added; stable gets its weight of before back."""
    dests = [d for d in route.get("route") or [] if not split.is_canary(d.get("destination"))]
    for d in dests:
        if split.is_stable(d.get("destination")):
            restore_weight(d, added, key)
    route["route"] = dests


# --- managed (header and mirror) routes --------------------------------------------------------


Builder = Callable[[str, Route], Route | None]


def header_builder(split: Split, element: Element, where: str) -> Builder:
    def build(name: str, source: Route) -> Route | None:
        matches = combine(source.get("match"), [element], where)
        if not matches:
            return None
        stable = _stable_dest(source, split)
        dest = {"destination": split.canary_destination(stable), "weight": 100}
        return {"name": name, "match": matches, "route": [dest]}

    return build


def mirror_builder(split: Split, elements: list[Element], percentage: int, where: str) -> Builder:
    def build(name: str, source: Route) -> Route | None:
        matches = combine(source.get("match"), elements, where)
        if not matches:
            return None
        mirror = split.canary_destination(_stable_dest(source, split))
        return {
            "name": name,
            "match": matches,
            "route": copy.deepcopy(source.get("route") or []),
            "mirror": mirror,
            "mirrorPercentage": {"value": float(percentage)},
        }

    return build


def _stable_dest(route: Route, split: Split) -> dict[str, Any]:
    for d in route.get("route") or []:
        if split.is_stable(d.get("destination")):
            return dict(d["destination"])
    raise RouterError("route has no stable destination")  # select() checked it


def place(
    http: list[Route],
    written: frozenset[str],
    order: list[tuple[str, list[Route | None]]],
    split_at: list[int],
) -> list[Route]:
    """``http`` without the routes named ``written``, then each managed route of ``order`` put
    right above the split route it derives from (``split_at[j]``: index in the cleaned list)."""
    rest = [r for r in http if r.get("name") not in written]
    before: dict[int, list[Route]] = {}
    for _, per_split in order:
        for j, route in enumerate(per_split):
            if route is not None and j < len(split_at):
                before.setdefault(split_at[j], []).append(route)
    out: list[Route] = []
    for i, route in enumerate(rest):
        out += before.get(i, [])
        out.append(route)
    return out
