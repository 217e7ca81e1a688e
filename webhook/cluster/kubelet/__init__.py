"""The embedded cluster's node: binds pods to itself and runs them.

Entry point for the runtime (stable)::

    from webhook.cluster.kubelet.run import run_kubelet   # also exported here
    await run_kubelet(api, stop, clock=time.time, pool=None, ready=None, node=NodeConfig(...))

Every pod gets its own loopback address (``status.podIP``, from a random ``127.x.0.0/16`` per
cluster, see ``addresses``). Containers of the demo app (``images``: images named ``demo``) are
in-process aiohttp servers (``demo_app``, ``demo_container``); containers of canarist's image
run as real processes of the installed canarist (``process``) with their environment
(``env``, ``expansion``, ``downward``), volumes (``volumes``, ``atomic_writer``,
``pod_volumes``) and, as root on Linux, their own network and mount namespaces
(``isolation``, ``network``, ``mounts``). Other images stay in ErrImagePull. Probes
(``probes``, ``probe_loop``), restarts with back-off (``backoff``, ``container``), logs
(``logs``), events (``events``) and status (``pod_status``) follow the kubelet. The kubelet
also plays the scheduler of its single node: it binds every pending pod to itself through
``pods/binding``.
"""

from typing import Any

from webhook.cluster.kubelet.addresses import AddressPool
from webhook.cluster.kubelet.config import NodeConfig

NODE_NAME = "canarist-node"

__all__ = ["NODE_NAME", "AddressPool", "NodeConfig", "run_kubelet"]


def __getattr__(name: str) -> Any:
    # the node itself is imported when first used: the runtime imports this package for the
    # address pool and its config even when it runs without a kubelet
    if name == "run_kubelet":
        from webhook.cluster.kubelet.run import run_kubelet

        return run_kubelet
    raise AttributeError(name)
