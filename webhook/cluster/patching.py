"""PATCH bodies: JSON patch (RFC 6902), JSON merge patch (RFC 7386) and strategic merge patch.

Pure functions on JSON values. Strategic merge follows apimachinery's strategicpatch for the
built-in types: lists with a patch merge key are merged by that key (``$patch: delete`` removes
an element, ``{"$patch": "replace"}`` replaces the list), ``$setElementOrder/<list>`` orders
the result, ``$retainKeys`` clears unlisted keys, ``$deleteFromPrimitiveList/<list>`` removes
values from a merged primitive list (finalizers); other lists are replaced. The merge keys are
those of the upstream Go types (``patch_meta``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import jsonpatch

from webhook.cluster import status as st
from webhook.cluster.meta import clone
from webhook.cluster.resources import ResourceType
from webhook.errors import APIStatusError

PATCH_TYPES = {
    "json": "json",
    "application/json-patch+json": "json",
    "merge": "merge",
    "application/merge-patch+json": "merge",
    "strategic": "strategic",
    "application/strategic-merge-patch+json": "strategic",
    "apply": "apply",
    "application/apply-patch+yaml": "apply",
}
MAX_JSON_PATCH_OPS = 10_000

_NAME_KEYED = {"containers", "initContainers", "ephemeralContainers", "volumes",
               "imagePullSecrets", "env", "resourceClaims"}
_CONTAINER_LISTS = ("containers", "initContainers", "ephemeralContainers")
# admissionregistration/v1: webhooks merge by name (patchMergeKey=name, patchStrategy=merge)
_WEBHOOK_CONFIGURATIONS = ("MutatingWebhookConfiguration", "ValidatingWebhookConfiguration")


def patch_meta(path: tuple[str, ...], kind: str) -> tuple[str, str | None]:
    """How the list at ``path`` merges.

    ("merge", key) merge by key; ("merge", None) a set of primitives; ("replace", None).
    """
    name = path[-1]
    parent = path[:-1]
    if name == "ownerReferences" and parent == ("metadata",):
        return "merge", "uid"
    if name == "webhooks" and not parent and kind in _WEBHOOK_CONFIGURATIONS:
        return "merge", "name"
    if name == "finalizers" and parent == ("metadata",):
        return "merge", None
    if name in _NAME_KEYED:
        return "merge", "name"
    if name == "volumeMounts":
        return "merge", "mountPath"
    if name == "volumeDevices":
        return "merge", "devicePath"
    if name == "hostAliases":
        return "merge", "ip"
    if name == "topologySpreadConstraints":
        return "merge", "topologyKey"
    if name == "ports":
        if parent and parent[-1] in _CONTAINER_LISTS:
            return "merge", "containerPort"
        if kind == "Service" and parent == ("spec",):
            return "merge", "port"
    if name == "conditions" and parent and parent[0] == "status":
        return "merge", "type"
    return "replace", None


def normalise_patch_type(patch_type: str) -> str:
    kind = PATCH_TYPES.get(patch_type.split(";", maxsplit=1)[0].strip().lower())
    if kind is None:
        raise st.unsupported_media_type(patch_type)
    return kind


def apply_patch(
    doc: dict[str, Any], patch: Any, patch_type: str, rt: ResourceType | None
) -> dict[str, Any]:
    """The patched copy of ``doc``; raises APIStatusError 400/415/422 as kube-apiserver does."""
    kind = normalise_patch_type(patch_type)
    if kind == "apply":
        raise st.err(415, "UnsupportedMediaType",
                     "an apply configuration is not a patch of a document: server-side apply "
                     "is ClusterAPI.apply (webhook.cluster.apply)")
    if kind == "strategic" and rt is not None and rt.custom:
        raise st.err(415, "UnsupportedMediaType",
                     "the body of the request was in an unknown format - accepted media types "
                     "include: application/json-patch+json, application/merge-patch+json, "
                     "application/apply-patch+yaml")
    if kind == "json":
        return json_patch(doc, patch)
    if not isinstance(patch, dict):
        raise st.bad_request(f"error decoding patch: a {kind} merge patch must be a JSON object")
    if kind == "merge":
        out = merge_patch(doc, patch)
    else:
        try:
            out = strategic_merge(doc, patch, (), rt.kind if rt else "Scale")
        except PatchFormatError as exc:
            raise st.bad_request(str(exc)) from exc
    if not isinstance(out, dict):
        raise st.bad_request("the patch turned the object into a non-object")
    return out


def _rejected(message: str) -> APIStatusError:
    return st.err(422, "Invalid", "the server rejected our request due to an error in our request",
                  {"causes": [{"reason": "UnexpectedServerResponse", "message": message}]})


def json_patch(doc: dict[str, Any], ops: Any) -> dict[str, Any]:
    if not isinstance(ops, list):
        raise st.bad_request("json: cannot unmarshal object into Go value of type jsonpatch.Patch")
    if len(ops) > MAX_JSON_PATCH_OPS:
        raise st.err(413, "RequestEntityTooLarge",
                     f"The allowed maximum operations in a JSON patch is {MAX_JSON_PATCH_OPS}, "
                     f"got {len(ops)}")
    for i, op in enumerate(ops):
        if not isinstance(op, dict) or "op" not in op or "path" not in op:
            raise st.bad_request(f"JSON patch operation {i} must be an object with op and path")
    try:
        out = jsonpatch.JsonPatch(ops).apply(clone(doc))
    except (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException) as exc:
        raise _rejected(str(exc)) from exc
    except (TypeError, KeyError, IndexError, ValueError) as exc:
        raise _rejected(f"invalid JSON patch: {exc}") from exc
    if not isinstance(out, dict):
        raise _rejected("the patch turned the object into a non-object")
    return out


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386: objects merge recursively, null deletes, anything else replaces."""
    if not isinstance(patch, dict):
        return clone(patch)
    out = dict(target) if isinstance(target, dict) else {}
    for k, v in patch.items():
        if v is None:
            out.pop(k, None)
        else:
            out[k] = merge_patch(out.get(k), v)
    return out


