"""metav1 ``Status`` bodies with the codes, reasons and messages kube-apiserver uses.

Every error of the embedded API is an ``APIStatusError`` built here, so the HTTP layer can
serialise ``err.body`` as is (apimachinery pkg/api/errors/errors.go).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from webhook.cluster.resources import ResourceType
from webhook.errors import APIStatusError


@dataclass(frozen=True)
class Cause:
    """One field problem of a 422: ``field`` is the path, ``reason`` e.g. FieldValueInvalid."""

    field: str
    reason: str
    message: str

    def text(self) -> str:
        return f"{self.field}: {self.message}" if self.field else self.message


# metav1.CauseType values and the prefix field.ErrorList puts before the detail.
REQUIRED = "FieldValueRequired"
INVALID = "FieldValueInvalid"
NOT_SUPPORTED = "FieldValueNotSupported"
FORBIDDEN = "FieldValueForbidden"
DUPLICATE = "FieldValueDuplicate"
TOO_LONG = "FieldValueTooLong"
TYPE_INVALID = "FieldValueTypeInvalid"


def status_body(
    code: int, reason: str, message: str, details: dict[str, Any] | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
    }
    if details:
        body["details"] = details
    body["code"] = code  # metav1.Status's field order: details before code
    return body


def success(rt: ResourceType, name: str, uid: str) -> dict[str, Any]:
    """The body of a DELETE that removed the object at once."""
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Success",
        "details": {"name": name, "group": rt.group, "kind": rt.plural, "uid": uid},
    }


def _details(rt: ResourceType | None, name: str, kind: str | None = None) -> dict[str, Any]:
    d: dict[str, Any] = {}
    if name:
        d["name"] = name
    if rt is not None:
        d["group"] = rt.group
        d["kind"] = kind or rt.plural
    return d


def err(
    code: int, reason: str, message: str, details: dict[str, Any] | None = None
) -> APIStatusError:
    return APIStatusError(status_body(code, reason, message, details))


def not_found(rt: ResourceType, name: str) -> APIStatusError:
    return err(404, "NotFound", f'{rt.qualified()} "{name}" not found', _details(rt, name))


def namespace_not_found(ns: str) -> APIStatusError:
    return err(404, "NotFound", f'namespaces "{ns}" not found', {"name": ns, "kind": "namespaces"})


def already_exists(rt: ResourceType, name: str) -> APIStatusError:
    return err(
        409, "AlreadyExists", f'{rt.qualified()} "{name}" already exists', _details(rt, name)
    )


def conflict(rt: ResourceType, name: str, why: str | None = None) -> APIStatusError:
    why = why or (
        "the object has been modified; please apply your changes to the latest version "
        "and try again"
    )
    return err(
        409,
        "Conflict",
        f'Operation cannot be fulfilled on {rt.qualified()} "{name}": {why}',
        _details(rt, name),
    )


def invalid(rt: ResourceType, name: str, causes: list[Cause]) -> APIStatusError:
    """422 Invalid: ``Deployment.apps "web" is invalid: <field>: <detail>`` (one or a list)."""
    texts = [c.text() for c in causes]
    joined = texts[0] if len(texts) == 1 else "[" + ", ".join(texts) + "]"
    details = _details(rt, name, kind=rt.kind)
    details["causes"] = [
        {"reason": c.reason, "message": c.message, "field": c.field} for c in causes
    ]
    return err(422, "Invalid", f'{rt.qualified_kind()} "{name}" is invalid: {joined}', details)


def bad_request(message: str) -> APIStatusError:
    return err(400, "BadRequest", message)


def forbidden(rt: ResourceType | None, name: str, why: str) -> APIStatusError:
    what = f'{rt.qualified()} "{name}"' if rt is not None else ""
    msg = f"{what} is forbidden: {why}" if what else why
    return err(403, "Forbidden", msg, _details(rt, name))


def method_not_allowed(verb: str, what: str) -> APIStatusError:
    return err(
        405,
        "MethodNotAllowed",
        f"{verb} is not supported on resources of kind {what}"
        if what
        else "the server does not allow this method on the requested resource",
        {},
    )


def unsupported_media_type(content_type: str) -> APIStatusError:
    return err(
        415,
        "UnsupportedMediaType",
        f'the body of the request was in an unknown format - accepted media types include: '
        f'application/json-patch+json, application/merge-patch+json, '
        f'application/apply-patch+yaml, application/strategic-merge-patch+json'
        f' (got "{content_type}")',
    )


def gone(message: str) -> APIStatusError:
    return err(410, "Expired", message)


def internal(message: str) -> APIStatusError:
    return err(
        500,
        "InternalError",
        f"Internal error occurred: {message}",
        {"causes": [{"message": message}]},
    )


def timeout(message: str, retry_after: int = 1) -> APIStatusError:
    return err(504, "Timeout", f"Timeout: {message}", {"retryAfterSeconds": retry_after})


def unauthorized() -> dict[str, Any]:
    return status_body(401, "Unauthorized", "Unauthorized")
