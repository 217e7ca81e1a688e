"""``gateway-api``: ``backendRefs`` weights in the user's HTTPRoutes, header and mirror rules.

In every rule of the HTTPRoutes of ``canarist.io/http-route`` that sends to the stable Service
(and that canarist did not add), the canary Service is added beside the stable backendRef when
missing (same port) and the pair gets ``100 - W`` / ``W``; other backends keep their share of the
rule (weights are relative; when others exist and the pair weighs less than 100, every weight of
the rule is multiplied by 100 first, which keeps every share).

A header route ``r`` adds, per split rule, a rule ``r`` (``r-1``... for further rules) with that
rule's matches, the header matches ANDed in, its filters, and one backendRef: the canary. A
mirror route adds a rule with that rule's backends and weights, the mirror matches ANDed in, and
a ``RequestMirror`` filter to the canary with ``percent``. Gateway API ranks rules by match
specificity, so the more specific managed rules win. What canarist adds is recorded per
Deployment in ``canarist.io/managed-by``, with a digest of each rule's shape: rules are found by
it where the installed CRD has no rule names (``gateway_rules``), and names and mirror
percentages are written only where it has them.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from webhook.errors import RouterError
from webhook.kube.protocol import JSON, ObjectClient
from webhook.routers.adapter import RouterAdapter
from webhook.routers.base import ReleaseTarget
from webhook.routers.gateway_match import header_matches, mirror_matches
from webhook.routers.gateway_rules import (
    RouteFeatures,
    digest,
    find_managed,
    names_dropped,
    route_features,
)
from webhook.routers.matching import split_pair
from webhook.routers.objects import (
    Record,
    Records,
    added_marks,
    check_generated_free,
    describe,
    generated_name,
    restore_weight,
    store_record,
)
from webhook.spec import CAPABILITIES, SetHeaderRoute, SetMirrorRoute
from webhook.spec.names import HTTP_ROUTE

capabilities = CAPABILITIES["gateway-api"]
API_VERSION = "gateway.networking.k8s.io/v1"
MAX_RULES = 16
MAX_MATCHES_PER_RULE = 64
MAX_MATCHES = 128

Rule = dict[str, Any]
ALL = RouteFeatures()
# (rule name, split rule) -> managed rule or None (nothing to add for that rule)
Builder = Callable[[str, Rule], Rule | None]


def is_service_ref(ref: Any, service: str, namespace: str) -> bool:
    return (
        isinstance(ref, dict)
        and ref.get("name") == service
        and ref.get("kind", "Service") == "Service"
        and ref.get("group", "") == ""
        and ref.get("namespace", namespace) == namespace
    )


def rule_key(index: int, rule: Rule) -> str:
    return str(rule["name"]) if rule.get("name") else f"rules[{index}]"


class Backends:
    """Tells the stable and canary backendRefs apart."""

    def __init__(self, namespace: str, stable: str, canary: str) -> None:
        self.namespace, self.stable, self.canary = namespace, stable, canary

    def stable_ref(self, rule: Rule) -> dict[str, Any] | None:
        refs = rule.get("backendRefs") or []
        return next((r for r in refs if is_service_ref(r, self.stable, self.namespace)), None)

    def canary_ref(self, rule: Rule) -> dict[str, Any] | None:
        refs = rule.get("backendRefs") or []
        return next((r for r in refs if is_service_ref(r, self.canary, self.namespace)), None)

    def canary_target(self, rule: Rule) -> dict[str, Any]:
        """``{group, kind, name, port}`` of the canary, with the stable backendRef's port.

        Fields the API server would default are written out, so the object read back equals
        the one written and a steady reconcile writes nothing."""
        stable = self.stable_ref(rule) or {}
        out: dict[str, Any] = {"group": "", "kind": "Service", "name": self.canary}
        if "port" in stable:
            out["port"] = stable["port"]
        return out


def weigh(rule: Rule, backends: Backends, weight: int) -> list[str]:
    """Set the pair's weights in one rule. Returns the record suffixes of ``added_marks`` when
    the canary backendRef had to be added, else nothing."""
    refs: list[dict[str, Any]] = rule["backendRefs"]
    stable = backends.stable_ref(rule)
    assert stable is not None
    canary = backends.canary_ref(rule)
    marks: list[str] = []
    if canary is None:
        marks = added_marks(stable)
        canary = {k: copy.deepcopy(v) for k, v in stable.items() if k != "weight"}
        canary["name"] = backends.canary
        refs.insert(refs.index(stable) + 1, canary)
    others = [r for r in refs if r is not stable and r is not canary]
    pair = 100
    if others:
        pair = int(stable.get("weight", 1)) + (0 if marks else int(canary.get("weight", 1)))
        if pair < 100:
            for ref in others:
                ref["weight"] = int(ref.get("weight", 1)) * 100
            pair *= 100
    stable["weight"], canary["weight"] = split_pair(pair, weight)
    return marks


def split_rules(
    route: JSON, backends: Backends, managed: frozenset[int] = frozenset()
) -> list[int]:
    """Indexes of the rules that send to the stable Service, ``managed`` ones (another
    Deployment's) left out."""
    rules = (route.get("spec") or {}).get("rules") or []
    found = [
        i
        for i, rule in enumerate(rules)
        if i not in managed and backends.stable_ref(rule) is not None
    ]
    if not found:
        raise RouterError(
            f"{describe(route)} has no rule sending to the stable Service {backends.stable!r} "
            "(spec.rules[].backendRefs[].name)"
        )
    return found


def header_builder(backends: Backends, step: SetHeaderRoute, where: str) -> Builder:
    def build(name: str, source: Rule) -> Rule | None:
        matches = header_matches(source.get("matches"), step.matches, where)
        if not matches:
            return None
        rule: Rule = {"name": name, "matches": matches}
        if source.get("filters"):
            rule["filters"] = copy.deepcopy(source["filters"])
        rule["backendRefs"] = [{**backends.canary_target(source), "weight": 1}]
        return rule

    return build


def mirror_builder(
    backends: Backends, step: SetMirrorRoute, where: str, features: RouteFeatures = ALL
) -> Builder:
    if not features.mirror_percent and step.percentage < 100:
        raise RouterError(
            f"{where}: the HTTPRoute CRD installed has no requestMirror.percent (Gateway API "
            f"before v1.3), so a mirror copies every request, not {step.percentage}%; mirror "
            "100 percent or install the Gateway API CRDs v1.3 or later"
        )

    def build(name: str, source: Rule) -> Rule | None:
        matches = mirror_matches(source.get("matches"), step.matches, where)
        if not matches:
            return None
        target: dict[str, Any] = {"backendRef": backends.canary_target(source)}
        if features.mirror_percent:
            target["percent"] = step.percentage
        mirror = {"type": "RequestMirror", "requestMirror": target}
        return {
            "name": name,
            "matches": matches,
            "filters": [*copy.deepcopy(source.get("filters") or []), mirror],
            "backendRefs": copy.deepcopy(source.get("backendRefs") or []),
        }

    return build


Updates = dict[str, Builder | None]


def rebuild(
    route: JSON,
    backends: Backends,
    owner: str,
    updates: Updates,
    weight: int | None = None,
    features: RouteFeatures = ALL,
) -> JSON:
    """The HTTPRoute with this owner's managed rules rebuilt (``updates`` applied; kept mirror
    rules follow their split rule's backends) and, when given, ``weight`` applied. Managed rules
    are found by name or by shape (``gateway_rules``); names are written only where the CRD
    keeps them."""
    records = Records.of(route)
    record = records.get(owner)
    spec = route.setdefault("spec", {})
    rules: list[Rule] = spec.get("rules") or []
    ours = find_managed(rules, record)
    existing = {name: rules[i] for i, name in ours.items()}
    rest = [r for i, r in enumerate(rules) if i not in ours]
    theirs = frozenset(
        i for other in records.others(owner).values() for i in find_managed(rest, other)
    )
    named = features.rule_names and (features.known or not names_dropped(rules, ours))
    split_at = split_rules({**route, "spec": {"rules": rest}}, backends, theirs)
    added = set(record.added)
    if weight is not None:
        for i in split_at:
            added |= {rule_key(i, rest[i]) + mark for mark in weigh(rest[i], backends, weight)}
    managed: list[tuple[str, list[Rule | None]]] = []
    for name in list(record.route_names) + [n for n in updates if n not in record.route_names]:
        if name in updates and updates[name] is None:
            continue
        builder = updates.get(name)
        if builder is not None:
            check_generated_free(records, owner, name, len(split_at),
                                 {r.get("name") for r in rest}, describe(route),
                                 item="rule", user_item="a rule")
        per_split = [
            builder(generated_name(name, j), rest[i])
            if builder is not None
            else _refresh(existing.get(generated_name(name, j)), rest[i])
            for j, i in enumerate(split_at)
        ]
        managed.append((name, [_named(r, generated_name(name, j), named)
                               for j, r in enumerate(per_split)]))
    spec["rules"] = rest + [r for _, per in managed for r in per if r is not None]
    _check_limits(route)
    new_record = Record(
        routes=tuple(
            (n, tuple(generated_name(n, j) for j, r in enumerate(per) if r is not None))
            for n, per in managed
        ),
        added=tuple(sorted(added)),
        shapes=tuple(
            (generated_name(n, j), digest(r))
            for n, per in managed
            for j, r in enumerate(per)
            if r is not None
        ),
    )
    return store_record(route, owner, new_record)


def _named(rule: Rule | None, name: str, named: bool) -> Rule | None:
    """The rule with its name, or without one where the CRD has no rule names."""
    if rule is None:
        return None
    rule = {"name": name, **{k: v for k, v in rule.items() if k != "name"}}
    if not named:
        del rule["name"]
    return rule


def _refresh(rule: Rule | None, source: Rule) -> Rule | None:
    if rule is not None and any(
        f.get("type") == "RequestMirror" for f in rule.get("filters") or []
    ):
        rule["backendRefs"] = copy.deepcopy(source.get("backendRefs") or [])
    return rule


def _check_limits(route: JSON) -> None:
    rules = (route.get("spec") or {}).get("rules") or []
    counts = [len(r.get("matches") or []) for r in rules]
    if len(rules) > MAX_RULES:
        raise RouterError(
            f"{describe(route)}: the header and mirror rules would make {len(rules)} rules; an "
            f"HTTPRoute holds at most {MAX_RULES} (spec.rules)"
        )
    if max(counts, default=0) > MAX_MATCHES_PER_RULE or sum(counts) > MAX_MATCHES:
        raise RouterError(
            f"{describe(route)}: the header and mirror rules would make {sum(counts)} matches; "
            f"at most {MAX_MATCHES_PER_RULE} per rule and {MAX_MATCHES} in all "
            "(spec.rules[].matches)"
        )


def released(route: JSON, backends: Backends, owner: str, features: RouteFeatures = ALL) -> JSON:
    record = Records.of(route).get(owner)
    route = rebuild(
        route, backends, owner, dict.fromkeys(record.route_names), weight=0, features=features
    )
    added = set(Records.of(route).get(owner).added)
    for i, rule in enumerate((route.get("spec") or {}).get("rules") or []):
        key = rule_key(i, rule)
        if key in added:
            canary = backends.canary_ref(rule)
            rule["backendRefs"] = [r for r in rule["backendRefs"] if r is not canary]
            stable = backends.stable_ref(rule)
            if stable is not None:
                restore_weight(stable, added, key)
    return store_record(route, owner, None)


class GatewayAPIRouter(RouterAdapter):
    name = "gateway-api"
    capabilities = capabilities

    def __init__(self, target: ReleaseTarget, client: ObjectClient) -> None:
        super().__init__(target, client)
        self._features: RouteFeatures | None = None

    @property
    def backends(self) -> Backends:
        t = self.target
        return Backends(t.namespace, t.stable_service, t.canary_service)

    async def _each(self, change: Callable[[JSON], JSON]) -> None:
        for name in self.target.spec.options.http_routes:
            await self.sync(
                self.ref(API_VERSION, "HTTPRoute", name),
                lambda cur: None if cur is None else change(cur),
                required=HTTP_ROUTE,
            )

    async def features(self) -> RouteFeatures:
        """What the installed HTTPRoute CRD keeps, read once per router (per reconcile)."""
        if self._features is None:
            self._features = route_features(await self.client.schema(API_VERSION, "HTTPRoute"))
        return self._features

    async def set_weight(self, weight: int) -> None:
        f = await self.features()
        await self._each(lambda r: rebuild(r, self.backends, self.owner, {}, weight, f))

    async def set_header_route(self, route: SetHeaderRoute) -> None:
        f = await self.features()

        def change(obj: JSON) -> JSON:
            where = f"{describe(obj)} route {route.name!r}"
            builder = header_builder(self.backends, route, where) if route.matches else None
            return rebuild(obj, self.backends, self.owner, {route.name: builder}, features=f)

        await self._each(change)

    async def set_mirror_route(self, route: SetMirrorRoute) -> None:
        f = await self.features()

        def change(obj: JSON) -> JSON:
            where = f"{describe(obj)} route {route.name!r}"
            builder = mirror_builder(self.backends, route, where, f) if route.matches else None
            return rebuild(obj, self.backends, self.owner, {route.name: builder}, features=f)

        await self._each(change)

    async def remove_managed_routes(self) -> None:
        f = await self.features()

        def change(obj: JSON) -> JSON:
            names = Records.of(obj).get(self.owner).route_names
            return rebuild(obj, self.backends, self.owner, dict.fromkeys(names), features=f)

        await self._each(change)

    async def cleanup(self) -> None:
        f = await self.features()
        await self._each(lambda r: released(r, self.backends, self.owner, f))
