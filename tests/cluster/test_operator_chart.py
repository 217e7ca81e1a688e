"""canarist installed as an operator by a Helm chart, on ``canarist up --without
webhook,reconciler``: the webhook and the reconciler are pods of canarist's image, run by the
node as real ``canarist`` processes under their ServiceAccounts, with RBAC enforced.

The chart (``tests/data/charts/operator-test``) has what a product chart has: ServiceAccounts,
Roles and ClusterRoles with bindings (each component allowed only what it does), the webhook's
TLS Secret created by a ``pre-install`` hook Job running ``canarist certs ensure``, a
MutatingWebhookConfiguration on a Service whose caBundle a ``certs ensure --every`` sidecar
keeps, a two-replica ``canarist webhook`` Deployment with a PodDisruptionBudget, and a
``canarist reconcile --leader-elect`` Deployment with readiness and liveness probes. It is
installed with ``--wait`` through Helm's Go library; then a Deployment applied with kubectl is
held by the webhook pod and released by the reconciler pod, and with a verb taken from the
reconciler's ClusterRole the release fails with the API server's 403, which the pod logs.
"""

from __future__ import annotations

import base64
import functools
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.cluster.conftest import until
from tests.cluster.helm_world import HelmWorld
from webhook.cluster.kubelet.isolation import Isolation, detect
from webhook.errors import APIStatusError

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(detect()[0] is not Isolation.NAMESPACES,
                       reason=f"the chart mounts volumes: needs root on Linux ({detect()[1]})"),
]

CHART = Path(__file__).resolve().parent.parent / "data" / "charts" / "operator-test"
NS, RELEASE, APP_NS = "operator", "op", "shop"
RECONCILER = f"system:serviceaccount:{NS}:{RELEASE}-reconciler"
ALL_VERBS = ["get", "list", "watch", "create", "patch", "delete"]
MWC = "mutatingwebhookconfigurations.admissionregistration.k8s.io"


def app(name: str, image: str = "demo:v1") -> str:
    """An opted-in Deployment (released in two steps: 50%, then a pause for promote) and its
    Service, as a user applies them."""
    return f"""
apiVersion: v1
kind: Service
metadata: {{name: {name}}}
spec:
  selector: {{app: {name}}}
  ports: [{{port: 80, targetPort: 8080}}]
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
  labels: {{canarist.io/enabled: "true"}}
  annotations:
    canarist.io/steps: "[{{setWeight: 50}}, {{pause: {{}}}}]"
spec:
  replicas: 2
  selector: {{matchLabels: {{app: {name}}}}}
  template:
    metadata: {{labels: {{app: {name}}}}}
    spec:
      containers:
      - name: app
        image: {image}
        ports: [{{containerPort: 8080}}]
"""


@pytest.fixture(scope="module")
def world() -> Iterator[HelmWorld]:
    with HelmWorld.start() as w:
        w.namespace(NS)
        w.namespace(APP_NS)
        yield w


@pytest.fixture(scope="module")
def installed(world: HelmWorld) -> dict[str, Any]:
    started = time.monotonic()
    release = world.install(RELEASE, CHART, namespace=NS, timeout=120)
    return {"release": release, "seconds": time.monotonic() - started}


def get(world: HelmWorld, resource: str, ns: str | None, name: str) -> dict[str, Any] | None:
    try:
        obj: dict[str, Any] = world.cluster.call(world.cluster.api.get(resource, ns, name))
    except APIStatusError as exc:
        if exc.status == 404:
            return None
        raise
    return obj


def gone(world: HelmWorld, resource: str, ns: str | None, name: str) -> bool:
    return get(world, resource, ns, name) is None


def pods(world: HelmWorld, ns: str, app_label: str) -> list[dict[str, Any]]:
    items, _ = world.cluster.call(world.cluster.api.list("pods", ns,
                                                         label_selector=f"app={app_label}"))
    return [p for p in items if not p["metadata"].get("deletionTimestamp")]


def ready(pod: dict[str, Any]) -> bool:
    return any(c["type"] == "Ready" and c["status"] == "True"
               for c in (pod.get("status") or {}).get("conditions") or [])


def release_status(world: HelmWorld, name: str) -> dict[str, Any]:
    dep = get(world, "deployments.apps", APP_NS, name) or {}
    text = ((dep.get("metadata") or {}).get("annotations") or {}).get("canarist.io/status")
    return dict(json.loads(text)) if text else {}


def ca_bundle_kept(world: HelmWorld) -> bool:
    """The sidecar wrote the Secret's bundle into the configuration (the webhook is callable)."""
    mwc = get(world, MWC, None, f"{NS}-{RELEASE}") or {}
    secret = get(world, "secrets", NS, f"{RELEASE}-webhook-tls") or {}
    bundle = mwc.get("webhooks", [{}])[0].get("clientConfig", {}).get("caBundle")
    return bool(bundle) and bundle == (secret.get("data") or {}).get("ca-bundle.crt")


