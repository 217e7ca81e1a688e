"""``canarist dashboard``: serve the app until SIGINT/SIGTERM.

Streams are told to end at shutdown (so it never waits for a browser), then the cache stops.
The address actually bound is printed (``--listen 127.0.0.1:0`` picks a free port), which the
tests and the benchmark read.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
from typing import TextIO

from aiohttp import web

from webhook.dashboard.app import make_app
from webhook.dashboard.state import Options
from webhook.kube.config import ClientOptions, load

log = logging.getLogger("canarist.dashboard")


async def serve(options: Options, client_options: ClientOptions, host: str, port: int,
                stop: asyncio.Event, out: TextIO) -> None:
    app = make_app(options, client_options)
    # handler_cancellation: a stream whose browser went away ends at once, not at its next write
    runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=5.0,
                           handler_cancellation=True)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port)
        await site.start()
        for bound in runner.addresses:
            shown = f"[{bound[0]}]" if ":" in str(bound[0]) else bound[0]
            print(f"canarist dashboard on http://{shown}:{bound[1]}/"
                  f"{' (read-only)' if options.read_only else ''}", file=out, flush=True)
        await stop.wait()
    finally:
        await runner.cleanup()


def run_dashboard(options: Options, client_options: ClientOptions, host: str, port: int) -> int:
    load(client_options)  # a bad kubeconfig or context fails here, with its flag named

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(sig, stop.set)
        await serve(options, client_options, host, port, stop, sys.stdout)

    asyncio.run(main())
    return 0
