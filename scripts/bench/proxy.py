#!/usr/bin/env python3
"""Benchmark of ``canarist proxy`` against nginx, measured in the same run; prints JSON.

Starts two fast backends (one nginx worker answering on 127.0.0.2 and 127.0.0.3), then measures
with wrk, each the median of ``--repeat`` runs:
  * the backend directly,
  * nginx as a proxy (1 worker, weighted upstream 90/10, upstream keep-alive),
  * canarist proxy (1 worker, weight 10, every feature on: version header, metrics, sticky and
    header routes configured),
and reports req/s, p50, p99, the CPU each proxy process spent per request and the canarist/nginx
ratios. wrk repeats one request head, which canarist's plan cache answers without parsing; the
``new_paths`` runs give every request its own path under the same headers (a wrk Lua script, for
both proxies), which canarist's header-block cache answers. It also checks split exactness over
10,000 requests through both proxies, the primary's p99 through canarist with a mirror to a
target that takes 1 s to answer against the same table without the mirror, and the in-process
cost of one request (fake transports, real parsers and decisions: the figure least disturbed by
a busy machine).

The proxies run on CPU 1, wrk and the backends on CPU 0 (``taskset``) when the machine has two or
more CPUs. nginx and wrk are installed from Debian when missing (needs root).

    python scripts/bench/proxy.py [--duration 10] [--repeat 3] [--connections 50]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from scripts.bench._common import ROOT, cpu_seconds, median_of, ratio
from scripts.bench.proxy_inprocess import in_process_cost

STABLE_IP, CANARY_IP, MIRROR_IP = "127.0.0.2", "127.0.0.3", "127.0.0.4"


def ensure_tools() -> None:
    if shutil.which("nginx") and shutil.which("wrk"):
        return
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run(["apt-get", "update", "-qq"], check=False, env=env)
    for pkgs in (["nginx-light", "wrk"], ["nginx", "wrk"]):
        cmd = ["apt-get", "install", "-y", "-qq", *pkgs]
        if subprocess.run(cmd, check=False, env=env).returncode == 0:
            return
    sys.exit("cannot install nginx and wrk")


def free_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def pin(cpu: int) -> list[str]:
    if (os.cpu_count() or 1) >= 2 and shutil.which("taskset"):
        return ["taskset", "-c", str(cpu)]
    return []


NGINX_HEAD = """
worker_processes 1;
daemon off;
pid {dir}/nginx-{name}.pid;
error_log {dir}/nginx-{name}.err warn;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  client_body_temp_path {dir}/{name}-body;
  proxy_temp_path {dir}/{name}-proxy;
  fastcgi_temp_path {dir}/{name}-fcgi;
  uwsgi_temp_path {dir}/{name}-uwsgi;
  scgi_temp_path {dir}/{name}-scgi;
  keepalive_requests 1000000;
"""


def backend_conf(d: str, stable: int, canary: int) -> str:
    return NGINX_HEAD.format(dir=d, name="backend") + f"""
  server {{ listen {STABLE_IP}:{stable}; location / {{
    add_header x-backend stable; return 200 "stable\\n"; }} }}
  server {{ listen {CANARY_IP}:{canary}; location / {{
    add_header x-backend canary; return 200 "canary\\n"; }} }}
}}
"""


def nginx_proxy_conf(d: str, port: int, stable: int, canary: int) -> str:
    return NGINX_HEAD.format(dir=d, name="proxy") + f"""
  upstream app {{
    server {STABLE_IP}:{stable} weight=90;
    server {CANARY_IP}:{canary} weight=10;
    keepalive 128;
  }}
  server {{ listen 127.0.0.1:{port}; location / {{
    proxy_pass http://app; proxy_http_version 1.1; proxy_set_header Connection "";
    proxy_set_header Host $host; proxy_set_header X-Forwarded-For $remote_addr;
    proxy_set_header X-Real-IP $remote_addr; }} }}
}}
"""


def routes_yaml(stable: int, canary: str, weight: int, mirror: bool) -> str:
    text = f"""routes:
- name: web
  stable: {{endpoints: ["{STABLE_IP}:{stable}"]}}
  canary: {{endpoints: ["{canary}"]}}
  weight: {weight}
  canaryHash: bench1
  headerRoutes:
  - name: beta
    match: [{{headerName: X-Canary, headerValue: {{exact: "always"}}}}]
  sticky: {{cookie: canarist-web}}