def apply_app(world: HelmWorld, name: str) -> None:
    until(lambda: ca_bundle_kept(world), "the caBundle written by certs ensure", 60)
    world.ok("-n", APP_NS, "apply", "-f", "-", stdin=app(name))
    world.ok("-n", APP_NS, "rollout", "status", f"deployment/{name}", "--timeout=60s")


def canarist(world: HelmWorld, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "webhook.cli", *args, "--kubeconfig",
                           world.kubeconfig], capture_output=True, text=True, timeout=60,
                          check=False)


def test_the_chart_installs_with_wait(world: HelmWorld, installed: dict[str, Any]) -> None:
    assert installed["release"]["info"]["status"] == "deployed"
    assert installed["seconds"] < 60, installed["seconds"]
    with world.explained(NS):
        # the hook ran before the rest, and went with its ServiceAccount and Role on success
        secret = get(world, "secrets", NS, f"{RELEASE}-webhook-tls")
        assert secret is not None and secret["type"] == "kubernetes.io/tls"
        assert {"tls.crt", "tls.key", "ca.crt", "ca.key", "ca-bundle.crt"} <= set(secret["data"])
        assert base64.b64decode(secret["data"]["tls.crt"]).startswith(b"-----BEGIN CERTIFICATE")
        for resource in ("jobs.batch", "serviceaccounts", "roles.rbac.authorization.k8s.io"):
            until(functools.partial(gone, world, resource, NS, f"{RELEASE}-certs"),
                  f"the hook's {resource} to be deleted (hook-succeeded)")
        webhooks = pods(world, NS, f"{RELEASE}-webhook")
        assert len(webhooks) == 2 and all(ready(p) for p in webhooks)
        assert {p["status"]["podIP"] for p in webhooks} != {None}
        assert len({p["status"]["podIP"] for p in webhooks}) == 2  # both on 0.0.0.0:8443
        reconcilers = pods(world, NS, f"{RELEASE}-reconciler")
        assert len(reconcilers) == 1 and ready(reconcilers[0])
        assert reconcilers[0]["spec"]["serviceAccountName"] == f"{RELEASE}-reconciler"
        pdb = get(world, "poddisruptionbudgets.policy", NS, f"{RELEASE}-webhook")
        assert pdb is not None
        until(lambda: (get(world, "poddisruptionbudgets.policy", NS, f"{RELEASE}-webhook")
                       or {}).get("status", {}).get("disruptionsAllowed") == 1,
              "the budget to allow one disruption")
        until(lambda: ca_bundle_kept(world), "the caBundle written by certs ensure", 60)
        owners = until(lambda: (get(world, "secrets", NS, f"{RELEASE}-webhook-tls") or {})
                       .get("metadata", {}).get("ownerReferences"), "the Secret's owner")
        assert [(o["kind"], o["name"]) for o in owners] == [
            ("MutatingWebhookConfiguration", f"{NS}-{RELEASE}")]
        lease = until(lambda: get(world, "leases.coordination.k8s.io", NS,
                                  "canarist-reconciler"), "the reconciler's Lease")
        assert lease["spec"]["holderIdentity"].startswith(reconcilers[0]["metadata"]["name"])
        # each process runs in its pod, as its ServiceAccount
        logs = world.pod_logs(NS, f"app={RELEASE}-webhook")
        keepers = [text for where, text in logs.items() if where.endswith("/certs")]
        assert len(keepers) == 2
        for text in keepers:  # the hook's certificates kept (one of them made them owned)
            assert "certificates: keep" in text
            assert f"caBundle of mutatingwebhookconfiguration {NS}-{RELEASE}:" in text


