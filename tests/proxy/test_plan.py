"""Plans and cached heads are the general path's results, precomputed: tables and fuzzing."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from webhook.proxy import headers as h
from webhook.proxy.plan import RequestPlan
from webhook.proxy.table import LiveTable
from webhook.proxy.target import absolute_target, version_refusal
from webhook.spec.routetable import parse_route_table

TOKEN = st.text(alphabet="abcdefghijklmnopqrstuvwxyz-", min_size=1, max_size=12)
VALUE = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789 ,;=./", max_size=20)
NAMES = st.sampled_from(["Host", "Cookie", "X-Forwarded-For", "X-Forwarded-Proto",
                         "X-Forwarded-Host", "X-Real-IP", "Forwarded", "Connection", "Upgrade",
                         "Content-Length", "Transfer-Encoding", "Accept", "X-Canary",
                         "Keep-Alive", "TE"])


@settings(max_examples=300, deadline=None)
@given(headers=st.lists(st.tuples(NAMES | TOKEN, VALUE), max_size=8),
       ip=st.sampled_from([b"127.0.0.1", b"10.0.0.7", b"::1"]), http11=st.booleans())
def test_the_upstream_head_of_a_plan_is_request_head(headers: list[tuple[str, str]], ip: bytes,
                                                     http11: bool) -> None:
    raw = [(n.encode(), v.encode()) for n, v in headers]
    plan = RequestPlan.parse(b"GET", b"/a?b=1", raw, True, "1.1" if http11 else "1.0")
    head = h.scan_request(raw)
    assert plan.upstream_head(h.peer_fields(ip)) == h.request_head(b"GET", b"/a?b=1", head, ip,
                                                                  http11=http11)
    assert plan.trusted_head(ip) == h.request_head(b"GET", b"/a?b=1", head, ip, http11=http11,
                                                   trusted=True)


ROUTES = parse_route_table("""
routes:
- name: web
  hosts: [web.local]
  stable: {endpoints: ["127.0.0.2:1"]}
  canary: {endpoints: ["127.0.0.3:1"]}
  weight: 50
  canaryHash: h1
  sticky: {cookie: cw}
  headerRoutes: [{name: beta, match: [{headerName: X-Canary, headerValue: {exact: "yes"}}]}]
  mirror: {percentage: 100, match: [{method: {exact: GET}}]}
