#!/usr/bin/env python3
"""Benchmark: canarist's /mutate against a bare aiohttp TLS handler, in one run, same load.

    .venv/bin/python scripts/bench/webhook.py [--rounds 3] [--duration 2] [--quick]
    .venv/bin/python scripts/bench/webhook.py --before-root /tmp/before   # before/after a change

Both servers run as separate processes with the same TLS setup (TLS 1.2+, ECDSA P-256, uvloop)
and the same malloc thresholds (``webhook.admission.alloc``):
- ``canarist``: the real ``canarist webhook`` command (JSON logs to a file, as in a container);
- ``bare``: an aiohttp handler that reads the body and returns a constant ``allowed: true``.

The load generator (one process, uvloop, raw keep-alive TLS connections, pre-encoded requests)
sends a realistic ~4.6 KB UPDATE AdmissionReview that changes the pod template (the hot path:
parse, validate the annotations, hash both templates, build the hold patch). It measures:
- closed loop at concurrency 1, 4 and 32 (one request in flight per connection): req/s, p50, p99;
- open loop at a fixed 200 req/s: p50, p99 measured from the scheduled send time (no
  coordinated omission);
- the same open loop against canarist while hostile reviews arrive on two more connections
  (``webhook_hostile``: slow YAML, alias bombs, deep brackets, 2.9 MB bodies, none seen
  before), next to the same load without them: one slow review must not delay the others.
Servers and load are interleaved (bare, canarist, bare, ...) for ``--rounds`` rounds; the JSON
reports per-round figures, their medians, and the canarist/bare ratios of the medians. With two
or more CPUs the server is pinned to CPU 1 and the load generator to CPU 0.

``--policies N`` also runs ``canarist webhook --policy FILE`` with a document of N cluster
policies (``policy_document``: the review's namespace covered by the last one, with defaults and
rules it is checked against), in the same rounds, and reports it against canarist without
policies. (Policies selecting namespaces by label need the API server's Namespaces, which the
benchmark does not run: they name their namespaces.)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import os
import platform
import ssl
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from scripts.bench._common import ROOT, median_of, percentile, ratio, thread_cpu_ns
from scripts.bench.webhook_hostile import hostile_requests, send_hostile
from scripts.bench.webhook_profile import codecs
from webhook.tls.issue import issue_ca, issue_serving, service_names

PAYLOAD = ROOT / "tests" / "data" / "reviews" / "22-update-new-canary.request.json"
SERVER_NAME = "canarist-webhook.canarist.svc"
BARE_RESPONSE = (
    b'{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview",'
    b'"response":{"uid":"","allowed":true}}'
)


# --- the bare baseline server ------------------------------------------------------------------


def serve_bare(cert: str, key: str, port_file: str) -> None:
    import uvloop
    from aiohttp import web

    from webhook.admission.alloc import tune_allocator
    from webhook.tls.reload import server_context

    tune_allocator()  # the same process setup as ``canarist webhook``

    async def mutate(request: web.Request) -> web.Response:
        await request.read()
        return web.Response(body=BARE_RESPONSE, content_type="application/json")

    async def main() -> None:
        app = web.Application(client_max_size=3 * 1024 * 1024)
        app.router.add_post("/mutate", mutate)
        runner = web.AppRunner(app, access_log=None, keepalive_timeout=120)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=server_context(cert, key))
        await site.start()
        port = str(runner.addresses[0][1])
        await asyncio.to_thread(Path(port_file).write_text, port)
        await asyncio.Event().wait()

    uvloop.run(main())


# --- server processes --------------------------------------------------------------------------


def policy_document(count: int, namespace: str = "shop") -> str:
    """``count`` policies; the last one covers ``namespace`` (the review's), adopting it with
    defaults and guardrails its annotations pass."""
    import yaml

    policies: list[dict[str, Any]] = []
    for i in range(count - 1):
        policies.append({"name": f"p{i}", "namespaces": [f"ns-{i}-a", f"ns-{i}-b"],
                         "adopt": True,
                         "defaults": {"traffic-router": "proxy"},
                         "rules": {"maxWeightIncrease": 50}})
    policies.append({
        "name": "covering", "namespaces": [namespace], "adopt": True,
        "defaults": {"traffic-router": "proxy", "scale-down-delay": "30s",
                     "steps": "- setWeight: 20\n- pause: {duration: 1m}\n- setWeight: 50\n"
                              "- pause: {}\n"},
        "rules": {"maxWeightIncrease": 40, "minPause": "10s", "allowedRouters": ["proxy"],
                  "allowPromoteFull": False, "maxConcurrentReleases": 5},
        "exempt": {"groups": ["platform-admins"]},
    })
    return yaml.safe_dump({"policies": policies}, sort_keys=False)


class Server:
    def __init__(self, name: str, cert: str, key: str, workdir: Path, cpu: int | None,
                 root: Path = ROOT, extra: tuple[str, ...] = ()) -> None:
        self.name = name
        self.log = workdir / f"{name}.log"
        port_file = workdir / f"{name}.port"
        port_file.unlink(missing_ok=True)
        if name == "bare":
            cmd = [sys.executable, __file__, "--serve-bare", cert, key, str(port_file)]
        else:
            cmd = [sys.executable, "-m", "webhook.cli", "webhook", "--tls-cert", cert,
                   "--tls-key", key, "--listen", "127.0.0.1:0", "--drain-seconds", "0",
                   *extra]  # fmt: skip
        with open(self.log, "wb") as log:
            env = {**os.environ, "PYTHONPATH": str(root)}  # canarist from ``root``
            self.proc = subprocess.Popen(cmd, stderr=log, cwd=root, env=env)
        if cpu is not None:
            os.sched_setaffinity(self.proc.pid, {cpu})
        deadline = time.monotonic() + 30
        self.port = 0
        while not self.port:
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise SystemExit(f"{name} server did not start: {self.log.read_text()[-2000:]}")
            time.sleep(0.05)
            self.port = self._port(port_file)

    def _port(self, port_file: Path) -> int:
        if self.name == "bare":
            return int(port_file.read_text()) if port_file.exists() else 0
        for line in self.log.read_text().splitlines():
            entry = json.loads(line)
            if entry.get("msg") == "serving":
                return int(str(entry["address"]).rsplit(":", 1)[1])
        return 0

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


# --- load generation ---------------------------------------------------------------------------


class Conn:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, port: int, ctx: ssl.SSLContext) -> Conn:
        reader, writer = await asyncio.open_connection(
            "127.0.0.1", port, ssl=ctx, server_hostname=SERVER_NAME
        )
        return cls(reader, writer)

    async def call(self, request: bytes) -> int:
        self.writer.write(request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n"):
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        await self.reader.readexactly(length)
        return int(head[9:12])

    def close(self) -> None:
        self.writer.close()


async def measured(pid: int, run: Any) -> dict[str, Any]:
    """Run one load pattern; add the server's CPU time per request (robust to other load)."""
    before = thread_cpu_ns(pid)
    result: dict[str, Any] = await run
    served = result.pop("served")
    result["server_cpu_us_per_request"] = round((thread_cpu_ns(pid) - before) / 1000 / served, 1)
    return result


def _summary(latencies: list[int], seconds: float, errors: int, served: int) -> dict[str, Any]:
    return {
        "served": served,  # every request of the run, warm-up included (for CPU accounting)
        "requests": len(latencies),
        "errors": errors,
        "rps": round(len(latencies) / seconds, 1),
        "p50_ms": round(percentile(latencies, 0.50) / 1e6, 3),
        "p99_ms": round(percentile(latencies, 0.99) / 1e6, 3),
    }


async def closed_loop(
    port: int, ctx: ssl.SSLContext, request: bytes, concurrency: int, warmup: float, duration: float
) -> dict[str, Any]:
    conns = [await Conn.open(port, ctx) for _ in range(concurrency)]
    latencies: list[int] = []
    errors = served = 0
    start = time.monotonic()
    measure_from, stop_at = start + warmup, start + warmup + duration
    max_requests = 200_000  # a bound, whatever the speed

    async def worker(conn: Conn) -> None:
        nonlocal errors, served
        count = 0
        while count < max_requests:
            t0 = time.perf_counter_ns()
            status = await conn.call(request)
            served += 1
            now = time.monotonic()
            if now >= stop_at:
                return
            if now >= measure_from:
                latencies.append(time.perf_counter_ns() - t0)
                errors += status != 200
            count += 1

    await asyncio.gather(*(worker(c) for c in conns))
    for c in conns:
        c.close()
    return _summary(latencies, duration, errors, served)


async def fixed_rate(
    port: int, ctx: ssl.SSLContext, request: bytes, rate: float, warmup: float, duration: float
) -> dict[str, Any]:
    """Open loop: request i is due at start + i/rate; latency counts from when it was due."""
    pool: asyncio.Queue[Conn] = asyncio.Queue()
    for _ in range(8):
        pool.put_nowait(await Conn.open(port, ctx))
    latencies: list[int] = []
    errors = 0
    total = int(rate * (warmup + duration))
    warm = int(rate * warmup)
    start = time.perf_counter_ns()

    async def one(i: int, due: int) -> None:
        nonlocal errors
        conn = await pool.get()
        try:
            status = await conn.call(request)
        finally:
            pool.put_nowait(conn)
        if i >= warm:
            latencies.append(time.perf_counter_ns() - due)
            errors += status != 200

    tasks = []
    for i in range(total):
        due = start + int(i * 1e9 / rate)
        delay = (due - time.perf_counter_ns()) / 1e9
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(i, due)))
    await asyncio.gather(*tasks)
    while not pool.empty():
        pool.get_nowait().close()
    return _summary(latencies, duration, errors, total)


