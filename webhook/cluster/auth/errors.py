"""403 bodies as kube-apiserver writes them (apierrors.NewForbidden, responsewriters.Forbidden)."""

from __future__ import annotations

from typing import Any

from webhook.cluster.auth.goquote import go_quote
from webhook.cluster.auth.rbac.rules import Request
from webhook.errors import APIStatusError


def forbidden(group: str, resource: str, name: str, why: str) -> APIStatusError:
    """apierrors.NewForbidden(GroupResource{group, resource}, name, errors.New(why))."""
    qualified = f"{resource}.{group}" if group else resource
    if not resource and not group:
        message = f"forbidden: {why}"
    elif not name:
        message = f"{qualified} is forbidden: {why}"
    else:
        message = f"{qualified} {go_quote(name)} is forbidden: {why}"
    details: dict[str, Any] = {}
    if name:
        details["name"] = name
    if group:
        details["group"] = group
    if resource:
        details["kind"] = resource
    return APIStatusError({"kind": "Status", "apiVersion": "v1", "metadata": {},
                           "status": "Failure", "message": message, "reason": "Forbidden",
                           "details": details, "code": 403})


def denied_message(request: Request) -> str:
    """responsewriters.forbiddenMessage: what the user cannot do, where."""
    who = go_quote(request.user.name)
    if not request.resource_request:
        return f"User {who} cannot {request.verb} path {go_quote(request.path)}"
    what = (f"User {who} cannot {request.verb} resource {go_quote(request.combined_resource)} "
            f"in API group {go_quote(request.api_group)}")
    if request.namespace:
        return f"{what} in the namespace {go_quote(request.namespace)}"
    return f"{what} at the cluster scope"


def denied(request: Request, reason: str = "") -> APIStatusError:
    """The 403 a request the authorizer did not allow gets."""
    why = denied_message(request)
    if reason:
        why = f"{why}: {reason}"
    if not request.resource_request:
        return forbidden("", "", "", why)
    return forbidden(request.api_group, request.resource, request.name, why)
