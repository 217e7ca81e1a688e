"""The kubelet's decisions as pure functions, each a table of cases: which images run,
``$(VAR)`` expansion, restart back-off, the pod phase, the Downward API, container
environments, volume payloads, where pods reach the API server, how a container's root is
planned, and which isolation a machine allows."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from webhook.cluster.kubelet.backoff import BackOff, format_duration
from webhook.cluster.kubelet.container import should_restart
from webhook.cluster.kubelet.downward import FieldError, field_value, go_quote, resource_value
from webhook.cluster.kubelet.env import (
    ConfigError,
    EnvInputs,
    command_line,
    container_env,
    service_env,
)
from webhook.cluster.kubelet.expansion import expand, mapping_for
from webhook.cluster.kubelet.images import ImageKind, canarist_repositories, classify, repository
from webhook.cluster.kubelet.isolation import Isolation, decide
from webhook.cluster.kubelet.mounts import Bind, MountPlanError, parse_mountinfo, plan, script
from webhook.cluster.kubelet.node import decide_api_endpoint
from webhook.cluster.kubelet.pod_status import ContainerState, Terminated, pod_phase, pod_status
from webhook.cluster.kubelet.process import StartError, exit_code, resolve
from webhook.cluster.kubelet.volumes import FileProjection, Objects, TokenSpec, VolumeError, payload

# --- images ------------------------------------------------------------------------------------

REPOS = canarist_repositories(["registry.example.com:5000/team/canarist"])


@pytest.mark.parametrize(("image", "kind"), [
    ("ghcr.io/canarist/canarist", ImageKind.CANARIST),
    ("ghcr.io/canarist/canarist:0.4.1", ImageKind.CANARIST),
    ("ghcr.io/canarist/canarist@sha256:abcd", ImageKind.CANARIST),
    ("ghcr.io/canarist/canarist:0.4@sha256:abcd", ImageKind.CANARIST),
    ("GHCR.IO/canarist/canarist:1", ImageKind.CANARIST),
    ("registry.example.com:5000/team/canarist:dev", ImageKind.CANARIST),  # up --image
    ("ghcr.io/other/canarist:1", ImageKind.UNKNOWN),
    ("canarist", ImageKind.UNKNOWN),  # docker.io/library/canarist: not the published one
    ("demo", ImageKind.DEMO), ("demo:v2", ImageKind.DEMO), ("demo@sha256:ab", ImageKind.DEMO),
    ("registry.example.com/shop/demo:1.4", ImageKind.DEMO),
    ("nginx:1.25", ImageKind.UNKNOWN), ("registry.example.com/shop/web:1.4.2", ImageKind.UNKNOWN),
    ("demo-app:v1", ImageKind.UNKNOWN), ("", ImageKind.UNKNOWN),
])
def test_which_images_run(image, kind):
    assert classify(image, REPOS) is kind


@pytest.mark.parametrize(("image", "repo"), [
    ("nginx", "docker.io/library/nginx"), ("nginx:1", "docker.io/library/nginx"),
    ("team/app:2", "docker.io/team/app"), ("localhost/app", "localhost/app"),
    ("localhost:5000/app:1", "localhost:5000/app"), ("docker.io/nginx", "docker.io/library/nginx"),
])
def test_repository_normalises_docker_hub_and_drops_tags(image, repo):
    assert repository(image) == repo


# --- $(VAR) expansion (cases of third_party/forked/golang/expansion's tests) ---------------------

VARS = {"VAR_A": "A", "VAR_B": "B", "VAR_C": "C", "VAR_REF": "$(VAR_A)", "VAR_EMPTY": ""}


@pytest.mark.parametrize(("text", "want"), [
    ("$(VAR_A)", "A"), ("___$(VAR_B)___", "___B___"), ("$(VAR_A)-$(VAR_A)", "A-A"),
    ("$(VAR_A)-1", "A-1"), ("$(VAR_A)_$(VAR_B)_$(VAR_C)", "A_B_C"),
    ("$$(VAR_B)_$(VAR_A)", "$(VAR_B)_A"), ("$$(VAR_B)_$$(VAR_A)", "$(VAR_B)_$(VAR_A)"),
    ("f000-$$VAR_A", "f000-$VAR_A"), ("foo\\$(VAR_C)bar", "foo\\Cbar"), ("$(VAR_REF)", "$(VAR_A)"),
    ("$(VAR_EMPTY)", ""), ("$(UNKNOWN)", "$(UNKNOWN)"), ("$(VAR_A", "$(VAR_A"),
    ("$VAR_A", "$VAR_A"), ("$", "$"), ("$$", "$"), ("$$$$", "$$"), ("$()", "$()"),
    ("$(VAR_A)$", "A$"), ("$$$(VAR_A)", "$A"), ("$(VAR_A)$$(VAR_B)", "A$(VAR_B)"),
])
def test_expansion(text, want):
    look = mapping_for(VARS)
    assert expand(text, look) == want


@given(st.text(alphabet="$()AB_", max_size=30))
def test_expansion_never_fails_and_without_dollar_is_identity(text):
    out = expand(text, mapping_for(VARS))
    if "$" not in text:
        assert out == text


# --- restart back-off --------------------------------------------------------------------------


def test_backoff_starts_at_10s_doubles_to_5m_and_resets_after_10_idle_minutes():
    b, key, t = BackOff(), "uid/app", 1000.0
    assert not b.in_backoff_since(key, t, t)          # first failure: restart at once
    b.next(key, t)
    seen = []
    for _ in range(7):
        assert b.in_backoff_since(key, t, t + b.get(key) - 0.1)
        assert not b.in_backoff_since(key, t, t + b.get(key))
        seen.append(b.get(key))
        t += b.get(key)
        b.next(key, t)
    assert seen == [10, 20, 40, 80, 160, 300, 300]
    assert b.remaining(key, t, t + 100) == 200
    b.next(key, t + 601)  # more than twice the cap since the last failure
    assert b.get(key) == 10


@pytest.mark.parametrize(("seconds", "text"), [(10, "10s"), (40, "40s"), (160, "2m40s"),
                                               (300, "5m0s"), (3700, "1h1m40s")])
def test_back_off_durations_print_as_go_durations(seconds, text):
    assert format_duration(seconds) == text


@pytest.mark.parametrize(("policy", "code", "init", "probe", "restart"), [
    ("Always", 0, False, False, True), ("Always", 1, False, False, True),
    ("OnFailure", 0, False, False, False), ("OnFailure", 2, False, False, True),
    ("Never", 1, False, False, False), ("Never", 1, False, True, False),
    ("OnFailure", 0, False, True, True),  # killed by a liveness probe
    ("Always", 0, True, False, False), ("Always", 1, True, False, True),  # init containers
    ("Never", 1, True, False, False),
])
def test_should_restart(policy, code, init, probe, restart):
    assert should_restart(policy, code, init=init, probe_kill=probe) is restart


@pytest.mark.parametrize(("returncode", "code"), [(0, 0), (3, 3), (-15, 143), (-9, 137)])
def test_exit_codes_of_signals_are_128_plus(returncode, code):
    assert exit_code(returncode) == code


# --- phase (getPhase) --------------------------------------------------------------------------

T = 1_700_000_000.0
RUN = ContainerState("a", "i", running_since=T)
WAIT = ContainerState("a", "i")
OK = ContainerState("a", "i", terminated=Terminated(0, "Completed", T, T + 1))
BAD = ContainerState("a", "i", terminated=Terminated(1, "Error", T, T + 1))
LOOP = ContainerState("a", "i", last_terminated=Terminated(1, "Error", T, T + 1),
                      waiting_reason="CrashLoopBackOff")


@pytest.mark.parametrize(("policy", "containers", "init", "phase"), [
    ("Always", [WAIT], [], "Pending"), ("Always", [RUN], [], "Running"),
    ("Always", [RUN, WAIT], [], "Pending"), ("Always", [OK], [], "Running"),
    ("Always", [LOOP], [], "Running"), ("Never", [OK], [], "Succeeded"),
    ("Never", [BAD], [], "Failed"), ("Never", [OK, BAD], [], "Failed"),
    ("OnFailure", [OK], [], "Succeeded"), ("OnFailure", [BAD], [], "Running"),
    ("OnFailure", [RUN, OK], [], "Running"), ("Never", [RUN, BAD], [], "Running"),
    ("Always", [WAIT], [RUN], "Pending"), ("Never", [WAIT], [BAD], "Failed"),
    ("OnFailure", [WAIT], [LOOP], "Pending"), ("Always", [RUN], [OK], "Running"),
])
def test_pod_phase_as_get_phase(policy, containers, init, phase):
    assert pod_phase(policy, containers, init) == phase


def test_a_completed_pod_is_not_ready_with_reason_pod_completed_and_keeps_last_state():
    pod: dict[str, Any] = {"metadata": {"uid": "u"},
                           "spec": {"restartPolicy": "Never", "containers": [{"name": "a"}]}}
    status = pod_status(pod, [OK], pod_ip="127.9.0.2", host_ip="127.9.0.1", started=T, now=T + 2,
                        terminal=True, sandbox_ready=False)
    assert status["phase"] == "Succeeded"
    conds = {c["type"]: c for c in status["conditions"]}
    assert conds["Ready"]["reason"] == "PodCompleted" and conds["Ready"]["status"] == "False"
    assert conds["PodReadyToStartContainers"]["status"] == "False"
    cs = status["containerStatuses"][0]
    assert cs["state"]["terminated"]["reason"] == "Completed"
    assert cs["state"]["terminated"]["exitCode"] == 0
    loop = pod_status(pod, [LOOP], pod_ip="", host_ip="h", started=T, now=T)
    assert loop["containerStatuses"][0]["lastState"]["terminated"]["exitCode"] == 1


# --- Downward API ------------------------------------------------------------------------------

POD = {"metadata": {"name": "web-1", "namespace": "shop", "uid": "u-1",
                    "labels": {"app": "web", "tier": "a\"b"}, "annotations": {"x": "1\n2"}},
       "spec": {"nodeName": "canarist-node", "serviceAccountName": "webhook",
                "containers": [{"name": "app", "resources": {
                    "limits": {"cpu": "500m", "memory": "128Mi"},
                    "requests": {"cpu": "250m"}}}]}}


@pytest.mark.parametrize(("path", "value"), [
    ("metadata.name", "web-1"), ("metadata.namespace", "shop"), ("metadata.uid", "u-1"),
    ("spec.nodeName", "canarist-node"), ("spec.serviceAccountName", "webhook"),
    ("status.podIP", "127.9.0.5"), ("status.hostIP", "127.9.0.1"),
    ("metadata.labels['app']", "web"), ("metadata.labels['none']", ""),
    ("metadata.labels", 'app="web"\ntier="a\\"b"'), ("metadata.annotations", 'x="1\\n2"'),
])
def test_field_values(path, value):
    assert field_value(POD, path, pod_ip="127.9.0.5", host_ip="127.9.0.1") == value


def test_unsupported_field_path_is_refused():
    with pytest.raises(FieldError, match=r"unsupported fieldPath: status\.phase"):
        field_value(POD, "status.phase", pod_ip="", host_ip="")


@pytest.mark.parametrize(("text", "quoted"), [("plain", '"plain"'), ('a"b\\c', '"a\\"b\\\\c"'),
                                              ("\t\x01é", '"\\t\\x01é"')])
def test_go_quote(text, quoted):
    assert go_quote(text) == quoted


@pytest.mark.parametrize(("resource", "divisor", "value"), [
    ("limits.cpu", None, "1"), ("limits.cpu", "1m", "500"), ("requests.cpu", "1m", "250"),
    ("limits.memory", "1Mi", "128"), ("limits.memory", None, str(128 << 20)),
    ("requests.memory", "1Mi", "128"),  # an unset request is the limit
    ("limits.ephemeral-storage", "1Gi", "100"),  # unset: the node's allocatable
])
def test_resource_values(resource, divisor, value):
    alloc = {"cpu": 2, "memory": 8 << 30, "ephemeral-storage": 100 << 30}
    container = POD["spec"]["containers"][0]  # type: ignore[index]
    assert resource_value(container, resource, divisor, alloc) == value


# --- environment -------------------------------------------------------------------------------

SECRETS = {"creds": {"data": {"user": base64.b64encode(b"admin").decode(),
                              "bad key": base64.b64encode(b"x").decode()}}}
CMS = {"cfg": {"data": {"LEVEL": "debug", "URL": "http://x"}}}


def inputs(services: dict[str, str] | None = None) -> EnvInputs:
    return EnvInputs(POD, "127.9.0.5", "127.9.0.1", SECRETS.get, CMS.get, services or {})


def test_env_in_order_with_sources_expansion_and_service_variables():
    container = {
        "envFrom": [{"configMapRef": {"name": "cfg"}, "prefix": "CFG_"},
                    {"secretRef": {"name": "creds"}}],
        "env": [{"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
                {"name": "USER", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "user"}}},
                {"name": "GREETING", "value": "hi $(USER) at $(POD_IP):$(WEB_SERVICE_PORT) $(X)"},
                {"name": "OPT", "valueFrom": {"secretKeyRef": {"name": "nope", "key": "k",
                                                               "optional": True}}},
                {"name": "WEB_SERVICE_HOST", "value": "mine"}]}
    warnings: list[tuple[str, str]] = []
    env = container_env(container, inputs({"WEB_SERVICE_HOST": "10.96.0.9",
                                           "WEB_SERVICE_PORT": "80"}),
                        lambda r, m: warnings.append((r, m)))
    assert env["CFG_LEVEL"] == "debug" and env["user"] == "admin"
    assert env["GREETING"] == "hi admin at 127.9.0.5:80 $(X)"
    assert "OPT" not in env and env["WEB_SERVICE_HOST"] == "mine"
    assert env["WEB_SERVICE_PORT"] == "80"
    assert warnings == [("InvalidEnvironmentVariableNames",
                         "Keys [bad key] from the EnvFrom secret shop/creds were skipped since "
                         "they are considered invalid environment variable names.")]
    assert command_line({"args": ["--x=$(CFG_LEVEL)", "$$(USER)"]}, env, ("canarist",)) == [
        "canarist", "--x=debug", "$(USER)"]
    assert command_line({"command": ["python"], "args": ["-V"]}, env, ("canarist",)) == [
        "python", "-V"]


@pytest.mark.parametrize(("var", "message"), [
    ({"secretKeyRef": {"name": "nope", "key": "k"}}, 'secret "nope" not found'),
    ({"secretKeyRef": {"name": "creds", "key": "pass"}},
     "couldn't find key pass in Secret shop/creds"),
    ({"configMapKeyRef": {"name": "nope", "key": "k"}}, 'configmap "nope" not found'),
    ({"configMapKeyRef": {"name": "cfg", "key": "PORT"}},
     "couldn't find key PORT in ConfigMap shop/cfg"),
    ({"fieldRef": {"fieldPath": "spec.hostname"}}, "unsupported fieldPath: spec.hostname"),
])
def test_env_errors_are_upstreams_messages(var, message):
    with pytest.raises(ConfigError) as err:
        container_env({"env": [{"name": "X", "valueFrom": var}]}, inputs())
    assert str(err.value) == message


def test_service_variables_of_the_namespace_and_the_api_server():
    svc = {"metadata": {"name": "web-api", "namespace": "shop"},
           "spec": {"clusterIP": "10.96.3.4", "ports": [{"name": "http", "port": 80},
                                                         {"port": 9090, "protocol": "UDP"}]}}
    other = {"metadata": {"name": "db", "namespace": "other"}, "spec": {"clusterIP": "10.96.0.2",
                                                                       "ports": [{"port": 5432}]}}
    env = service_env("shop", [svc, other], links=True, api_host="127.9.0.1", api_port=6443)
    assert env["WEB_API_SERVICE_HOST"] == "10.96.3.4" and env["WEB_API_SERVICE_PORT"] == "80"
    assert env["WEB_API_SERVICE_PORT_HTTP"] == "80"
    assert env["WEB_API_PORT"] == "tcp://10.96.3.4:80"
    assert env["WEB_API_PORT_9090_UDP_ADDR"] == "10.96.3.4"
    assert "DB_SERVICE_HOST" not in env
    assert env["KUBERNETES_SERVICE_HOST"] == "127.9.0.1"
    assert env["KUBERNETES_SERVICE_PORT"] == env["KUBERNETES_SERVICE_PORT_HTTPS"] == "6443"
    assert env["KUBERNETES_PORT_6443_TCP"] == "tcp://127.9.0.1:6443"
    no_links = service_env("shop", [svc], links=False, api_host="h", api_port=1)
    assert set(no_links) == {k for k in no_links if k.startswith("KUBERNETES_")}


@pytest.mark.parametrize(("slices", "want"), [
    ([], ("127.9.0.1", 6443)),
    ([{"ports": [{"name": "https", "port": 7443}],
       "endpoints": [{"addresses": ["127.0.0.1"]}]}], ("127.9.0.1", 7443)),
    ([{"ports": [{"name": "https", "port": 7443}],
       "endpoints": [{"addresses": ["127.9.0.1"], "conditions": {"ready": True}}]}],
     ("127.9.0.1", 7443)),
    ([{"ports": [{"name": "https", "port": 7443}],
       "endpoints": [{"addresses": ["127.5.5.5"], "conditions": {"ready": False}}]}],
     ("127.9.0.1", 6443)),
])
def test_where_pods_reach_the_api_server(slices, want):
    svc = {"metadata": {"name": "kubernetes", "namespace": "default"}}
    assert decide_api_endpoint(svc, slices, ("127.9.0.1", 6443)) == want
    assert decide_api_endpoint(None, slices, ("127.9.0.1", 6443)) == ("127.9.0.1", 6443)


# --- programs of canarist's image --------------------------------------------------------------


@pytest.mark.parametrize(("argv", "want"), [
    (["canarist", "webhook"], ["/py", "-m", "webhook.cli", "webhook"]),
    (["/usr/local/bin/canarist", "--version"], ["/py", "-m", "webhook.cli", "--version"]),
    (["kubectl-canarist"], ["/py", "-m", "webhook.cli"]),
    (["python", "-c", "1"], ["/py", "-c", "1"]), (["python3"], ["/py"]),
])
def test_programs_of_the_image(argv, want):
    assert resolve(argv, python="/py") == want


@pytest.mark.parametrize("argv", [["sh", "-c", "x"], ["/bin/bash"], ["nginx"], []])
def test_other_programs_are_not_in_the_image(argv):
    with pytest.raises(StartError):
        resolve(argv, python="/py")


# --- volumes -----------------------------------------------------------------------------------


def objs(tokens: dict[TokenSpec, str] | None = None) -> Objects:
    return Objects(POD, "127.9.0.5", "127.9.0.1", SECRETS.get, CMS.get, tokens or {})


def test_secret_and_configmap_payloads_with_items_modes_and_optional():
    vol = {"name": "c", "secret": {"secretName": "creds", "defaultMode": 0o400,
                                   "items": [{"key": "user", "path": "u/name", "mode": 0o600}]}}
    assert payload(vol, objs()) == {"u/name": FileProjection(b"admin", 0o600)}
    everything = payload({"name": "c", "configMap": {"name": "cfg"}}, objs())
    assert everything == {"LEVEL": FileProjection(b"debug", 0o644),
                          "URL": FileProjection(b"http://x", 0o644)}
    assert payload({"name": "o", "secret": {"secretName": "nope", "optional": True}}, objs()) == {}
    assert payload({"name": "e", "emptyDir": {}}, objs()) is None


@pytest.mark.parametrize(("volume", "message"), [
    ({"secret": {"secretName": "nope"}}, 'secret "nope" not found'),
    ({"configMap": {"name": "nope"}}, 'configmap "nope" not found'),
    ({"secret": {"secretName": "creds", "items": [{"key": "pass", "path": "p"}]}},
     "references non-existent secret key: pass"),
    ({"configMap": {"name": "cfg", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
     "configmap references non-existent config key: ca.crt"),
    ({"projected": {"sources": [{"configMap": {"name": "kube-root-ca.crt"}},
                                {"secret": {"name": "nope"}}]}},
     '[configmap "kube-root-ca.crt" not found, secret "nope" not found]'),
    ({"hostPath": {"path": "/etc"}}, "hostPath volume is not supported"),
])
def test_volume_errors_are_upstreams_messages(volume, message):
    with pytest.raises(VolumeError) as err:
        payload({"name": "v", **volume}, objs())
    assert str(err.value).startswith(message)


def test_projected_token_configmap_and_downward_api():
    vol = {"name": "kube-api-access-x", "projected": {"defaultMode": 420, "sources": [
        {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
        {"configMap": {"name": "cfg", "items": [{"key": "URL", "path": "ca.crt"}]}},
        {"downwardAPI": {"items": [{"path": "namespace",
                                    "fieldRef": {"fieldPath": "metadata.namespace"}}]}}]}}
    token = TokenSpec("webhook", "", 3607)
    assert payload(vol, objs({token: "jwt"})) == {
        "token": FileProjection(b"jwt", 0o644), "ca.crt": FileProjection(b"http://x", 0o644),
        "namespace": FileProjection(b"shop", 0o644)}
    with pytest.raises(VolumeError, match="failed to fetch token"):
        payload(vol, objs())


# --- the container's root ----------------------------------------------------------------------

MOUNTINFO = """\
21 1 8:1 / / rw - ext4 /dev/vda rw
22 21 0:21 / /proc rw - proc proc rw
24 21 0:6 / /dev rw - devtmpfs devtmpfs rw
25 24 0:23 / /dev/shm rw - tmpfs tmpfs rw
30 21 0:30 / /run rw - tmpfs tmpfs rw
31 30 0:31 / /run/user/1000 rw - tmpfs tmpfs rw
32 21 0:32 / /tmp rw - tmpfs tmpfs rw
33 21 0:33 / /my\\040data rw - ext4 /dev/vdb rw
"""
EXISTING = {"/etc", "/run", "/run/user/1000", "/proc", "/dev", "/my data", "/etc/hosts"}


def test_root_plan_overlays_only_mounts_that_need_a_new_mount_point():
    mounts = parse_mountinfo(MOUNTINFO)
    assert mounts[-1].path == "/my data"
    binds = [Bind("/v/sa", "/var/run/secrets/kubernetes.io/serviceaccount", True),
             Bind("/v/certs", "/etc/webhook/certs", True), Bind("/v/tmp", "/tmp/x"),
             Bind("/v/hosts", "/etc/hosts", False, True)]
    p = plan(mounts, binds, ["/run/canarist", "/root/.kube"],
             realpath=lambda x: x.replace("/var/run", "/run", 1), exists=EXISTING.__contains__)
    assert p.overlays == ("/", "/run")       # /run/secrets must be created: /run is overlaid
    assert p.rbinds == ("/dev", "/my data", "/proc", "/run/user/1000")
    assert [b.target for b in p.binds] == ["/etc/hosts", "/tmp/x", "/etc/webhook/certs",
                                           "/run/secrets/kubernetes.io/serviceaccount"]
    assert p.hide == ()  # neither exists here


def test_an_installation_under_tmp_stays_visible_under_the_private_tmp():
    """A checkout under /tmp (its venv, its sources): the container's own /tmp would hide the
    interpreter it runs, so they are bound in (read-only), the outermost path once."""
    here = EXISTING | {"/tmp/ci/.venv", "/tmp/ci", "/usr"}
    p = plan(parse_mountinfo(MOUNTINFO), [Bind("/v/scratch", "/tmp")], [],
             keep=["/tmp/ci/.venv", "/usr", "/tmp/ci", "/tmp", "/tmp/gone"],
             realpath=lambda x: x, exists=here.__contains__)
    assert p.keep == ("/tmp/ci",)
    text = script(p, "/scratch", "/")
    kept = text.index("mount --rbind /tmp/ci \"$R\"/tmp/ci")
    # after the private /tmp and after an emptyDir mounted at /tmp, which would cover it
    assert text.index('tmpfs "$R/tmp"') < text.index('mount --bind /v/scratch "$R"/tmp') < kept
    assert "mount -o remount,bind,ro \"$R\"/tmp/ci" in text


@pytest.mark.parametrize("target", ["/proc/x", "/sys/fs/x", "/run/user/1000/new"])
def test_root_plan_refuses_what_it_cannot_make(target):
    with pytest.raises(MountPlanError):
        plan(parse_mountinfo(MOUNTINFO), [Bind("/v", target)], [],
             realpath=lambda x: x, exists=EXISTING.__contains__)


@pytest.mark.parametrize(("platform", "euid", "missing", "isolation"), [
    ("linux", 0, [], Isolation.NAMESPACES), ("linux", 1000, [], Isolation.HOST),
    ("linux", 0, ["nsenter"], Isolation.HOST), ("darwin", 0, [], Isolation.HOST),
])
def test_isolation_decision(platform, euid, missing, isolation):
    got, why = decide(platform, euid, missing)
    assert got is isolation
    assert bool(why) is (isolation is Isolation.HOST)


async def test_confirming_isolation_tries_it_once_and_keeps_host_as_it_is():
    from webhook.cluster.kubelet.isolation import confirm, detect

    assert await confirm(Isolation.HOST, "why") == (Isolation.HOST, "why")
    found, reason = detect()
    confirmed, _ = await confirm(found, reason)
    assert confirmed in (found, Isolation.HOST)


@pytest.mark.parametrize(("text", "nanos"), [
    ("1", 10 ** 9), ("500m", 5 * 10 ** 8), ("0.1", 10 ** 8), ("1.5Gi", 3 * 2 ** 29 * 10 ** 9),
    ("2e3", 2 * 10 ** 12), ("1e-9", 1), ("1.5n", 2), ("128Mi", 2 ** 27 * 10 ** 9), ("1k", 10 ** 12),
])
def test_quantities_parse_exactly(text, nanos):
    from webhook.cluster.kubelet.downward import parse_quantity

    assert parse_quantity(text) == nanos


@pytest.mark.parametrize("text", ["", "abc", "1..2", "1.2.3", "1e99999", ".", "1Xi"])
def test_bad_quantities_are_refused(text):
    from webhook.cluster.kubelet.downward import parse_quantity

    with pytest.raises(FieldError):
        parse_quantity(text)
