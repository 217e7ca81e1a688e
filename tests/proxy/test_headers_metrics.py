"""Header rewriting and metrics, as pure functions."""

from __future__ import annotations

import pytest

from webhook.proxy import headers as h
from webhook.proxy.metrics import Metrics, merge, render_prometheus, summarize


def test_hop_by_hop_and_connection_named_headers_are_dropped() -> None:
    head = h.scan_request([
        (b"Host", b"web"), (b"Connection", b"keep-alive, X-Private"), (b"X-Private", b"p"),
        (b"Keep-Alive", b"300"), (b"TE", b"trailers"), (b"Proxy-Authorization", b"x"),
        (b"X-Forwarded-For", b"10.0.0.1"), (b"Accept", b"*/*"), (b"Content-Length", b"3"),
    ])
    sent = h.request_head(b"POST", b"/p?q=1", head, b"127.0.0.9")
    assert sent.startswith(b"POST /p?q=1 HTTP/1.1\r\n")
    lines = sent.split(b"\r\n")
    names = {line.split(b":")[0].lower() for line in lines[1:] if line}
    assert names == {b"host", b"accept", b"x-forwarded-for", b"x-forwarded-proto",
                     b"x-forwarded-host", b"content-length"}
    assert b"X-Forwarded-Host: web" in lines
    assert b"Content-Length: 3" in lines


CLIENT_FORWARDED = [(b"Host", b"shop.example"), (b"X-Forwarded-For", b"203.0.113.7"),
                    (b"X-Forwarded-For", b"10.0.0.1"), (b"X-Forwarded-Host", b"evil.example"),
                    (b"X-Forwarded-Proto", b"https")]


@pytest.mark.parametrize(("trusted", "expected"), [
    # from any client: the proxy's own values; what the client claimed is dropped
    (False, [b"X-Forwarded-For: 127.0.0.9", b"X-Forwarded-Proto: http",
             b"X-Forwarded-Host: shop.example"]),
    # from a trusted proxy: its values are kept, X-Forwarded-For appended to
    (True, [b"X-Forwarded-For: 203.0.113.7, 10.0.0.1, 127.0.0.9", b"X-Forwarded-Proto: https",
            b"X-Forwarded-Host: evil.example"]),
])
def test_forwarding_headers_are_set_by_the_proxy_unless_the_client_is_trusted(
        trusted: bool, expected: list[bytes]) -> None:
    sent = h.request_head(b"GET", b"/", h.scan_request(CLIENT_FORWARDED), b"127.0.0.9",
                          trusted=trusted)
    lines = sent.split(b"\r\n")
    assert [line for line in lines if line.lower().startswith(b"x-forwarded")] == expected


@pytest.mark.parametrize(("connection", "kept"), [
    # end-to-end fields cannot be named away
    (b"Host", {b"host", b"x-a", b"authorization", b"cookie"}),
    (b"close, HOST, Authorization, Cookie, X-Forwarded-For",
     {b"host", b"x-a", b"authorization", b"cookie"}),
    # other fields can
    (b"X-A", {b"host", b"authorization", b"cookie"}),
    (b"keep-alive, x-a, host", {b"host", b"authorization", b"cookie"}),
])
def test_connection_cannot_name_end_to_end_fields(connection: bytes, kept: set[bytes]) -> None:
    head = h.scan_request([(b"Host", b"web"), (b"Connection", connection), (b"X-A", b"1"),
                           (b"Authorization", b"Bearer t"), (b"Cookie", b"c=1")])
    sent = h.request_head(b"GET", b"/", head, b"127.0.0.9").split(b"\r\n")[1:]
    names = {line.split(b":")[0].lower() for line in sent if line}
    assert names - {b"x-forwarded-for", b"x-forwarded-proto", b"x-forwarded-host"} == kept


def test_a_response_connection_header_cannot_name_its_framing_or_cookies_away() -> None:
    block = (b"HTTP/1.1 200 OK\r\nConnection: Content-Length, Set-Cookie, X-A\r\n"
             b"Content-Length: 2\r\nSet-Cookie: s=1\r\nX-A: 1\r\n")
    rhead = h.scan_response(block)
    assert rhead.content_length == 2
    assert rhead.block == b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nSet-Cookie: s=1\r\n"


@pytest.mark.parametrize(("headers", "problem"), [
    ([(b"Host", b"a"), (b"Host", b"b")], "more than one Host header"),
    ([(b"Host", b"a"), (b"host", b"a")], "more than one Host header"),
    ([(b"Host", b"a b")], "invalid Host header 'a b'"),
    ([(b"Host", b"a/b")], "invalid Host header 'a/b'"),
    ([(b"Host", b"[::1]:8080")], None),
    ([(b"Host", b"")], None),
    ([], None),
])
def test_host_problems(headers: list[tuple[bytes, bytes]], problem: str | None) -> None:
    assert h.scan_request(headers).problem == problem


