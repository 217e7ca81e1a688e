"""Helpers shared by the routers: metadata access, ownership and the per-owner record.

Every object canarist creates or changes carries the ``canarist.io/managed-by`` annotation: a JSON
object keyed by the name of each Deployment that uses it, whose value says what canarist added
there for that Deployment (route names and the names written for them, annotation keys,
destinations added). Several Deployments may share one VirtualService, ALB Ingress or HTTPRoute;
each removes exactly what its own record lists, whatever its steps say today.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from webhook.errors import RouterError
from webhook.kube.protocol import JSON, ObjectRef
from webhook.routers.base import Owner
from webhook.spec.names import MANAGED_BY


def describe(obj: JSON) -> str:
    """``VirtualService shop/web`` for messages."""
    return str(ObjectRef.of(obj))


def meta(obj: JSON) -> dict[str, Any]:
    m = obj.setdefault("metadata", {})
    assert isinstance(m, dict)
    return m


def annotations_of(obj: JSON) -> dict[str, str]:
    """The object's annotations (created empty when absent)."""
    m = meta(obj)
    ann = m.get("annotations")
    if not isinstance(ann, dict):
        ann = {}
        m["annotations"] = ann
    return ann


def drop_empty_annotations(obj: JSON) -> JSON:
    if not meta(obj).get("annotations"):
        meta(obj).pop("annotations", None)
    return obj


def owned_by(obj: JSON, owner: Owner) -> bool:
    """True when one of the object's ownerReferences names ``owner``."""
    for ref in meta(obj).get("ownerReferences") or []:
        if not isinstance(ref, dict) or ref.get("kind") != owner.kind:
            continue
        if owner.uid and ref.get("uid"):
            if ref.get("uid") == owner.uid:
                return True
        elif ref.get("name") == owner.name:
            return True
    return False


def new_object(api_version: str, kind: str, namespace: str, name: str, owner: Owner) -> JSON:
    """The skeleton of an object canarist creates: owned by the Deployment (garbage-collected
    with it)."""
    return {
        "apiVersion": api_version,
        "kind": kind,
        "metadata": {
            "name": name,
            "namespace": namespace,
            "ownerReferences": [owner.reference()],
        },
    }


def deep(obj: Any) -> Any:
    return copy.deepcopy(obj)


def truncate_name(prefix: str, suffix: str, limit: int = 253) -> str:
    """``prefix + suffix`` with the prefix cut so the whole fits ``limit`` characters."""
    room = limit - len(suffix)
    return prefix[:room].rstrip("-.") + suffix


# --- the per-owner record ----------------------------------------------------------------------


@dataclass(frozen=True)
class Record:
    """What canarist manages on one object for one Deployment.

    ``routes`` maps each header/mirror route name (as the steps name it) to the names written
    for it in the object (an Istio route per split route: ``beta``, ``beta-1``...), in the order
    the routes were set. ``annotations`` lists annotation keys canarist wrote; ``added`` the
    destinations or backends canarist added (to remove them when the Deployment goes);
    ``shapes`` a digest of each item written, by its name, to find it where the object's schema
    has no field for the name (HTTPRoute rules before Gateway API v1.4).
    """

    routes: tuple[tuple[str, tuple[str, ...]], ...] = ()
    annotations: tuple[str, ...] = ()
    added: tuple[str, ...] = ()
    shapes: tuple[tuple[str, str], ...] = ()

    @property
    def route_names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.routes)

    @property
    def written(self) -> frozenset[str]:
        """Every name written for any route (Istio http route names, ALB action names...)."""
        return frozenset(n for _, names in self.routes for n in names)

    def written_for(self, route: str) -> tuple[str, ...]:
        return dict(self.routes).get(route, ())

    def with_route(self, route: str, names: Iterable[str]) -> Record:
        """Set (or replace, keeping its position) the names written for ``route``."""
        names = tuple(names)
        items = list(self.routes)
        for i, (name, _) in enumerate(items):
            if name == route:
                items[i] = (route, names)
                return replace(self, routes=tuple(items))
        return replace(self, routes=(*items, (route, names)))

    def without_route(self, route: str) -> Record:
        return replace(self, routes=tuple((n, w) for n, w in self.routes if n != route))

    def with_annotations(self, keys: Iterable[str]) -> Record:
        return replace(self, annotations=tuple(sorted(set(keys))))

    def with_added(self, items: Iterable[str]) -> Record:
        return replace(self, added=tuple(sorted(set(items))))

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.routes:
            out["routes"] = {name: list(names) for name, names in self.routes}
        if self.annotations:
            out["annotations"] = list(self.annotations)
        if self.added:
            out["added"] = list(self.added)
        if self.shapes:
            out["shapes"] = dict(self.shapes)
        return out

    @classmethod
    def from_json(cls, raw: Any, where: str) -> Record:
        if not isinstance(raw, dict):
            raise RouterError(f"{where}: must be a JSON object, got {type(raw).__name__}")
        routes = raw.get("routes", {})
        if not isinstance(routes, dict) or not all(
            isinstance(v, list) and all(isinstance(x, str) for x in v) for v in routes.values()
        ):
            raise RouterError(f"{where}.routes: must map route names to lists of names")
        shapes = raw.get("shapes", {})
        if not isinstance(shapes, dict) or not all(isinstance(v, str) for v in shapes.values()):
            raise RouterError(f"{where}.shapes: must map names to digests")
        return cls(
            routes=tuple((str(k), tuple(v)) for k, v in routes.items()),
            annotations=_strings(raw.get("annotations", []), f"{where}.annotations"),
            added=_strings(raw.get("added", []), f"{where}.added"),
            shapes=tuple((str(k), v) for k, v in shapes.items()),
        )


