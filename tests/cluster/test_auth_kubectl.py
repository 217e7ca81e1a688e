"""Authentication and authorization through kubectl and the official client, as on a real
cluster: ServiceAccount tokens allowed and denied per RBAC, ``auth can-i``/``whoami``,
impersonation, escalation refused, token expiry and bound-pod deletion, the reviews."""

from __future__ import annotations

import base64
import json
import socket
import ssl
import time
from collections.abc import Iterator
from typing import Any

import pytest
from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException

from tests.cluster.conftest import deployment, kubectl, raw
from webhook.cluster import apiservice
from webhook.cluster.runtime import RunningCluster

RBAC = "rbac.authorization.k8s.io"


def token_for(cluster: RunningCluster, ns: str, sa: str, *extra: str) -> str:
    kubectl(cluster, "-n", ns, "create", "sa", sa)
    out = kubectl(cluster, "-n", ns, "create", "token", sa, *extra, check=True)
    return out.stdout.strip()


def as_bot(cluster: RunningCluster, token: str, *args: str) -> Any:
    return kubectl(cluster, "--token", token, *args)


@pytest.fixture
def bot(api_cluster: RunningCluster, ns: str) -> Iterator[str]:
    yield token_for(api_cluster, ns, "bot")


def test_a_service_account_token_is_allowed_and_denied_per_rbac(
        api_cluster: RunningCluster, ns: str, bot: str) -> None:
    kubectl(api_cluster, "-n", ns, "apply", "-f", "-", stdin=json.dumps(deployment("web")),
            check=True)
    denied = as_bot(api_cluster, bot, "-n", ns, "get", "deployments")
    assert denied.returncode == 1
    assert denied.stderr.strip() == (
        'Error from server (Forbidden): deployments.apps is forbidden: User '
        f'"system:serviceaccount:{ns}:bot" cannot list resource "deployments" in API group '
        f'"apps" in the namespace "{ns}"')
    kubectl(api_cluster, "-n", ns, "create", "role", "deployer", "--verb=get,list,watch",
            "--resource=deployments.apps", check=True)
    kubectl(api_cluster, "-n", ns, "create", "rolebinding", "bot-deployer", "--role=deployer",
            f"--serviceaccount={ns}:bot", check=True)
    listed = as_bot(api_cluster, bot, "-n", ns, "get", "deployments", "-o", "name")
    assert listed.stdout.split() == ["deployment.apps/web"], listed.stderr
    patched = as_bot(api_cluster, bot, "-n", ns, "scale", "deployment/web", "--replicas=3")
    assert patched.returncode == 1
    assert (f'deployments.apps "web" is forbidden: User "system:serviceaccount:{ns}:bot" '
            'cannot patch resource "deployments/scale" in API group "apps" in the namespace '
            f'"{ns}"') in patched.stderr
    label = as_bot(api_cluster, bot, "-n", ns, "label", "deployment/web", "x=y")
    assert (f'deployments.apps "web" is forbidden: User "system:serviceaccount:{ns}:bot" '
            'cannot patch resource "deployments" in API group "apps" in the namespace '
            f'"{ns}"') in label.stderr
    # the 403 is upstream's Status body
    code, _, body = raw(api_cluster, "PATCH", f"/apis/apps/v1/namespaces/{ns}/deployments/web",
                        b"{}", {"Content-Type": "application/merge-patch+json"}, token=bot)
    status = json.loads(body)
    assert code == 403 and status["reason"] == "Forbidden" and status["code"] == 403
    assert status["details"] == {"name": "web", "group": "apps", "kind": "deployments"}
    # other namespaces stay closed; discovery is open to every authenticated user
    assert as_bot(api_cluster, bot, "-n", "default", "get", "deployments").returncode == 1
    assert as_bot(api_cluster, bot, "api-resources", "--api-group=apps").returncode == 0
    garbage = kubectl(api_cluster, "--token", "not-a-token", "get", "pods")
    assert "Unauthorized" in garbage.stderr