async def under_hostile(
    args: argparse.Namespace, servers: dict[str, tuple[int, int]], ctx: ssl.SSLContext,
    request: bytes,
) -> dict[str, Any]:
    """canarist's fixed-rate latency without and with hostile reviews arriving (same run)."""
    port, pid = servers["canarist"]
    base = json.loads(PAYLOAD.read_text())
    quiet: list[dict[str, Any]] = []
    loud: list[dict[str, Any]] = []
    sent: dict[str, int] = {}
    for _ in range(args.rounds):
        load = fixed_rate(port, ctx, request, args.rate, args.warmup, args.duration)
        quiet.append(await measured(pid, load))
        stop = asyncio.Event()
        count = int(4 * (args.warmup + args.duration)) + 4  # more than two connections send
        batches = [await asyncio.to_thread(hostile_requests, base, SERVER_NAME, n, count)
                   for n in range(2)]
        conns = [await Conn.open(port, ctx) for _ in range(2)]
        senders = [asyncio.create_task(send_hostile(c.call, batch, stop, sent))
                   for c, batch in zip(conns, batches, strict=True)]
        load = fixed_rate(port, ctx, request, args.rate, args.warmup, args.duration)
        loud.append(await measured(pid, load))
        stop.set()
        await asyncio.gather(*senders)
        for c in conns:
            c.close()
    calm, hostile = _medians(quiet), _medians(loud)
    return {
        "rate": args.rate,
        "quiet": calm,
        "with_hostile": hostile,
        "hostile_sent_by_kind_and_status": sent,
        "ratio_p50": ratio(hostile["p50_ms"], calm["p50_ms"]),
        "ratio_p99": ratio(hostile["p99_ms"], calm["p99_ms"]),
    }


