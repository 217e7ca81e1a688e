"""Pods of canarist's image running as real processes on the embedded cluster: what a process
sees from inside (environment, volumes, hostname, its own network), exits, restarts and
back-off, and the failures a kubelet reports. Everything is read back the way a user would:
the pod's status and events from the API, its output through ``kubectl logs``."""

from __future__ import annotations

import base64
import json
import ssl
import time
import urllib.request
from collections.abc import Iterator

import pytest

from tests.cluster.podkit import (
    IMAGE,
    NAMESPACES,
    container_status,
    create,
    events,
    is_ready,
    json_log,
    kubectl,
    logs,
    needs_namespaces,
    new_namespace,
    phase_is,
    python_pod,
    wait_event,
    wait_pod,
    waiting_reason,
)
from webhook.cluster.kubelet.mounts import outermost
from webhook.cluster.kubelet.node import installation_paths
from webhook.cluster.runtime import RunningCluster

INSPECT = r"""
import json, os, socket, stat
def read(p):
    try:
        return open(p).read()
    except OSError as e:
        return f"error: {e.strerror}"
def mode(p):
    return oct(stat.S_IMODE(os.stat(p).st_mode))
def writable(p):
    try:
        open(p, "w").close()
        return True
    except OSError:
        return False
out = {
  "env": {k: v for k, v in os.environ.items() if k.startswith(("MY_", "CFG_", "KUBERNETES_"))
          or k in ("HOSTNAME", "HOME", "PATH")},
  "hostname": socket.gethostname(), "cwd": os.getcwd(),
  "secret": read("/etc/creds/user-name"), "secret_mode": mode("/etc/creds/user-name"),
  "secret_ro": not writable("/etc/creds/new"), "listing": sorted(os.listdir("/etc/creds")),
  "config": read("/config/level"), "labels": read("/podinfo/labels"),
  "name_file": read("/podinfo/name"), "sub": read("/sub/LEVEL"),
  "empty_rw": writable("/scratch/x"), "tmp": os.listdir("/tmp"),
  "hosts": read("/etc/hosts"),
}
print(json.dumps(out), flush=True)
"""


@pytest.fixture(scope="module")
def cluster() -> Iterator[RunningCluster]:
    from webhook.cluster.runtime import start_in_thread

    c = start_in_thread(without=frozenset({"webhook", "reconciler"}))
    yield c
    c.stop()


def _secret(ns: str, name: str, data: dict[str, str]) -> dict[str, object]:
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "namespace": ns},
            "data": {k: base64.b64encode(v.encode()).decode() for k, v in data.items()}}


def _configmap(ns: str, name: str, data: dict[str, str]) -> dict[str, object]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": ns},
            "data": data}


