"""``GET /metrics``: the dashboard's own figures in Prometheus text (no names, only counts).

``canarist_dashboard_streams`` (open server-sent event streams),
``canarist_dashboard_cached_objects{kind}``, ``canarist_dashboard_releases``,
``canarist_dashboard_api_requests_total{method,code}`` (requests the dashboard sent to the API
server: with one shared cache they do not grow with the number of pages open) and
``canarist_dashboard_access_reviews_total`` (``--auth token``).
"""

from __future__ import annotations

from aiohttp import web

from webhook.dashboard.app import DASHBOARD
from webhook.prometheus import escape_label


def render(request: web.Request) -> str:
    d = request.app[DASHBOARD]
    lines = [
        "# TYPE canarist_dashboard_streams gauge",
        f"canarist_dashboard_streams {d.streams}",
        "# TYPE canarist_dashboard_releases gauge",
        f"canarist_dashboard_releases {len(d.cache.releases())}",
        "# TYPE canarist_dashboard_cached_objects gauge",
    ]
    for informer in d.cache.informers:
        lines.append(f'canarist_dashboard_cached_objects{{kind="{informer.kind}"}} '
                     f"{len(informer)}")
    lines.append("# TYPE canarist_dashboard_api_requests_total counter")
    for (method, code), count in sorted(d.client.rest.stats.items()):
        lines.append(f'canarist_dashboard_api_requests_total{{method="{escape_label(method)}",'
                     f'code="{code}"}} {count}')
    lines.append("# TYPE canarist_dashboard_access_reviews_total counter")
    lines.append(f"canarist_dashboard_access_reviews_total "
                 f"{d.access.reviews if d.access is not None else 0}")
    return "\n".join(lines) + "\n"


async def metrics(request: web.Request) -> web.Response:
    return web.Response(text=render(request), content_type="text/plain", charset="utf-8")