def _strings(raw: Any, where: str) -> tuple[str, ...]:
    if not isinstance(raw, list) or not all(isinstance(x, str) for x in raw):
        raise RouterError(f"{where}: must be a list of strings")
    return tuple(raw)


@dataclass(frozen=True)
class Records:
    """Every Deployment's record on one object, read from its managed-by annotation."""

    by_owner: dict[str, Record] = field(default_factory=dict)

    @classmethod
    def of(cls, obj: JSON) -> Records:
        raw = (meta(obj).get("annotations") or {}).get(MANAGED_BY)
        if raw is None:
            return cls()
        where = f"{describe(obj)}: annotation {MANAGED_BY}"
        try:
            data = json.loads(raw)
        except (TypeError, ValueError) as exc:
            raise RouterError(
                f"{where} is not valid JSON ({exc}); it is written by canarist: "
                "restore it or delete it"
            ) from exc
        if not isinstance(data, dict):
            raise RouterError(f"{where} must be a JSON object keyed by Deployment name")
        return cls({str(k): Record.from_json(v, f"{where}[{k}]") for k, v in data.items()})

    def get(self, owner: str) -> Record:
        return self.by_owner.get(owner, Record())

    def others(self, owner: str) -> dict[str, Record]:
        return {k: v for k, v in self.by_owner.items() if k != owner}

    def written_by_others(self, owner: str) -> frozenset[str]:
        return frozenset(n for r in self.others(owner).values() for n in r.written)

    def claimed(self, name: str, owner: str) -> str | None:
        """The other Deployment whose record already uses ``name``, if any."""
        for other, rec in sorted(self.others(owner).items()):
            if name in rec.written or name in rec.route_names:
                return other
        return None


def store_record(obj: JSON, owner: str, record: Record | None) -> JSON:
    """Write ``owner``'s record into ``obj`` (``None`` drops it; no owners left drops the
    annotation)."""
    records = dict(Records.of(obj).by_owner)
    if record is None:
        records.pop(owner, None)
    else:
        records[owner] = record
    ann = annotations_of(obj)
    if records:
        ann[MANAGED_BY] = json.dumps(
            {k: records[k].to_json() for k in sorted(records)}, separators=(",", ":")
        )
    else:
        ann.pop(MANAGED_BY, None)
    return drop_empty_annotations(obj)


def check_route_free(records: Records, owner: str, names: Iterable[str], where: str) -> None:
    """Refuse to write a route name another Deployment already manages on the same object."""
    for name in names:
        other = records.claimed(name, owner)
        if other is not None:
            raise RouterError(
                f"{where}: route {name!r} is already managed there for Deployment {other!r}; "
                "give the route of this Deployment's step another name"
            )


def generated_name(route: str, j: int) -> str:
    """The name of the ``j``-th rule a step's route is written as (``beta``, ``beta-1``...)."""
    return route if j == 0 else f"{route}-{j}"


def check_generated_free(
    records: Records, owner: str, route: str, count: int, user_names: set[Any], where: str,
    *, item: str, user_item: str,
) -> None:
    """Refuse the ``count`` (at least one) generated names of a step's route when another
    Deployment manages one of them there or one of the user's own ``user_names`` has it.
    ``item`` names what is written (``rule``), ``user_item`` a user's own (``a rule``)."""
    for j in range(max(count, 1)):
        generated = generated_name(route, j)
        other = records.claimed(generated, owner)
        if other is not None:
            raise RouterError(
                f"{where}: {item} {generated!r} is already managed there for Deployment "
                f"{other!r}; give the step's route another name"
            )
        if generated in user_names:
            raise RouterError(
                f"{where}: {user_item} named {generated!r} exists and canarist does not manage "
                "it; give the step's route another name"
            )


# --- destinations canarist added -----------------------------------------------------------------


def added_marks(stable: dict[str, Any]) -> list[str]:
    """Suffixes recorded (after a route key) when canarist adds the canary beside ``stable``:
    ``""``, and the stable weight before (``~weight=N``; ``~unweighted`` when it had none)."""
    weight = stable.get("weight")
    return ["", "~unweighted" if weight is None else f"~weight={int(weight)}"]


def restore_weight(stable: dict[str, Any], added: Iterable[str], key: str) -> None:
    """Give the stable destination back the weight it had before canarist added the canary."""
    for entry in added:
        if entry == f"{key}~unweighted":
            stable.pop("weight", None)
        elif entry.startswith(f"{key}~weight="):
            stable["weight"] = int(entry.rpartition("=")[2])
