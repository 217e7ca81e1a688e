"""The embedded cluster's node: binds pods to itself and runs each as local demo-app servers.

Entry point for the runtime (stable)::

    from webhook.cluster.kubelet.run import run_kubelet   # also exported here
    await run_kubelet(api, stop, clock=time.time, pool=None, ready=None)

Every pod gets its own loopback address (``status.podIP``, from a random ``127.x.0.0/16`` per
cluster, see ``addresses``) and, per TCP container port, an aiohttp server of the demo app
(``demo_app``). readinessProbes run as the kubelet's prober does (``probes``); status follows
upstream's shapes (``pod_status``). The kubelet also plays the scheduler of its single node:
it binds every pending pod to itself through ``pods/binding``.
"""

from webhook.cluster.kubelet.addresses import AddressPool
from webhook.cluster.kubelet.kubelet import NODE_NAME
from webhook.cluster.kubelet.run import run_kubelet

__all__ = ["NODE_NAME", "AddressPool", "run_kubelet"]