@needs_namespaces
def test_a_process_sees_its_env_and_volumes_at_their_paths(cluster):
    ns = new_namespace(cluster)
    create(cluster, ns, _secret(ns, "creds", {"user": "admin", "pass": "s3cret"}), "secrets")
    create(cluster, ns, _configmap(ns, "cfg", {"LEVEL": "debug", "level": "info"}), "configmaps")
    pod = python_pod("inspect", INSPECT, workingDir="/work/here", env=[
        {"name": "MY_POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
        {"name": "MY_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
        {"name": "MY_NS", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
        {"name": "MY_NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}},
        {"name": "MY_APP", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['app']"}}},
        {"name": "MY_USER", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "user"}}},
        {"name": "MY_LEVEL", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "level"}}},
        {"name": "MY_URL", "value": "https://$(MY_POD_IP):8443/$(MY_LEVEL)?$$(MY_USER)"},
        {"name": "MY_MISSING", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "nope",
                                                              "optional": True}}}],
        envFrom=[{"configMapRef": {"name": "cfg"}, "prefix": "CFG_"}],
        volumeMounts=[{"name": "creds", "mountPath": "/etc/creds"},
                      {"name": "cfg", "mountPath": "/config"},
                      {"name": "cfg", "mountPath": "/sub/LEVEL", "subPath": "LEVEL"},
                      {"name": "info", "mountPath": "/podinfo"},
                      {"name": "scratch", "mountPath": "/scratch"}])
    pod["spec"]["volumes"] = [
        {"name": "creds", "secret": {"secretName": "creds", "defaultMode": 0o440,
                                     "items": [{"key": "user", "path": "user-name"}]}},
        {"name": "cfg", "configMap": {"name": "cfg"}},
        {"name": "info", "downwardAPI": {"items": [
            {"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}},
            {"path": "name", "fieldRef": {"fieldPath": "metadata.name"}}]}},
        {"name": "scratch", "emptyDir": {}}]
    create(cluster, ns, pod)
    done = wait_pod(cluster, ns, "inspect", phase_is("Succeeded", "Failed"))
    assert done["status"]["phase"] == "Succeeded", logs(cluster, ns, "inspect")
    seen = json_log(cluster, ns, "inspect")
    ip = done["status"]["podIP"]
    env = seen["env"]
    assert env["MY_POD_IP"] == ip and env["MY_NAME"] == "inspect" and env["MY_NS"] == ns
    assert env["MY_NODE"] == "canarist-node" and env["MY_APP"] == "inspect"
    assert env["MY_USER"] == "admin" and env["MY_LEVEL"] == "info"
    assert env["MY_URL"] == f"https://{ip}:8443/info?$(MY_USER)"
    assert "MY_MISSING" not in env and env["CFG_LEVEL"] == "debug"
    assert env["KUBERNETES_SERVICE_HOST"] == done["status"]["hostIP"]
    assert env["HOSTNAME"] == seen["hostname"] == "inspect"
    assert seen["cwd"] == "/work/here"
    assert seen["secret"] == "admin" and seen["secret_mode"] == "0o440" and seen["secret_ro"]
    assert "user-name" in seen["listing"] and "..data" in seen["listing"]
    assert "pass" not in seen["listing"]
    assert seen["config"] == "info" and seen["sub"] == "debug"
    assert seen["labels"] == 'app="inspect"' and seen["name_file"] == "inspect"
    # a private /tmp: nothing of the machine's but the installation, when it lives there
    installed = [p.split("/")[2] for p in outermost(installation_paths())
                 if p.startswith("/tmp/")]
    assert seen["empty_rw"] is True and seen["tmp"] == installed
    assert f"{ip}\tinspect" in seen["hosts"]


@needs_namespaces
def test_two_pods_serve_the_same_port_on_their_own_addresses(cluster):
    """Two replicas of the webhook itself: an init container writes certificates with
    ``canarist certs generate`` into an emptyDir, the webhook serves 0.0.0.0:8443; both are
    ready through their HTTPS readiness probes and answer on their own pod IPs."""
    ns = new_namespace(cluster)
    ips = []
    for name in ("hook-a", "hook-b"):
        body = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": {
            "volumes": [{"name": "certs", "emptyDir": {}}],
            "initContainers": [{"name": "certs", "image": IMAGE, "args": [
                "certs", "generate", "--service", name, "--namespace", ns, "--out", "/certs",
                "--extra-san", "$(POD_IP)"],
                "env": [{"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath":
                                                                      "status.podIP"}}}],
                "volumeMounts": [{"name": "certs", "mountPath": "/certs"}]}],
            "containers": [{"name": "webhook", "image": IMAGE, "args": [
                "webhook", "--tls-cert", "/certs/tls.crt", "--tls-key", "/certs/tls.key",
                "--listen", "0.0.0.0:8443"],
                "ports": [{"name": "https", "containerPort": 8443}],
                "readinessProbe": {"httpGet": {"path": "/readyz", "port": "https",
                                               "scheme": "HTTPS"}, "periodSeconds": 1},
                "volumeMounts": [{"name": "certs", "mountPath": "/certs",
                                  "readOnly": True}]}]}}
        create(cluster, ns, body)
    for name in ("hook-a", "hook-b"):
        pod = wait_pod(cluster, ns, name, is_ready, what="Ready")
        ips.append(pod["status"]["podIP"])
        init = pod["status"]["initContainerStatuses"][0]["state"]["terminated"]
        assert init["reason"] == "Completed" and init["exitCode"] == 0
    assert ips[0] != ips[1]
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    issuers = set()
    for ip in ips:
        with urllib.request.urlopen(f"https://{ip}:8443/healthz", context=ctx, timeout=10) as r:
            assert r.status == 200
        issuers.add(ssl.get_server_certificate((ip, 8443)))
    assert len(issuers) == 2  # two processes, each with the certificate its init container made
    assert "certs generate" not in logs(cluster, ns, "hook-a", "-c", "certs")
    assert "wrote /certs/tls.crt" in logs(cluster, ns, "hook-a", "-c", "certs")


