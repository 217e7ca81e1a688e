"""``canarist demo``: a release and an aborted release on the embedded cluster, with live traffic.

1. An embedded cluster in this process (API server, webhook, controllers, pods as HTTP servers,
   and its ``proxy`` component: ``canarist proxy`` in cluster mode in its own process), and the
   reconciler (told where the proxy's admin endpoint is, for the ``builtin`` analysis provider).
2. Deployment ``web`` (demo app v1, 4 replicas) behind the proxy; a load generator sends a steady,
   bounded stream of requests through the proxy and counts the answers by the version the pods
   report.
3. v2 is released: 20% → pause 3s → 50% → pause 3s → promotion; the live view shows the step,
   the weight and the traffic actually measured.
4. v3, whose pods answer half of the requests with errors, is released; the background analysis
   (the proxy's canary success rate, minimum 95%) fails and aborts it: traffic back on v2.
5. A summary table; exit 0 when v2 was promoted and v3 aborted by its analysis.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any, TextIO

from webhook.cluster.proxy_component import ProxySettings
from webhook.cluster.runtime import Cluster
from webhook.demo.load import Counts, Load
from webhook.demo.view import Period, status_line, summary, traffic
from webhook.kube.client import KubeClient, connect
from webhook.kube.config import ClientOptions
from webhook.kube.protocol import JSON, ObjectRef
from webhook.release.loop import LoopOptions, Reconciler
from webhook.spec import Phase, ReleaseStatus
from webhook.spec.names import STATUS

NS = "demo"
STEPS = "- setWeight: 20\n- pause: {duration: 3s}\n- setWeight: 50\n- pause: {duration: 3s}\n"
ANALYSIS = """
interval: 1s
failureLimit: 0
consecutiveErrorLimit: 10
background: true
metrics:
- name: success-rate
  provider: builtin
  min: 0.95
