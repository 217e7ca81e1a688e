"""Loopback addresses for pods: one ``127.x.y.z`` per pod, distinct within a cluster.

Linux routes all of 127.0.0.0/8 to the loopback interface, so every pod can listen on its own
address with the container's own port. Each cluster picks a random second octet (``127.x.0.0/16``,
x in 16..254) so that several clusters on one machine rarely meet; when they do, binding fails
with EADDRINUSE and the pod simply takes the next address.
"""

from __future__ import annotations

import random


class AddressPool:
    def __init__(self, *, octet: int | None = None, rng: random.Random | None = None) -> None:
        self.rng = rng or random.Random()
        self.octet = octet if octet is not None else self.rng.randint(16, 254)
        if not 1 <= self.octet <= 254:
            raise ValueError(f"second octet must be 1..254, got {self.octet}")
        self._next = 1
        self._in_use: set[str] = {self.host_ip}

    @property
    def subnet(self) -> str:
        return f"127.{self.octet}.0.0/16"

    def take(self) -> str:
        """A fresh address (never ``.0`` or ``.255`` in the last octet)."""
        for _ in range(65536):
            n = self._next
            self._next = self._next + 1 if self._next < 65535 else 1
            y, z = divmod(n, 256)
            if z in (0, 255):
                continue
            ip = f"127.{self.octet}.{y}.{z}"
            if ip not in self._in_use:
                self._in_use.add(ip)
                return ip
        raise RuntimeError(f"no free pod address left in {self.subnet}")

    def release(self, ip: str) -> None:
        self._in_use.discard(ip)

    @property
    def host_ip(self) -> str:
        """The node's address (``status.hostIP``)."""
        return f"127.{self.octet}.0.1"
