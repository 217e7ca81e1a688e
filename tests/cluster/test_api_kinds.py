"""Kinds served for operator charts and for clients that list every kind they know: Endpoints
written from EndpointSlices (read-only), ``kubectl apply --prune`` without an allowlist,
events.k8s.io/v1 Events over the core store, NetworkPolicies, and the upstream validation
charts get wrong (TLS Secrets, probes, volumes and mounts, CRD conversion caBundles)."""

from __future__ import annotations

import base64
import itertools
import json
from typing import Any

import pytest
import trustme
import yaml

from tests.cluster.conftest import deployment, kubectl, raw, until
from webhook.cluster.runtime import RunningCluster

_ids = itertools.count()


@pytest.fixture
def ns(embedded_cluster: RunningCluster) -> str:
    name = f"kinds{next(_ids)}"
    assert kubectl(embedded_cluster, "create", "namespace", name).returncode == 0
    return name


def ok(cluster: RunningCluster, *args: str, stdin: str | None = None) -> str:
    out = kubectl(cluster, *args, stdin=stdin)
    assert out.returncode == 0, f"kubectl {' '.join(args)}: {out.stderr}"
    return out.stdout


def test_endpoints_follow_the_service_and_are_read_only(embedded_cluster: RunningCluster,
                                                        ns: str) -> None:
    api = embedded_cluster.api
    embedded_cluster.call(api.create("deployments.apps", ns, deployment("web", replicas=2)))
    ok(embedded_cluster, "-n", ns, "expose", "deployment", "web", "--port=80",
       "--target-port=8080", "--name=web")

    def two_ready() -> dict[str, Any] | None:
        try:
            ep = embedded_cluster.call(api.get("endpoints", ns, "web"))
        except Exception:
            return None
        subsets = ep.get("subsets") or []
        return ep if subsets and len(subsets[0].get("addresses") or []) == 2 else None

    ep = until(two_ready, "Endpoints with the two ready pods", 60)
    subset = ep["subsets"][0]
    assert subset["ports"] == [{"port": 8080, "protocol": "TCP"}]
    assert all(a["targetRef"]["kind"] == "Pod" and a["nodeName"] for a in subset["addresses"])
    service = embedded_cluster.call(api.get("services", ns, "web"))
    assert ep["metadata"].get("labels") == service["metadata"].get("labels")
    table = ok(embedded_cluster, "-n", ns, "get", "endpoints").splitlines()
    assert table[0].split() == ["NAME", "ENDPOINTS", "AGE"]
    ips = sorted(a["ip"] for a in subset["addresses"])
    assert table[1].split()[1] == ",".join(f"{ip}:8080" for ip in ips)
    out = kubectl(embedded_cluster, "-n", ns, "delete", "endpoints", "web")
    assert out.returncode != 0 and "endpoints are read-only on this cluster" in out.stderr
    code, _, body = raw(embedded_cluster, "POST", f"/api/v1/namespaces/{ns}/endpoints",
                        {"metadata": {"name": "mine"}, "subsets": []})
    status = json.loads(body)
    assert code == 405 and status["reason"] == "MethodNotAllowed", status
    assert "write an EndpointSlice" in status["message"]
    ok(embedded_cluster, "-n", ns, "delete", "service", "web")
    until(lambda: not embedded_cluster.call(api.list("endpoints", ns))[0],
          "the Endpoints to go with the Service")


def test_apply_prune_without_an_allowlist(embedded_cluster: RunningCluster, ns: str) -> None:
    docs = [{"apiVersion": "v1", "kind": "ConfigMap",
             "metadata": {"name": name, "namespace": ns, "labels": {"app": "pruned"}},
             "data": {"a": "1"}} for name in ("keep", "drop")]
    ok(embedded_cluster, "apply", "-f", "-", stdin=yaml.safe_dump_all(docs))
    out = ok(embedded_cluster, "-n", ns, "apply", "--prune", "-l", "app=pruned", "-f", "-",
             stdin=json.dumps(docs[0]))
    assert "configmap/drop pruned" in out
    assert ok(embedded_cluster, "-n", ns, "get", "configmaps", "-l", "app=pruned", "-o",
              "name").split() == ["configmap/keep"]