def test_exit_codes_make_the_pod_succeed_or_fail_per_restart_policy(cluster):
    ns = new_namespace(cluster)
    create(cluster, ns, python_pod("ok", "print('done')", policy="Never"))
    create(cluster, ns, python_pod("bad", "import sys; print('oops'); sys.exit(3)",
                                   policy="Never"))
    create(cluster, ns, python_pod("retry", "import sys; sys.exit(0)", policy="OnFailure"))
    ok = wait_pod(cluster, ns, "ok", phase_is("Succeeded", "Failed"))
    bad = wait_pod(cluster, ns, "bad", phase_is("Succeeded", "Failed"))
    retry = wait_pod(cluster, ns, "retry", phase_is("Succeeded", "Failed"))
    assert ok["status"]["phase"] == "Succeeded" and retry["status"]["phase"] == "Succeeded"
    assert bad["status"]["phase"] == "Failed"
    term = container_status(bad)["state"]["terminated"]
    assert term["exitCode"] == 3 and term["reason"] == "Error"
    assert term["startedAt"] <= term["finishedAt"]
    assert container_status(ok)["state"]["terminated"]["reason"] == "Completed"
    assert container_status(retry)["restartCount"] == 0
    assert logs(cluster, ns, "bad") == "oops\n"
    reasons = [r for _, r, _ in events(cluster, ns, "ok")]
    assert reasons[:1] == ["Scheduled"] and {"Pulled", "Created", "Started"} <= set(reasons)


@pytest.mark.slow
def test_a_crashing_container_restarts_with_back_off(cluster):
    ns = new_namespace(cluster)
    create(cluster, ns, python_pod("crash", "import sys, time; print('run', time.time(), "
                                            "flush=True); sys.exit(2)", policy="Always"))
    first = wait_pod(cluster, ns, "crash", lambda p: waiting_reason(p) == "CrashLoopBackOff",
                     what="CrashLoopBackOff")
    cs = container_status(first)
    assert cs["restartCount"] == 1  # the first failure restarts at once
    assert cs["lastState"]["terminated"]["exitCode"] == 2
    assert cs["state"]["waiting"]["message"].startswith(
        "back-off 10s restarting failed container=app pod=crash_")
    assert first["status"]["phase"] == "Running"
    wait_event(cluster, ns, "crash", "BackOff", "Back-off restarting failed container app")
    started = time.monotonic()
    wait_pod(cluster, ns, "crash", lambda p: container_status(p).get("restartCount", 0) >= 2,
             limit=40, what="second restart")
    assert time.monotonic() - started > 5  # it waited out the back-off
    previous = logs(cluster, ns, "crash", "--previous")
    assert previous.startswith("run ")


def test_failures_a_kubelet_reports(cluster):
    ns = new_namespace(cluster)
    create(cluster, ns, {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "nginx"},
                         "spec": {"containers": [{"name": "web", "image": "nginx:1.25"}]}})
    create(cluster, ns, python_pod("noprog", "", command=["sh", "-c", "echo hi"]))
    create(cluster, ns, python_pod("nokey", "print(1)", env=[
        {"name": "X", "valueFrom": {"secretKeyRef": {"name": "absent", "key": "k"}}}]))
    pulled = wait_pod(cluster, ns, "nginx",
                      lambda p: waiting_reason(p) in ("ErrImagePull", "ImagePullBackOff"))
    assert pulled["status"]["phase"] == "Pending"
    _, _, message = wait_event(cluster, ns, "nginx", "Failed", "Failed to pull image")
    assert '"demo"' in message and "ghcr.io/canarist/canarist" in message
    wait_event(cluster, ns, "nginx", "Failed", "Error: ErrImagePull")
    config = wait_pod(cluster, ns, "nokey",
                      lambda p: waiting_reason(p) == "CreateContainerConfigError")
    assert container_status(config)["state"]["waiting"]["message"] == 'secret "absent" not found'
    wait_event(cluster, ns, "nokey", "Failed", 'Error: secret "absent" not found')
    create(cluster, ns, _secret(ns, "absent", {"k": "v"}), "secrets")
    wait_pod(cluster, ns, "nokey", phase_is("Succeeded"), what="start once the Secret exists")
    noprog = wait_pod(cluster, ns, "noprog", phase_is("Failed"))
    term = container_status(noprog)["state"]["terminated"]
    assert term["reason"] == "StartError" and term["exitCode"] == 128
    assert 'exec: "sh": executable file not found in $PATH' in term["message"]


