"""AdmissionReview v1: the request body parsed into a frozen dataclass, and the response encoded.

Parsing is strict about the envelope the API server always sends (``apiVersion``, ``kind``,
``request.uid``, ``request.operation``, object shapes) and lenient about the omitempty fields
(``subResource``, ``name``, ``namespace``, ``dryRun``), as the API server's own decoder is.
Anything unusable raises ``BadReview`` naming the field path, what was found and what is allowed;
the HTTP server turns that into a 400 and ``canarist mutate`` into exit code 2.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from typing import Any

from webhook.admission import jsoncodec
from webhook.errors import BadReview, Problem
from webhook.spec.problems import json_type, show

API_VERSION = "admission.k8s.io/v1"
KIND = "AdmissionReview"
OPERATIONS = ("CREATE", "UPDATE", "DELETE", "CONNECT")

JSONObject = dict[str, Any]


@dataclass(frozen=True)
class GroupVersionKind:
    group: str
    version: str
    kind: str


@dataclass(frozen=True)
class GroupVersionResource:
    group: str
    version: str
    resource: str


@dataclass(frozen=True)
class ReviewRequest:
    """The parts of ``AdmissionReview.request`` canarist reads."""

    uid: str
    kind: GroupVersionKind
    resource: GroupVersionResource
    operation: str
    sub_resource: str = ""
    name: str = ""
    namespace: str = ""
    object: JSONObject | None = field(default=None, compare=False)
    old_object: JSONObject | None = field(default=None, compare=False)
    dry_run: bool = False
    user: str = ""  # userInfo.username: who makes the request
    groups: tuple[str, ...] = ()  # userInfo.groups


@dataclass(frozen=True)
class Status:
    """The metav1.Status subset of a denial."""

    code: int
    reason: str
    message: str


@dataclass(frozen=True)
class ReviewResponse:
    uid: str
    allowed: bool = True
    patch: tuple[JSONObject, ...] = ()
    warnings: tuple[str, ...] = ()
    status: Status | None = None

    def to_dict(self) -> JSONObject:
        return {"apiVersion": API_VERSION, "kind": KIND, "response": self._response()}

    def to_json(self) -> bytes:
        """The compact UTF-8 JSON of ``to_dict()``; the constant envelope is written once."""
        return _ENVELOPE + jsoncodec.dumps(self._response()) + b"}"

    def _response(self) -> JSONObject:
        response: JSONObject = {"uid": self.uid, "allowed": self.allowed}
        if self.patch:
            raw = jsoncodec.dumps(list(self.patch))
            response["patchType"] = "JSONPatch"
            response["patch"] = base64.b64encode(raw).decode("ascii")
        if self.warnings:
            response["warnings"] = list(self.warnings)
        if self.status is not None:
            response["status"] = {
                "code": self.status.code,
                "reason": self.status.reason,
                "message": self.status.message,
            }
        return response


_ENVELOPE = f'{{"apiVersion":"{API_VERSION}","kind":"{KIND}","response":'.encode()


def decode_patch(response: JSONObject) -> list[JSONObject]:
    """The JSON Patch ops of an encoded AdmissionReview response (``[]`` when there is none)."""
    encoded = (response.get("response") or {}).get("patch")
    if not encoded:
        return []
    ops: list[JSONObject] = json.loads(base64.b64decode(encoded))
    return ops


# --- parsing -----------------------------------------------------------------------------------


def bad_review(path: str, message: str) -> BadReview:
    return BadReview([Problem(path, message)], subject="bad AdmissionReview")


def load_body(body: bytes | str) -> JSONObject:
    """The JSON object of a request body, or ``BadReview`` saying why it is not one."""
    try:
        raw = jsoncodec.loads(body)
    except UnicodeDecodeError as exc:
        raise bad_review("", f"body is not UTF-8 JSON: {exc.reason} at byte {exc.start}") from None
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno}, column {exc.colno}"
        raise bad_review("", f"body is not JSON: {exc.msg} at {where}") from None
    except jsoncodec.NotJSON as exc:
        raise bad_review("", f"body is not JSON: {exc.message}") from None
    except RecursionError:
        raise bad_review("", "body is not JSON: nested too deeply to decode") from None
    except ValueError as exc:
        raise bad_review("", f"body is not JSON: {type(exc).__name__}") from None
    if not isinstance(raw, dict):
        raise bad_review(
            "", f"body must be a JSON object (an AdmissionReview), got {json_type(raw)}"
        )
    return raw


def parse_review(body: bytes | str | JSONObject) -> ReviewRequest:
    """Parse an AdmissionReview v1 request (raw bytes, text, or an already-decoded object)."""
    raw = body if isinstance(body, dict) else load_body(body)
    _expect(raw, "apiVersion", API_VERSION)
    _expect(raw, "kind", KIND)
    request = raw.get("request")
    if not isinstance(request, dict):
        found = "missing" if request is None else f"got {json_type(request)}"
        raise bad_review("request", f"must be an object, {found}")
    uid = request.get("uid")
    if not isinstance(uid, str) or not uid:
        found = "missing" if uid is None else f"got {json_type(uid)} {show(uid)}"
        raise bad_review("request.uid", f"must be a non-empty string, {found}")
    operation = request.get("operation")
    if operation not in OPERATIONS:
        raise bad_review(
            "request.operation",
            f"must be one of {', '.join(OPERATIONS)}, got {_show(operation)}",
        )
    obj = _object(request, "object")
    old = _object(request, "oldObject")
    if operation in ("CREATE", "UPDATE") and obj is None:
        raise bad_review("request.object", f"is required for {operation}")
    if operation == "UPDATE" and old is None:
        raise bad_review("request.oldObject", "is required for UPDATE")
    return ReviewRequest(
        uid=uid,
        kind=GroupVersionKind(*_triple(request, "kind", ("group", "version", "kind"))),
        resource=GroupVersionResource(
            *_triple(request, "resource", ("group", "version", "resource"))
        ),
        operation=operation,
        sub_resource=_string(request, "subResource"),
        name=_string(request, "name"),
        namespace=_string(request, "namespace"),
        object=obj,
        old_object=old,
        dry_run=_flag(request, "dryRun"),
        user=_username(request),
        groups=_groups(request),
    )


def _show(value: Any) -> str:
    return show(value) if isinstance(value, str | int | float | bool | None) else json_type(value)


def too_deep(value: Any, path: str, limit: int) -> str | None:
    """The path of a node of ``value`` nested more than ``limit`` levels, if there is one
    (found without recursion, for a value too deep to be walked recursively)."""
    stack: list[tuple[Any, str, int]] = [(value, path, 0)]
    while stack:
        node, where, depth = stack.pop()
        if depth > limit:
            return where if len(where) <= 200 else where[:197] + "..."
        if isinstance(node, dict):
            stack.extend((v, f"{where}.{str(k)[:64]}", depth + 1) for k, v in node.items())
        elif isinstance(node, list):
            stack.extend((v, f"{where}[{i}]", depth + 1) for i, v in enumerate(node))
    return None


def _expect(raw: JSONObject, key: str, want: str) -> None:
    got = raw.get(key)
    if got != want:
        found = "missing" if got is None else f"got {_show(got)}"
        raise bad_review(key, f"must be {json.dumps(want)}, {found}")


def _object(request: JSONObject, key: str) -> JSONObject | None:
    value = request.get(key)
    if value is None or isinstance(value, dict):
        return value
    raise bad_review(f"request.{key}", f"must be an object or null, got {json_type(value)}")


def _string(raw: JSONObject, key: str, path: str = "request") -> str:
    value = raw.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise bad_review(f"{path}.{key}", f"must be a string, got {json_type(value)}")
    return value


def _username(request: JSONObject) -> str:
    info = request.get("userInfo")
    if info is None:
        return ""
    if not isinstance(info, dict):
        raise bad_review("request.userInfo", f"must be an object, got {json_type(info)}")
    return _string(info, "username", "request.userInfo")


def _groups(request: JSONObject) -> tuple[str, ...]:
    info = request.get("userInfo")
    raw = info.get("groups") if isinstance(info, dict) else None
    if raw is None:
        return ()
    if not isinstance(raw, list) or not all(isinstance(g, str) for g in raw):
        raise bad_review("request.userInfo.groups", f"must be a list of strings, got "
                         f"{json_type(raw)}")
    return tuple(raw)


def _flag(request: JSONObject, key: str) -> bool:
    value = request.get(key)
    if value is None or isinstance(value, bool):
        return bool(value)
    raise bad_review(f"request.{key}", f"must be true or false, got {json_type(value)}")


def _triple(request: JSONObject, key: str, fields: tuple[str, str, str]) -> tuple[str, str, str]:
    value = request.get(key)
    if not isinstance(value, dict):
        found = "missing" if value is None else f"got {json_type(value)}"
        raise bad_review(f"request.{key}", f"must be an object with {', '.join(fields)}, {found}")
    path = f"request.{key}"
    a, b, c = (_string(value, f, path) for f in fields)
    return a, b, c