def test_kinds_nothing_runs_are_listed_but_not_created(embedded_cluster: RunningCluster,
                                                       ns: str) -> None:
    assert "No resources found" in kubectl(embedded_cluster, "-n", ns, "get",
                                           "statefulsets").stderr
    out = kubectl(embedded_cluster, "-n", ns, "create", "-f", "-", stdin=json.dumps({
        "apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "agent"},
        "spec": {"selector": {"matchLabels": {"a": "b"}}, "template": {
            "metadata": {"labels": {"a": "b"}},
            "spec": {"containers": [{"name": "c", "image": "i"}]}}}}))
    assert out.returncode != 0
    assert "this cluster does not run daemonsets.apps" in out.stderr


def test_events_in_both_groups_share_one_store(embedded_cluster: RunningCluster,
                                               ns: str) -> None:
    api = embedded_cluster.api
    created = embedded_cluster.call(api.create("events.events.k8s.io", ns, {
        "metadata": {"name": "e1"}, "eventTime": "2026-01-01T00:00:00.000000Z",
        "reportingController": "example.com/ctl", "reportingInstance": "ctl-1",
        "action": "Scaling", "reason": "Scaled", "type": "Normal", "note": "scaled to 3",
        "regarding": {"kind": "Deployment", "name": "web", "namespace": ns}}))
    assert created["apiVersion"] == "events.k8s.io/v1" and created["note"] == "scaled to 3"
    core = embedded_cluster.call(api.get("events", ns, "e1"))
    assert core["apiVersion"] == "v1"
    assert (core["message"], core["reportingComponent"], core["involvedObject"]["name"]) == (
        "scaled to 3", "example.com/ctl", "web")
    assert core["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]
    embedded_cluster.call(api.create("events", ns, {
        "metadata": {"name": "e2"}, "reason": "Legacy", "message": "from core/v1",
        "involvedObject": {"kind": "Pod", "name": "p", "namespace": ns},
        "firstTimestamp": "2026-01-01T00:00:00Z", "count": 3}))
    listed = json.loads(ok(embedded_cluster, "-n", ns, "get", "events.v1.events.k8s.io",
                           "-o", "json"))["items"]
    by_name = {e["metadata"]["name"]: e for e in listed}
    assert set(by_name) == {"e1", "e2"}
    assert (by_name["e2"]["note"], by_name["e2"]["deprecatedCount"],
            by_name["e2"]["regarding"]["name"]) == ("from core/v1", 3, "p")
    code, _, body = raw(embedded_cluster, "POST",
                        f"/apis/events.k8s.io/v1/namespaces/{ns}/events",
                        {"metadata": {"name": "bad"}, "reason": "R",
                         "regarding": {"kind": "Pod", "name": "p", "namespace": ns}})
    status = json.loads(body)
    assert code == 422, status
    fields = {c["field"] for c in status["details"]["causes"]}
    assert {"eventTime", "type"} <= fields
    ok(embedded_cluster, "-n", ns, "delete", "events.v1.events.k8s.io", "e2")
    assert [e["metadata"]["name"] for e in embedded_cluster.call(api.list("events", ns))[0]
            if e["metadata"]["name"].startswith("e")] == ["e1"]


def test_network_policies_are_stored_and_validated(embedded_cluster: RunningCluster,
                                                   ns: str) -> None:
    policy = {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
              "metadata": {"name": "web", "namespace": ns},
              "spec": {"podSelector": {"matchLabels": {"app": "web"}},
                       "ingress": [{"from": [{"namespaceSelector": {}}],
                                    "ports": [{"port": 8080}]}]}}
    ok(embedded_cluster, "apply", "-f", "-", stdin=json.dumps(policy))
    stored = json.loads(ok(embedded_cluster, "-n", ns, "get", "netpol", "web", "-o", "json"))
    assert stored["spec"]["policyTypes"] == ["Ingress"]
    assert stored["spec"]["ingress"][0]["ports"] == [{"port": 8080, "protocol": "TCP"}]
    table = ok(embedded_cluster, "-n", ns, "get", "networkpolicies").splitlines()
    assert table[0].split() == ["NAME", "POD-SELECTOR", "AGE"]
    assert table[1].split()[:2] == ["web", "app=web"]
    bad = dict(policy, metadata={"name": "bad", "namespace": ns}, spec={
        "podSelector": {}, "policyTypes": ["Sideways"],
        "egress": [{"to": [{}], "ports": [{"port": 70000, "protocol": "ICMP"}]}]})
    out = kubectl(embedded_cluster, "apply", "-f", "-", stdin=json.dumps(bad))
    assert out.returncode != 0
    for problem in ('spec.policyTypes[0]: Unsupported value: "Sideways"',
                    "spec.egress[0].to[0]: Required value: must specify a peer",
                    "spec.egress[0].ports[0].port: Invalid value: 70000",
                    'spec.egress[0].ports[0].protocol: Unsupported value: "ICMP"'):
        assert problem in out.stderr, out.stderr


def test_typed_secrets_need_their_keys(embedded_cluster: RunningCluster, ns: str) -> None:
    out = kubectl(embedded_cluster, "-n", ns, "create", "-f", "-", stdin=json.dumps({
        "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "tls"},
        "type": "kubernetes.io/tls", "data": {"tls.crt": "Y2VydA=="}}))
    assert out.returncode != 0
    assert 'The Secret "tls" is invalid: data[tls.key]: Required value' in out.stderr
    ca = trustme.CA()
    cert = ca.issue_cert("web.example.com")
    crt, key = tmp_files(ns, cert.cert_chain_pems[0].bytes(), cert.private_key_pem.bytes())
    out = kubectl(embedded_cluster, "-n", ns, "create", "secret", "tls", "good",
                  f"--cert={crt}", f"--key={key}")
    assert out.returncode == 0, out.stderr
    out = kubectl(embedded_cluster, "-n", ns, "patch", "secret", "good", "--type=merge", "-p",
                  '{"type": "Opaque"}')
    assert out.returncode != 0 and 'type: Invalid value: "Opaque": field is immutable' in \
        out.stderr


def tmp_files(prefix: str, *contents: bytes) -> list[str]:
    import tempfile

    paths = []
    for i, data in enumerate(contents):
        with tempfile.NamedTemporaryFile(prefix=f"{prefix}-{i}-", delete=False) as f:
            f.write(data)
            paths.append(f.name)
    return paths


def test_a_conversion_webhook_ca_bundle_must_be_pem(embedded_cluster: RunningCluster) -> None:
    crd = {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
           "metadata": {"name": "widgets.example.com"},
           "spec": {"group": "example.com", "scope": "Namespaced",
                    "names": {"plural": "widgets", "kind": "Widget"},
                    "versions": [{"name": "v1", "served": True, "storage": True, "schema": {
                        "openAPIV3Schema": {"type": "object"}}}],
                    "conversion": {"strategy": "Webhook", "webhook": {
                        "conversionReviewVersions": ["v1"],
                        "clientConfig": {"url": "https://conv.example.com/convert",
                                         "caBundle": base64.b64encode(b"\n").decode()}}}}}
    out = kubectl(embedded_cluster, "create", "-f", "-", stdin=json.dumps(crd))
    assert out.returncode != 0
    assert ('spec.conversion.webhookClientConfig.caBundle: Invalid value: "Cg==": unable to '
            "load root certificates: unable to parse bytes as PEM block") in out.stderr