def test_auth_can_i_yes_no_and_list(api_cluster: RunningCluster, ns: str, bot: str) -> None:
    kubectl(api_cluster, "-n", ns, "create", "role", "reader", "--verb=get,list",
            "--resource=pods,pods/log", "--resource-name=web", check=True)
    kubectl(api_cluster, "-n", ns, "create", "rolebinding", "r", "--role=reader",
            f"--serviceaccount={ns}:bot", check=True)

    def can(*args: str) -> str:
        out = as_bot(api_cluster, bot, "-n", ns, "auth", "can-i", *args)
        return str(out.stdout.strip() or out.stderr.strip())

    assert can("get", "pods/web") == "yes"
    assert can("get", "pods/other") == "no"
    assert can("get", "pods/web", "--subresource=log") == "yes"
    assert can("delete", "pods/web") == "no"
    assert can("create", "selfsubjectaccessreviews.authorization.k8s.io") == "yes"
    assert can("get", "/version") == "yes" and can("get", "/metrics") == "no"
    listed = as_bot(api_cluster, bot, "-n", ns, "auth", "can-i", "--list").stdout
    rows = sorted(line.split() for line in listed.splitlines() if line.startswith("pods"))
    assert rows == [["pods", "[]", "[web]", "[get", "list]"],
                    ["pods/log", "[]", "[web]", "[get", "list]"]]
    assert "[/version]" in listed
    # the admin can do anything; --as asks for someone else
    assert kubectl(api_cluster, "-n", ns, "auth", "can-i", "delete", "nodes").stdout == "yes\n"
    assert kubectl(api_cluster, "-n", ns, "auth", "can-i", "get", "pods/web",
                   f"--as=system:serviceaccount:{ns}:bot").stdout == "yes\n"
    assert kubectl(api_cluster, "-n", ns, "auth", "can-i", "get", "pods/web",
                   "--as=jane").stdout == "no\n"
    assert kubectl(api_cluster, "-n", ns, "auth", "can-i", "get", "pods/web", "--as=jane",
                   "--as-group=system:masters").stdout == "yes\n"


def test_auth_whoami(api_cluster: RunningCluster, ns: str, bot: str) -> None:
    admin = kubectl(api_cluster, "auth", "whoami", "-o", "json", check=True)
    assert json.loads(admin.stdout)["status"]["userInfo"] == {
        "username": "system:admin", "groups": ["system:masters", "system:authenticated"]}
    me = json.loads(as_bot(api_cluster, bot, "auth", "whoami", "-o", "json").stdout)
    info = me["status"]["userInfo"]
    sa = json.loads(kubectl(api_cluster, "-n", ns, "get", "sa", "bot", "-o", "json").stdout)
    assert info["username"] == f"system:serviceaccount:{ns}:bot"
    assert info["uid"] == sa["metadata"]["uid"]
    assert info["groups"] == ["system:serviceaccounts", f"system:serviceaccounts:{ns}",
                              "system:authenticated"]
    assert info["extra"]["authentication.kubernetes.io/credential-id"][0].startswith("JTI=")
    jane = kubectl(api_cluster, "auth", "whoami", "--as=jane", "--as-group=devs",
                   "--as-uid=42", "-o", "json", check=True)
    assert json.loads(jane.stdout)["status"]["userInfo"] == {
        "username": "jane", "uid": "42", "groups": ["devs", "system:authenticated"]}


