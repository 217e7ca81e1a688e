"""The kubelet's parts: demo app behaviour, readiness probes, pod status shapes, addresses.

Pure parts are table-tested (and their parsers fuzzed); the app and the prober run for real on
loopback. Pods themselves are in ``test_kubelet_pods.py``.
"""

from __future__ import annotations

import asyncio
import itertools
import socket
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from hypothesis import given
from hypothesis import strategies as st

from webhook.cluster.kubelet import AddressPool
from webhook.cluster.kubelet.demo_app import DemoApp, DemoConfig, demo_config, image_tag, is_error
from webhook.cluster.kubelet.pod_status import ContainerState, pod_status, qos_class
from webhook.cluster.kubelet.probes import (
    ProbeSpec,
    ProbeState,
    http_probe,
    observe,
    parse_probe,
    resolve_port,
)
from webhook.errors import InvalidInput

T0 = 1_700_000_000.0

# --- demo app configuration --------------------------------------------------------------------


@pytest.mark.parametrize(("image", "tag"), [
    ("demo:v2", "v2"), ("registry:5000/team/demo:1.4", "1.4"), ("demo", "latest"),
    ("registry:5000/demo", "latest"), ("demo@sha256:abc", "sha256:abc")])
def test_image_tag(image, tag):
    assert image_tag(image) == tag


def test_demo_config_reads_the_container_env_and_version_defaults_to_the_tag():
    env = [{"name": "DEMO_ERROR_RATE", "value": "0.25"},
           {"name": "DEMO_LATENCY_MS", "value": "40"},
           {"name": "DEMO_READY_AFTER_S", "value": "2"}]
    c = {"image": "demo:v3", "env": env}
    assert demo_config(c) == DemoConfig("v3", 0.25, 40.0, 2.0)
    env.append({"name": "VERSION", "value": "canary"})
    assert demo_config(c).version == "canary"


@pytest.mark.parametrize(("name", "value", "allowed"), [
    ("DEMO_ERROR_RATE", "1.5", "a number from 0 to 1"),
    ("DEMO_ERROR_RATE", "lots", "a number from 0 to 1"),
    ("DEMO_LATENCY_MS", "-3", "a number >= 0"),
    ("DEMO_READY_AFTER_S", "nan", "a number >= 0"),
])
def test_bad_demo_env_names_the_variable_the_path_and_what_is_allowed(name, value, allowed):
    c = {"image": "demo:1", "env": [{"name": name, "value": value}]}
    with pytest.raises(InvalidInput) as err:
        demo_config(c, "spec.containers[1]")
    assert str(err.value) == f"spec.containers[1].env[{name}]: must be {allowed}, got {value!r}"


@pytest.mark.parametrize(("rate", "first_errors"), [
    (0.25, [4, 8, 12]), (0.5, [2, 4, 6]), (1.0, [1, 2, 3]), (0.1, [10, 20, 30]), (0.0, [])])
def test_errors_are_spread_evenly(rate, first_errors):
    errors = [n for n in range(1, 31) if is_error(n, rate)]
    assert errors[:3] == first_errors


@given(rate=st.floats(0, 1), n=st.integers(1, 2000))
def test_any_prefix_of_requests_holds_floor_n_times_rate_errors(rate, n):
    errors = sum(is_error(k, rate) for k in range(1, n + 1))
    assert errors == int(n * rate + 1e-9)


# --- probes ------------------------------------------------------------------------------------


def test_parse_probe_defaults_and_named_ports():
    spec = parse_probe({"httpGet": {"port": "http", "path": "/ready"}}, "p")
    assert spec == ProbeSpec("httpGet", port="http", path="/ready")
    assert resolve_port("http", {"ports": [{"name": "http", "containerPort": 8080}]}) == 8080
    assert resolve_port("nope", {"ports": []}) is None
    assert parse_probe(None, "p") is None
    with pytest.raises(InvalidInput, match="readinessProbe: must specify one of"):
        parse_probe({"periodSeconds": 3}, "spec.containers[0].readinessProbe")