def test_upgrade_survives_only_when_connection_names_it() -> None:
    assert h.scan_request([(b"Upgrade", b"websocket")]).upgrade is None
    head = h.scan_request([(b"Connection", b"Upgrade"), (b"Upgrade", b"websocket")])
    assert head.upgrade == b"websocket"
    assert b"Connection: upgrade\r\nUpgrade: websocket\r\n" in h.request_head(b"GET", b"/", head,
                                                                               b"1")


@pytest.mark.parametrize(("status", "cl", "chunked", "head_req", "http11", "framing"), [
    (200, 5, False, False, True, h.FRAME_LENGTH),
    (200, None, True, False, True, h.FRAME_CHUNKED),
    (200, None, False, False, True, h.FRAME_RECHUNK),
    (200, None, False, False, False, h.FRAME_CLOSE),
    (200, 5, False, True, True, h.FRAME_NONE),
    (204, None, False, False, True, h.FRAME_NONE),
    (304, 5, False, False, True, h.FRAME_NONE),
    (101, None, False, False, True, h.FRAME_TUNNEL),
])
def test_response_framing(status: int, cl: int | None, chunked: bool, head_req: bool,
                          http11: bool, framing: int) -> None:
    rhead = h.ResponseHead(content_length=cl, chunked=chunked)
    assert h.response_framing(status, rhead, head_req, http11) == framing


def test_response_head_drops_hop_by_hop_and_connection_named_headers() -> None:
    block = h.response_head([
        (b"Connection", b"keep-alive, X-A"), (b"X-A", b"1"), (b"X-B", b"2"),
        (b"Keep-Alive", b"timeout=5"), (b"Transfer-Encoding", b"chunked"),
        (b"x-canarist-version", b"forged"), (b"X-AB", b"kept"),
    ])
    rhead = h.scan_response(block.replace(b"HTTP/1.1", b"HTTP/1.0", 1))
    assert rhead.chunked and rhead.content_length is None
    out = h.client_head(rhead, h.FRAME_CHUNKED, b"x-canarist-version: stable\r\n", True)
    assert out == (b"HTTP/1.1 200 OK\r\nX-B: 2\r\nTransfer-Encoding: chunked\r\n"
                   b"X-AB: kept\r\nx-canarist-version: stable\r\n\r\n")
    closing = h.client_head(h.scan_response(h.response_head([], 404, b"Not Found")),
                            h.FRAME_RECHUNK, b"", False)
    assert closing == (b"HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n"
                       b"Connection: close\r\n\r\n")


def test_metrics_render_and_summary() -> None:
    m = Metrics(window_seconds=60)
    for _ in range(97):
        m.record("web", "stable", 200, 0.002)
    m.record("web", "stable", 502, 0.001, upstream_error=True)
    m.record("web", "stable", 404, 0.2)
    m.record("web", "stable", 404, 0.2)
    m.record("web", "canary", 200, 0.02)
    m.mirror_event("web", "sent")
    m.mirror_event("web", "dropped")
    snap = merge([m.snapshot(), m.snapshot()])  # two identical workers
    text = render_prometheus(snap)
    assert 'canarist_proxy_requests_total{route="web",version="stable",code="2xx"} 194' in text
    assert 'canarist_proxy_requests_total{route="web",version="stable",code="5xx"} 2' in text
    assert 'canarist_proxy_upstream_errors_total{route="web",version="stable"} 2' in text
    assert ('canarist_proxy_request_duration_seconds_bucket{route="web",version="stable",'
            'le="+Inf"} 200') in text
    assert 'canarist_proxy_mirror_requests_total{route="web",result="dropped"} 2' in text
    summary = summarize(snap, 60)
    stable = summary["routes"]["web"]["stable"]
    assert stable["requests"] == 200
    assert stable["errors"] == 2
    assert stable["successRate"] == 0.99
    assert 1.5 < stable["latencyMs"]["p50"] < 2.5
    assert 150 < stable["latencyMs"]["p99"] < 250
    assert summary["routes"]["web"]["canary"]["requests"] == 2


def test_summary_window_forgets_old_seconds() -> None:
    m = Metrics(window_seconds=60)
    m.record("web", "stable", 500, 0.01)
    snap = m.snapshot()
    second = max(snap["window"][("web", "stable")])
    assert summarize(snap, 10, now=second)["routes"]["web"]["stable"]["requests"] == 1
    later = summarize(snap, 10, now=second + 30)
    assert later["routes"]["web"]["stable"] == {
        "requests": 0, "errors": 0, "successRate": None,
        "latencyMs": {"p50": None, "p95": None, "p99": None}}