def test_impersonation_is_itself_authorized(api_cluster: RunningCluster, ns: str,
                                            bot: str) -> None:
    out = as_bot(api_cluster, bot, "-n", ns, "get", "pods", "--as=jane")
    assert out.returncode == 1
    assert out.stderr.strip() == (
        'Error from server (Forbidden): users "jane" is forbidden: User '
        f'"system:serviceaccount:{ns}:bot" cannot impersonate resource "users" in API group '
        '"" at the cluster scope')
    kubectl(api_cluster, "create", "clusterrole", f"impersonate-jane-{ns}",
            "--verb=impersonate", "--resource=users", "--resource-name=jane", check=True)
    kubectl(api_cluster, "create", "clusterrolebinding", f"bot-{ns}",
            f"--clusterrole=impersonate-jane-{ns}", f"--serviceaccount={ns}:bot", check=True)
    # now bot may act as jane, and jane (not bot) is who gets authorized
    as_jane = as_bot(api_cluster, bot, "-n", ns, "get", "pods", "--as=jane")
    assert 'User "jane" cannot list resource "pods"' in as_jane.stderr
    kubectl(api_cluster, "-n", ns, "create", "rolebinding", "jane-view", "--clusterrole=view",
            "--user=jane", check=True)
    assert as_bot(api_cluster, bot, "-n", ns, "get", "pods", "--as=jane").returncode == 0
    groups = as_bot(api_cluster, bot, "-n", ns, "get", "pods", "--as=jane",
                    "--as-group=admins")
    assert 'groups "admins" is forbidden' in groups.stderr
    # groups without a user is refused as upstream does (500)
    code, _, body = raw(api_cluster, "GET", f"/api/v1/namespaces/{ns}/pods",
                        headers={"Impersonate-Group": "devs"})
    assert code == 500 and b"without impersonating a user" in body


def test_kubectl_create_rbac_objects(api_cluster: RunningCluster, api_client: k8s.ApiClient,
                                     ns: str) -> None:
    rbac: Any = k8s.RbacAuthorizationV1Api(api_client)
    kubectl(api_cluster, "-n", ns, "create", "role", "pods", "--verb=get,list",
            "--resource=pods,deployments.apps/scale", check=True)
    assert [(r.api_groups, r.resources, r.verbs) for r in
            rbac.read_namespaced_role("pods", ns).rules] == [
        ([""], ["pods"], ["get", "list"]), (["apps"], ["deployments/scale"], ["get", "list"])]
    kubectl(api_cluster, "create", "clusterrole", f"health-{ns}", "--verb=get",
            "--non-resource-url=/healthz/*", check=True)
    cr = rbac.read_cluster_role(f"health-{ns}")
    assert cr.rules[0].non_resource_urls == ["/healthz/*"]
    kubectl(api_cluster, "-n", ns, "create", "rolebinding", "b", "--role=pods", "--user=jane",
            "--group=devs", f"--serviceaccount={ns}:default", check=True)
    rb = rbac.read_namespaced_role_binding("b", ns)
    assert rb.role_ref.to_dict() == {"api_group": RBAC, "kind": "Role", "name": "pods"}
    assert [(s.kind, s.name, s.api_group or "") for s in rb.subjects] == [
        ("User", "jane", RBAC), ("Group", "devs", RBAC), ("ServiceAccount", "default", "")]
    kubectl(api_cluster, "create", "clusterrolebinding", f"c-{ns}",
            f"--clusterrole=health-{ns}", "--group=system:authenticated", check=True)
    shown = kubectl(api_cluster, "get", "clusterrolebinding", f"c-{ns}", "-o", "wide")
    assert f"ClusterRole/health-{ns}" in shown.stdout and "system:authenticated" in shown.stdout
    bad = kubectl(api_cluster, "-n", ns, "create", "rolebinding", "x", "--role=pods",
                  "--serviceaccount=bad")
    assert bad.returncode == 1
    changed = kubectl(api_cluster, "-n", ns, "create", "rolebinding", "b", "--role=other",
                      "--user=jane", "--dry-run=server", "-o", "yaml")
    assert "already exists" in changed.stderr
    invalid = kubectl(api_cluster, "-n", ns, "apply", "-f", "-", stdin=json.dumps({
        "apiVersion": f"{RBAC}/v1", "kind": "RoleBinding", "metadata": {"name": "b"},
        "roleRef": {"apiGroup": RBAC, "kind": "ClusterRole", "name": "view"},
        "subjects": [{"kind": "User", "name": "jane"}]}))
    assert "cannot change roleRef" in invalid.stderr


