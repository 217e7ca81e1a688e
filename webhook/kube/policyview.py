"""``canarist policy explain NAME``: every effective setting of a Deployment, with its source."""

from __future__ import annotations

import sys
from typing import TextIO

from webhook.kube.client import KubeClient
from webhook.kube.config import ClientOptions
from webhook.kube.controls import EXIT_OK, check_name, read_deployment, run_body
from webhook.kube.policies import PolicySource, policy_for, read_policies
from webhook.kube.protocol import JSON
from webhook.policy.explain import explain, render


def run_explain(options: ClientOptions, name: str, source: PolicySource, *,
                out: TextIO | None = None, err: TextIO | None = None) -> int:
    """``canarist policy explain NAME``: exit 0, or 3 when the Deployment does not exist."""
    check_name(name)
    out, err = out or sys.stdout, err or sys.stderr

    async def body(client: KubeClient) -> int:
        ns = client.namespace
        obj: JSON = await read_deployment(client, ns, name)
        policies = await read_policies(client, source, err)
        policy = await policy_for(client, policies, obj)
        meta = obj.get("metadata") or {}
        labels = meta.get("labels") or {}
        annotations = meta.get("annotations") or {}
        out.write(render(f"{ns}/{name}", explain(labels, annotations, policy)))
        return EXIT_OK

    return run_body(options, err, body)
