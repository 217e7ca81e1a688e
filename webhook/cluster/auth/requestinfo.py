"""What an HTTP request asks, for authorization (apiserver's ``RequestInfoFactory``), pure.

``/api/v1/namespaces/ns/pods/web/log`` is ``get`` on ``pods/log`` named ``web`` in ``ns``;
a GET without a name is ``list`` (``watch`` with ``?watch=true`` or under ``/watch/``), and
``fieldSelector=metadata.name=x`` names the object; a DELETE without a name is
``deletecollection``; a namespace object is in its own namespace. Any other path (discovery,
``/version``, ``/healthz``) is a non-resource request whose verb is the lower-cased method.
"""

from __future__ import annotations

from collections.abc import Mapping

from webhook.cluster.auth.rbac.rules import Request
from webhook.cluster.auth.user import UserInfo

_METHOD_VERBS = {"POST": "create", "GET": "get", "HEAD": "get", "PUT": "update",
                 "PATCH": "patch", "DELETE": "delete"}
_SPECIAL_VERBS = ("proxy", "watch")
_NAMESPACE_SUBRESOURCES = ("status", "finalize")
_TRUE = ("1", "t", "T", "TRUE", "true", "True")


def _name_from_field_selector(selector: str) -> str:
    for term in selector.split(","):
        for op in ("==", "="):
            key, sep, value = term.partition(op)
            if sep and key.strip() == "metadata.name" and not value.startswith("="):
                name = value.strip()
                if name not in (".", "..") and "/" not in name and "%" not in name:
                    return name
                return ""
    return ""


def request_attributes(user: UserInfo, method: str, path: str,
                       query: Mapping[str, str]) -> Request:
    non_resource = Request(user, method.lower(), resource_request=False, path=path)
    parts = [p for p in path.split("/") if p]
    if len(parts) < 3 or parts[0] not in ("api", "apis"):
        return non_resource
    group = ""
    rest = parts[1:]
    if parts[0] == "apis":
        if len(rest) < 3:
            return non_resource
        group, rest = rest[0], rest[1:]
    version, rest = rest[0], rest[1:]
    if rest[0] in _SPECIAL_VERBS:
        if len(rest) < 2:
            return non_resource
        verb, rest = rest[0], rest[1:]
    else:
        verb = _METHOD_VERBS.get(method.upper(), "")
    namespace = ""
    if rest[0] == "namespaces" and len(rest) > 1:
        namespace = rest[1]
        if len(rest) > 2 and rest[2] not in _NAMESPACE_SUBRESOURCES:
            rest = rest[2:]
    resource = rest[0]
    name = rest[1] if len(rest) >= 2 else ""
    subresource = rest[2] if len(rest) >= 3 and verb != "proxy" else ""
    if not name and verb == "get":
        verb = "watch" if query.get("watch", "") in _TRUE else "list"
        name = _name_from_field_selector(query.get("fieldSelector", ""))
    if not name and verb == "delete":
        verb = "deletecollection"
    return Request(user, verb, api_group=group, api_version=version, resource=resource,
                   subresource=subresource, namespace=namespace, name=name, path=path)