@pytest.mark.parametrize(("results", "success", "failure", "readiness"), [
    ([True], 1, 3, [True]),
    ([True, True, True], 3, 3, [False, False, True]),           # successThreshold
    ([True, False, False, False], 1, 3, [True, True, True, False]),  # failureThreshold
    ([True, False, True, False, False], 1, 2, [True, True, True, True, False]),
    ([False, False], 1, 3, [False, False]),                     # starts as Failure
])
def test_readiness_thresholds_like_the_prober_worker(results, success, failure, readiness):
    spec = ProbeSpec("httpGet", success_threshold=success, failure_threshold=failure)
    state, seen = ProbeState(), []
    for ok in results:
        state = observe(state, ok, spec)
        seen.append(state.ready)
    assert seen == readiness


@pytest.fixture
async def http_server() -> AsyncIterator[tuple[str, int, list[int]]]:
    codes = [200]

    async def handle(request: web.BaseRequest) -> web.Response:
        assert request.headers["User-Agent"].startswith("kube-probe/")
        return web.Response(status=codes[0])

    server = web.Server(handle)
    listener = await asyncio.get_running_loop().create_server(server, "127.0.0.1", 0)
    port = listener.sockets[0].getsockname()[1]
    yield "127.0.0.1", port, codes
    listener.close()
    await server.shutdown(0)


async def test_http_probe_succeeds_on_2xx_3xx_and_fails_otherwise(http_server):
    host, port, codes = http_server
    spec = ProbeSpec("httpGet", timeout=1)
    for code, ok in ((200, True), (302, True), (399, True), (400, False), (503, False)):
        codes[0] = code
        assert await http_probe(host, port, spec) is ok
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    assert await http_probe(host, closed, spec) is False


# --- pod status --------------------------------------------------------------------------------


def test_pod_status_conditions_in_kubelet_order_with_reasons_and_kept_transition_times():
    pod: dict[str, Any] = {"metadata": {"uid": "u1"}, "spec": {"containers": [{"name": "a"}]}}
    waiting = [ContainerState("a", "demo:1")]
    st1 = pod_status(pod, waiting, pod_ip="", host_ip="127.9.0.1", started=T0, now=T0)
    assert st1["phase"] == "Pending"
    assert [c["type"] for c in st1["conditions"]] == [
        "PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady", "PodScheduled"]
    ready = next(c for c in st1["conditions"] if c["type"] == "Ready")
    assert ready == {"type": "Ready", "status": "False", "lastProbeTime": None,
                     "lastTransitionTime": "2023-11-14T22:13:20Z",
                     "reason": "ContainersNotReady",
                     "message": "containers with unready status: [a]"}
    assert st1["containerStatuses"][0]["state"] == {"waiting": {"reason": "ContainerCreating"}}
    assert "podIP" not in st1
    pod["status"] = st1
    running = [ContainerState("a", "demo:1", running_since=T0 + 1, ready=True)]
    st2 = pod_status(pod, running, pod_ip="127.9.0.2", host_ip="127.9.0.1", started=T0,
                     now=T0 + 5)
    assert st2["phase"] == "Running"
    assert st2["podIP"] == "127.9.0.2" and st2["podIPs"] == [{"ip": "127.9.0.2"}]
    conds = {c["type"]: c for c in st2["conditions"]}
    assert conds["Ready"]["status"] == "True" and "reason" not in conds["Ready"]
    assert conds["Ready"]["lastTransitionTime"] == "2023-11-14T22:13:25Z"
    assert conds["Initialized"]["lastTransitionTime"] == "2023-11-14T22:13:20Z"  # unchanged
    cs = st2["containerStatuses"][0]
    assert cs["ready"] and cs["started"] and cs["restartCount"] == 0
    assert cs["state"] == {"running": {"startedAt": "2023-11-14T22:13:21Z"}}
    assert cs["containerID"].startswith("containerd://")


@pytest.mark.parametrize(("resources", "qos"), [
    ([{}], "BestEffort"),
    ([{"requests": {"cpu": "1"}}], "Burstable"),
    ([{"limits": {"cpu": "1", "memory": "1Gi"}}], "Guaranteed"),
    ([{"limits": {"cpu": "1", "memory": "1Gi"}, "requests": {"cpu": "500m"}}], "Burstable"),
])
def test_qos_class(resources, qos):
    assert qos_class({"containers": [{"resources": r} for r in resources]}) == qos