def test_escalation_is_refused_through_kubectl(api_cluster: RunningCluster, ns: str,
                                               bot: str) -> None:
    # not "*": that holds escalate and bind too
    kubectl(api_cluster, "-n", ns, "create", "role", "rbac-admin",
            "--verb=create,get,list,update,patch,delete", "--resource=roles,rolebindings",
            check=True)
    kubectl(api_cluster, "-n", ns, "create", "rolebinding", "bot", "--role=rbac-admin",
            f"--serviceaccount={ns}:bot", check=True)
    held = as_bot(api_cluster, bot, "-n", ns, "create", "role", "copy", "--verb=list",
                  "--resource=roles")
    assert held.returncode == 0, held.stderr
    more = as_bot(api_cluster, bot, "-n", ns, "create", "role", "secrets", "--verb=get",
                  "--resource=secrets")
    assert more.returncode == 1
    assert more.stderr.strip() == (
        f'Error from server (Forbidden): roles.rbac.authorization.k8s.io "secrets" is '
        f'forbidden: user "system:serviceaccount:{ns}:bot" (groups=["system:serviceaccounts" '
        f'"system:serviceaccounts:{ns}" "system:authenticated"]) is attempting to grant RBAC '
        'permissions not currently held:\n{APIGroups:[""], Resources:["secrets"], '
        'Verbs:["get"]}')
    bind = as_bot(api_cluster, bot, "-n", ns, "create", "rolebinding", "me-admin",
                  "--clusterrole=admin", f"--serviceaccount={ns}:bot")
    assert "is attempting to grant RBAC permissions not currently held" in bind.stderr
    assert as_bot(api_cluster, bot, "-n", ns, "get", "secrets").returncode == 1


def test_aggregation_through_kubectl(api_cluster: RunningCluster, ns: str) -> None:
    kubectl(api_cluster, "create", "clusterrole", f"agg-{ns}",
            f"--aggregation-rule=team={ns}", check=True)
    kubectl(api_cluster, "create", "clusterrole", f"part-{ns}", "--verb=get",
            "--resource=secrets", check=True)
    kubectl(api_cluster, "label", "clusterrole", f"part-{ns}", f"team={ns}", check=True)
    got = json.loads(kubectl(api_cluster, "get", "clusterrole", f"agg-{ns}", "-o",
                             "json").stdout)
    assert got["rules"] == [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]}]
    view = json.loads(kubectl(api_cluster, "get", "clusterrole", "view", "-o", "json").stdout)
    assert {"apiGroups": ["apps"], "resources": ["controllerrevisions", "daemonsets",
            "daemonsets/status", "deployments", "deployments/scale", "deployments/status",
            "replicasets", "replicasets/scale", "replicasets/status", "statefulsets",
            "statefulsets/scale", "statefulsets/status"],
            "verbs": ["get", "list", "watch"]} in view["rules"]


def test_a_token_stops_working_when_it_expires(api_cluster: RunningCluster, ns: str) -> None:
    token = token_for(api_cluster, ns, "short", "--duration=10m")
    claims = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))
    assert claims["exp"] - claims["iat"] == 600
    assert as_bot(api_cluster, token, "auth", "whoami").returncode == 0
    start = time.time()
    auth = api_cluster.api.auth
    try:
        auth.clock = lambda: start + 600 + 120  # the API server's clock, past exp + leeway
        out = as_bot(api_cluster, token, "auth", "whoami")
        assert out.returncode == 1
        assert "error: You must be logged in to the server (Unauthorized)" in out.stderr
    finally:
        auth.clock = time.time
    too_short = kubectl(api_cluster, "-n", ns, "create", "token", "short", "--duration=1m")
    assert ("spec.expirationSeconds: Invalid value: 60: may not specify a duration less than "
            "10 minutes") in too_short.stderr