def test_a_missing_volume_source_keeps_the_pod_creating_until_it_appears(cluster):
    ns = new_namespace(cluster)
    pod = python_pod("mount", "print(open('/certs/tls.crt').read())",
                     volumeMounts=[{"name": "certs", "mountPath": "/certs"}])
    pod["spec"]["volumes"] = [{"name": "certs", "secret": {"secretName": "webhook-tls"}}]
    create(cluster, ns, pod)
    _, _, message = wait_event(cluster, ns, "mount", "FailedMount")
    assert message == ('MountVolume.SetUp failed for volume "certs" : '
                       'secret "webhook-tls" not found')
    waiting = wait_pod(cluster, ns, "mount", lambda p: waiting_reason(p) == "ContainerCreating")
    assert waiting["status"]["phase"] == "Pending"
    out = kubectl(cluster, "-n", ns, "logs", "mount")
    assert out.returncode != 0
    assert 'container "app" in pod "mount" is waiting to start: ContainerCreating' in out.stderr
    create(cluster, ns, _secret(ns, "webhook-tls", {"tls.crt": "CERT"}), "secrets")
    if NAMESPACES:
        wait_pod(cluster, ns, "mount", phase_is("Succeeded"), what="Succeeded")
        assert logs(cluster, ns, "mount") == "CERT\n"


@needs_namespaces
def test_secret_updates_reach_the_mounted_volume(cluster):
    ns = new_namespace(cluster)
    create(cluster, ns, _secret(ns, "rot", {"tls.crt": "one"}), "secrets")
    watcher = ("import time\nlast = None\nfor _ in range(600):\n"
               "    now = open('/certs/tls.crt').read()\n"
               "    if now != last:\n        print('saw', now, flush=True)\n        last = now\n"
               "    if now == 'two':\n        break\n    time.sleep(0.05)\n")
    pod = python_pod("watch", watcher, volumeMounts=[{"name": "c", "mountPath": "/certs"}])
    pod["spec"]["volumes"] = [{"name": "c", "secret": {"secretName": "rot"}}]
    create(cluster, ns, pod)
    wait_pod(cluster, ns, "watch", phase_is("Running"))
    deadline = time.monotonic() + 30
    while "saw one" not in logs(cluster, ns, "watch"):
        assert time.monotonic() < deadline
        time.sleep(0.1)
    secret = _secret(ns, "rot", {"tls.crt": "two"})
    cluster.call(cluster.api.update("secrets", ns, secret, name="rot"))
    done = wait_pod(cluster, ns, "watch", phase_is("Succeeded", "Failed"), limit=30)
    assert done["status"]["phase"] == "Succeeded"
    assert logs(cluster, ns, "watch") == "saw one\nsaw two\n"


@needs_namespaces
def test_the_api_server_is_reachable_from_a_pod_with_its_certificate(cluster):
    """``KUBERNETES_SERVICE_HOST``/``_PORT`` reach the API server from inside the pod's
    network namespace, and its certificate is valid for that address."""
    ns = new_namespace(cluster)
    ca = cluster.cluster.creds.ca.cert_pem.decode()
    create(cluster, ns, _configmap(ns, "root-ca", {"ca.crt": ca}), "configmaps")
    code = ("import json, os, ssl, urllib.request\n"
            "ctx = ssl.create_default_context(cafile='/ca/ca.crt')\n"
            "url = 'https://%s:%s/version' % (os.environ['KUBERNETES_SERVICE_HOST'],"
            " os.environ['KUBERNETES_SERVICE_PORT'])\n"
            "print(json.dumps(json.load(urllib.request.urlopen(url, context=ctx))))\n")
    pod = python_pod("api", code, volumeMounts=[{"name": "ca", "mountPath": "/ca"}])
    pod["spec"]["volumes"] = [{"name": "ca", "configMap": {"name": "root-ca"}}]
    create(cluster, ns, pod)
    done = wait_pod(cluster, ns, "api", phase_is("Succeeded", "Failed"))
    assert done["status"]["phase"] == "Succeeded", logs(cluster, ns, "api")
    assert "gitVersion" in json_log(cluster, ns, "api")


