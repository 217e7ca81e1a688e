"""What every pod of the node shares: the API, caches of the objects pods read, the isolation
this machine allows, the node's directories, event recorders and restart back-off.

``NodeConfig`` (``config``) is what ``canarist up`` hands the kubelet.
"""

from __future__ import annotations

import ipaddress
import os
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import webhook
from webhook.cluster.api import ClusterAPI
from webhook.cluster.controllers.informer import Informer
from webhook.cluster.kubelet.addresses import AddressPool
from webhook.cluster.kubelet.backoff import BackOff
from webhook.cluster.kubelet.config import NodeConfig
from webhook.cluster.kubelet.events import PodEvents
from webhook.cluster.kubelet.images import canarist_repositories
from webhook.cluster.kubelet.isolation import Isolation, confirm, detect
from webhook.cluster.kubelet.mounts import Mountpoint, parse_mountinfo
from webhook.cluster.kubelet.state import NodeState
from webhook.errors import APIStatusError

NODE_NAME = "canarist-node"  # also webhook.cluster.kubelet.NODE_NAME
USER = f"system:node:{NODE_NAME}"
SLICES = "endpointslices.discovery.k8s.io"


def decide_api_endpoint(service: Mapping[str, Any] | None,
                        slices: Sequence[Mapping[str, Any]],
                        fallback: tuple[str, int]) -> tuple[str, int]:
    """Where pods reach the API server (``KUBERNETES_SERVICE_HOST``/``_PORT``): the ready
    endpoint of the ``kubernetes`` Service in ``default``, else ``fallback`` (the node's address
    the API server also listens on). Cluster IPs are not routed on this node, so the endpoint
    itself is used; a ``127.0.0.1`` endpoint is the pod's own localhost inside its network
    namespace, so the node's address stands in for it (the API server listens on both)."""
    if service is None:
        return fallback
    for s in slices:
        ports = [p for p in s.get("ports") or () if isinstance(p, Mapping) and p.get("port")]
        port = next((p for p in ports if p.get("name") == "https"), ports[0] if ports else None)
        for ep in s.get("endpoints") or ():
            if (ep.get("conditions") or {}).get("ready") is False or not ep.get("addresses"):
                continue
            if port is None:
                continue
            host = str(ep["addresses"][0])
            try:
                loopback_self = ipaddress.ip_address(host) == ipaddress.ip_address("127.0.0.1")
            except ValueError:
                loopback_self = False
            return (fallback[0] if loopback_self else host), int(port["port"])
    return fallback


def installation_paths() -> list[str]:
    """What containers must see although it may lie under ``/tmp`` (a checkout there): the
    interpreter canarist's processes run with, and the installed canarist."""
    return [sys.prefix, sys.base_prefix, os.path.dirname(os.path.realpath(sys.executable)),
            str(Path(webhook.__file__).resolve().parents[1])]


@dataclass
class NodeContext:
    api: ClusterAPI
    config: NodeConfig
    clock: Callable[[], float] = time.time
    node_name: str = NODE_NAME
    pool: AddressPool = field(init=False)
    isolation: Isolation = field(init=False)
    isolation_reason: str = field(init=False)
    canarist_repos: tuple[str, ...] = field(init=False)
    backoff: BackOff = field(init=False)
    events: PodEvents = field(init=False)
    scheduler_events: PodEvents = field(init=False)
    secrets: Informer = field(init=False)
    configmaps: Informer = field(init=False)
    services: Informer = field(init=False)
    state: NodeState | None = None
    mountinfo: list[Mountpoint] = field(default_factory=list)
    _confirmed: bool = False

    def __post_init__(self) -> None:
        self.pool = self.config.pool or AddressPool()
        if self.config.isolation is not None:
            self.isolation, self.isolation_reason = self.config.isolation, "as configured"
            self._confirmed = True
        else:
            self.isolation, self.isolation_reason = detect()
        self.canarist_repos = canarist_repositories(self.config.canarist_images)
        self.backoff = BackOff(self.config.backoff_initial, self.config.backoff_cap)
        self.events = PodEvents(self.api, "kubelet", self.node_name, USER, self.clock,
                                time.monotonic)
        self.scheduler_events = PodEvents(self.api, "default-scheduler", "",
                                          "system:kube-scheduler", self.clock, time.monotonic)
        self.secrets = Informer(self.api, "secrets")
        self.configmaps = Informer(self.api, "configmaps")
        self.services = Informer(self.api, "services")

    @property
    def user(self) -> str:
        return USER

    async def confirm_isolation(self) -> None:
        """Before the first pod that needs them: can namespaces really be made here?"""
        if not self._confirmed:
            self._confirmed = True
            self.isolation, self.isolation_reason = await confirm(self.isolation,
                                                                  self.isolation_reason)

    def node_state(self) -> NodeState:
        """The node's directory, made on first use (only pods with volumes or processes)."""
        if self.state is None:
            self.state = NodeState.create(self.config.state_base)
            if self.isolation is Isolation.NAMESPACES:
                self.mountinfo = parse_mountinfo(Path("/proc/self/mountinfo").read_text())
        return self.state

    def hidden_paths(self) -> list[str]:
        """What containers must not see: every pod's volumes, the user's kubeconfigs."""
        home = Path(os.path.expanduser("~"))
        paths = [str(home / ".kube"), str(home / ".canarist")]
        if self.state is not None:
            paths.insert(0, str(self.state.base))
        return paths

    def kept_paths(self) -> list[str]:
        return installation_paths()

    async def api_endpoint(self) -> tuple[str, int]:
        fallback = (self.config.api_host or self.pool.host_ip, self.config.api_port)
        service = self.services.get("default", "kubernetes")
        slices: list[dict[str, Any]] = []
        if service is not None:
            try:
                slices, _ = await self.api.list(
                    SLICES, "default", label_selector="kubernetes.io/service-name=kubernetes")
            except APIStatusError:
                slices = []
        return decide_api_endpoint(service, slices, fallback)

    def secret(self, namespace: str) -> Callable[[str], Mapping[str, Any] | None]:
        return lambda name: self.secrets.get(namespace, name)

    def configmap(self, namespace: str) -> Callable[[str], Mapping[str, Any] | None]:
        return lambda name: self.configmaps.get(namespace, name)
