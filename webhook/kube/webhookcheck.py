"""``canarist check-webhook``: ask every ready replica of the webhook to hold a release (what
the chart's ``helm test`` runs).

The replicas are the ready endpoints of the webhook's Service (its EndpointSlices). Each one is
sent, over TLS verified as the API server verifies it (the CA bundle, the name
``<service>.<namespace>.svc``), two dry-run AdmissionReviews of an opted-in Deployment: its
creation, whose patch (the hash label) is applied, then a change of its image. The second must
come back allowed, with ``spec.paused`` set and the "held for canary steps" warning. Nothing is
written to the cluster.
"""

from __future__ import annotations

import base64
import copy
import http.client
import json
import socket
import ssl
import uuid
from dataclasses import dataclass
from typing import Any

import jsonpatch

from webhook.errors import KubeError
from webhook.kube.client import SyncClient

HELD = "held for canary steps"


@dataclass(frozen=True)
class Answer:
    endpoint: str
    ok: bool
    detail: str


def endpoints(client: SyncClient, namespace: str, service: str, port_name: str = "https"
              ) -> list[tuple[str, int]]:
    """The ready addresses of a Service's EndpointSlices, at the port named ``port_name``."""
    found = []
    for s in client.list("discovery.k8s.io/v1", "EndpointSlice", namespace,
                         label_selector=f"kubernetes.io/service-name={service}"):
        port = next((p.get("port") for p in s.get("ports") or ()
                     if (p.get("name") or "") == port_name), None)
        if not isinstance(port, int):
            continue
        for ep in s.get("endpoints") or ():
            if (ep.get("conditions") or {}).get("ready") is False:
                continue
            found += [(str(a), port) for a in (ep.get("addresses") or [])[:1]]
    return found


def deployment(image: str) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "canarist-check", "namespace": "canarist-check",
                     "labels": {"canarist.io/enabled": "true"}},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "canarist-check"}},
                 "template": {"metadata": {"labels": {"app": "canarist-check"}},
                              "spec": {"containers": [{"name": "app", "image": image}]}}},
    }


def review(operation: str, obj: dict[str, Any], old: dict[str, Any] | None) -> dict[str, Any]:
    gvk = {"group": "apps", "version": "v1", "kind": "Deployment"}
    return {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {
        "uid": str(uuid.uuid4()), "kind": gvk, "requestKind": gvk,
        "resource": {"group": "apps", "version": "v1", "resource": "deployments"},
        "name": "canarist-check", "namespace": "canarist-check", "operation": operation,
        "userInfo": {"username": "canarist-check"}, "object": obj, "oldObject": old,
        "dryRun": True, "options": {"apiVersion": "meta.k8s.io/v1", "kind": f"{operation.title()}"
                                    "Options"}}}


def _send(address: tuple[str, int], server_name: str, ctx: ssl.SSLContext,
          body: dict[str, Any], timeout: float) -> dict[str, Any]:
    conn = http.client.HTTPSConnection(address[0], address[1], context=ctx, timeout=timeout)
    # Dial the endpoint, verify the Service's name (as the API server does).
    conn.sock = ctx.wrap_socket(socket.create_connection(address, timeout),
                                server_hostname=server_name)
    try:
        conn.request("POST", "/mutate?timeout=5s", json.dumps(body).encode(),
                     {"Content-Type": "application/json"})
        resp = conn.getresponse()
        data = resp.read(1 << 20)
        if resp.status != 200:
            raise KubeError(f"HTTP {resp.status}: {data[:200]!r}")
        answer = json.loads(data).get("response") or {}
        if not isinstance(answer, dict):
            raise KubeError("no response in the AdmissionReview")
        return answer
    finally:
        conn.close()


def _patched(obj: dict[str, Any], answer: dict[str, Any]) -> dict[str, Any]:
    if not answer.get("patch"):
        return obj
    ops = json.loads(base64.b64decode(answer["patch"]))
    patched: dict[str, Any] = jsonpatch.apply_patch(copy.deepcopy(obj), ops)
    return patched


def check_one(address: tuple[str, int], server_name: str, ctx: ssl.SSLContext,
              timeout: float = 5.0) -> Answer:
    where = f"{address[0]}:{address[1]}"
    try:
        created = _send(address, server_name, ctx, review("CREATE", deployment("demo:v1"), None),
                        timeout)
        if not created.get("allowed"):
            return Answer(where, False, f"creation refused: {created.get('status')}")
        v1 = _patched(deployment("demo:v1"), created)
        v2 = copy.deepcopy(v1)
        v2["spec"]["template"]["spec"]["containers"][0]["image"] = "demo:v2"
        updated = _send(address, server_name, ctx, review("UPDATE", v2, v1), timeout)
    except (OSError, ssl.SSLError, ValueError, KubeError) as exc:
        return Answer(where, False, f"{type(exc).__name__}: {exc}")
    held = _patched(v2, updated)
    warnings = [w for w in updated.get("warnings") or () if HELD in str(w)]
    if not updated.get("allowed") or held["spec"].get("paused") is not True or not warnings:
        return Answer(where, False, f"the change was not held: {updated}")
    return Answer(where, True, warnings[0])


def check(client: SyncClient, namespace: str, service: str, ca_pem: bytes,
          timeout: float = 5.0) -> list[Answer]:
    ctx = ssl.create_default_context(cadata=ca_pem.decode())
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    name = f"{service}.{namespace}.svc"
    return [check_one(a, name, ctx, timeout) for a in endpoints(client, namespace, service)]
