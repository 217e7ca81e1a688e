"""The request line over raw sockets: absolute-form targets (RFC 9112 §3.2.2) and the HTTP
versions served (no HTTP/0.9, no HTTP/2.0 in HTTP/1 syntax)."""

from __future__ import annotations

import json

import pytest

from tests.admission.rawhttp import read_response
from tests.proxy.conftest import Backend, ProxyFactory
from tests.proxy.test_untrusted_http import ask, ask_keep, connected, head, seen_values


def two_hosts(backends: dict[str, Backend]) -> str:
    """``web.local`` served by the stable backend, ``other.example`` by stable2."""
    return json.dumps({"routes": [
        {"name": "web", "hosts": ["web.local"],
         "stable": {"endpoints": [backends["stable"].address]}},
        {"name": "other", "hosts": ["other.example"],
         "stable": {"endpoints": [backends["stable2"].address]}},
    ]})


# -- absolute-form: the target's authority wins over Host --------------------------------------

@pytest.mark.parametrize(("target", "host", "path"), [
    (b"http://other.example/path?q=1", "other.example", "/path?q=1"),
    (b"HTTP://OTHER.example:8080/x", "OTHER.example:8080", "/x"),
    (b"https://other.example", "other.example", "/"),
    (b"http://other.example?q=2", "other.example", "/?q=2"),
])
async def test_an_absolute_form_target_is_routed_by_its_authority_which_replaces_host(
    backends: dict[str, Backend], make_proxy: ProxyFactory, target: bytes, host: str,
    path: str,
) -> None:
    proxy = await make_proxy(two_hosts(backends))
    status, _, body, _ = await ask(proxy.server.port, head(b"Host: web.local", target=target))
    assert status == 200 and json.loads(body)["backend"] == "stable2"
    other = backends["stable2"]
    assert other.seen[-1].path == path  # sent on in origin-form
    assert seen_values(other, "host") == [host]
    assert seen_values(other, "x-forwarded-host") == [host]
    assert backends["stable"].seen == []


async def test_http10_absolute_form_without_host_gets_one_and_http11_without_host_is_400(
    backends: dict[str, Backend], make_proxy: ProxyFactory,
) -> None:
    proxy = await make_proxy(two_hosts(backends))
    port = proxy.server.port
    target = b"http://other.example/ten"
    status, _, body, _ = await ask(port, head(target=target, version=b"HTTP/1.0"))
    assert status == 200 and json.loads(body)["backend"] == "stable2"
    assert seen_values(backends["stable2"], "host") == ["other.example"]
    # RFC 9112 §3.2: an HTTP/1.1 request without Host is 400, whatever its target (as nginx)
    status, _, body, closed = await ask(port, head(b"Accept: */*", target=target))
    assert (status, closed) == (400, True) and b"without a Host header" in body


@pytest.mark.parametrize(("target", "says"), [
    (b"ftp://other.example/file", "has scheme 'ftp': only http and https"),
    (b"ws://other.example/", "has scheme 'ws'"),
    (b"http://user:secret@other.example/", "has userinfo"),
    (b"http://other.example:99999/", "has an invalid authority"),
    (b"http://", "has an invalid authority"),
    (b"http://:80/", "has an invalid authority"),
    (b"http://[::1/", "has an invalid authority"),
])
async def test_an_absolute_form_target_with_another_scheme_or_a_bad_authority_is_400(
    backends: dict[str, Backend], make_proxy: ProxyFactory, target: bytes, says: str,
) -> None:
    proxy = await make_proxy(two_hosts(backends))
    status, _, body, closed = await ask(proxy.server.port, head(b"Host: web.local",
                                                                target=target))
    assert (status, closed) == (400, True), body
    assert says in body.decode()
    assert backends["stable"].seen == backends["stable2"].seen == []


async def test_absolute_form_heads_do_not_leak_into_the_cached_header_blocks(
    backends: dict[str, Backend], make_proxy: ProxyFactory,
) -> None:
    """Heads seen twice are planned from a cache keyed by their bytes (docs/proxy.md, Design):
    the rewritten Host of an absolute-form request must not serve an origin-form request with
    the same header lines."""
    proxy = await make_proxy(two_hosts(backends))
    absolute = head(b"Host: web.local", b"Accept: */*", target=b"http://other.example/a")
    origin = head(b"Host: web.local", b"Accept: */*", target=b"/b")
    async with connected(proxy.server.port) as (reader, writer):
        got = []
        for data in (absolute, absolute, absolute, origin, origin, origin):
            writer.write(data)
            status, _, body = await read_response(reader)
            got.append((status, json.loads(body)["backend"]))
    assert got == [(200, "stable2")] * 3 + [(200, "stable")] * 3
    assert [s.path for s in backends["stable"].seen] == ["/b"] * 3
    assert seen_values(backends["stable"], "host") == ["web.local"]


# -- HTTP versions ------------------------------------------------------------------------------

@pytest.mark.parametrize(("data", "status", "says"), [
    # HTTP/0.9 style: a request line without a version (llhttp accepts it, with or without
    # header lines after it)
    (b"GET /\r\n\r\n", 400, "HTTP/0.9 request"),
    (b"GET /\r\nHost: web\r\n\r\n", 400, "HTTP/0.9 request"),
    (b"POST /\r\nHost: web\r\n\r\n", 400, "HTTP/0.9 request"),
    (b"GET / HTTP/0.9\r\nHost: web\r\n\r\n", 400, "HTTP/0.9 request"),
    # a later major version in HTTP/1 syntax: 505, as from nginx
    (b"GET / HTTP/2.0\r\nHost: web\r\n\r\n", 505, "HTTP/2.0 not supported"),
])
async def test_requests_of_other_http_versions_are_refused_and_never_forwarded(
    backends: dict[str, Backend], make_proxy: ProxyFactory, data: bytes, status: int,
    says: str,
) -> None:
    proxy = await make_proxy(two_hosts(backends).replace('"hosts": ["web.local"], ', ""))
    got, _, body, closed = await ask(proxy.server.port, data)
    assert (got, closed) == (status, True), body
    assert says in body.decode()
    assert backends["stable"].seen == []
    # HTTP/1.0 and HTTP/1.1 are served
    assert await ask_keep(proxy.server.port, head(b"Host: web", version=b"HTTP/1.0")) == 200
    assert await ask_keep(proxy.server.port, head(b"Host: web")) == 200