def test_a_pod_bound_token_stops_working_with_its_pod(api_cluster: RunningCluster,
                                                      ns: str) -> None:
    kubectl(api_cluster, "-n", ns, "create", "sa", "runner", check=True)
    kubectl(api_cluster, "-n", ns, "run", "web", "--image=demo:v1",
            "--overrides", json.dumps({"spec": {"serviceAccountName": "runner"}}), check=True)
    token = kubectl(api_cluster, "-n", ns, "create", "token", "runner",
                    "--bound-object-kind=Pod", "--bound-object-name=web",
                    check=True).stdout.strip()
    who = json.loads(as_bot(api_cluster, token, "auth", "whoami", "-o", "json").stdout)
    assert who["status"]["userInfo"]["extra"]["authentication.kubernetes.io/pod-name"] == ["web"]
    kubectl(api_cluster, "-n", ns, "delete", "pod", "web", check=True)  # unscheduled: gone
    assert "Unauthorized" in as_bot(api_cluster, token, "auth", "whoami").stderr


def test_pods_get_their_service_account_or_are_refused(api_cluster: RunningCluster,
                                                        ns: str) -> None:
    kubectl(api_cluster, "-n", ns, "run", "web", "--image=demo:v1", check=True)
    pod = json.loads(kubectl(api_cluster, "-n", ns, "get", "pod", "web", "-o", "json").stdout)
    assert pod["spec"]["serviceAccountName"] == "default"
    vol = pod["spec"]["volumes"][0]
    assert vol["name"].startswith("kube-api-access-")
    assert pod["spec"]["containers"][0]["volumeMounts"] == [
        {"name": vol["name"], "readOnly": True,
         "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount"}]
    missing = kubectl(api_cluster, "-n", ns, "run", "lost", "--image=demo:v1",
                      "--overrides", json.dumps({"spec": {"serviceAccountName": "ghost"}}))
    assert missing.returncode == 1
    assert missing.stderr.strip() == (
        'Error from server (Forbidden): pods "lost" is forbidden: error looking up service '
        f'account {ns}/ghost: serviceaccount "ghost" not found')


def test_what_a_pod_needs_to_reach_the_api_server(api_cluster: RunningCluster, ns: str,
                                                  bot: str) -> None:
    cm = json.loads(kubectl(api_cluster, "-n", ns, "get", "cm", "kube-root-ca.crt", "-o",
                            "json").stdout)
    svc = json.loads(kubectl(api_cluster, "-n", "default", "get", "svc", "kubernetes", "-o",
                             "json").stdout)
    assert svc["spec"]["clusterIP"] == "10.96.0.1"
    assert svc["spec"]["ports"][0]["name"] == "https" and svc["spec"]["ports"][0]["port"] == 443
    eps = json.loads(kubectl(api_cluster, "-n", "default", "get", "endpointslice", "kubernetes",
                             "-o", "json").stdout)
    host = eps["endpoints"][0]["addresses"][0]
    port = eps["ports"][0]["port"]
    assert f"https://{host}:{port}" == api_cluster.url
    assert apiservice.address(api_cluster.api) == (host, port)
    # what an in-pod client does: trust ca.crt, dial the endpoint as kubernetes.default.svc
    ctx = ssl.create_default_context(cadata=cm["data"]["ca.crt"])
    with socket.create_connection((host, port), timeout=10) as sock, \
            ctx.wrap_socket(sock, server_hostname="kubernetes.default.svc") as tls:
        tls.sendall(b"GET /version HTTP/1.1\r\nHost: kubernetes.default.svc\r\n"
                    b"Authorization: Bearer " + bot.encode() + b"\r\nConnection: close\r\n\r\n")
        reply = b""
        while chunk := tls.recv(4096):
            reply += chunk
    assert reply.startswith(b"HTTP/1.1 200") and b'"gitVersion"' in reply
    issuer = json.loads(as_bot(api_cluster, bot, "get", "--raw",
                               "/.well-known/openid-configuration").stdout)
    assert issuer["issuer"] == "https://kubernetes.default.svc.cluster.local"
    jwks = json.loads(as_bot(api_cluster, bot, "get", "--raw", "/openid/v1/jwks").stdout)
    assert jwks["keys"][0]["kid"] == json.loads(base64.urlsafe_b64decode(
        bot.split(".", maxsplit=1)[0] + "=="))["kid"]


