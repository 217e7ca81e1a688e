"""The embedded cluster's node: binds pods to itself and runs each as local demo-app servers.

Entry point for the runtime (stable)::

    from webhook.cluster.kubelet import run_kubelet
    await run_kubelet(api, stop, clock=time.time, pool=None, ready=None)

Every pod gets its own loopback address (``status.podIP``, from a random ``127.x.0.0/16`` per
cluster, see ``addresses``) and, per TCP container port, an aiohttp server of the demo app
(``demo_app``). readinessProbes run as the kubelet's prober does (``probes``); status follows
upstream's shapes (``pod_status``). Binding sets ``spec.nodeName`` with a merge patch (the
embedded API has no ``pods/binding`` subresource): the API must accept setting it once on an
unbound pod.
"""

from webhook.cluster.kubelet.addresses import AddressPool
from webhook.cluster.kubelet.kubelet import NODE_NAME, run_kubelet

__all__ = ["NODE_NAME", "AddressPool", "run_kubelet"]
