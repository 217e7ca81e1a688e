"""Field sets of server-side apply, in the ``FieldsV1`` notation of managedFields.

A field path is a tuple of FieldsV1 keys: ``f:<name>`` a map field, ``k:<json>`` an item of an
associative list by its key fields (keys sorted), ``v:<json>`` a member of a set, ``.`` the
item itself. ``leaves`` lists every leaf of an object with its value: a scalar, an atomic list,
an empty map, or the presence (``.``, value None) of an associative-list item. What kind of
list a field is comes from ``ListKinds``: the merge keys of the built-in types, or a CRD's
``x-kubernetes-list-type``/``x-kubernetes-list-map-keys``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from webhook.cluster.patching import patch_meta
from webhook.cluster.resources import ResourceType

FieldPath = tuple[str, ...]
# names of the map fields leading to a list (list items skipped) -> ("map", keys) | ("set", ())
# | ("atomic", ())
ListKinds = Callable[[tuple[str, ...]], tuple[str, tuple[str, ...]]]
SELF = "."
_SKIP_TOP = {"apiVersion", "kind", "status"}
_SKIP_META = {"name", "namespace", "uid", "resourceVersion", "generation", "creationTimestamp",
              "deletionTimestamp", "deletionGracePeriodSeconds", "selfLink", "managedFields"}


def list_kinds(rt: ResourceType, version: str) -> ListKinds:
    """How the lists of ``rt`` merge under apply."""
    schema = rt.schemas.get(version) if rt.custom else None

    def builtin(names: tuple[str, ...]) -> tuple[str, tuple[str, ...]]:
        how, key = patch_meta(names, rt.kind)
        if how == "replace":
            return "atomic", ()
        if key is None:
            return "set", ()
        if names[-1] == "ports" and key in ("containerPort", "port"):
            return "map", (key, "protocol")
        return "map", (key,)

    def custom(names: tuple[str, ...]) -> tuple[str, tuple[str, ...]]:
        node: Mapping[str, Any] | None = schema
        for name in names:
            if node is None:
                break
            if node.get("type") == "array":
                node = node.get("items")
            props = (node or {}).get("properties") or {}
            node = props.get(name)
        node = node or {}
        kind = node.get("x-kubernetes-list-type")
        if kind == "map":
            return "map", tuple(node.get("x-kubernetes-list-map-keys") or ())
        if kind == "set":
            return "set", ()
        return "atomic", ()

    return custom if rt.custom else builtin


def item_key(item: Any, keys: tuple[str, ...]) -> str | None:
    """``k:{...}`` of an associative-list item, or None when it lacks a key field.

    A key field the item leaves out takes its default where upstream has one (protocol: TCP)."""
    if not isinstance(item, Mapping) or not keys:
        return None
    ident: dict[str, Any] = {}
    for k in keys:
        if k in item:
            ident[k] = item[k]
        elif k == "protocol":
            ident[k] = "TCP"
        else:
            return None
    return "k:" + json.dumps(ident, sort_keys=True, separators=(",", ":"))


def leaves(obj: Mapping[str, Any], kinds: ListKinds) -> dict[FieldPath, Any]:
    """Every tracked leaf of ``obj`` with its value (identity and status fields left out)."""
    out: dict[FieldPath, Any] = {}
    for key, value in obj.items():
        if key in _SKIP_TOP:
            continue
        if key == "metadata" and isinstance(value, Mapping):
            for mk, mv in value.items():
                if mk not in _SKIP_META:
                    _walk(mv, ("metadata", mk), ("f:metadata", f"f:{mk}"), kinds, out)
            continue
        _walk(value, (key,), (f"f:{key}",), kinds, out)
    return out


def _walk(value: Any, names: tuple[str, ...], path: FieldPath, kinds: ListKinds,
          out: dict[FieldPath, Any]) -> None:
    if isinstance(value, Mapping):
        if not value:
            out[path] = {}
        for k, v in value.items():
            _walk(v, (*names, k), (*path, f"f:{k}"), kinds, out)
        return
    if isinstance(value, list) and value:
        kind, keys = kinds(names)
        idents = [item_key(item, keys) for item in value] if kind == "map" else []
        if kind == "map" and all(idents) and len(set(idents)) == len(idents):
            for ident, item in zip(idents, value, strict=True):
                assert ident is not None
                out[(*path, ident, SELF)] = None  # presence only: the fields carry values
                for k, v in item.items():
                    _walk(v, (*names, k), (*path, ident, f"f:{k}"), kinds, out)
            return
        if kind == "set" and all(not isinstance(v, (Mapping, list)) for v in value):
            for item in value:
                out[(*path, "v:" + json.dumps(item, separators=(",", ":")))] = item
            return
    out[path] = value


def lookup(obj: Any, path: FieldPath) -> tuple[bool, Any]:
    """(found, value) of ``path`` in ``obj``."""
    node = obj
    for step in path:
        if step == SELF:
            continue
        if step.startswith("f:"):
            if not isinstance(node, Mapping) or step[2:] not in node:
                return False, None
            node = node[step[2:]]
        elif step.startswith("k:"):
            ident = json.loads(step[2:])
            match = [i for i in node if isinstance(i, Mapping) and item_key(
                i, tuple(ident)) == step] if isinstance(node, list) else []
            if not match:
                return False, None
            node = match[0]
        else:  # v:
            value = json.loads(step[2:])
            return (isinstance(node, list) and value in node), value
    return True, node


def to_fieldsv1(paths: Iterable[FieldPath]) -> dict[str, Any]:
    tree: dict[str, Any] = {}
    for path in sorted(paths):
        node = tree
        for step in path:
            node = node.setdefault(step, {})
    return tree


def from_fieldsv1(tree: Mapping[str, Any], prefix: FieldPath = ()) -> set[FieldPath]:
    """The leaf paths of a FieldsV1 tree (an inner node that is also set counts as a leaf)."""
    out: set[FieldPath] = set()
    for step, sub in tree.items():
        path = (*prefix, str(step))
        if isinstance(sub, Mapping) and sub:
            out |= from_fieldsv1(sub, path)
        else:
            out.add(path)
    return out


def describe(path: FieldPath) -> str:
    """``.spec.template.spec.containers[name="app"].image``, as upstream's conflict messages."""
    text = ""
    for step in path:
        if step.startswith("f:"):
            text += "." + step[2:]
        elif step.startswith("k:"):
            ident = json.loads(step[2:])
            text += "[" + ",".join(f"{k}={json.dumps(v)}" for k, v in ident.items()) + "]"
        elif step.startswith("v:"):
            text += f"[={step[2:]}]"
    return text
