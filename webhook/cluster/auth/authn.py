"""Bearer-token authentication: the kubeconfig's static token, and ServiceAccount JWTs.

A JWT authenticates when its signature is the cluster's, it is within its lifetime (one
minute of leeway, as go-jose), one of its audiences is one the caller accepts (the API
server's own unless a TokenReview names others), and what it names still exists with the
same uid: the ServiceAccount and, for a bound token, the pod or secret (deleted more than
the leeway ago counts as gone). Messages are upstream's.
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from webhook.cluster.auth.goquote import go_quote_list
from webhook.cluster.auth.tokens import (
    API_AUDIENCES,
    ISSUER,
    LEEWAY,
    Claims,
    Signer,
    TokenError,
    check_times,
)
from webhook.cluster.auth.user import (
    CREDENTIAL_ID_KEY,
    POD_NAME_KEY,
    POD_UID_KEY,
    UserInfo,
    sa_groups,
    sa_username,
    with_authenticated,
)
from webhook.cluster.meta import metadata, parse_time
from webhook.cluster.store import Store


@dataclass(frozen=True)
class Authenticated:
    user: UserInfo
    audiences: tuple[str, ...]


def _deleted_before(obj: dict[str, Any], cutoff: float) -> bool:
    ts = metadata(obj).get("deletionTimestamp")
    return bool(ts) and parse_time(str(ts)).timestamp() < cutoff


class Authenticator:
    def __init__(self, store: Store, signer: Callable[[], Signer],
                 clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.signer = signer
        self.clock = clock
        self._static: list[tuple[bytes, UserInfo]] = []

    def add_static_token(self, token: str, user: UserInfo) -> None:
        self._static.append((token.encode(), user))

    def static_user(self, token: str) -> UserInfo | None:
        raw = token.encode()
        for known, user in self._static:
            if hmac.compare_digest(raw, known):
                return user
        return None

    def authenticate(self, token: str,
                     audiences: Iterable[str] = API_AUDIENCES) -> Authenticated:
        """Who the token is; ``TokenError`` says why it is not accepted."""
        wanted = tuple(audiences) or API_AUDIENCES
        user = self.static_user(token)
        if user is not None:
            return Authenticated(user, wanted)
        if token.count(".") != 2:
            raise TokenError("invalid bearer token")
        claims = self.signer().verify(token)
        if claims.issuer != ISSUER:
            raise TokenError("invalid bearer token")
        now = self.clock()
        check_times(claims, now)
        matched = tuple(a for a in wanted if a in claims.audiences)
        if not matched:
            raise TokenError(f"token audiences {go_quote_list(claims.audiences)} is invalid "
                             f"for the target audiences {go_quote_list(wanted)}")
        return Authenticated(self._service_account_user(claims, now), matched)

    def _service_account_user(self, claims: Claims, now: float) -> UserInfo:
        ns, sa = claims.namespace, claims.service_account
        cutoff = now - LEEWAY
        account = self.store.get("serviceaccounts", ns, sa.name)
        if account is None:
            raise TokenError(f'serviceaccount "{sa.name}" not found')
        if _deleted_before(account, cutoff):
            raise TokenError(f"ServiceAccount {ns}/{sa.name} has been deleted")
        uid = str(metadata(account).get("uid") or "")
        if uid != sa.uid:
            raise TokenError(f"ServiceAccount UID ({uid}) does not match claim ({sa.uid})")
        for ref, resource, kind in ((claims.secret, "secrets", "Secret"),
                                    (claims.pod, "pods", "Pod")):
            if ref is None:
                continue
            bound = self.store.get(resource, ns, ref.name)
            if bound is None or _deleted_before(bound, cutoff):
                raise TokenError("Token has been invalidated")
            bound_uid = str(metadata(bound).get("uid") or "")
            if bound_uid != ref.uid:
                raise TokenError(f"{kind} UID ({bound_uid}) does not match claim ({ref.uid})")
        extra: dict[str, list[str]] = {}
        if claims.pod is not None:
            extra[POD_NAME_KEY] = [claims.pod.name]
            extra[POD_UID_KEY] = [claims.pod.uid]
        if claims.jti:
            extra[CREDENTIAL_ID_KEY] = [f"JTI={claims.jti}"]
        return UserInfo.make(sa_username(ns, sa.name), sa.uid,
                             with_authenticated(sa_groups(ns)), extra)
