"""The certificate keeper of a webhook replica (``canarist webhook --cert-secret NAME``).

Before the server listens, ``Keeper.first`` runs ``ensure_certs`` until it succeeds: the
Secret holds a pair, the caBundle of the webhook configuration trusts its CA, and the pair is in
the keeper's directory for the server to load. Then a thread runs it again every ``interval``
seconds (sooner when a renewal is planned), so a replica takes up a pair another replica issued
within ``interval`` plus the server's reload interval — read from the API, never waiting for
the kubelet to refresh a mounted Secret (30-100 s). A failed round is logged and retried; the
pair being served stays valid meanwhile (it is renewed at 2/3 of its life).
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

from webhook.errors import CanaristError
from webhook.kube.certs import EnsureOptions, Report, ensure_certs
from webhook.kube.client import SyncClient

log = logging.getLogger("canarist.kube.certs")


@dataclass
class Keeper:
    client: SyncClient
    opts: EnsureOptions
    interval: float = 10.0
    last: Report | None = None
    failures: int = 0

    def once(self) -> Report:
        report = ensure_certs(self.client, self.opts)
        self.last = report
        wrote = report.secret != "unchanged" or report.webhooks or report.files
        level = logging.INFO if wrote else logging.DEBUG
        log.log(level, "; ".join(report.lines(self.opts)))
        return report

    def first(self, stop: threading.Event, *, retry_cap: float | None = None) -> Report | None:
        """Ensure until it works (None if ``stop`` was set first), backing off 1 s, 2 s, ...
        up to ``interval``."""
        delay = 1.0
        while not stop.is_set():
            try:
                return self.once()
            except CanaristError as exc:
                self.failures += 1
                log.warning("certificates not ready yet (retrying in %.0f s): %s", delay, exc)
            if stop.wait(delay):
                return None
            delay = min(delay * 2, retry_cap or self.interval)
        return None

    def run(self, stop: threading.Event) -> None:
        """Keep ensuring until ``stop`` is set."""
        while not stop.wait(self._pause()):
            try:
                self.once()
            except CanaristError as exc:
                self.failures += 1
                log.warning("certificate check failed (the current pair keeps serving): %s",
                            exc)

    def start(self, stop: threading.Event) -> threading.Thread:
        thread = threading.Thread(target=self.run, args=(stop,), name="cert-keeper",
                                  daemon=True)
        thread.start()
        return thread

    def _pause(self, now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC)) -> float:
        if self.last is None:
            return self.interval
        due = (self.last.next_check - now()).total_seconds()
        return max(0.5, min(self.interval, due + 0.05))
