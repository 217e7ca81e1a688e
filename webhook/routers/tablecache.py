"""The route tables of the ``proxy`` router's ConfigMaps, by resourceVersion.

A steady reconcile reads the ConfigMap, computes the same route and compares: without a cache
that is one YAML parse (~1 ms) and one YAML dump (~1 ms) for nothing. Here each ConfigMap keeps
its last table (as read, or as written) with the resourceVersion and text it had; the next read of
that version takes the table from here, and the dump of an equal table the text from here. An
entry is used only when uid, resourceVersion and text all match, so a stale or foreign entry is
never taken for the object (it is replaced). Bounded: the least recently used go first.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from webhook.kube.protocol import JSON
from webhook.spec.routetable import ROUTE_TABLE_KEY, RouteTable, dump_route_table

MAX_ENTRIES = 4096


@dataclass
class _Entry:
    uid: str
    version: str
    text: str
    table: RouteTable
    dumped: str | None = None  # dump_route_table(table), once needed


class TableCache:
    def __init__(self, max_entries: int = MAX_ENTRIES) -> None:
        self._entries: OrderedDict[tuple[str, str], _Entry] = OrderedDict()
        self.max_entries = max_entries

    def table(self, cm: JSON, parse: Callable[[str], RouteTable]) -> RouteTable | None:
        """The table held by ``cm`` (``None`` when it has no table key), parsed only when this
        version of the ConfigMap has not been seen; ``parse`` raises on a bad table."""
        text = (cm.get("data") or {}).get(ROUTE_TABLE_KEY)
        if text is None:
            return None
        entry = self._entry(cm, text)
        if entry is not None:
            return entry.table
        table = parse(text)
        self._put(cm, text, table)
        return table

    def text(self, current: JSON | None, table: RouteTable) -> str:
        """``dump_route_table(table)``; from here when ``current`` (as last seen) holds an equal
        table."""
        text = None if current is None else (current.get("data") or {}).get(ROUTE_TABLE_KEY)
        entry = None if text is None or current is None else self._entry(current, text)
        if entry is None or entry.table != table:
            return dump_route_table(table)
        if entry.dumped is None:
            entry.dumped = dump_route_table(table)
        return entry.dumped

    def written(self, cm: JSON | None, table: RouteTable, text: str) -> None:
        """Remember what was written (``cm`` as the server returned it, with its new version)."""
        if cm is not None and (cm.get("data") or {}).get(ROUTE_TABLE_KEY) == text:
            self._put(cm, text, table, dumped=text)

    def _entry(self, cm: JSON, text: str) -> _Entry | None:
        key, uid, version = _identity(cm)
        entry = self._entries.get(key)
        if entry is None or not version:
            return None
        if (entry.uid, entry.version, entry.text) != (uid, version, text):
            return None
        self._entries.move_to_end(key)
        return entry

    def _put(self, cm: JSON, text: str, table: RouteTable, dumped: str | None = None) -> None:
        key, uid, version = _identity(cm)
        if not version:
            return
        self._entries[key] = _Entry(uid, version, text, table, dumped)
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)


def _identity(cm: JSON) -> tuple[tuple[str, str], str, str]:
    m = cm.get("metadata") or {}
    key = (str(m.get("namespace", "")), str(m.get("name", "")))
    return key, str(m.get("uid", "")), str(m.get("resourceVersion", ""))