def test_logs_follow_tail_since_and_the_container_to_choose(cluster):
    ns = new_namespace(cluster)
    code = ("import time\nfor i in range(5):\n    print('line', i, flush=True)\n"
            "    time.sleep(0.4)\n")
    pod = python_pod("talk", code)
    pod["spec"]["containers"].append({"name": "quiet", "image": IMAGE,
                                      "command": ["python", "-c", "print('q')"]})
    create(cluster, ns, pod)
    wait_pod(cluster, ns, "talk", lambda p: container_status(p).get("state", {}).get("running"))
    follow = kubectl(cluster, "-n", ns, "logs", "-f", "talk", "-c", "app")
    assert follow.returncode == 0, follow.stderr
    assert follow.stdout.splitlines() == [f"line {i}" for i in range(5)]
    assert logs(cluster, ns, "talk", "-c", "app", "--tail", "2") == "line 3\nline 4\n"
    assert logs(cluster, ns, "talk", "-c", "app", "--since", "1h").count("line") == 5
    stamped = logs(cluster, ns, "talk", "-c", "app", "--timestamps", "--tail", "1")
    assert stamped.endswith("Z line 4\n") and stamped[:4].isdigit()
    out = kubectl(cluster, "-n", ns, "logs", "talk")  # kubectl picks the first container
    assert out.returncode == 0 and 'Defaulted container "app"' in out.stderr
    out = kubectl(cluster, "get", "--raw", f"/api/v1/namespaces/{ns}/pods/talk/log")
    assert out.returncode != 0
    assert "a container name must be specified for pod talk, choose one of: [app quiet]" \
        in out.stderr
    out = kubectl(cluster, "-n", ns, "logs", "talk", "-c", "nope")
    assert "container nope is not valid for pod talk" in out.stderr
    out = kubectl(cluster, "-n", ns, "logs", "talk", "-c", "app", "--previous")
    assert 'previous terminated container "app" in pod "talk" not found' in out.stderr
    assert json.loads(kubectl(cluster, "-n", ns, "get", "pod", "talk", "-o", "json").stdout)