def test_the_webhook_pod_holds_and_the_reconciler_pod_releases(
        world: HelmWorld, installed: dict[str, Any]) -> None:
    with world.explained(NS):
        apply_app(world, "web")
        stable = release_status(world, "web")
        out = world.kubectl("-n", APP_NS, "set", "image", "deployment/web", "app=demo:v2")
        assert out.returncode == 0, out.stderr
        assert "Warning: canarist: release of shop/web held for canary steps" in out.stderr
        held = release_status(world, "web")
        assert held["canaryHash"] and held["canaryHash"] != stable.get("stableHash")
        # the reconciler pod: the canary at 50%, then the pause waits for promote
        paused = until(lambda: (s := release_status(world, "web")).get("phase") == "Paused"
                       and s, "the release to reach its pause", 60)
        assert paused["step"] == 1 and paused["message"] == "step 2/2: pause: waiting for promote"
        canary = get(world, "deployments.apps", APP_NS, "web-canary")
        assert canary is not None and canary["spec"]["replicas"] == 1
        assert (get(world, "deployments.apps", APP_NS, "web") or {})["spec"]["paused"] is True
        promote = canarist(world, "promote", "web", "-n", APP_NS)
        assert promote.returncode == 0, promote.stderr
        until(lambda: release_status(world, "web").get("phase") == "Healthy",
              "the release to be promoted", 60)
        world.ok("-n", APP_NS, "rollout", "status", "deployment/web", "--timeout=60s")
        images = {p["spec"]["containers"][0]["image"] for p in pods(world, APP_NS, "web")}
        assert images == {"demo:v2"}
        reviews = [json.loads(line) for text in world.pod_logs(
            NS, f"app={RELEASE}-webhook").values() for line in text.splitlines()
            if '"review"' in line]
        assert ("mutated", "canary") in {(r["outcome"], r["reason"]) for r in reviews}
        reasons = {e["reason"] for e in world.cluster.call(world.cluster.api.list(
            "events", APP_NS, field_selector="involvedObject.name=web"))[0]}
        assert {"ReleaseStarted", "StepCompleted", "Promoting", "Promoted"} <= reasons
        # the roles were enough: nothing was refused to either component
        for where, text in world.pod_logs(NS).items():
            assert "forbidden" not in text, (where, text)


def test_a_verb_missing_from_the_reconcilers_role_fails_the_release_with_a_403(
        world: HelmWorld, installed: dict[str, Any]) -> None:
    narrowed = [v for v in ALL_VERBS if v != "create"]
    world.upgrade(RELEASE, CHART, namespace=NS, timeout=120,
                  values={"reconciler": {"deploymentVerbs": narrowed}})
    role = get(world, "clusterroles.rbac.authorization.k8s.io", None, f"{NS}-{RELEASE}-reconciler")
    assert role is not None and role["rules"][0]["verbs"] == narrowed
    can_i = world.kubectl("auth", "can-i", "create", "deployments", "-n", APP_NS,
                          f"--as={RECONCILER}")
    assert can_i.stdout.strip() == "no"
    forbidden = (f'deployments.apps is forbidden: User "{RECONCILER}" cannot create resource '
                 f'"deployments" in API group "apps" in the namespace "{APP_NS}"')
    with world.explained(NS):
        apply_app(world, "api")
        out = world.kubectl("-n", APP_NS, "set", "image", "deployment/api", "app=demo:v2")
        assert "held for canary steps" in out.stderr

        def logged() -> bool:
            text = "".join(world.pod_logs(NS, f"app={RELEASE}-reconciler").values())
            return f"WARNING {APP_NS}/api: {forbidden}" in text

        until(logged, "the reconciler's log to say it was forbidden", 60)
        until(lambda: any(e["reason"] == "ReconcileFailed" and e["type"] == "Warning"
                          and e["message"] == forbidden
                          for e in world.cluster.call(world.cluster.api.list(
                              "events", APP_NS, field_selector="involvedObject.name=api"))[0]),
              "the ReconcileFailed event")
        assert get(world, "deployments.apps", APP_NS, "api-canary") is None
        assert release_status(world, "api")["step"] == 0
        api = get(world, "deployments.apps", APP_NS, "api") or {}
        assert api["spec"]["paused"] is True  # still held: the old pods keep serving
        images = {p["spec"]["containers"][0]["image"] for p in pods(world, APP_NS, "api")}
        assert images == {"demo:v1"}


def test_uninstall_leaves_nothing_of_the_release(world: HelmWorld,
                                                 installed: dict[str, Any]) -> None:
    world.uninstall(RELEASE, namespace=NS)
    for resource, ns, name in [
        (MWC, None, f"{NS}-{RELEASE}"),
        ("clusterroles.rbac.authorization.k8s.io", None, f"{NS}-{RELEASE}-reconciler"),
        ("clusterrolebindings.rbac.authorization.k8s.io", None, f"{NS}-{RELEASE}-webhook"),
        ("deployments.apps", NS, f"{RELEASE}-webhook"),
        ("services", NS, f"{RELEASE}-webhook"),
        ("poddisruptionbudgets.policy", NS, f"{RELEASE}-webhook"),
        ("serviceaccounts", NS, f"{RELEASE}-reconciler"),
    ]:
        assert gone(world, resource, ns, name), (resource, name)
    until(lambda: not pods(world, NS, f"{RELEASE}-webhook")
          and not pods(world, NS, f"{RELEASE}-reconciler"), "the chart's pods to go", 60)
    # the Secret was made by the hook, not rendered by the chart, so Helm does not delete it;
    # certs ensure made the webhook configuration its owner: the garbage collector does
    until(functools.partial(gone, world, "secrets", NS, f"{RELEASE}-webhook-tls"),
          "the Secret to go with its owner, the webhook configuration")
