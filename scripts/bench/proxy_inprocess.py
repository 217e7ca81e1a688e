"""The proxy benchmark's in-process figure: the cost of one request through canarist's real
protocols, parsers and decisions, with transports that only take writes (the figure least
disturbed by a busy machine). Run by ``scripts/bench/proxy.py``, or alone to compare two
checkouts in one run (each measured in turn, in its own process, best of the turns):

    .venv/bin/python scripts/bench/proxy_inprocess.py --against ../other-checkout --turns 3
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

# one measurement in a checkout's own code (run with that checkout as the working directory)
_MEASURE = """
import json, sys
sys.path.insert(0, ".")
from scripts.bench.proxy import CANARY_IP, routes_yaml
from scripts.bench.proxy_inprocess import in_process_cost
print(json.dumps(in_process_cost(routes_yaml(8080, f"{CANARY_IP}:8080", 10, mirror=False))))
"""

IN_PROCESS_REQUEST = (b"GET /items?id=7 HTTP/1.1\r\nHost: web.example.com\r\n"
                      b"User-Agent: bench\r\n\r\n")
IN_PROCESS_RESPONSE = (b"HTTP/1.1 200 OK\r\nServer: nginx\r\n"
                       b"Date: Sun, 22 Nov 2026 06:33:00 GMT\r\nContent-Type: text/plain\r\n"
                       b"Content-Length: 7\r\nConnection: keep-alive\r\n\r\nstable\n")


class _FakeTransport:
    """Takes writes and nothing else: what is left is canarist's own work."""

    def write(self, data: bytes) -> None:
        pass

    def get_extra_info(self, key: str, default: Any = None) -> Any:
        return ("127.0.0.1", 40000) if key == "peername" else default

    def pause_reading(self) -> None:
        pass

    resume_reading = close = abort = pause_reading


def in_process_cost(routes: str, n: int = 20000, rounds: int = 5) -> dict[str, float]:
    """µs per request through the real protocols, parsers and decisions (uvloop when present),
    with transports that only take writes; best of ``rounds``. ``cached``: one head repeated
    (the plan cache answers); ``new_path``: every request its own path under the same headers
    (the header-block cache answers); ``new_headers``: every head new, headers included."""
    from webhook.proxy.client import ClientConn
    from webhook.proxy.context import ProxyOptions
    from webhook.proxy.server import ProxyServer
    from webhook.proxy.table import static_endpoints
    from webhook.proxy.upstream import UpstreamConn
    from webhook.spec.routetable import parse_route_table

    async def measure() -> dict[str, float]:
        table = parse_route_table(routes)
        server = ProxyServer(table, static_endpoints, ProxyOptions())
        ctx = server.ctx
        client = ClientConn(ctx)
        client.connection_made(_FakeTransport())  # type: ignore[arg-type]
        for route in ctx.table.routes:
            for ring in route.rings.values():
                for endpoint in ring.items:
                    conn = UpstreamConn(ctx.pool, endpoint)
                    conn.connection_made(_FakeTransport())  # type: ignore[arg-type]
                    ctx.pool.give_back(conn)

        def run(requests: list[bytes]) -> float:
            start = time.perf_counter()
            for request in requests:
                client.data_received(request)
                assert client.current is not None and client.current.conn is not None
                client.current.conn.data_received(IN_PROCESS_RESPONSE)
            return (time.perf_counter() - start) / len(requests)

        paths = [IN_PROCESS_REQUEST.replace(b"id=7", b"id=%d" % i) for i in range(n * rounds)]
        headers = [IN_PROCESS_REQUEST.replace(b"bench", b"bench/%d" % i)
                   for i in range(n * rounds)]
        out = {
            "cached": min(run([IN_PROCESS_REQUEST] * n) for _ in range(rounds)),
            "new_path": min(run(paths[i * n:(i + 1) * n]) for i in range(rounds)),
            "new_headers": min(run(headers[i * n:(i + 1) * n]) for i in range(rounds)),
        }
        return {k: round(v * 1e6, 2) for k, v in out.items()}

    try:
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    except ImportError:
        pass
    result = asyncio.run(measure())
    asyncio.set_event_loop_policy(None)
    return result


def compare(here: Path, other: Path, turns: int) -> dict[str, dict[str, float]]:
    """µs per request of this checkout and ``other``, measured in turn ``turns`` times each
    (best of the turns), so both see the same machine."""
    best: dict[str, dict[str, float]] = {"this": {}, "other": {}}
    for _ in range(turns):
        for name, tree in (("other", other), ("this", here)):
            out = subprocess.run([sys.executable, "-c", _MEASURE], cwd=tree, check=True,
                                 capture_output=True, text=True, timeout=300).stdout
            for kind, us in json.loads(out.splitlines()[-1]).items():
                best[name][kind] = min(us, best[name].get(kind, us))
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--against", type=Path, help="another checkout to measure in turn")
    ap.add_argument("--turns", type=int, default=3)
    args = ap.parse_args()
    here = Path(__file__).resolve().parents[2]
    if args.against is None:
        sys.path.insert(0, str(here))
        from scripts.bench.proxy import CANARY_IP, routes_yaml

        print(json.dumps(in_process_cost(routes_yaml(8080, f"{CANARY_IP}:8080", 10,
                                                      mirror=False))))
        return
    best = compare(here, args.against.resolve(), args.turns)
    for kind in best["this"]:
        ratio = best["this"][kind] / best["other"][kind]
        print(f"{kind:12} other {best['other'][kind]:6.2f} us  this {best['this'][kind]:6.2f} us"
              f"  this/other {ratio:.3f}")


if __name__ == "__main__":
    main()
