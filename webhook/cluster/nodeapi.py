"""What the API server asks of the node (the kubelet's own API, in-process): container logs.

``ClusterAPI.node`` is the running kubelet, or ``None`` when the cluster runs without one
(then ``pods/log`` answers as an API server whose node cannot be reached).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Protocol


class LogLine(Protocol):
    @property
    def time(self) -> float: ...
    @property
    def data(self) -> bytes: ...


class LogSource(Protocol):
    """One container instance's output (``webhook.cluster.kubelet.logs.InstanceLog``)."""

    closed: bool

    def select(self, since: float | None = None, tail: int | None = None
               ) -> Sequence[LogLine]: ...

    def follow(self, since: float | None = None, tail: int | None = None
               ) -> AsyncIterator[LogLine]: ...


class NodeBackend(Protocol):
    def container_log(self, namespace: str, pod: str, container: str,
                      previous: bool) -> LogSource: ...
