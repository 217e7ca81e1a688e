"""The proxy router's route tables by ConfigMap and resourceVersion: parsed once per version,
dumped text reused for an equal table, never taken for another object, version or text."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from tests.routers.fixtures import client_with, target
from webhook.errors import RouterError
from webhook.kube.protocol import ObjectRef
from webhook.routers import build_routers
from webhook.routers.proxy import _TABLES
from webhook.routers.tablecache import TableCache
from webhook.spec.routetable import (
    ROUTE_TABLE_KEY,
    Backend,
    Endpoint,
    Route,
    RouteTable,
    dump_route_table,
    parse_route_table,
)

TABLE = RouteTable((Route("web", Backend((Endpoint("10.0.0.1", 80),)),
                          Backend((Endpoint("10.0.0.2", 80),)), weight=10),))
TEXT = dump_route_table(TABLE)


def cm(text: str | None = TEXT, version: str = "7", uid: str = "u1", name: str = "web") -> Any:
    out: dict[str, Any] = {"metadata": {"namespace": "shop", "name": name, "uid": uid,
                                        "resourceVersion": version}}
    if text is not None:
        out["data"] = {ROUTE_TABLE_KEY: text}
    return out


class Parser:
    """The real parser, counting the texts it was given."""

    def __init__(self) -> None:
        self.texts: list[str] = []

    def __call__(self, text: str) -> RouteTable:
        self.texts.append(text)
        return parse_route_table(text)


@pytest.mark.parametrize(
    ("second", "parses"),
    [
        (cm(), 1),  # the same version of the same object: from the cache
        (cm(version="8"), 2),  # a new version
        (cm(uid="u2"), 2),  # the object was deleted and created again
        (cm(text=TEXT.replace("weight: 10", "weight: 20")), 2),  # same version, other text
        (cm(name="api"), 2),  # another object
        (cm(version=""), 2),  # no version: never cached
    ],
)
def test_a_table_is_parsed_once_per_version_of_an_object(second: Any, parses: int) -> None:
    cache, parse = TableCache(), Parser()
    assert cache.table(cm(), parse) == TABLE
    expected = parse_route_table(second["data"][ROUTE_TABLE_KEY])
    assert cache.table(second, parse) == expected
    assert len(parse.texts) == parses


def test_a_configmap_without_the_key_has_no_table() -> None:
    cache, parse = TableCache(), Parser()
    assert cache.table(cm(text=None), parse) is None
    assert parse.texts == [] and len(cache) == 0


def test_a_bad_table_raises_every_time_and_is_not_kept() -> None:
    cache = TableCache()

    def parse(text: str) -> RouteTable:
        raise RouterError("bad table")

    for _ in range(2):
        with pytest.raises(RouterError, match="bad table"):
            cache.table(cm(), parse)
    assert len(cache) == 0


@pytest.mark.parametrize(
    "table",
    [TABLE, RouteTable((replace(TABLE.routes[0], weight=30),)), RouteTable()],
)
def test_the_text_is_always_the_dump_of_the_table(table: RouteTable) -> None:
    cache = TableCache()
    # the object holds the same table in other words (JSON): the dump is still canarist's own
    other_words = dump_route_table(TABLE, as_json=True)
    for current in (None, cm(), cm(text=other_words)):
        if current is not None:
            cache.table(current, parse_route_table)
        assert cache.text(current, table) == dump_route_table(table)


def test_what_was_written_is_known_at_its_new_version() -> None:
    cache, parse = TableCache(), Parser()
    cache.written(cm(version="9"), TABLE, TEXT)
    cache.written(cm(version="10", text="routes: []\n"), TABLE, TEXT)  # not what was sent
    assert cache.table(cm(version="9"), parse) == TABLE
    assert parse.texts == []
    assert cache.table(cm(version="10", text="routes: []\n"), parse) == RouteTable()
    assert len(parse.texts) == 1


def test_the_least_recently_used_go_first() -> None:
    cache, parse = TableCache(max_entries=2), Parser()
    for name in ("a", "b", "a", "c"):  # "b" is the least recently used when "c" comes
        cache.table(cm(name=name), parse)
    assert len(cache) == 2
    cache.table(cm(name="a"), parse)
    cache.table(cm(name="b"), parse)
    assert len(parse.texts) == 4  # a, b, c, then b again


async def test_a_steady_reconcile_parses_no_yaml() -> None:
    proxy = target({"canarist.io/traffic-router": "proxy"})
    client = client_with()
    (router,) = build_routers(proxy, client)
    await router.set_weight(10)
    await router.update_hash("c2", "s1")
    ref = ObjectRef("v1", "ConfigMap", "shop", "web-canarist-routes")
    stored = client.peek(ref)
    assert stored is not None
    parse = Parser()
    table = _TABLES.table(stored, parse)  # the router left what it wrote in the cache
    assert parse.texts == []
    assert table == parse_route_table(stored["data"][ROUTE_TABLE_KEY])
    writes = len(client.writes)
    for _ in range(3):  # a new reconcile's router each time, as the loop builds them
        (router,) = build_routers(proxy, client)
        await router.set_weight(10)
        await router.update_hash("c2", "s1")
    assert len(client.writes) == writes
    assert client.peek(ref) == stored
