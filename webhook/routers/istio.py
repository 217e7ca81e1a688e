"""``istio``: weights in VirtualServices, managed header and mirror routes, DestinationRule
subsets.

Host-level (``canarist.io/istio-virtual-service: web`` or ``web:primary,tcp:3306``): in each split
route (http routes by name, tls/tcp routes by match port; none named: every route with a stable
destination), the stable and canary destinations get ``100 - W`` and ``W`` of their share; the
canary destination is added beside the stable one when missing (same host form and port).
Subset-level (``canarist.io/istio-destination-rule: rule[:stable,canary]``): destinations differ by
subset; ``update_hash`` pins the subsets with the ``rollouts-pod-template-hash`` label, keeping the
user's subset labels (``update_hash(stable, stable)`` on abort puts both back, Argo #1838).

Header and mirror routes are http routes named after the step's route (``beta``, and ``beta-1``...
when several routes are split), placed right above the route they split and matching only what it
matches; a mirror route copies that route's destinations and weights and sets ``mirror`` with
``mirrorPercentage``. Canarist never deletes a destination, route or match it did not add: what it
added is recorded per Deployment in ``canarist.io/managed-by``.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import replace

from webhook.errors import RouterError
from webhook.kube.protocol import JSON
from webhook.routers.adapter import RouterAdapter
from webhook.routers.istio_match import header_element, mirror_element
from webhook.routers.istio_vs import (
    Builder,
    Route,
    Split,
    drop_canary,
    header_builder,
    mirror_builder,
    place,
    route_key,
    select,
    weigh,
)
from webhook.routers.objects import (
    Record,
    Records,
    check_generated_free,
    describe,
    generated_name,
    store_record,
)
from webhook.spec import (
    CAPABILITIES,
    DestinationRuleRef,
    SetHeaderRoute,
    SetMirrorRoute,
    VirtualServiceRef,
)
from webhook.spec.names import HASH_LABEL, ISTIO_DESTINATION_RULE, ISTIO_VIRTUAL_SERVICE

capabilities = CAPABILITIES["istio"]
API_VERSION = "networking.istio.io/v1"

# route name -> builder (None: remove the route)
Updates = dict[str, Builder | None]


def rebuild(
    vs: JSON,
    ref: VirtualServiceRef,
    split: Split,
    owner: str,
    updates: Updates,
    weight: int | None = None,
) -> JSON:
    """The VirtualService with this owner's managed routes rebuilt (``updates`` applied, the
    others kept and their mirror copies refreshed) and, when given, ``weight`` applied."""
    records = Records.of(vs)
    record = records.get(owner)
    written = record.written
    spec = vs.setdefault("spec", {})
    http: list[Route] = spec.get("http") or []
    spec_rest = dict(spec, http=[r for r in http if r.get("name") not in written])
    selected = select({**vs, "spec": spec_rest}, ref, split, records.written_by_others(owner))
    added = set(record.added)
    for kind, i in selected:
        route = spec_rest[kind][i]
        if weight is not None:
            added |= {route_key(kind, i, route) + mark for mark in weigh(route, split, weight)}
    split_at = [i for kind, i in selected if kind == "http"]
    order = _managed_routes(vs, records, owner, updates, spec_rest["http"], split_at)
    if http or spec_rest["http"]:
        spec["http"] = place(http, written, order, split_at)
    for kind in ("tls", "tcp"):
        if kind in spec_rest:
            spec[kind] = spec_rest[kind]
    new_record = Record(
        routes=tuple(
            (name, tuple(str(r["name"]) for r in per if r is not None)) for name, per in order
        ),
        added=tuple(sorted(added)),
    )
    return store_record(vs, owner, new_record)


def _managed_routes(
    vs: JSON,
    records: Records,
    owner: str,
    updates: Updates,
    rest: list[Route],
    split_at: list[int],
) -> list[tuple[str, list[Route | None]]]:
    """This owner's managed routes in record order, one per split route: rebuilt by the
    ``updates`` builders, dropped by their ``None``, the others kept as they are."""
    record = records.get(owner)
    existing = {
        r.get("name"): r for r in vs["spec"].get("http") or [] if r.get("name") in record.written
    }
    order: list[tuple[str, list[Route | None]]] = []
    for name in list(record.route_names) + [n for n in updates if n not in record.route_names]:
        if name in updates and updates[name] is None:
            continue
        builder = updates.get(name)
        if builder is None:
            kept = [
                _refresh(existing.get(generated_name(name, j)), rest[i])
                for j, i in enumerate(split_at)
            ]
            order.append((name, kept))
            continue
        check_generated_free(records, owner, name, len(split_at), {r.get("name") for r in rest},
                             describe(vs), item="route", user_item="an http route")
        if not split_at:
            raise RouterError(
                f"{describe(vs)}: header and mirror routes need an http route to split "
                f"(route {name!r})"
            )
        order.append(
            (name, [builder(generated_name(name, j), rest[i]) for j, i in enumerate(split_at)])
        )
    return order


def _refresh(route: Route | None, source: Route) -> Route | None:
    """An existing managed route; a mirror route's destinations follow its split route's."""
    if route is not None and "mirror" in route:
        route["route"] = copy.deepcopy(source.get("route") or [])
    return route


def released(vs: JSON, ref: VirtualServiceRef, split: Split, owner: str) -> JSON:
    """Managed routes removed, all traffic on stable, added canary destinations removed, the
    owner's record dropped."""
    record = Records.of(vs).get(owner)
    vs = rebuild(vs, ref, split, owner, dict.fromkeys(record.route_names), weight=0)
    added = set(Records.of(vs).get(owner).added)
    spec = vs.get("spec") or {}
    for kind in ("http", "tls", "tcp"):
        for i, route in enumerate(spec.get(kind) or []):
            key = route_key(kind, i, route)
            if key in added:
                drop_canary(route, split, added, key)
    return store_record(vs, owner, None)


