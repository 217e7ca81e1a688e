"""What ``canarist up`` (``webhook.cluster.runtime``) hands the kubelet: the pods' address
pool, where pods reach the API server, and more repositories of canarist's image
(``--image``). Kept light: the runtime imports it whether or not the kubelet runs."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from webhook.cluster.kubelet.addresses import AddressPool
from webhook.cluster.kubelet.isolation import Isolation


@dataclass(frozen=True)
class NodeConfig:
    pool: AddressPool | None = None
    api_host: str = ""       # where pods reach the API server when no Service says (node IP)
    api_port: int = 0
    canarist_images: tuple[str, ...] = ()
    state_base: Path | None = None
    isolation: Isolation | None = None  # None: what this machine allows
    backoff_initial: float = 10.0
    backoff_cap: float = 300.0
