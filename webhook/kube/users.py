"""Acting as a user: the same API server, with the user's own bearer token, so RBAC decides.

A web front (``canarist dashboard --auth token``) is given a user's token and must neither read
nor write anything that user may not. ``as_user(connection, token)`` is the connection with the
API server and CA of ours but the user's identity only: our token, client certificate, basic
auth and token refresh are all dropped. ``UserClients`` keeps a few such clients alive (least
recently used first out, each closed on the way out), keyed by a digest of the token so the
token itself is never a dictionary key or a log line. ``can_i`` asks the API server, as that
user, with a ``SelfSubjectAccessReview`` (what ``kubectl auth can-i`` does); every authenticated
user may ask it. A token the server does not accept raises ``Forbidden`` with status 401.
"""

from __future__ import annotations

import copy
import hashlib
import re
from collections import OrderedDict
from dataclasses import dataclass, replace

from webhook.errors import InvalidInput, Problem
from webhook.kube.client import KubeClient, SyncClient
from webhook.kube.config import Connection

MAX_TOKEN = 8192
# RFC 6750's token68, and the dots and dashes of JWTs: nothing that could split a header
_TOKEN = re.compile(r"^[A-Za-z0-9\-._~+/]+=*$")


def check_token(token: str) -> str:
    if not token or len(token) > MAX_TOKEN or not _TOKEN.match(token):
        raise InvalidInput([Problem("Authorization", "not a bearer token (RFC 6750 token68, "
                                    f"at most {MAX_TOKEN} characters)")])
    return token


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def as_user(connection: Connection, token: str) -> Connection:
    """``connection`` with ``token`` as the only credential."""
    check_token(token)
    cfg = copy.copy(connection.configuration)
    cfg.api_key = {"authorization": f"Bearer {token}"}
    cfg.api_key_prefix = {}
    cfg.refresh_api_key_hook = None
    cfg.username = None
    cfg.password = None
    cfg.access_token = None
    cfg.cert_file = None
    cfg.key_file = None
    options = replace(connection.options, user_agent=f"{connection.options.user_agent} (as user)")
    return Connection(cfg, connection.namespace, f"{connection.source}, as a user", options)


class UserClients:
    """At most ``size`` clients acting as users, the least recently used closed first."""

    def __init__(self, connection: Connection, *, size: int = 32, workers: int = 4) -> None:
        self.connection = connection
        self.size = size
        self.workers = workers
        self._clients: OrderedDict[str, KubeClient] = OrderedDict()

    def __len__(self) -> int:
        return len(self._clients)

    async def get(self, token: str) -> KubeClient:
        key = digest(check_token(token))
        client = self._clients.get(key)
        if client is not None:
            self._clients.move_to_end(key)
            return client
        client = KubeClient(SyncClient(as_user(self.connection, token)), workers=self.workers)
        self._clients[key] = client
        while len(self._clients) > self.size:
            _, old = self._clients.popitem(last=False)
            await old.aclose()
        return client

    async def aclose(self) -> None:
        clients, self._clients = list(self._clients.values()), OrderedDict()
        for client in clients:
            await client.aclose()


@dataclass(frozen=True)
class Access:
    """``verb`` on ``resource`` of API ``group`` in ``namespace`` ("" : every namespace)."""

    verb: str
    resource: str
    group: str = ""
    namespace: str = ""
    name: str = ""

    def review(self) -> dict[str, object]:
        attrs = {"verb": self.verb, "group": self.group, "resource": self.resource}
        if self.namespace:
            attrs["namespace"] = self.namespace
        if self.name:
            attrs["name"] = self.name
        return {"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
                "spec": {"resourceAttributes": attrs}}


async def can_i(client: KubeClient, access: Access) -> bool:
    """Whether the client's user may: the API server's ``SelfSubjectAccessReview`` answer."""
    answer = await client.review(access.review())
    status = answer.get("status") if isinstance(answer, dict) else None
    return isinstance(status, dict) and status.get("allowed") is True