# --- the run -----------------------------------------------------------------------------------


def _medians(runs: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        **median_of(runs, ("server_cpu_us_per_request", "rps", "p50_ms", "p99_ms")),
        "errors": sum(r["errors"] for r in runs),
        "runs": runs,
    }


async def bench(
    args: argparse.Namespace, servers: dict[str, tuple[int, int]], ctx: ssl.SSLContext
) -> Any:
    body = json.dumps(json.loads(PAYLOAD.read_text()), separators=(",", ":")).encode()
    request = (
        f"POST /mutate?timeout=10s HTTP/1.1\r\nHost: {SERVER_NAME}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode() + body
    names = tuple(servers)  # bare, canarist and, with --before-root, before
    closed: dict[int, dict[str, list[dict[str, Any]]]] = {
        c: {n: [] for n in names} for c in args.concurrency
    }
    rated: dict[str, list[dict[str, Any]]] = {n: [] for n in names}
    for _ in range(args.rounds):
        for c in args.concurrency:
            for name in names:
                port, pid = servers[name]
                load = closed_loop(port, ctx, request, c, args.warmup, args.duration)
                closed[c][name].append(await measured(pid, load))
        for name in names:
            port, pid = servers[name]
            load = fixed_rate(port, ctx, request, args.rate, args.warmup, args.duration)
            rated[name].append(await measured(pid, load))
    results: dict[str, Any] = {"payload_bytes": len(body), "closed_loop": {}, "fixed_rate": {}}
    for c in args.concurrency:
        bare, ours = _medians(closed[c]["bare"]), _medians(closed[c]["canarist"])
        results["closed_loop"][f"c={c}"] = {
            "bare": bare,
            "canarist": ours,
            "ratio_rps": ratio(ours["rps"], bare["rps"]),
            "ratio_server_cpu": ratio(
                ours["server_cpu_us_per_request"], bare["server_cpu_us_per_request"]
            ),
            "ratio_p50": ratio(ours["p50_ms"], bare["p50_ms"]),
            "ratio_p99": ratio(ours["p99_ms"], bare["p99_ms"]),
        }
        if "before" in servers:
            before = _medians(closed[c]["before"])
            results["closed_loop"][f"c={c}"] |= {
                "before": before,
                "ratio_server_cpu_vs_before": ratio(
                    ours["server_cpu_us_per_request"], before["server_cpu_us_per_request"]
                ),
            }
        if "policies" in servers:
            ruled = _medians(closed[c]["policies"])
            results["closed_loop"][f"c={c}"] |= {
                "policies": ruled,
                "ratio_server_cpu_policies_vs_none": ratio(
                    ruled["server_cpu_us_per_request"], ours["server_cpu_us_per_request"]
                ),
                "ratio_rps_policies_vs_none": ratio(ruled["rps"], ours["rps"]),
            }
    bare, ours = _medians(rated["bare"]), _medians(rated["canarist"])
    results["fixed_rate"] = {
        "rate": args.rate,
        "bare": bare,
        "canarist": ours,
        "ratio_p50": ratio(ours["p50_ms"], bare["p50_ms"]),
        "ratio_p99": ratio(ours["p99_ms"], bare["p99_ms"]),
    }
    if "policies" in servers:
        ruled = _medians(rated["policies"])
        results["fixed_rate"] |= {
            "policies": ruled,
            "ratio_p50_policies_vs_none": ratio(ruled["p50_ms"], ours["p50_ms"]),
            "ratio_p99_policies_vs_none": ratio(ruled["p99_ms"], ours["p99_ms"]),
            "ratio_server_cpu_policies_vs_none": ratio(
                ruled["server_cpu_us_per_request"], ours["server_cpu_us_per_request"]),
        }
    if args.hostile:
        results["under_hostile_reviews"] = await under_hostile(args, servers, ctx, request)
    c4 = results["closed_loop"].get("c=4")
    results["goals"] = {
        "c4_throughput_ratio_at_least_0.8": None if c4 is None else (c4["ratio_rps"] or 0) >= 0.8,
        "p99_at_rate_at_most_2ms": ours["p99_ms"] <= 2.0,
    }
    return results


def profile(body: bytes, root: Path) -> dict[str, float]:
    """The in-process breakdown of ``root``'s canarist, in a fresh process that imports it from
    there (the same conditions for this checkout and another one)."""
    code = ("import json, sys; from scripts.bench.webhook_profile import breakdown; "
            "print(json.dumps(breakdown(sys.stdin.buffer.read())))")
    out = subprocess.run([sys.executable, "-c", code], input=body, capture_output=True,
                         cwd=root, env={**os.environ, "PYTHONPATH": str(root)}, check=True)
    result: dict[str, float] = json.loads(out.stdout)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=float, default=2.0, help="seconds measured per run")
    parser.add_argument("--warmup", type=float, default=0.5, help="seconds not measured per run")
    parser.add_argument("--rate", type=float, default=200.0, help="fixed-rate test, req/s")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 4, 32])
    parser.add_argument("--quick", action="store_true", help="1 round of 0.5 s: a smoke test")
    parser.add_argument("--no-hostile", dest="hostile", action="store_false",
                        help="skip the measurement under hostile reviews")
    parser.add_argument("--server-root", type=Path, default=ROOT, metavar="DIR",
                        help="run canarist (server and in-process profile) from another "
                        "checkout, e.g. the main branch before a change (default: this one)")
    parser.add_argument("--before-root", type=Path, metavar="DIR",
                        help="also measure canarist from this checkout (the code before a "
                        "change), alternating with the others in the same rounds")
    parser.add_argument("--policies", type=int, default=0, metavar="N",
                        help="also measure canarist with a document of N cluster policies "
                        "(--policy), in the same rounds (default 0: not)")
    parser.add_argument("--serve-bare", nargs=3, metavar=("CERT", "KEY", "PORTFILE"),
                        help=argparse.SUPPRESS)  # fmt: skip
    args = parser.parse_args()
    if args.serve_bare:
        serve_bare(*args.serve_bare)
        return
    if args.quick:
        args.rounds, args.duration, args.warmup = 1, 0.5, 0.2
    import uvloop

    cpus = sorted(os.sched_getaffinity(0))
    server_cpu = cpus[1] if len(cpus) >= 2 else None
    if server_cpu is not None:
        os.sched_setaffinity(0, {cpus[0]})
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        now = dt.datetime.now(dt.UTC)
        ca = issue_ca(now=now)
        serving = issue_serving(ca, service_names("canarist-webhook", "canarist"), now=now)
        cert, key = workdir / "tls.crt", workdir / "tls.key"
        cert.write_bytes(serving.cert_pem)
        key.write_bytes(serving.key_pem)
        ctx = ssl.create_default_context(cadata=ca.cert_pem.decode())
        roots = {"bare": ROOT, "canarist": args.server_root}
        if args.before_root is not None:
            roots["before"] = args.before_root
        servers = [Server(n, str(cert), str(key), workdir, server_cpu, root)
                   for n, root in roots.items()]
        if args.policies > 0:
            document = workdir / "policies.yaml"
            document.write_text(policy_document(args.policies))
            servers.append(Server("policies", str(cert), str(key), workdir, server_cpu,
                                  args.server_root, ("--policy", str(document))))
        try:
            ports = {s.name: (s.port, s.proc.pid) for s in servers}
            results = uvloop.run(bench(args, ports, ctx))
        finally:
            for s in servers:
                s.stop()
    body = json.dumps(json.loads(PAYLOAD.read_text()), separators=(",", ":")).encode()
    results["review_cpu_us_in_process"] = profile(body, args.server_root)
    if args.before_root is not None:
        results["review_cpu_us_in_process_before"] = profile(body, args.before_root)
        results["review_cpu_ratio_vs_before"] = {
            k: ratio(v, results["review_cpu_us_in_process_before"].get(k, 0))
            for k, v in results["review_cpu_us_in_process"].items()
        }
    results["setup"] = {
        "python": platform.python_version(),
        "cpus": len(cpus),
        "pinning": f"server on CPU {server_cpu}, load on CPU {cpus[0]}"
        if server_cpu is not None
        else "none (one CPU)",
        "server_root": str(args.server_root),
        "policies": args.policies,
        "rounds": args.rounds,
        "seconds_per_run": args.duration,
        "warmup_seconds": args.warmup,
        "load": "keep-alive TLS, one request in flight per connection",
        **codecs(),
        "note": "a shared machine varies req/s run to run; server CPU per request is the "
        "figure to trust",
    }
    json.dump(results, sys.stdout, indent=2)
    sys.stdout.write("\n")


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        main()
