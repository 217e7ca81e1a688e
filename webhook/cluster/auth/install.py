"""Wiring authentication and authorization into a ``ClusterAPI`` (``APICore`` calls
``install_auth`` once): the bootstrap RBAC policy, the RBAC write check, the ServiceAccount
admission plugin, the accounts hook, the review resources and ``serviceaccounts/token``.

``AuthServices`` is what the HTTP server asks (``check``: authenticate, impersonate,
authorize) and what ``Cluster`` configures (the admin token, the root CA). In-process callers
of ``ClusterAPI`` never go through it: they act as the admin.

``observers`` see every authorization decision ``check`` makes for a user that is not
privileged (the request's attributes and the decision): an audit log of who was allowed what,
by which binding, and who was denied — tests use it to show a role holds exactly what a
component uses.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from webhook.cluster.auth.accounts import AccountsHook
from webhook.cluster.auth.authn import Authenticator
from webhook.cluster.auth.authorizer import Authorizer
from webhook.cluster.auth.errors import denied
from webhook.cluster.auth.impersonation import impersonate, parse_headers
from webhook.cluster.auth.rbac import bootstrap
from webhook.cluster.auth.rbac.escalation import EscalationCheck
from webhook.cluster.auth.rbac.policy import Decision
from webhook.cluster.auth.rbac.rules import Request
from webhook.cluster.auth.requestinfo import request_attributes
from webhook.cluster.auth.reviews import Reviews
from webhook.cluster.auth.sa_admission import ServiceAccountAdmission
from webhook.cluster.auth.tokenrequest import TokenRequests
from webhook.cluster.auth.tokens import API_AUDIENCES, Signer
from webhook.cluster.auth.user import UserInfo
from webhook.cluster.meta import new_uid, now

if TYPE_CHECKING:
    from webhook.cluster.core import APICore

_AUTHN = "authentication.k8s.io"
_AUTHZ = "authorization.k8s.io"


@dataclass
class AuthServices:
    api: APICore
    clock: Callable[[], float] = time.time  # replaceable: tests move the API server's time
    authorizer: Authorizer = field(init=False)
    authenticator: Authenticator = field(init=False)
    accounts: AccountsHook = field(init=False)
    observers: list[Callable[[Request, Decision], None]] = field(default_factory=list)
    _signer: Signer | None = None

    def __post_init__(self) -> None:
        self.authorizer = Authorizer(self.api.store)
        self.authenticator = Authenticator(self.api.store, self.signer, self.now)
        self.accounts = AccountsHook(self.api)

    def now(self) -> float:
        return self.clock()

    def signer(self) -> Signer:
        """The service-account signing key (made on first use: most runs issue no token)."""
        if self._signer is None:
            self._signer = Signer()
        return self._signer

    def publish_root_ca(self, pem: bytes) -> None:
        """The CA of the API server, published as ``kube-root-ca.crt`` in every namespace."""
        self.accounts.publish_root_ca(pem.decode())

    def check(self, token: str, method: str, path: str, query: Mapping[str, str],
              headers: Iterable[tuple[str, str]]) -> UserInfo:
        """Who may make this request: ``TokenError`` (401), ``ImpersonationError`` (500) or
        the 403 ``APIStatusError`` when nobody."""
        user = self.authenticator.authenticate(token, API_AUDIENCES).user
        asks = parse_headers(headers)
        if asks:
            user = impersonate(user, asks, self.authorizer.authorize)
        if user.privileged:
            return user
        request = request_attributes(user, method, path, query)
        decision = self.authorizer.authorize(request)
        for observe in self.observers:
            observe(request, decision)
        if not decision.allowed:
            raise denied(request, decision.reason)
        return user

    def openid_configuration(self, base_url: str) -> dict[str, Any]:
        return {"issuer": API_AUDIENCES[0], "jwks_uri": f"{base_url}/openid/v1/jwks",
                "response_types_supported": ["id_token"], "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["ES256"]}


def _seed(api: APICore) -> None:
    for resource, objects in (("clusterroles.rbac.authorization.k8s.io",
                               bootstrap.cluster_roles()),
                              ("clusterrolebindings.rbac.authorization.k8s.io",
                               bootstrap.cluster_role_bindings())):
        rt = api.resolve(resource)[0]
        for obj in objects:
            obj["metadata"].update(uid=new_uid(), creationTimestamp=now())
            api.commit(rt, obj)


def install_auth(api: APICore) -> AuthServices:
    services = AuthServices(api)
    authz = services.authorizer
    api.write_checks.append(EscalationCheck(authz.policy, authz.authorize))
    api.plugins.append(ServiceAccountAdmission(api))
    reviews = Reviews(services)
    api.creators.update({
        (f"tokenreviews.{_AUTHN}", ""): reviews.token,
        (f"selfsubjectreviews.{_AUTHN}", ""): reviews.self_subject,
        (f"subjectaccessreviews.{_AUTHZ}", ""): reviews.subject_access,
        (f"localsubjectaccessreviews.{_AUTHZ}", ""): reviews.local_subject_access,
        (f"selfsubjectaccessreviews.{_AUTHZ}", ""): reviews.self_subject_access,
        (f"selfsubjectrulesreviews.{_AUTHZ}", ""): reviews.self_subject_rules,
        ("serviceaccounts", "token"): TokenRequests(services),
    })
    _seed(api)
    api.add_hook(services.accounts)
    return services