"""
    if mirror:
        text += "  mirror: {percentage: 100}\n"
    return text


SLOW_SERVER = """
import asyncio, sys
from aiohttp import web
async def slow(request):
    await request.read()
    await asyncio.sleep(1.0)
    return web.Response(text="slow")
app = web.Application()
app.router.add_route("*", "/{tail:.*}", slow)
web.run_app(app, host=sys.argv[1], port=int(sys.argv[2]), access_log=None, print=None)
"""


LOGS = {"dir": Path(tempfile.gettempdir())}


@contextmanager
def process(cmd: list[str], **kw: Any) -> Iterator[subprocess.Popen[bytes]]:
    with open(LOGS["dir"] / "processes.log", "ab") as log:
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=log, **kw)
    try:
        yield proc
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=40)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def wait_http(url: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1) as resp:
                resp.read()
                return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"{url} did not come up within {timeout}s")


NEW_PATHS = """
counter = 0
request = function()
  counter = counter + 1
  return wrk.format("GET", "/item/" .. counter .. "?q=" .. counter)
end
"""


def wrk(url: str, duration: int, connections: int, pid: int | None = None,
        script: str | None = None) -> dict[str, float]:
    """One wrk run; with ``pid``, also the CPU that process spent per request (µs)."""
    before = cpu_seconds(pid) if pid else 0.0
    extra = ["-s", script] if script else []
    out = subprocess.run(
        [*pin(0), "wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--latency", *extra, url],
        capture_output=True, text=True, check=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    lat = dict(re.findall(r"^\s+(50|99)%\s+([\d.]+\w+)", out, re.M))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    result = {"rps": rps, "p50_ms": to_ms(lat["50"]), "p99_ms": to_ms(lat["99"]),
              "non_2xx": float(errors.group(1)) if errors else 0.0}
    if pid:
        requests = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
        result["cpu_us_per_request"] = round((cpu_seconds(pid) - before) / requests * 1e6, 2)
    return result


def to_ms(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()  # type: ignore[union-attr]
    return float(value) * {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 6e4}[unit]


async def split_count(url: str, header: str, n: int = 10_000, concurrency: int = 32
                      ) -> dict[str, int]:
    import aiohttp

    counts: dict[str, int] = {}
    todo = iter(range(n))
    async with aiohttp.ClientSession() as session:
        async def client() -> None:
            for _ in todo:
                async with session.get(url) as resp:
                    await resp.read()
                    value = resp.headers.get(header, "?")
                    counts[value] = counts.get(value, 0) + 1

        await asyncio.gather(*(client() for _ in range(concurrency)))
    return counts


def canarist_cmd(routes: Path, port: int, admin: int) -> list[str]:
    return [*pin(1), sys.executable, "-m", "webhook.cli", "proxy", "--routes", str(routes),
            "--listen", f"127.0.0.1:{port}", "--admin-listen", f"127.0.0.1:{admin}"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    ap.add_argument("--repeat", type=int, default=3, help="runs per target (median reported)")
    ap.add_argument("--connections", type=int, default=50)
    ap.add_argument("--warmup", type=int, default=2)
    args = ap.parse_args()
    in_process = in_process_cost(routes_yaml(8080, f"{CANARY_IP}:8080", 10, mirror=False))
    ensure_tools()
    d = tempfile.mkdtemp(prefix="canarist-bench-")
    LOGS["dir"] = Path(d)
    sb, cb = free_port(STABLE_IP), free_port(CANARY_IP)
    np_, cp, mp, adm = (free_port("127.0.0.1") for _ in range(4))
    slow = free_port(MIRROR_IP)
    Path(d, "backend.conf").write_text(backend_conf(d, sb, cb))
    Path(d, "proxy.conf").write_text(nginx_proxy_conf(d, np_, sb, cb))
    Path(d, "routes.yaml").write_text(routes_yaml(sb, f"{CANARY_IP}:{cb}", 10, mirror=False))
    Path(d, "plain.yaml").write_text(routes_yaml(sb, f"{MIRROR_IP}:{slow}", 0, mirror=False))
    Path(d, "mirror.yaml").write_text(routes_yaml(sb, f"{MIRROR_IP}:{slow}", 0, mirror=True))
    Path(d, "new_paths.lua").write_text(NEW_PATHS)
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    result: dict[str, Any] = {
        "machine": {"cpus": os.cpu_count(), "pinned": bool(pin(0))},
        "settings": {"duration_s": args.duration, "repeat": args.repeat,
                     "connections": args.connections, "wrk_threads": 1},
    }
    nginx = shutil.which("nginx") or "nginx"
    with process([*pin(0), nginx, "-p", d, "-c", f"{d}/backend.conf"]) as backend, \
            process([*pin(1), nginx, "-p", d, "-c", f"{d}/proxy.conf"]) as nginx_proxy, \
            process(canarist_cmd(Path(d, "routes.yaml"), cp, adm), env=env) as canarist:
        targets = {"backend": f"http://{STABLE_IP}:{sb}/", "nginx": f"http://127.0.0.1:{np_}/",
                   "canarist": f"http://127.0.0.1:{cp}/"}
        pids = {"backend": backend.pid, "nginx": nginx_proxy.pid, "canarist": canarist.pid}
        for url in targets.values():
            wait_http(url)
        runs: dict[str, list[dict[str, float]]] = {
            k: [] for k in (*targets, "nginx_new_paths", "canarist_new_paths")}
        for url in targets.values():
            wrk(url, args.warmup, args.connections)
        for _ in range(args.repeat):
            for name, url in targets.items():
                runs[name].append(wrk(url, args.duration, args.connections, pids[name]))
        for _ in range(args.repeat):
            for name in ("nginx", "canarist"):
                runs[f"{name}_new_paths"].append(wrk(targets[name], args.duration,
                                                  args.connections, pids[name],
                                                  script=str(Path(d, "new_paths.lua"))))
        med = {k: median_of(v) for k, v in runs.items()}
        result["runs"] = runs
        result["median"] = med
        result["ratios"] = {
            "rps_canarist_over_nginx": ratio(med["canarist"]["rps"], med["nginx"]["rps"]),
            "p99_canarist_over_nginx": ratio(med["canarist"]["p99_ms"], med["nginx"]["p99_ms"]),
            "rps_nginx_over_backend": ratio(med["nginx"]["rps"], med["backend"]["rps"]),
            # CPU per request is the figure least disturbed by other load on a shared machine
            "cpu_per_request_canarist_over_nginx": ratio(
                med["canarist"]["cpu_us_per_request"], med["nginx"]["cpu_us_per_request"]),
            "new_paths_rps_canarist_over_nginx": ratio(
                med["canarist_new_paths"]["rps"], med["nginx_new_paths"]["rps"]),
            "new_paths_cpu_per_request_canarist_over_nginx": ratio(
                med["canarist_new_paths"]["cpu_us_per_request"],
                med["nginx_new_paths"]["cpu_us_per_request"]),
        }
        result["split_10000_at_weight_10"] = {
            "canarist": asyncio.run(split_count(targets["canarist"], "x-canarist-version")),
            "nginx": asyncio.run(split_count(targets["nginx"], "x-backend")),
            "expected_canary": 1000,
        }
    result["mirror"] = mirror_bench(args, d, env, sb, slow, mp, adm)
    result["in_process_us_per_request"] = in_process
    print(json.dumps(result, indent=2))


def mirror_bench(args: argparse.Namespace, d: str, env: dict[str, str], sb: int, slow: int,
                 port: int, adm: int) -> dict[str, Any]:
    """Primary p99 with a 1 s-slow mirror target against the same table without the mirror."""
    out: dict[str, Any] = {}
    nginx = shutil.which("nginx") or "nginx"
    with process([*pin(0), nginx, "-p", d, "-c", f"{d}/backend.conf"]), \
            process([*pin(0), sys.executable, "-c", SLOW_SERVER, MIRROR_IP, str(slow)]):
        for label, file in (("without_mirror", "plain.yaml"), ("with_slow_mirror", "mirror.yaml")):
            with process(canarist_cmd(Path(d, file), port, adm), env=env) as proxy:
                url = f"http://127.0.0.1:{port}/"
                wait_http(url)
                wrk(url, args.warmup, args.connections)
                runs = [wrk(url, args.duration, args.connections, proxy.pid)
                        for _ in range(args.repeat)]
                out[label] = median_of(runs)
                with urllib.request.urlopen(f"http://127.0.0.1:{adm}/metrics", timeout=5) as r:
                    text = r.read().decode()
                out[label]["mirror"] = {
                    m[0]: int(m[1]) for m in re.findall(
                        r'canarist_proxy_mirror_requests_total\{route="web",result="(\w+)"\} (\d+)',
                        text)
                }
    out["p99_ratio_with_over_without"] = ratio(
        out["with_slow_mirror"]["p99_ms"], out["without_mirror"]["p99_ms"])
    return out


if __name__ == "__main__":
    main()
