"""core/v1 Events as the controllers' ``record.EventRecorder`` writes them.

Recording never blocks or fails a sync: each Event is created in a background task and errors
are dropped (upstream's broadcaster does the same).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from webhook.cluster.controllers.objects import format_time, meta

log = logging.getLogger(__name__)


class CreateAPI(Protocol):
    async def create(self, resource: str, namespace: str | None, obj: Mapping[str, Any]
                     ) -> dict[str, Any]: ...


def event_body(involved: Mapping[str, Any], etype: str, reason: str, message: str, *,
               component: str, now: float) -> dict[str, Any]:
    """The Event ``makeEvent`` builds: named ``<object>.<unix nanos in hex>``."""
    md = meta(involved)
    stamp = format_time(now)
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": f"{md.get('name', '')}.{int(now * 1e9):x}",
                     "namespace": md.get("namespace") or "default"},
        "involvedObject": {
            "kind": involved.get("kind", ""),
            "namespace": md.get("namespace", ""),
            "name": md.get("name", ""),
            "uid": md.get("uid", ""),
            "apiVersion": involved.get("apiVersion", ""),
            "resourceVersion": md.get("resourceVersion", ""),
        },
        "reason": reason,
        "message": message,
        "source": {"component": component},
        "firstTimestamp": stamp,
        "lastTimestamp": stamp,
        "count": 1,
        "type": etype,
        "reportingComponent": component,
        "reportingInstance": "",
    }


class EventRecorder:
    def __init__(self, api: CreateAPI, component: str, clock: Callable[[], float]) -> None:
        self.api = api
        self.component = component
        self.clock = clock
        self._tasks: set[asyncio.Task[None]] = set()
        self._last = 0.0

    def record(self, involved: Mapping[str, Any], etype: str, reason: str, message: str) -> None:
        now = max(self.clock(), self._last + 1e-9)  # unique names within one process
        self._last = now
        body = event_body(involved, etype, reason, message, component=self.component, now=now)
        task = asyncio.get_running_loop().create_task(self._create(body))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _create(self, body: dict[str, Any]) -> None:
        try:
            await self.api.create("events", body["metadata"]["namespace"], body)
        except Exception as exc:
            log.debug("event %s not recorded: %s", body["reason"], exc)
