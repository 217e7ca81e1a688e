"""An in-memory ``ObjectClient``: the engine of ``canarist render`` and of the router tests.

It holds a set of objects and answers like the API server where the routers depend on it:
``resourceVersion`` bumped on every write, ``Conflict`` on a create of an existing object or a
replace with a stale ``resourceVersion``, ``NotFound`` on a replace, patch of a missing object,
server-set ``uid`` and ``creationTimestamp`` on create, ``generation`` bumped when the spec
changes, label selectors (``a=b``, ``a!=b``, ``a``, ``!a``, ``a in (x,y)``, ``a notin (x)``).
Objects are keyed by API group (not version), kind, namespace and name, so
``networking.istio.io/v1`` and ``/v1beta1`` address the same VirtualService, as on a server.
Strategic merge patches are applied as JSON merge patches (no list merge keys): routers never
send them.

Every write is journaled (``writes``) and ``changed()`` returns the objects created or modified
since the client was loaded, which is what ``render`` prints.
"""

from __future__ import annotations

import copy
import re
import uuid
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

import jsonpatch

from webhook.errors import Conflict, Invalid, NotFound
from webhook.kube.protocol import JSON, ObjectRef, PatchType

Key = tuple[str, str, str, str]


def _group(api_version: str) -> str:
    return api_version.rpartition("/")[0]


def _key(ref: ObjectRef) -> Key:
    return (_group(ref.api_version), ref.kind, ref.namespace, ref.name)


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class OfflineClient:
    def __init__(
        self,
        objects: Iterable[JSON] = (),
        *,
        clock: Callable[[], str] = _now,
        api_versions: Iterable[str] = (),
    ) -> None:
        self._objects: dict[Key, JSON] = {}
        self._version = 0
        self._clock = clock
        self._api_versions = tuple(api_versions)
        self._loaded: dict[Key, str] = {}
        self.writes: list[tuple[str, ObjectRef]] = []
        for obj in objects:
            self.load(obj)

    # --- setup and inspection (synchronous, not journaled) -------------------------------------

    def load(self, obj: JSON) -> JSON:
        """Put ``obj`` in the store as it is (a server-side fact, not a write)."""
        ref = self._checked_ref(obj)
        stored = copy.deepcopy(obj)
        self._stamp_new(stored, ref, keep=True)
        self._objects[_key(ref)] = stored
        self._loaded[_key(ref)] = stored["metadata"]["resourceVersion"]
        return copy.deepcopy(stored)

    def objects(self) -> list[JSON]:
        return [copy.deepcopy(o) for o in self._objects.values()]

    def peek(self, ref: ObjectRef) -> JSON | None:
        obj = self._objects.get(_key(ref))
        return copy.deepcopy(obj) if obj is not None else None

    def changed(self) -> list[JSON]:
        """Objects created or modified since they were loaded, in store order."""
        return [
            copy.deepcopy(obj)
            for key, obj in self._objects.items()
            if self._loaded.get(key) != obj["metadata"]["resourceVersion"]
        ]

    def deleted(self) -> list[ObjectRef]:
        """Loaded objects that are gone."""
        return [ObjectRef("", k[1], k[2], k[3]) for k in self._loaded if k not in self._objects]

    # --- ObjectClient ----------------------------------------------------------------------------

    async def schema(self, api_version: str, kind: str) -> JSON | None:
        """The schema of a CustomResourceDefinition loaded for ``kind`` (None: none loaded)."""
        group, _, version = api_version.rpartition("/")
        for crd in self._crds(group):
            spec = crd.get("spec") or {}
            if (spec.get("names") or {}).get("kind") != kind:
                continue
            for v in spec.get("versions") or ():
                if isinstance(v, dict) and v.get("name") == version:
                    found = (v.get("schema") or {}).get("openAPIV3Schema")
                    return copy.deepcopy(found) if isinstance(found, dict) else None
        return None

    def _crds(self, group: str) -> list[JSON]:
        return [
            crd
            for (g, kind, _, _), crd in self._objects.items()
            if g == "apiextensions.k8s.io" and kind == "CustomResourceDefinition"
            and (crd.get("spec") or {}).get("group") == group
        ]

    async def served_versions(self, group: str) -> tuple[str, ...] | None:
        """What the cluster is said to serve of ``group``: the ``api_versions`` given (``group/
        version``, as ``helm template --api-versions``) and the served versions of the
        CustomResourceDefinitions loaded; ``None`` when neither says anything of it."""
        out = [v for g, _, v in (a.rpartition("/") for a in self._api_versions) if g == group]
        for crd in self._crds(group):
            for version in (crd.get("spec") or {}).get("versions") or ():
                name = version.get("name") if isinstance(version, dict) else None
                if isinstance(name, str) and version.get("served", True) and name not in out:
                    out.append(name)
        return tuple(out) if out else None

    async def get(self, ref: ObjectRef) -> JSON | None:
        obj = self._objects.get(_key(ref))
        return None if obj is None else self._as_version(obj, ref.api_version)

    async def list(
        self,
        api_version: str,
        kind: str,
        namespace: str,
        *,
        label_selector: str | None = None,
    ) -> list[JSON]:
        match = parse_selector(label_selector or "")
        group = _group(api_version)
        return [
            self._as_version(obj, api_version)
            for (g, k, ns, _), obj in sorted(self._objects.items())
            if g == group
            and k == kind
            and (not namespace or ns == namespace)
            and match((obj.get("metadata") or {}).get("labels") or {})
        ]

    async def create(self, obj: JSON) -> JSON:
        ref = self._checked_ref(obj)
        if _key(ref) in self._objects:
            raise Conflict(f"{ref} already exists", status=409, reason="AlreadyExists")
        stored = copy.deepcopy(obj)
        self._stamp_new(stored, ref, keep=False)
        self._objects[_key(ref)] = stored
        self.writes.append(("create", ref))
        return copy.deepcopy(stored)

    async def replace(self, obj: JSON) -> JSON:
        ref = self._checked_ref(obj)
        current = self._existing(ref)
        sent = (obj.get("metadata") or {}).get("resourceVersion")
        if sent and sent != current["metadata"]["resourceVersion"]:
            raise Conflict(
                f"Operation cannot be fulfilled on {ref}: the object has been modified; "
                "please apply your changes to the latest version and try again",
                status=409,
                reason="Conflict",
            )
        return self._store_update(ref, current, copy.deepcopy(obj), "replace")

    async def patch(self, ref: ObjectRef, patch: Any, *, patch_type: PatchType = "merge") -> JSON:
        current = self._existing(ref)
        if patch_type == "json":
            try:
                updated = jsonpatch.apply_patch(copy.deepcopy(current), patch)
            except (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException) as exc:
                raise Invalid(f"{ref}: {exc}", status=422, reason="Invalid") from exc
        else:
            updated = merge_patch(current, patch)
        return self._store_update(ref, current, updated, "patch")

    async def delete(self, ref: ObjectRef) -> bool:
        if self._objects.pop(_key(ref), None) is None:
            return False
        self.writes.append(("delete", ref))
        return True

    # --- internals -------------------------------------------------------------------------------

    def _checked_ref(self, obj: JSON) -> ObjectRef:
        ref = ObjectRef.of(obj)
        if not (ref.api_version and ref.kind and ref.name):
            raise Invalid(f"{ref}: apiVersion, kind and metadata.name are required", status=422)
        return ref

    def _existing(self, ref: ObjectRef) -> JSON:
        current = self._objects.get(_key(ref))
        if current is None:
            raise NotFound(f"{ref} not found", status=404, reason="NotFound")
        return current

    def _next_version(self) -> str:
        self._version += 1
        return str(self._version)

    def _stamp_new(self, obj: JSON, ref: ObjectRef, *, keep: bool) -> None:
        meta = obj.setdefault("metadata", {})
        if not keep or not meta.get("uid"):
            meta["uid"] = str(uuid.uuid5(uuid.NAMESPACE_URL, f"canarist:{_key(ref)}"))
        if not keep or not meta.get("creationTimestamp"):
            meta["creationTimestamp"] = self._clock()
        meta["resourceVersion"] = self._next_version()
        meta.setdefault("generation", 1)

    def _store_update(self, ref: ObjectRef, current: JSON, updated: JSON, verb: str) -> JSON:
        meta = updated.setdefault("metadata", {})
        old_meta = current["metadata"]
        for field in ("uid", "creationTimestamp", "name", "namespace"):
            if field in old_meta:
                meta[field] = old_meta[field]
        generation = int(old_meta.get("generation", 1))
        if updated.get("spec") != current.get("spec"):
            generation += 1
        meta["generation"] = generation
        meta["resourceVersion"] = self._next_version()
        self._objects[_key(ref)] = updated
        self.writes.append((verb, ref))
        return copy.deepcopy(updated)

    @staticmethod
    def _as_version(obj: JSON, api_version: str) -> JSON:
        out = copy.deepcopy(obj)
        out["apiVersion"] = api_version
        return out


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch (``null`` deletes a key)."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = merge_patch(out.get(key), value)
    return out


