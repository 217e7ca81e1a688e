"""How much of a container runtime the node can give canarist's processes on this machine.

- ``NAMESPACES`` (root on Linux, with util-linux and iproute2): each pod gets its own network
  and UTS namespace (a veth pair carrying its ``127.x.y.z`` address, so two pods can both bind
  ``0.0.0.0:8443``) and each container its own mount namespace (an overlay of the machine's
  root with the pod's volumes bound at their mount paths; see ``mounts``).
- ``HOST`` (anything else): processes run on the machine's network, in its filesystem. A
  process binding ``0.0.0.0:PORT`` collides with another pod's on the same port (its
  container exits with the bind error and restarts with back-off); containers that mount
  volumes cannot start (``CreateContainerError`` saying why).

``decide`` is the pure decision; ``detect`` feeds it the facts of this machine, and ``confirm``
tries it once (root in a container without the privilege to make namespaces falls back to
``HOST``, saying why).
"""

from __future__ import annotations

import asyncio
import enum
import os
import shutil
import sys
from collections.abc import Iterable

TOOLS = ("unshare", "nsenter", "setpriv", "ip", "mount", "sleep", "sh")


class Isolation(enum.Enum):
    NAMESPACES = "namespaces"
    HOST = "host"


def decide(platform: str, euid: int, missing: Iterable[str]) -> tuple[Isolation, str]:
    """The isolation to use, and (for ``HOST``) why nothing better."""
    if not platform.startswith("linux"):
        return Isolation.HOST, f"namespaces need Linux (this is {platform})"
    if euid != 0:
        return Isolation.HOST, "namespaces and veth pairs need root (canarist up runs as " \
                               f"uid {euid})"
    lacking = sorted(set(missing))
    if lacking:
        return Isolation.HOST, f"missing programs: {', '.join(lacking)}"
    return Isolation.NAMESPACES, ""


def detect() -> tuple[Isolation, str]:
    euid = os.geteuid() if hasattr(os, "geteuid") else -1
    return decide(sys.platform, euid, [t for t in TOOLS if shutil.which(t) is None])


async def confirm(isolation: Isolation, reason: str) -> tuple[Isolation, str]:
    """Make a network and a mount namespace once; if the machine refuses, ``HOST``."""
    if isolation is not Isolation.NAMESPACES:
        return isolation, reason
    try:
        proc = await asyncio.create_subprocess_exec(
            "unshare", "--net", "--uts", "--mount", "--propagation", "private", "--", "true",
            stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE)
        _, err = await asyncio.wait_for(proc.communicate(), 10)
    except (OSError, TimeoutError) as exc:
        return Isolation.HOST, f"namespaces cannot be made here: {exc}"
    if proc.returncode != 0:
        why = err.decode(errors="replace").strip() or f"exit code {proc.returncode}"
        return Isolation.HOST, f"namespaces cannot be made here: {why}"
    return isolation, reason
