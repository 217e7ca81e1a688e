"""A pod's own network under ``NAMESPACES`` isolation: a network and UTS namespace held by a
sleeping process, and a veth pair that carries the pod's ``127.x.y.z`` — all traffic stays in
127.0.0.0/8.

On the machine's side: ``cnk<hash>``, with ``route_localnet`` and ``forwarding`` switched on
for that interface only (no machine-wide setting changes), and a ``/32`` route to the pod in
the ``local`` routing table (more specific than its ``127.0.0.0/8``), sourced from the node's
address. In the pod: ``lo`` keeps only ``127.0.0.1/32`` (the pod's own localhost), ``eth0``
carries the pod's address, and the rest of 127.0.0.0/8 goes through the node, which forwards
to the other pods and delivers its own addresses (the API server, the demo pods) locally.

The holder process dies with the node (parent-death signal), and with it the namespace, the
veth pair and its route; ``destroy`` does it at once when the pod goes.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import signal
from dataclasses import dataclass
from pathlib import Path

from webhook.cluster.kubelet.state import record_sandbox

HOSTNAME_MAX = 63


class SandboxError(Exception):
    """The pod's namespaces could not be made (``FailedCreatePodSandBox``)."""


@dataclass
class PodNetwork:
    ip: str
    holder: asyncio.subprocess.Process
    veth: str

    @property
    def pid(self) -> int:
        return int(self.holder.pid)


def veth_name(seed: str) -> str:
    return "cnk" + hashlib.sha256(seed.encode()).hexdigest()[:10]


def pod_hostname(pod_name: str) -> str:
    """The pod's hostname: its name, cut to 63 characters without a trailing ``-`` or ``.``."""
    return pod_name[:HOSTNAME_MAX].rstrip("-.") or "pod"


async def _run(*argv: str, stdin: bytes | None = None) -> None:
    proc = await asyncio.create_subprocess_exec(
        *argv, stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
    _, err = await proc.communicate(stdin)
    if proc.returncode != 0:
        raise SandboxError(f"{' '.join(argv[:3])}: {err.decode(errors='replace').strip()}")


def _sysctl(iface: str, key: str) -> None:
    Path(f"/proc/sys/net/ipv4/conf/{iface}/{key}").write_text("1\n")


async def _wait_unshared(pid: int, limit: float = 5.0) -> None:
    mine = os.readlink("/proc/self/ns/net")
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit
    while True:
        try:
            if os.readlink(f"/proc/{pid}/ns/net") != mine:
                return
        except OSError as exc:
            raise SandboxError(f"the namespace holder exited: {exc}") from exc
        if loop.time() > deadline:
            raise SandboxError("the namespace holder did not start")
        await asyncio.sleep(0.005)


async def create(ip: str, host_ip: str, hostname: str, seed: str, pod_dir: Path) -> PodNetwork:
    """The namespaces and veth pair of one pod, its address routed to it."""
    holder = await asyncio.create_subprocess_exec(
        "setpriv", "--pdeathsig", "KILL", "--", "unshare", "--net", "--uts", "--",
        "sh", "-c", 'echo "$1" > /proc/sys/kernel/hostname && exec sleep infinity',
        "canarist-pod", hostname,
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL, start_new_session=True)
    veth = veth_name(seed)
    peer = "cnp" + veth[3:]
    net = PodNetwork(ip, holder, veth)
    try:
        await _wait_unshared(holder.pid)
        record_sandbox(pod_dir, holder.pid, veth)
        await _run("ip", "-batch", "-", stdin=(
            f"link add {veth} type veth peer name {peer}\n"
            f"link set {peer} netns {holder.pid}\n").encode())
        for key in ("route_localnet", "forwarding"):
            _sysctl(veth, key)
        await _run("ip", "-batch", "-", stdin=(
            f"link set {veth} up\n"
            f"route add {ip}/32 dev {veth} table local src {host_ip}\n").encode())
        inside = " && ".join([
            "ip link set lo up",
            "ip addr del 127.0.0.1/8 dev lo",
            "ip addr add 127.0.0.1/32 dev lo",
            f"ip link set {peer} name eth0",
            "echo 1 > /proc/sys/net/ipv4/conf/eth0/route_localnet",
            f"ip addr add {ip}/32 dev eth0",
            "ip link set eth0 up",
            f"ip route add {host_ip}/32 dev eth0 scope link",
            f"ip route add 127.0.0.0/8 via {host_ip} dev eth0 src {ip}",
        ])
        await _run("nsenter", f"--net=/proc/{holder.pid}/ns/net", "--", "sh", "-c", inside)
    except BaseException:
        await destroy(net)
        raise
    return net


def _link_exists(name: str) -> bool:
    return os.path.exists(f"/sys/class/net/{name}")


async def destroy(net: PodNetwork) -> None:
    """Kill the holder: the kernel removes the namespace, the veth pair and its route."""
    if net.holder.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            net.holder.send_signal(signal.SIGKILL)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(net.holder.wait(), 5)
    if _link_exists(net.veth):
        with contextlib.suppress(SandboxError, OSError):
            await _run("ip", "link", "del", net.veth)
