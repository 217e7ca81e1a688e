"""The parsers a hostile input goes through, each bounded in time: ``TARGETS[kind]``.

A target gets the case and an ``Env`` (lazy access to the shared servers) and asserts: it
answered in time, without a traceback or a 500, refusing with ``case.expect`` in its message
(or accepting when ``expect`` is None).
"""

from __future__ import annotations

import asyncio
import copy
import json
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.hostile.cases import Case
from webhook.errors import ConfigError, RouterError, SpecError

REVIEWS = Path(__file__).resolve().parent.parent / "data" / "reviews"
BASE = json.loads((REVIEWS / "22-update-new-canary.request.json").read_text())
ANNOTATION = {"steps": "canarist.io/steps", "analysis": "canarist.io/analysis",
              "nginx-annotations": "canarist.io/nginx-annotations"}
IN_PROCESS_SECONDS = 2.0
CLI_SECONDS = 30.0  # interpreter start and imports included, on a loaded machine


@dataclass
class Env:
    request: pytest.FixtureRequest
    tmp: Path

    def fixture(self, name: str) -> Any:
        return self.request.getfixturevalue(name)


# --- what a case becomes for each parser ----------------------------------------------------


def annotations_of(case: Case) -> dict[str, str]:
    """The canarist annotations of a Deployment carrying the case."""
    if case.kind == "annotations":
        loaded: dict[str, str] = json.loads(case.text())
        return loaded
    base = {k: v for k, v in BASE["request"]["object"]["metadata"]["annotations"].items()
            if k.startswith("canarist.io/") and k != "canarist.io/status"}
    return {**base, ANNOTATION[case.kind]: case.text()}


def review_of(case: Case) -> bytes:
    if case.kind == "review":
        return case.path.read_bytes()
    body = copy.deepcopy(BASE)
    meta = body["request"]["object"]["metadata"]
    others = {k: v for k, v in meta["annotations"].items() if not k.startswith("canarist.io/")}
    status = meta["annotations"].get("canarist.io/status")
    meta["annotations"] = {**others, "canarist.io/status": status, **annotations_of(case)}
    return json.dumps(body).encode()