# --- DestinationRule ----------------------------------------------------------------------------


def with_hashes(
    dr: JSON, ref: DestinationRuleRef, canary_hash: str, stable_hash: str, owner: str
) -> JSON:
    """Subsets pinned to the hashes (an empty hash removes the label); other labels kept."""
    subsets = {s.get("name"): s for s in (dr.get("spec") or {}).get("subsets") or []}
    for name, value in ((ref.stable_subset, stable_hash), (ref.canary_subset, canary_hash)):
        subset = subsets.get(name)
        if subset is None:
            known = ", ".join(sorted(str(n) for n in subsets)) or "none"
            raise RouterError(
                f"{describe(dr)} has no subset {name!r} (spec.subsets[].name; subsets: {known})"
            )
        labels = subset.setdefault("labels", {})
        if value:
            labels[HASH_LABEL] = value
        else:
            labels.pop(HASH_LABEL, None)
        if not labels:
            del subset["labels"]
    return store_record(dr, owner, Record())


def dr_released(dr: JSON, ref: DestinationRuleRef, owner: str) -> JSON:
    return store_record(with_hashes(dr, ref, "", "", owner), owner, None)


class IstioRouter(RouterAdapter):
    name = "istio"
    capabilities = capabilities

    async def _split(self) -> Split:
        target = self.target
        subsets = target.spec.options.istio_destination_rule
        host = ""
        if subsets is not None:
            dr = await self.client.get(self.ref(API_VERSION, "DestinationRule", subsets.name))
            if dr is None:
                raise RouterError(
                    f"DestinationRule {target.namespace}/{subsets.name} not found "
                    f"(named by {ISTIO_DESTINATION_RULE})"
                )
            host = str((dr.get("spec") or {}).get("host", ""))
        return Split(target.namespace, target.stable_service, target.canary_service, subsets, host)

    async def _each_vs(self, change: Callable[[JSON, VirtualServiceRef, Split], JSON]) -> None:
        split = await self._split()
        for vs_ref in self.target.spec.options.istio_virtual_services:
            ref = self.ref(API_VERSION, "VirtualService", vs_ref.name)
            if vs_ref.namespace:  # Argo's name.namespace: a VirtualService of another namespace
                ref = replace(ref, namespace=vs_ref.namespace)

            def compute(cur: JSON | None, vs_ref: VirtualServiceRef = vs_ref) -> JSON | None:
                return None if cur is None else change(cur, vs_ref, split)

            await self.sync(ref, compute, required=ISTIO_VIRTUAL_SERVICE)

    async def update_hash(self, canary_hash: str, stable_hash: str) -> None:
        await self._each_dr(
            lambda dr, ref: with_hashes(dr, ref, canary_hash, stable_hash, self.owner)
        )

    async def _each_dr(self, change: Callable[[JSON, DestinationRuleRef], JSON]) -> None:
        ref = self.target.spec.options.istio_destination_rule
        if ref is not None:
            await self.sync(
                self.ref(API_VERSION, "DestinationRule", ref.name),
                lambda cur: None if cur is None else change(cur, ref),
                required=ISTIO_DESTINATION_RULE,
            )

    async def set_weight(self, weight: int) -> None:
        await self._each_vs(lambda vs, ref, split: rebuild(vs, ref, split, self.owner, {}, weight))

    async def set_header_route(self, route: SetHeaderRoute) -> None:
        def change(vs: JSON, ref: VirtualServiceRef, split: Split) -> JSON:
            builder = None
            if route.matches:
                where = f"{describe(vs)} route {route.name!r}"
                builder = header_builder(split, header_element(route.matches, where), where)
            return rebuild(vs, ref, split, self.owner, {route.name: builder})

        await self._each_vs(change)

    async def set_mirror_route(self, route: SetMirrorRoute) -> None:
        def change(vs: JSON, ref: VirtualServiceRef, split: Split) -> JSON:
            builder = None
            if route.matches:
                where = f"{describe(vs)} route {route.name!r}"
                elements = [mirror_element(m, where) for m in route.matches]
                builder = mirror_builder(split, elements, route.percentage, where)
            return rebuild(vs, ref, split, self.owner, {route.name: builder})

        await self._each_vs(change)

    async def remove_managed_routes(self) -> None:
        def change(vs: JSON, ref: VirtualServiceRef, split: Split) -> JSON:
            names = Records.of(vs).get(self.owner).route_names
            return rebuild(vs, ref, split, self.owner, dict.fromkeys(names))

        await self._each_vs(change)

    async def cleanup(self) -> None:
        await self._each_vs(lambda vs, ref, split: released(vs, ref, split, self.owner))
        await self._each_dr(lambda dr, ref: dr_released(dr, ref, self.owner))