_LABEL_KEY = re.compile(r"[A-Za-z0-9._/-]+")
_SET = re.compile(r"^\s*([^\s!=]+)\s+(in|notin)\s+\(([^)]*)\)\s*$")


def parse_selector(text: str) -> Callable[[dict[str, str]], bool]:
    """A label selector's predicate (``Invalid`` on a malformed selector)."""
    tests: list[Callable[[dict[str, str]], bool]] = []
    for part in _split_selector(text):
        tests.append(_requirement(part))
    return lambda labels: all(t(labels) for t in tests)


def _split_selector(text: str) -> list[str]:
    parts, depth, current = [], 0, ""
    for ch in text:
        depth += ch == "("
        depth -= ch == ")"
        if ch == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += ch
    parts.append(current)
    return [p.strip() for p in parts if p.strip()]


def _requirement(part: str) -> Callable[[dict[str, str]], bool]:
    set_match = _SET.match(part)
    if set_match:
        key, op, values_text = set_match.groups()
        values = {v.strip() for v in values_text.split(",") if v.strip()}
        if op == "in":
            return lambda labels: labels.get(key) in values
        return lambda labels: labels.get(key) not in values
    for op in ("!=", "==", "="):
        if op in part:
            key, _, value = (s.strip() for s in part.partition(op))
            if not key:
                break
            if op == "!=":
                return lambda labels: labels.get(key) != value
            return lambda labels: labels.get(key) == value
    else:
        key = part[1:].strip()
        if part.startswith("!") and _LABEL_KEY.fullmatch(key):
            return lambda labels: key not in labels
        if _LABEL_KEY.fullmatch(part):
            return lambda labels: part in labels
    raise Invalid(f"invalid label selector requirement {part!r}", status=400, reason="BadRequest")