# --- addresses ---------------------------------------------------------------------------------


def test_address_pool_gives_distinct_loopback_addresses_and_skips_host_and_broadcast():
    pool = AddressPool(octet=77)
    ips = [pool.take() for _ in range(600)]
    assert len(set(ips)) == 600
    assert pool.host_ip == "127.77.0.1" and pool.host_ip not in ips
    assert all(ip.startswith("127.77.") and not ip.endswith((".0", ".255")) for ip in ips)
    pool.release(ips[0])
    assert ips[0] not in [pool.take() for _ in range(10)]  # reused only after a wrap


async def test_demo_app_counts_only_business_requests():
    clock_value = [T0]
    app = DemoApp(DemoConfig("v1", error_rate=0.5), pod="p", namespace="n", ip="127.0.0.1",
                  clock=lambda: clock_value[0])
    server = web.Server(app.handle)
    listener = await asyncio.get_running_loop().create_server(server, "127.0.0.1", 0)
    port = listener.sockets[0].getsockname()[1]
    try:
        async with aiohttp.ClientSession() as s:
            for _ in range(3):
                async with s.get(f"http://127.0.0.1:{port}/",
                                 headers={"User-Agent": "kube-probe/1.32"}) as r:
                    assert r.status == 200
            codes = []
            for _ in range(4):
                async with s.get(f"http://127.0.0.1:{port}/") as r:
                    codes.append(r.status)
        assert codes == [200, 500, 200, 500]
    finally:
        listener.close()
        await server.shutdown(0)


# --- fuzzing the parsers of user input ---------------------------------------------------------

_env_values = st.one_of(st.text(max_size=8), st.floats(allow_nan=True).map(str),
                        st.integers(-5, 5000).map(str))


@given(rate=_env_values, latency=_env_values, ready=_env_values)
def test_demo_config_either_parses_in_range_or_names_the_bad_variable(rate, latency, ready):
    c = {"image": "demo:1", "env": [{"name": "DEMO_ERROR_RATE", "value": rate},
                                    {"name": "DEMO_LATENCY_MS", "value": latency},
                                    {"name": "DEMO_READY_AFTER_S", "value": ready}]}
    try:
        cfg = demo_config(c)
    except InvalidInput as exc:
        assert len(exc.problems) == 1
        assert exc.problems[0].path.startswith("spec.containers[0].env[DEMO_")
        return
    assert 0 <= cfg.error_rate <= 1 and cfg.latency_ms >= 0 and cfg.ready_after_s >= 0


_probe = st.fixed_dictionaries({}, optional={
    "httpGet": st.fixed_dictionaries({}, optional={
        "port": st.one_of(st.integers(1, 65535), st.text(max_size=5)),
        "path": st.text(max_size=5),
        "httpHeaders": st.lists(st.fixed_dictionaries({"name": st.text(max_size=3),
                                                       "value": st.text(max_size=3)}))}),
    "tcpSocket": st.fixed_dictionaries({"port": st.integers(1, 65535)}),
    "initialDelaySeconds": st.integers(0, 100), "periodSeconds": st.integers(1, 100),
    "successThreshold": st.integers(1, 10), "failureThreshold": st.integers(1, 10)})


@given(raw=_probe, results=st.lists(st.booleans(), max_size=30))
def test_any_probe_parses_or_is_refused_and_readiness_follows_the_last_run(raw, results):
    try:
        spec = parse_probe(raw, "p")
    except InvalidInput:
        assert not ({"httpGet", "tcpSocket"} & set(raw))
        return
    if spec is None:
        assert not raw
        return
    state = ProbeState()
    for ok in results:
        state = observe(state, ok, spec)
    run_ok = len(list(itertools.takewhile(bool, reversed(results))))
    run_bad = len(list(itertools.takewhile(lambda r: not r, reversed(results))))
    if run_ok >= spec.success_threshold:
        assert state.ready
    if run_bad >= spec.failure_threshold:
        assert not state.ready
