"""User impersonation (apiserver's ``WithImpersonation`` filter).

``Impersonate-User`` (a ``system:serviceaccount:<ns>:<name>`` is impersonated as that
ServiceAccount), ``Impersonate-Group`` (repeatable), ``Impersonate-Uid`` and
``Impersonate-Extra-<key>`` (repeatable; the key lower-cased and percent-decoded) each need
the ``impersonate`` verb on ``users``, ``serviceaccounts``, ``groups`` (core group),
``uids`` or ``userextras/<key>`` (``authentication.k8s.io``), named by the value. The result
replaces the requester; ``system:authenticated`` is added unless ``system:authenticated`` or
``system:unauthenticated`` is among the groups.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from urllib.parse import unquote

from webhook.cluster.auth.errors import denied
from webhook.cluster.auth.rbac.policy import Decision
from webhook.cluster.auth.rbac.rules import Request
from webhook.cluster.auth.user import (
    ANONYMOUS,
    AUTHENTICATED,
    UNAUTHENTICATED,
    UserInfo,
    sa_groups,
    split_sa_username,
)

USER_HEADER = "impersonate-user"
GROUP_HEADER = "impersonate-group"
UID_HEADER = "impersonate-uid"
EXTRA_PREFIX = "impersonate-extra-"
AUTHN_GROUP = "authentication.k8s.io"


class ImpersonationError(Exception):
    """Groups, uid or extras asked for without a user (upstream answers 500 for this)."""


@dataclass(frozen=True)
class Ask:
    """One thing to impersonate, and the authorization it needs."""

    kind: str  # User | ServiceAccount | Group | UID | UserExtra
    name: str
    namespace: str = ""
    key: str = ""  # the extra's key

    def request(self, requestor: UserInfo) -> Request:
        resource, group, sub = {
            "User": ("users", "", ""), "ServiceAccount": ("serviceaccounts", "", ""),
            "Group": ("groups", "", ""), "UID": ("uids", AUTHN_GROUP, ""),
            "UserExtra": ("userextras", AUTHN_GROUP, self.key),
        }[self.kind]
        return Request(requestor, "impersonate", api_group=group, resource=resource,
                       subresource=sub, namespace=self.namespace, name=self.name)

    def __str__(self) -> str:
        return f"{{{self.kind} {self.namespace} {self.name}}}"


def parse_headers(headers: Iterable[tuple[str, str]]) -> list[Ask]:
    """What the request asks to impersonate, in upstream's order (user, groups, extras,
    uid); empty when it asks nothing."""
    user, uid = "", ""
    groups: list[str] = []
    extras: list[Ask] = []
    for raw_name, value in headers:
        name = raw_name.lower()
        if name == USER_HEADER and not user:
            user = value
        elif name == GROUP_HEADER:
            groups.append(value)
        elif name == UID_HEADER and not uid:
            uid = value
        elif name.startswith(EXTRA_PREFIX):
            key = unquote(name[len(EXTRA_PREFIX):])
            extras.append(Ask("UserExtra", value, key=key))
    asks: list[Ask] = []
    if user:
        sa = split_sa_username(user)
        asks.append(Ask("ServiceAccount", sa[1], sa[0]) if sa else Ask("User", user))
    asks += [Ask("Group", g) for g in groups]
    asks += extras
    if uid:
        asks.append(Ask("UID", uid))
    if asks and not user:
        raise ImpersonationError(f"requested [{' '.join(map(str, asks))}] without "
                                 "impersonating a user")
    return asks


def impersonate(requestor: UserInfo, asks: list[Ask],
                authorize: Callable[[Request], Decision]) -> UserInfo:
    """The impersonated user; the first ask that is not allowed is a 403."""
    username, uid = "", ""
    groups: list[str] = []
    extra: dict[str, list[str]] = {}
    groups_given = any(a.kind == "Group" for a in asks)
    for ask in asks:
        request = ask.request(requestor)
        decision = authorize(request)
        if not decision.allowed:
            raise denied(request, decision.reason)
        if ask.kind == "ServiceAccount":
            username = f"system:serviceaccount:{ask.namespace}:{ask.name}"
            if not groups_given:
                groups = list(sa_groups(ask.namespace))
        elif ask.kind == "User":
            username = ask.name
        elif ask.kind == "Group":
            groups.append(ask.name)
        elif ask.kind == "UserExtra":
            extra.setdefault(ask.key, []).append(ask.name)
        else:
            uid = ask.name
    if username != ANONYMOUS:
        if AUTHENTICATED not in groups and UNAUTHENTICATED not in groups:
            groups.append(AUTHENTICATED)
    elif UNAUTHENTICATED not in groups:
        groups.append(UNAUTHENTICATED)
    return UserInfo.make(username, uid, groups, extra)