"""


def objects() -> list[JSON]:
    labels = {"app": "web"}
    return [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}},
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "web", "namespace": NS},
            "spec": {"selector": labels, "ports": [{"port": 80, "targetPort": 8080}]},
        },
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {
                "name": "web",
                "namespace": NS,
                "labels": {"canarist.io/enabled": "true"},
                "annotations": {
                    "canarist.io/traffic-router": "proxy",
                    "canarist.io/steps": STEPS,
                    "canarist.io/analysis": ANALYSIS,
                    "canarist.io/scale-down-delay": "1s",
                    "canarist.io/abort-scale-down-delay": "1s",
                },
            },
            "spec": {
                "replicas": 4,
                "selector": {"matchLabels": labels},
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {
                        "containers": [
                            {"name": "app", "image": "demo:v1", "ports": [{"containerPort": 8080}]}
                        ]
                    },
                },
            },
        },
    ]


class Screen:
    """One live line, redrawn in place on a terminal; without one, a line per state, printed
    once the state has lasted long enough for its traffic share to mean something."""

    SETTLE = 1.0  # seconds of a state before its line is printed (not on a terminal)

    def __init__(self, out: TextIO, tty: bool) -> None:
        self.out = out
        self.tty = tty
        self._live = False
        self._pending = ""
        self._shown = False  # the current state's line is printed

    def say(self, text: str) -> None:
        self.flush()
        if self._live:
            self.out.write("\n")
            self._live = False
        self.out.write(text + "\n")
        self.out.flush()

    def live(self, text: str, age: float) -> None:
        """Show the line of the current state, ``age`` seconds old."""
        if self.tty:
            self.out.write("\r\x1b[K" + text)
            self._live = True
            self.out.flush()
            return
        if self._shown:
            return
        self._pending = text
        if age >= self.SETTLE:
            self.flush()
            self._shown = True

    def changed(self) -> None:
        """A new state starts: print the last one if it ended before settling."""
        self.flush()
        self._shown = False

    def flush(self) -> None:
        if self._pending:
            self.out.write(self._pending + "\n")
            self.out.flush()
            self._pending = ""

    def end_live(self) -> None:
        self.flush()
        if self._live:
            self.out.write("\n")
            self.out.flush()
            self._live = False


class Demo:
    def __init__(self, out: TextIO, tty: bool) -> None:
        self.screen = Screen(out, tty)
        self.client: KubeClient | None = None
        self.load: Load | None = None
        self.periods: list[Period] = []
        self.started = time.monotonic()

    @property
    def ref(self) -> ObjectRef:
        return ObjectRef("apps/v1", "Deployment", NS, "web")

    async def status(self) -> tuple[ReleaseStatus, JSON]:
        assert self.client is not None
        d = await self.client.get(self.ref)
        assert d is not None
        return ReleaseStatus.from_json((d["metadata"].get("annotations") or {}).get(STATUS)), d

    async def follow(
        self, label: str, done: Callable[[ReleaseStatus, JSON], bool], within: float
    ) -> ReleaseStatus:
        """Redraw the live line until ``done``; traffic is counted within the current state only
        (at most its last 2 s), so a line never shows the share of the state before it."""
        end = time.monotonic() + within
        key: object = None
        since = time.monotonic()
        while True:
            status, d = await self.status()
            now = time.monotonic()
            if (status.phase, status.step, status.weight) != key:
                key, since = (status.phase, status.step, status.weight), now
                self.screen.changed()
            window = min(2.0, max(0.2, now - since))
            recent = self.load.recent(window) if self.load is not None else Counts()
            self.screen.live(status_line(label, status, recent), now - since)
            if done(status, d):
                self.screen.end_live()
                return status
            if now > end:
                self.screen.end_live()
                raise TimeoutError(f"{label}: {status.phase} {status.message}")
            await asyncio.sleep(0.1)

    async def period(self, name: str, body: Callable[[], Any]) -> Any:
        assert self.load is not None
        before, t = self.load.snapshot(), time.monotonic()
        outcome = await body()
        counts = self.load.snapshot().minus(before)
        self.periods.append(Period(name, time.monotonic() - t, counts, str(outcome)))
        return outcome

    async def set_version(self, version: str, **env: str) -> None:
        assert self.client is not None
        container: JSON = {
            "name": "app",
            "image": f"demo:{version}",
            "env": [{"name": k, "value": v} for k, v in env.items()],
        }
        await self.client.patch(
            self.ref,
            {"spec": {"template": {"spec": {"containers": [container]}}}},
            patch_type="strategic",
        )

    # --- the story -------------------------------------------------------------------------------

    async def baseline(self) -> str:
        await asyncio.sleep(2)
        return "v1 serves"

    async def good_release(self) -> str:
        self.screen.say("\n== releasing v2 (20% -> pause 3s -> 50% -> pause 3s -> 100%)")
        await self.set_version("v2")
        first, _ = await self.status()
        stable = first.stable_hash

        def promoted(s: ReleaseStatus, d: JSON) -> bool:
            return s.phase == Phase.HEALTHY and s.stable_hash not in ("", stable)

        status = await self.follow("v2", promoted, within=40)
        return f"promoted ({status.message})"

    async def bad_release(self) -> str:
        self.screen.say("\n== releasing v3, whose pods answer 50% of requests with errors")
        await self.set_version("v3", DEMO_ERROR_RATE="0.5")
        status = await self.follow("v3", lambda s, d: s.phase == Phase.DEGRADED, within=40)
        self.screen.say(f"   aborted: {status.message}")
        return "aborted by analysis" if "analysis" in status.message else "aborted"

    async def after_abort(self) -> str:
        assert self.load is not None
        await asyncio.sleep(2)
        recent = self.load.recent(1.5)
        self.screen.say(f"   traffic now: {traffic(recent)}")
        return "back on v2" if recent.versions and set(recent.versions) == {"v2"} else "mixed"

    async def run(self) -> int:
        say = self.screen.say
        say("canarist demo: a canary release and an aborted one, on an embedded cluster")
        with tempfile.TemporaryDirectory(prefix="canarist-demo-") as tmp:
            cluster = Cluster(
                kubeconfig=Path(tmp, "kubeconfig"),
                without=frozenset({"reconciler"}),  # its own below, for the namespace
                proxy=ProxySettings(namespace=NS, window=3),
            )
            await cluster.start()
            proxy = cluster.proxy_process
            assert proxy is not None
            stop = asyncio.Event()
            loop_task: asyncio.Task[None] | None = None
            try:
                opts = ClientOptions(kubeconfig=str(cluster.kubeconfig), namespace=NS, qps=0)
                # the reconciler as its ServiceAccount: the user the webhook trusts
                as_reconciler = replace(opts, kubeconfig=str(cluster.reconciler_kubeconfig))
                async with connect(opts) as client, connect(as_reconciler) as reconciler_client:
                    self.client = client
                    for obj in objects():
                        await client.create(obj)
                    reconciler = Reconciler(
                        reconciler_client,
                        LoopOptions(namespace=NS, proxy_admin_url=proxy.admin_url),
                    )
                    loop_task = asyncio.get_running_loop().create_task(reconciler.run(stop))
                    say(
                        f"cluster up; proxy on {proxy.address}; Deployment web (v1, "
                        "4 replicas) released by canarist"
                    )
                    await self.follow("v1", _ready, within=30)
                    self.load = Load(f"http://{proxy.address}/", rate=60)
                    self.load.start()
                    say(
                        "load: 60 requests/s through the proxy, counted by the version that answers"
                    )
                    await self.period("v1 alone", self.baseline)
                    promoted = await self.period("release v2", self.good_release)
                    aborted = await self.period("release v3 (errors)", self.bad_release)
                    back = await self.period("after the abort", self.after_abort)
                    await self.load.stop()
            finally:
                stop.set()
                if loop_task is not None:
                    with contextlib.suppress(Exception):
                        await asyncio.wait_for(loop_task, 10)
                await cluster.stop()
        say("\n" + summary(self.periods, ("v1", "v2", "v3")))
        if proxy.failed:
            assert proxy.proc is not None
            say(f"the proxy exited with {proxy.proc.returncode}; its last lines:")
            for line in proxy.log:
                say("  " + line)
        ok = promoted.startswith("promoted") and aborted == "aborted by analysis"
        ok = ok and back == "back on v2"
        seconds = time.monotonic() - self.started
        say(
            f"\n{'done' if ok else 'FAILED'} in {seconds:.0f}s: v2 {promoted}; v3 {aborted}; {back}"
        )
        return 0 if ok else 1


def _ready(status: ReleaseStatus, d: JSON) -> bool:
    available = (d.get("status") or {}).get("availableReplicas", 0)
    return status.phase == Phase.HEALTHY and available >= d["spec"]["replicas"]


def run_demo(out: TextIO | None = None) -> int:
    out = out or sys.stdout
    return asyncio.run(Demo(out, out.isatty()).run())


__all__ = ["Counts", "run_demo"]
