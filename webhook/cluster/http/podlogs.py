"""``GET .../pods/NAME/log``: a container's output, from the node (``ClusterAPI.node``).

Query parameters as ``PodLogOptions``: ``container`` (optional for a pod of one container),
``follow`` (stream until the container instance ends), ``previous`` (the instance before),
``timestamps`` (RFC 3339 with nanoseconds before each line), ``tailLines``, ``sinceSeconds``
or ``sinceTime``, ``limitBytes``. Errors are the API server's and the kubelet's 400s
(``a container name must be specified for pod web, choose one of: [a b]``,
``container "app" in pod "web" is waiting to start: ContainerCreating``,
``previous terminated container "app" in pod "web" not found``).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import time
from collections.abc import Mapping
from typing import Any

from aiohttp import web

from webhook.cluster import status as st
from webhook.cluster.api import ClusterAPI
from webhook.cluster.http.paths import RequestInfo
from webhook.cluster.kubelet.logs import timestamp


def _flag(q: Mapping[str, str], name: str) -> bool:
    return q.get(name, "").lower() in ("1", "true")


def _positive(q: Mapping[str, str], name: str, *, zero: bool = False) -> int | None:
    raw = q.get(name)
    if raw in (None, ""):
        return None
    try:
        value = int(raw)
    except ValueError as exc:
        raise st.bad_request(f'{name}: Invalid value: "{raw}": must be an integer') from exc
    if value < 0 or (value == 0 and not zero):
        bound = "greater than or equal to 0" if zero else "greater than 0"
        raise st.bad_request(f"{name}: Invalid value: {value}: must be {bound}")
    return value


def _container(pod: Mapping[str, Any], name: str, wanted: str) -> str:
    spec = pod.get("spec") or {}
    regular = [str(c.get("name")) for c in spec.get("containers") or ()]
    init = [str(c.get("name")) for c in spec.get("initContainers") or ()]
    if not wanted:
        if len(regular) == 1:
            return regular[0]
        message = (f"a container name must be specified for pod {name}, choose one of: "
                   f"[{' '.join(regular)}]")
        if init:
            message += f" or one of the init containers: [{' '.join(init)}]"
        raise st.bad_request(message)
    if wanted not in regular + init:
        raise st.bad_request(f"container {wanted} is not valid for pod {name}")
    return wanted


async def serve_log(request: web.Request, api: ClusterAPI, info: RequestInfo
                    ) -> web.StreamResponse:
    if request.method != "GET":
        raise st.method_not_allowed(request.method, "pods/log")
    q = request.query
    pod = await api.get("pods", info.namespace, info.name)
    container = _container(pod, info.name, q.get("container", ""))
    tail = _positive(q, "tailLines", zero=True)
    limit = _positive(q, "limitBytes")
    since_seconds = _positive(q, "sinceSeconds")
    since_time = q.get("sinceTime")
    if since_seconds is not None and since_time:
        raise st.bad_request("at most one of sinceTime or sinceSeconds may be specified")
    since = time.time() - since_seconds if since_seconds is not None else None
    if since_time:
        try:
            since = dt.datetime.fromisoformat(since_time).timestamp()
        except ValueError as exc:
            raise st.bad_request(f'sinceTime: Invalid value: "{since_time}": must be RFC 3339'
                                 ) from exc
    if not (pod.get("spec") or {}).get("nodeName"):
        raise st.bad_request(f"pod {info.name} does not have a host assigned")
    if api.node is None:
        raise st.err(503, "ServiceUnavailable",
                     f'the node of pod "{info.name}" is not running (the cluster runs without '
                     "its kubelet)")
    source = api.node.container_log(info.namespace, info.name, container, _flag(q, "previous"))
    stamps = _flag(q, "timestamps")
    resp = web.StreamResponse(status=200)
    resp.content_type = "text/plain"
    resp.enable_chunked_encoding()
    await resp.prepare(request)
    sent = 0
    lines = source.follow(since, tail) if _flag(q, "follow") else _iterate(source, since, tail)
    with contextlib.suppress(ConnectionError):
        async for line in lines:
            data = line.data
            if stamps:
                data = timestamp(line.time).encode() + b" " + data
            if limit is not None and sent + len(data) > limit:
                data = data[:limit - sent]
            await resp.write(data)
            sent += len(data)
            if limit is not None and sent >= limit:
                break
        await resp.write_eof()
    return resp


async def _iterate(source: Any, since: float | None, tail: int | None) -> Any:
    for line in source.select(since, tail):
        yield line