@needs_namespaces
def test_the_api_server_calls_the_webhook_running_in_a_pod_through_its_service(cluster, tmp_path):
    """canarist's admission webhook as a process in a pod (certificates from a mounted TLS
    Secret), reached by the API server's admission chain through a Service and its
    EndpointSlice at the pod's own address: an opted-in Deployment gets its hash label."""
    from webhook.tls.files import generate

    ns = new_namespace(cluster)
    made = generate(str(tmp_path), "hook", ns, days=1, extra_sans=[], force=True)
    files = {p.name: p.read_text() for p in made.paths}
    create(cluster, ns, {"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
                         "metadata": {"name": "hook-tls"},
                         "data": {k: base64.b64encode(files[k].encode()).decode()
                                  for k in ("tls.crt", "tls.key")}}, "secrets")
    create(cluster, ns, {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "hook"},
                         "spec": {"selector": {"app": "hook"},
                                  "ports": [{"port": 443, "targetPort": "https"}]}}, "services")
    create(cluster, ns, {"apiVersion": "v1", "kind": "Pod",
                         "metadata": {"name": "hook", "labels": {"app": "hook"}}, "spec": {
        "volumes": [{"name": "certs", "secret": {"secretName": "hook-tls"}}],
        "containers": [{"name": "webhook", "image": IMAGE, "args": [
            "webhook", "--tls-cert", "/certs/tls.crt", "--tls-key", "/certs/tls.key"],
            "ports": [{"name": "https", "containerPort": 8443}],
            "readinessProbe": {"httpGet": {"path": "/readyz", "port": "https",
                                           "scheme": "HTTPS"}, "periodSeconds": 1},
            "volumeMounts": [{"name": "certs", "mountPath": "/certs"}]}]}})
    wait_pod(cluster, ns, "hook", is_ready)
    name = f"pod-hook-{ns}"
    mwc = {"apiVersion": "admissionregistration.k8s.io/v1",
           "kind": "MutatingWebhookConfiguration", "metadata": {"name": name},
           "webhooks": [{
               "name": "deployments.canarist.io", "sideEffects": "None",
               "admissionReviewVersions": ["v1"], "failurePolicy": "Fail", "timeoutSeconds": 10,
               "clientConfig": {"service": {"name": "hook", "namespace": ns, "path": "/mutate"},
                                "caBundle": base64.b64encode(files["ca.crt"].encode()).decode()},
               "rules": [{"operations": ["CREATE", "UPDATE"], "apiGroups": ["apps"],
                          "apiVersions": ["v1"], "resources": ["deployments"]}],
               "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": ns}},
               "objectSelector": {"matchLabels": {"canarist.io/enabled": "true"}}}]}
    cluster.call(cluster.api.create("mutatingwebhookconfigurations.admissionregistration.k8s.io",
                                    None, mwc))
    try:
        deadline = time.monotonic() + 30
        while True:  # the EndpointSlice follows the pod's readiness
            slices, _ = cluster.call(cluster.api.list("endpointslices.discovery.k8s.io", ns))
            if any(ep.get("conditions", {}).get("ready") for s in slices
                   for ep in s.get("endpoints") or ()):
                break
            assert time.monotonic() < deadline, slices
            time.sleep(0.1)
        dep = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {
            "name": "web", "labels": {"canarist.io/enabled": "true"}}, "spec": {
            "replicas": 1, "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}},
                         "spec": {"containers": [{"name": "app", "image": "demo:v1"}]}}}}
        out = cluster.call(cluster.api.create("deployments.apps", ns, dep))
        assert "rollouts-pod-template-hash" in out["spec"]["template"]["metadata"]["labels"]
        reviews = [json.loads(line) for line in logs(cluster, ns, "hook").splitlines()
                   if '"review"' in line]
        assert [(r["outcome"], r["reason"]) for r in reviews] == [("mutated", "create")]
    finally:
        cluster.call(cluster.api.delete(
            "mutatingwebhookconfigurations.admissionregistration.k8s.io", None, name))


@needs_namespaces
def test_a_pod_talks_to_the_api_server_as_its_service_account(cluster):
    """The ServiceAccount token volume the admission plugin adds, filled by the kubelet through
    TokenRequest: the official client's in-cluster config in the pod authenticates with it,
    verifies the API server with kube-root-ca.crt, and RBAC decides what it may do."""
    ns = new_namespace(cluster)
    create(cluster, ns, {"metadata": {"name": "reader"}}, "serviceaccounts")
    create(cluster, ns, _configmap(ns, "settings", {"mode": "canary"}), "configmaps")
    create(cluster, ns, {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
                         "metadata": {"name": "read-settings"},
                         "rules": [{"apiGroups": [""], "resources": ["configmaps"],
                                    "verbs": ["get"], "resourceNames": ["settings"]}]},
           "roles.rbac.authorization.k8s.io")
    create(cluster, ns, {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
                         "metadata": {"name": "reader"},
                         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role",
                                     "name": "read-settings"},
                         "subjects": [{"kind": "ServiceAccount", "name": "reader",
                                       "namespace": ns}]},
           "rolebindings.rbac.authorization.k8s.io")
    code = ("import json\nfrom kubernetes import client, config\n"
            "config.load_incluster_config()\n"
            "ns = open('/var/run/secrets/kubernetes.io/serviceaccount/namespace').read()\n"
            "v1 = client.CoreV1Api()\n"
            "out = {'settings': v1.read_namespaced_config_map('settings', ns).data}\n"
            "try:\n    v1.list_namespaced_secret(ns)\n    out['secrets'] = 'allowed'\n"
            "except client.ApiException as e:\n    out['secrets'] = e.status\n"
            "print(json.dumps(out))\n")
    pod = python_pod("client", code)
    pod["spec"]["serviceAccountName"] = "reader"
    create(cluster, ns, pod)
    done = wait_pod(cluster, ns, "client", phase_is("Succeeded", "Failed"))
    assert done["status"]["phase"] == "Succeeded", logs(cluster, ns, "client")
    assert json_log(cluster, ns, "client") == {"settings": {"mode": "canary"}, "secrets": 403}
    volumes = [v["name"] for v in done["spec"]["volumes"]]
    assert any(v.startswith("kube-api-access-") for v in volumes)