def test_reviews_through_the_official_client(api_client: k8s.ApiClient, ns: str,
                                             bot: str, api_cluster: RunningCluster) -> None:
    authn: Any = k8s.AuthenticationV1Api(api_client)
    authz: Any = k8s.AuthorizationV1Api(api_client)
    review = authn.create_token_review({"spec": {"token": bot}})
    assert review.status.authenticated is True
    assert review.status.user.username == f"system:serviceaccount:{ns}:bot"
    assert review.status.audiences == ["https://kubernetes.default.svc.cluster.local"]
    bad = authn.create_token_review({"spec": {"token": bot[:-6] + "AAAAAA"}})
    assert not bad.status.authenticated and bad.status.error
    kubectl(api_cluster, "-n", ns, "create", "rolebinding", "v", "--clusterrole=view",
            f"--serviceaccount={ns}:bot", check=True)
    sar = authz.create_subject_access_review({"spec": {
        "user": f"system:serviceaccount:{ns}:bot", "groups": ["system:serviceaccounts"],
        "resourceAttributes": {"namespace": ns, "verb": "list", "resource": "pods"}}})
    assert sar.status.allowed is True
    assert sar.status.reason == (f'RBAC: allowed by RoleBinding "v/{ns}" of ClusterRole "view" '
                                 f'to ServiceAccount "bot/{ns}"')
    no = authz.create_namespaced_local_subject_access_review(ns, {"spec": {
        "user": f"system:serviceaccount:{ns}:bot", "resourceAttributes": {
            "namespace": ns, "verb": "delete", "resource": "pods"}}})
    assert no.status.allowed is False
    with pytest.raises(ApiException) as err:
        authz.create_subject_access_review({"spec": {"resourceAttributes": {"verb": "get"}}})
    assert err.value.status == 422 and "at least one of user or group" in str(err.value.body)
    rules = authz.create_self_subject_rules_review({"spec": {"namespace": ns}})
    assert {"verbs": ["*"], "api_groups": ["*"], "resources": ["*"], "resource_names": None} in [
        r.to_dict() for r in rules.status.resource_rules]
    code, _, _ = raw(api_cluster, "GET", "/apis/authentication.k8s.io/v1/tokenreviews")
    assert code == 405
    code, _, _ = raw(api_cluster, "GET", f"/api/v1/namespaces/{ns}/serviceaccounts/bot/token")
    assert code == 405
    core = json.loads(raw(api_cluster, "GET", "/api/v1")[2])
    token_sub = next(r for r in core["resources"] if r["name"] == "serviceaccounts/token")
    assert token_sub["verbs"] == ["create"] and token_sub["kind"] == "TokenRequest"
    assert token_sub["group"] == "authentication.k8s.io"


def test_a_protobuf_subject_access_review_keeps_its_extra(api_cluster: RunningCluster,
                                                          ns: str) -> None:
    from tests.cluster.protobuf_encode import encode

    kubectl(api_cluster, "create", "clusterrole", f"scoped-{ns}", "--verb=get",
            "--resource=pods", check=True)
    kubectl(api_cluster, "create", "clusterrolebinding", f"scoped-{ns}",
            f"--clusterrole=scoped-{ns}", f"--group=g-{ns}", check=True)
    body = encode({"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview",
                   "spec": {"user": "u", "groups": [f"g-{ns}"],
                            "extra": {"scopes": {"items": ["a", "b"]}},
                            "resourceAttributes": {"verb": "get", "resource": "pods"}}})
    code, _, out = raw(api_cluster, "POST", "/apis/authorization.k8s.io/v1/subjectaccessreviews",
                       body, {"Content-Type": "application/vnd.kubernetes.protobuf"})
    review = json.loads(out)
    assert code == 201, review
    assert review["spec"]["extra"] == {"scopes": ["a", "b"]}
    assert review["status"]["allowed"] is True