class PatchFormatError(ValueError):
    """A strategic merge patch whose directives are malformed (upstream: 400)."""


def strategic_merge(original: Any, patch: Any, path: tuple[str, ...], kind: str) -> Any:
    if not isinstance(patch, dict):
        return clone(patch)
    if not isinstance(original, dict):
        original = {}
    directive = patch.get("$patch")
    if directive == "delete":
        return None
    body = {k: v for k, v in patch.items() if k != "$patch"}
    if directive == "replace":
        return {k: clone(v) for k, v in body.items() if not k.startswith("$")}
    if directive not in (None, "merge"):
        raise PatchFormatError(f"Unknown patch type: {directive}")
    out = dict(original)
    retain = body.pop("$retainKeys", None)
    if retain is not None:
        if not isinstance(retain, list):
            raise PatchFormatError("$retainKeys must be a list of field names")
        for k in list(out):
            if k not in retain:
                del out[k]
    orders: dict[str, list[Any]] = {}
    for k in list(body):
        if k.startswith("$setElementOrder/"):
            orders[k.split("/", 1)[1]] = body.pop(k)
        elif k.startswith("$deleteFromPrimitiveList/"):
            field = k.split("/", 1)[1]
            drop = body.pop(k)
            if not isinstance(drop, list):
                raise PatchFormatError(f"{k} must be a list")
            current = out.get(field)
            if isinstance(current, list):
                out[field] = [v for v in current if v not in drop]
    for k, v in body.items():
        if v is None:
            out.pop(k, None)
            continue
        sub = (*path, k)
        if isinstance(v, list):
            out[k] = _merge_list(out.get(k), v, sub, kind)
        elif isinstance(v, dict):
            merged = strategic_merge(out.get(k), v, sub, kind)
            if merged is None:
                out.pop(k, None)
            else:
                out[k] = merged
        else:
            out[k] = v
    for field, order in orders.items():
        if isinstance(out.get(field), list):
            out[field] = _reorder(out[field], order, patch_meta((*path, field), kind)[1])
    return out


def _merge_list(original: Any, patch: list[Any], path: tuple[str, ...], kind: str) -> list[Any]:
    strategy, key = patch_meta(path, kind)
    if any(isinstance(e, dict) and e.get("$patch") == "replace" and len(e) == 1 for e in patch):
        return [clone(e) for e in patch if not (isinstance(e, dict) and e.get("$patch"))]
    if strategy == "replace" or not isinstance(original, list):
        return [_strip(e) for e in patch
                if not (isinstance(e, dict) and e.get("$patch") == "delete")]
    if key is None:  # merged list of primitives: union, original order first
        out = list(original)
        for v in patch:
            if v not in out:
                out.append(v)
        return out
    out = [clone(e) for e in original]
    for elem in patch:
        if not isinstance(elem, dict):
            raise PatchFormatError(f"list {'.'.join(path)} must contain objects keyed by {key}")
        if key not in elem:
            raise PatchFormatError(f"map: {elem} does not contain declared merge key: {key}")
        idx = next((i for i, o in enumerate(out)
                    if isinstance(o, dict) and o.get(key) == elem[key]), None)
        if elem.get("$patch") == "delete":
            out = [o for o in out if not (isinstance(o, dict) and o.get(key) == elem[key])]
        elif idx is None:
            out.append(_strip(elem))
        else:
            out[idx] = strategic_merge(out[idx], elem, path, kind)
    return out


def _strip(elem: Any) -> Any:
    """A new list element: directives removed, nested values copied."""
    if isinstance(elem, dict):
        return {k: _strip(v) for k, v in elem.items() if not k.startswith("$")}
    if isinstance(elem, list):
        return [_strip(v) for v in elem]
    return elem


def _reorder(items: list[Any], order: list[Any], key: str | None) -> list[Any]:
    def ident(e: Any) -> Any:
        found = e.get(key) if key and isinstance(e, Mapping) else e
        return found if isinstance(found, str | int) else None  # (only these can be ordered)

    wanted = [o.get(key) if key and isinstance(o, Mapping) else o for o in order]
    pos = {v: i for i, v in enumerate(wanted) if isinstance(v, str | int)}
    listed = sorted((e for e in items if ident(e) in pos), key=lambda e: pos[ident(e)])
    rest = [e for e in items if ident(e) not in pos]
    return listed + rest
