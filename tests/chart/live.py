"""What the chart's live tests share: kubectl, the audit of the API server's authorization
decisions, ServiceAccount kubeconfigs, the opted-in app they release, waiting."""

from __future__ import annotations

import json
import subprocess
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from webhook.cluster.auth.rbac.policy import Decision
from webhook.cluster.auth.rbac.rules import Request, Rule, rule_allows
from webhook.cluster.runtime import RunningCluster


def kubectl(cluster: RunningCluster, *args: str, stdin: str | None = None,
            kubeconfig: Path | None = None, timeout: float = 60
            ) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["kubectl", "--kubeconfig", str(kubeconfig or cluster.kubeconfig),
                           *args], capture_output=True, text=True, input=stdin,
                          timeout=timeout, check=False)


def ok(cluster: RunningCluster, *args: str, stdin: str | None = None) -> str:
    out = kubectl(cluster, *args, stdin=stdin)
    assert out.returncode == 0, f"kubectl {' '.join(args)}: {out.stderr}"
    return out.stdout


def get_json(cluster: RunningCluster, *args: str) -> Any:
    return json.loads(ok(cluster, "get", *args, "-o", "json"))


def wait_for(what: str, probe: Callable[[], Any], within: float = 60.0,
             every: float = 0.3) -> Any:
    deadline = time.monotonic() + within
    last: Any = None
    while time.monotonic() < deadline:
        last = probe()
        if last:
            return last
        time.sleep(every)
    raise AssertionError(f"{what}: not within {within} s (last: {last!r})")


def sa_user(namespace: str, name: str) -> str:
    return f"system:serviceaccount:{namespace}:{name}"


def sa_kubeconfig(cluster: RunningCluster, namespace: str, name: str, path: Path) -> Path:
    """A kubeconfig that authenticates as ServiceAccount ``namespace/name`` (a bound token)."""
    token = ok(cluster, "create", "token", name, "-n", namespace, "--duration", "2h").strip()
    admin = yaml.safe_load(cluster.kubeconfig.read_text())
    server = admin["clusters"][0]["cluster"]
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": name,
        "clusters": [{"name": "embedded", "cluster": server}],
        "users": [{"name": name, "user": {"token": token}}],
        "contexts": [{"name": name, "context": {"cluster": "embedded", "user": name,
                                                "namespace": namespace}}]}))
    return path


@dataclass
class Audit:
    """Every authorization decision the API server made for the users of interest."""

    users: set[str]
    seen: list[tuple[str, Request, Decision]] = field(default_factory=list, repr=False)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __call__(self, request: Request, decision: Decision) -> None:
        if request.user.name in self.users:
            with self.lock:
                self.seen.append((request.user.name, request, decision))

    def denied(self, user: str) -> list[str]:
        return [describe(r) + f" ({d.reason})" for u, r, d in self.seen
                if u == user and not d.allowed]

    def allowed(self, user: str) -> list[Request]:
        return [r for u, r, d in self.seen if u == user and d.allowed]


def describe(r: Request) -> str:
    if not r.resource_request:
        return f"{r.verb} {r.path}"
    what = r.combined_resource + (f"/{r.subresource}" if r.subresource else "")
    where = f" in {r.namespace}" if r.namespace else ""
    return f"{r.verb} {r.api_group or 'core'}/{what}{' ' + r.name if r.name else ''}{where}"


def role_rules(objects: Iterable[dict[str, Any]], user: str
               ) -> list[tuple[str, dict[str, Any], Rule, str]]:
    """(role, rule as rendered, Rule, namespace) of every rule the chart binds to ``user``; the
    namespace is where a RoleBinding grants it ("" for a ClusterRoleBinding: everywhere)."""
    objects = list(objects)
    roles = {(o["kind"], o["metadata"].get("namespace", ""), o["metadata"]["name"]): o
             for o in objects if o["kind"] in ("Role", "ClusterRole")}
    out = []
    for b in objects:
        if b["kind"] not in ("RoleBinding", "ClusterRoleBinding"):
            continue
        bns = b["metadata"].get("namespace", "")
        if not any(sa_user(s.get("namespace", bns), s["name"]) == user for s in b["subjects"]):
            continue
        ref = b["roleRef"]
        role = roles[(ref["kind"], bns if ref["kind"] == "Role" else "", ref["name"])]
        for rule in role["rules"]:
            out.append((f"{ref['kind']} {ref['name']}" + (f" in {bns}" if bns else ""), rule,
                        Rule.from_json(rule), bns))
    return out


def unexercised(audit: Audit, objects: Iterable[dict[str, Any]], user: str) -> list[str]:
    """The chart's rules for ``user`` none of whose requests needed them: for each rule, some
    allowed request must be allowed by that rule and by no other rule of the user's roles
    (removing the rule would have denied it)."""
    rules = role_rules(objects, user)
    needed: set[int] = set()
    for req in audit.allowed(user):
        allowing = [i for i, (_, _, rule, ns) in enumerate(rules)
                    if (not ns or ns == req.namespace) and rule_allows(req, rule)]
        if len(allowing) == 1:
            needed.add(allowing[0])
    return [f"{where}: {json.dumps(raw)}" for i, (where, raw, _, _) in enumerate(rules)
            if i not in needed]


# --- the application canarist releases -----------------------------------------------------

APP = """
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{name: http, port: 80, targetPort: 8080}]
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: web}
spec:
  ingressClassName: nginx
  rules:
  - host: shop.example.com
    http:
      paths: [{path: /, pathType: Prefix, backend: {service: {name: web, port: {number: 80}}}}]
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {canarist.io/enabled: "true"}
  annotations:
    canarist.io/traffic-router: nginx,proxy
    canarist.io/nginx-ingress: web
    canarist.io/proxy-hosts: shop.example.com
    canarist.io/steps: "[{setWeight: 50}, {pause: {}}]"
    canarist.io/scale-down-delay: 1s
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: app
        image: demo:v1
        ports: [{containerPort: 8080}]
"""


def status_of(cluster: RunningCluster, ns: str, name: str = "web") -> dict[str, Any]:
    deploy = get_json(cluster, "deployment", name, "-n", ns)
    text = (deploy["metadata"].get("annotations") or {}).get("canarist.io/status")
    return json.loads(text) if text else {}
