"""Who makes a request: apiserver's ``user.Info`` (name, uid, groups, extra) as a value.

Authenticators produce one (the kubeconfig's token, a ServiceAccount JWT), impersonation
replaces it, the authorizer decides on it, admission webhooks receive it as ``userInfo``.
In-process components name themselves with a plain string; ``as_user`` turns that into the
user info an authenticator would have produced for the same name.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

AUTHENTICATED = "system:authenticated"
UNAUTHENTICATED = "system:unauthenticated"
ANONYMOUS = "system:anonymous"
MASTERS = "system:masters"  # the privileged group: allowed everything, before RBAC
SA_PREFIX = "system:serviceaccount:"
SA_GROUP = "system:serviceaccounts"
ADMIN_NAME = "system:admin"

# extra keys a bound ServiceAccount token carries (pkg/serviceaccount)
POD_NAME_KEY = "authentication.kubernetes.io/pod-name"
POD_UID_KEY = "authentication.kubernetes.io/pod-uid"
CREDENTIAL_ID_KEY = "authentication.kubernetes.io/credential-id"

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


@dataclass(frozen=True)
class UserInfo:
    name: str
    uid: str = ""
    groups: tuple[str, ...] = ()
    extra: tuple[tuple[str, tuple[str, ...]], ...] = field(default=())

    @classmethod
    def make(cls, name: str, uid: str = "", groups: Iterable[str] = (),
             extra: Mapping[str, Iterable[str]] | None = None) -> UserInfo:
        return cls(name, uid, tuple(groups),
                   tuple((k, tuple(v)) for k, v in sorted((extra or {}).items())))

    @property
    def privileged(self) -> bool:
        return MASTERS in self.groups

    def extra_dict(self) -> dict[str, list[str]]:
        return {k: list(v) for k, v in self.extra}

    def to_json(self) -> dict[str, Any]:
        """authentication.k8s.io/v1 UserInfo (what AdmissionReview and TokenReview carry)."""
        out: dict[str, Any] = {"username": self.name}
        if self.uid:
            out["uid"] = self.uid
        if self.groups:
            out["groups"] = list(self.groups)
        if self.extra:
            out["extra"] = self.extra_dict()
        return out


def sa_username(namespace: str, name: str) -> str:
    return f"{SA_PREFIX}{namespace}:{name}"


def sa_groups(namespace: str) -> tuple[str, str]:
    return (SA_GROUP, f"{SA_GROUP}:{namespace}")


def split_sa_username(username: str) -> tuple[str, str] | None:
    """(namespace, name) of ``system:serviceaccount:<ns>:<name>``, None for any other user."""
    if not username.startswith(SA_PREFIX):
        return None
    parts = username[len(SA_PREFIX):].split(":")
    if len(parts) != 2:
        return None
    ns, name = parts
    if not (len(ns) <= 63 and _DNS_LABEL.match(ns)):
        return None
    if not (len(name) <= 253 and _DNS_SUBDOMAIN.match(name)):
        return None
    return ns, name


def with_authenticated(groups: Iterable[str]) -> tuple[str, ...]:
    """The authenticator's group adder: ``system:authenticated`` unless already there."""
    out = tuple(groups)
    return out if AUTHENTICATED in out else (*out, AUTHENTICATED)


ADMIN_USER = UserInfo(ADMIN_NAME, groups=(MASTERS, AUTHENTICATED))


def as_user(user: str | UserInfo) -> UserInfo:
    """The user info of an in-process caller that names itself with a string."""
    if isinstance(user, UserInfo):
        return user
    return _named(user)


@lru_cache(maxsize=256)
def _named(user: str) -> UserInfo:
    if user == ADMIN_NAME:
        return ADMIN_USER
    sa = split_sa_username(user)
    if sa is not None:
        return UserInfo(user, groups=with_authenticated(sa_groups(sa[0])))
    return UserInfo(user, groups=(AUTHENTICATED,))