""")


@pytest.mark.parametrize(("headers", "route", "header_route", "held", "mirror"), [
    ([(b"Host", b"web.local")], "web", None, None, True),
    ([(b"Host", b"WEB.local:8080"), (b"X-Canary", b"yes")], "web", "header:beta", None, True),
    ([(b"Host", b"web.local"), (b"Cookie", b"a=1; cw=canary.h1.50")], "web", None, "canary",
     True),
    ([(b"Host", b"web.local"), (b"Cookie", b"cw=canary.h0.50")], "web", None, None, True),
    ([(b"Host", b"other.local")], None, None, None, False),
    ([], None, None, None, False),
])
def test_a_plan_binds_the_decisions_a_head_implies(
        headers: list[tuple[bytes, bytes]], route: str | None, header_route: str | None,
        held: str | None, mirror: bool) -> None:
    plan = RequestPlan.parse(b"GET", b"/", headers, True, "1.1")
    table = LiveTable(ROUTES)
    plan.bind(table)
    assert (plan.route.name if plan.route else None) == route
    assert (plan.header_choice.reason if plan.header_choice else None) == header_route
    assert plan.held == held
    assert plan.mirror_match is mirror
    assert plan.table is table


@pytest.mark.parametrize(("headers", "cacheable", "keep_alive"), [
    ([(b"Host", b"a")], True, True),
    ([(b"Host", b"a"), (b"Content-Length", b"0")], True, True),
    ([(b"Host", b"a"), (b"Content-Length", b"3")], False, True),
    ([(b"Host", b"a"), (b"Transfer-Encoding", b"chunked")], False, True),
    ([(b"Host", b"a"), (b"Expect", b"100-continue")], False, True),
    ([(b"Connection", b"Upgrade"), (b"Upgrade", b"websocket")], False, True),
    ([(b"Host", b"a"), (b"Connection", b"close")], True, False),
])
def test_which_plans_are_cached(headers: list[tuple[bytes, bytes]], cacheable: bool,
                                keep_alive: bool) -> None:
    plan = RequestPlan.parse(b"GET", b"/", headers, True, "1.1")
    assert (plan.cacheable, plan.keep_alive) == (cacheable, keep_alive)


@pytest.mark.parametrize(("head", "status", "simple"), [
    (b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n", 200, True),
    (b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n", 404, True),
    (b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 5\r\n", 200, False),
    (b"HTTP/1.1 200 OK\r\nConnection: X-A, Close\r\nContent-Length: 5\r\n", 200, False),
    (b"HTTP/1.0 200 OK\r\nContent-Length: 5\r\n", 200, False),
    (b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 5\r\n", 200, True),
    (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n", 200, False),
    (b"HTTP/1.1 200 OK\r\n", 200, False),
    (b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n", 204, False),
    (b"HTTP/1.1 304 Not Modified\r\nContent-Length: 9\r\n", 304, False),
    (b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\nConnection: upgrade\r\n", 101, False),
])
def test_simple_response_heads(head: bytes, status: int, simple: bool) -> None:
    rhead = h.scan_response(head)
    assert (rhead.status, rhead.simple) == (status, simple)
    if simple:  # the cached client head is the general one
        assert h.client_head_cached(rhead, b"x: 1\r\n", True) == h.client_head(
            rhead, h.FRAME_LENGTH, b"x: 1\r\n", True)


BLOCK = b"Host: web.local\r\nAccept: */*\r\nCookie: cw=canary.h1.50\r\n\r\n"


class _Message:
    """What httptools makes of a request: the reference the block cache must agree with."""

    def __init__(self) -> None:
        self.url = b""
        self.complete = False

    def on_url(self, url: bytes) -> None:
        self.url += url

    def on_message_complete(self) -> None:
        self.complete = True


def parsed(raw: bytes) -> tuple[bytes, bytes, bool] | None:
    import httptools

    msg = _Message()
    parser = httptools.HttpRequestParser(msg)
    try:
        parser.feed_data(raw)
    except httptools.HttpParserError:
        return None
    if not msg.complete:
        return None
    return parser.get_method(), msg.url, parser.should_keep_alive()


def known_block() -> None:
    from webhook.proxy import plan as p

    p.BLOCKS.clear()
    block = p.HeadBlock([  # the block as the parser delivered it
        (b"Host", b"web.local"), (b"Accept", b"*/*"), (b"Cookie", b"cw=canary.h1.50")])
    p.BLOCKS[BLOCK] = block


@settings(max_examples=400, deadline=None)
@given(method=st.sampled_from([b"GET", b"HEAD", b"POST", b"DELETE", b"OPTIONS", b"PATCH", b"PUT",
                               b"CONNECT", b"FOO", b"get", b"TRACE"]),
       target=st.text(alphabet="ab/?=&%:@!$'()*+,;~._-\"<>\\^`{|} #\x7f\xe9",
                      max_size=12).map(lambda t: t.encode("latin-1")) | st.binary(max_size=6),
       version=st.sampled_from([b"HTTP/1.1", b"HTTP/1.0",
                                                               b"HTTP/2.0", b"http/1.1"]),
       space=st.sampled_from([b" ", b"  ", b"\t"]))
def test_a_request_line_is_taken_from_the_cache_only_when_the_parser_agrees(
        method: bytes, target: bytes, version: bytes, space: bytes) -> None:
    from webhook.proxy.plan import known

    known_block()
    raw = method + space + b"/" + target + b" " + version + b"\r\n" + BLOCK
    plan = known(raw)
    if plan is None:
        return  # left to the parser, whatever it says
    reference = parsed(raw)
    assert reference is not None, raw
    assert (plan.method, plan.target, plan.keep_alive) == reference
    assert plan.upstream_head(b"10.0.0.1").startswith(plan.method + b" " + plan.target
                                                      + b" HTTP/1.1\r\nHost: web.local\r\n")


@pytest.mark.parametrize(("line", "planned"), [
    (b"GET /a?b=1 HTTP/1.1\r\n", True),
    (b"DELETE /items/7;v=2 HTTP/1.1\r\n", True),
    (b"GET /a b HTTP/1.1\r\n", False),
    (b"GET /a HTTP/1.0\r\n", False),  # HTTP/1.0 keep-alive rules: the parser decides
    (b"CONNECT web.local:443 HTTP/1.1\r\n", False),
    (b"FOO /a HTTP/1.1\r\n", False),
    (b"GET http://web.local/ HTTP/1.1\r\n", False),
    (b'GET /"quoted" HTTP/1.1\r\n', False),
])
def test_which_request_lines_use_a_known_block(line: bytes, planned: bool) -> None:
    from webhook.proxy.plan import known

    known_block()
    plan = known(line + BLOCK)
    assert (plan is not None) is planned
    if plan is not None:
        assert parsed(line + BLOCK) == (plan.method, plan.target, plan.keep_alive)


@pytest.mark.parametrize(("target", "expected"), [
    (b"http://a.example/p?q", (b"a.example", b"/p?q")),
    (b"HTTPS://A.example:443", (b"A.example:443", b"/")),
    (b"http://[2001:db8::1]:8080/x", (b"[2001:db8::1]:8080", b"/x")),
    (b"http://10.0.0.1?x=1", (b"10.0.0.1", b"/?x=1")),
    (b"http://a.example:/", (b"a.example:", b"/")),
    (b"ftp://a.example/", "has scheme 'ftp': only http and https"),
    (b"http://u:p@a.example/", "has userinfo"),
    (b"http:///x", "has an invalid authority"),
    (b"http://a.example:65536/", "has an invalid authority"),
    (b"http://a.example:123456/", "has an invalid authority"),
    (b"http://[a.example]/", "has an invalid authority"),
    (b"http://a\"b/", "has an invalid authority"),
    (b"mailto:someone", "invalid request target"),
])
def test_absolute_targets(target: bytes, expected: tuple[bytes, bytes] | str) -> None:
    got = absolute_target(target)
    if isinstance(expected, str):
        assert isinstance(got, str) and expected in got
    else:
        assert got == expected


@pytest.mark.parametrize(("version", "status"), [
    ("1.1", None), ("1.0", None), ("0.9", 400), ("2.0", 505), ("9.9", 505),
])
def test_http_versions(version: str, status: int | None) -> None:
    refusal = version_refusal(version)
    assert (refusal[0] if refusal else None) == status


@pytest.mark.parametrize(("headers", "version", "host", "refused"), [
    ([(b"Host", b"web.local"), (b"Accept", b"*/*")], "1.1", "other.example:8", None),
    ([(b"Accept", b"*/*")], "1.0", "other.example:8", None),
    # the Host header is still checked
    ([(b"Accept", b"*/*")], "1.1", "", "HTTP/1.1 request without a Host header"),
    ([(b"Host", b"a"), (b"Host", b"b")], "1.1", "b", "more than one Host header"),
    ([(b"Host", b"a b")], "1.1", "a b", "invalid Host header"),
])
def test_an_absolute_form_plan_takes_its_host_from_the_target(
        headers: list[tuple[bytes, bytes]], version: str, host: str, refused: str | None,
) -> None:
    plan = RequestPlan.parse(b"GET", b"http://other.example:8/p", headers, True, version)
    assert plan.host == host
    if refused is not None:
        assert plan.refusal is not None and refused in plan.refusal[2]
        return
    assert (plan.refusal, plan.absolute, plan.target, plan.path) == (None, True, b"/p", "/p")
    sent = plan.upstream_head(h.peer_fields(b"127.0.0.9")).split(b"\r\n")
    assert sent[0] == b"GET /p HTTP/" + version.encode()
    assert [line for line in sent if line.lower().startswith((b"host:", b"x-forwarded-host:"))] \
        == [b"Host: other.example:8", b"X-Forwarded-Host: other.example:8"]
    origin = RequestPlan.parse(b"GET", b"/p", headers, True, version)
    assert (origin.absolute, origin.block is not plan.block) == (False, True)