def manifest_of(case: Case) -> str:
    if case.kind == "manifest":
        return case.text()
    return yaml.safe_dump({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "labels": {"canarist.io/enabled": "true"},
                     "annotations": annotations_of(case)},
        "spec": {"selector": {"matchLabels": {"app": "web"}}, "template": {
            "metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"name": "app", "image": "demo:v1"}]}}},
    })


# --- checks ----------------------------------------------------------------------------------


def timed(fn: Callable[[], Any], seconds: float = IN_PROCESS_SECONDS) -> Any:
    started = time.monotonic()
    try:
        return fn()
    finally:
        elapsed = time.monotonic() - started
        assert elapsed < seconds, f"took {elapsed:.1f}s (bound {seconds}s)"


def refused(case: Case, message: str) -> None:
    assert case.expect is not None, f"refused although valid: {message[:500]}"
    assert case.expect in message, f"{case.expect!r} not in {message[:500]!r}"


def cli(env: Env, *argv: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[str]:
    result = timed(lambda: subprocess.run(
        [sys.executable, "-m", "webhook.cli", *argv], capture_output=True, text=True,
        timeout=CLI_SECONDS + 5, check=False), CLI_SECONDS)
    assert "Traceback" not in result.stderr, result.stderr[-2000:]
    return result  # type: ignore[no-any-return]


def one_line(text: str) -> str:
    lines = text.strip().splitlines()
    assert len(lines) == 1, text[-2000:]
    return lines[0]


# --- annotation parsers ----------------------------------------------------------------------


def spec(case: Case, env: Env) -> None:
    from webhook.spec.canary import parse_canary_spec

    try:
        timed(lambda: parse_canary_spec(annotations_of(case), deployment="web"))
    except SpecError as exc:
        refused(case, str(exc))
    else:
        assert case.expect is None, "accepted"


def reconciler(case: Case, env: Env) -> None:
    """What the reconciler reads of a Deployment's annotations (``release.model``)."""
    from webhook.release.specs import parsed_spec

    items = tuple(sorted(annotations_of(case).items()))
    parsed, error = timed(lambda: parsed_spec("web", items))
    if error is not None:
        refused(case, error)
    else:
        assert case.expect is None and parsed is not None


def webhook(case: Case, env: Env) -> None:
    """The real ``canarist webhook`` process over HTTPS: 200 (or 400), never 500."""
    server = env.fixture("hostile_webhook")
    body = review_of(case)
    status, answer = timed(lambda: server.post(body), 15.0)
    if status == 400:
        assert case.kind == "review", answer
        refused(case, json.loads(answer)["message"])
        return
    assert status == 200, (status, answer[:2000])
    response = json.loads(answer)["response"]
    if response["allowed"]:
        assert case.expect is None, "allowed"
    else:
        refused(case, response["status"]["message"])


def mutate(case: Case, env: Env) -> None:
    path = env.tmp / "review.json"
    path.write_bytes(review_of(case))
    result = cli(env, "mutate", "-f", str(path))
    if result.returncode == 2:
        assert case.kind == "review"
        refused(case, one_line(result.stderr))
        return
    assert result.returncode == 0, result.stderr
    response = json.loads(result.stdout)["response"]
    if response["allowed"]:
        assert case.expect is None, "allowed"
    else:
        refused(case, response["status"]["message"])


def validate(case: Case, env: Env) -> None:
    path = env.tmp / "deploy.yaml"
    path.write_text(manifest_of(case), encoding="utf-8")
    result = cli(env, "validate", "-f", str(path))
    if result.returncode == 2:
        refused(case, one_line(result.stderr))
    elif result.returncode == 1:
        refused(case, result.stdout)
    else:
        assert result.returncode == 0 and case.expect is None, result.stdout


def render(case: Case, env: Env) -> None:
    path = env.tmp / "deploy.yaml"
    path.write_text(manifest_of(case), encoding="utf-8")
    result = cli(env, "render", "-f", str(path))
    assert result.returncode == 2, result.stdout[-2000:]
    refused(case, one_line(result.stderr))


# --- route tables ----------------------------------------------------------------------------


def routes(case: Case, env: Env) -> None:
    from webhook.spec.routetable import parse_route_table

    try:
        timed(lambda: parse_route_table(case.text(), "routes.yaml"))
    except ConfigError as exc:
        refused(case, str(exc))
    else:
        assert case.expect is None


def proxy_file(case: Case, env: Env) -> None:
    """The proxy's routes-file source loading the file."""
    from webhook.proxy.source import FileSource

    try:
        timed(lambda: FileSource(str(case.path)).load())
    except ConfigError as exc:
        refused(case, str(exc))
    else:
        assert case.expect is None


def proxy_router(case: Case, env: Env) -> None:
    """The reconciler's proxy router reading the table back from its ConfigMap."""
    from webhook.routers.proxy import read_route
    from webhook.spec.routetable import ROUTE_TABLE_KEY

    cm = {"apiVersion": "v1", "kind": "ConfigMap",
          "metadata": {"name": "web-routes", "namespace": "shop", "resourceVersion": case.file},
          "data": {ROUTE_TABLE_KEY: case.text()}}
    try:
        timed(lambda: read_route(cm, "web"))
    except RouterError as exc:
        refused(case, str(exc))
    else:
        assert case.expect is None


def proxy_configmap(case: Case, env: Env) -> None:
    """``canarist proxy`` in cluster mode on the embedded cluster: the hostile ConfigMap is
    skipped (logged), a good one next to it is served, all within the bound."""
    from webhook.kube.config import ClientOptions
    from webhook.proxy.cluster import ClusterSource

    cluster = env.fixture("hostile_cluster")
    ns = cluster.namespace()
    cluster.put_table(ns, "hostile", case.text())
    cluster.put_table(ns, "good", "routes:\n- name: good\n  hosts: [good.example]\n"
                                  "  stable: {endpoints: ['127.0.0.1:9']}\n")

    async def served() -> list[str]:
        source = ClusterSource(ClientOptions(kubeconfig=str(cluster.kubeconfig)), ns,
                               sync_timeout=10)
        try:
            table, _ = await source.open()
            return sorted(r.name for r in table.routes)
        finally:
            await source.close()

    names = timed(lambda: asyncio.run(served()), 15.0)
    assert "good" in names
    assert ("web" in names) == (case.expect is None), names


def api_yaml(case: Case, env: Env) -> None:
    """The embedded API server reading the manifest as a YAML body (server-side apply): an
    answer in time, never a 5xx; a body refused as YAML says why."""
    from tests.cluster.conftest import raw

    cluster = env.fixture("hostile_cluster")
    ns = cluster.namespace()
    path = f"/apis/apps/v1/namespaces/{ns}/deployments/web?fieldManager=hostile"
    status, _, body = timed(lambda: raw(cluster.running, "PATCH", path, case.text().encode(),
                                        {"Content-Type": "application/apply-patch+yaml"}), 15.0)
    assert status < 500, body[:2000]
    if status == 400:
        refused(case, json.loads(body)["message"])
    # and the API server still answers
    assert raw(cluster.running, "GET", f"/api/v1/namespaces/{ns}")[0] == 200


TARGETS: dict[str, tuple[Callable[[Case, Env], None], ...]] = {
    "steps": (spec, reconciler, webhook, mutate, validate),
    "analysis": (spec, reconciler, webhook, mutate, validate),
    "nginx-annotations": (spec, reconciler, webhook, mutate, validate),
    "annotations": (spec, reconciler, webhook, mutate, validate),
    "review": (webhook, mutate),
    "routes": (routes, proxy_file, proxy_router, proxy_configmap),
    "manifest": (validate, render, api_yaml),
}
