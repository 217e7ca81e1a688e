"""Warnings the API server returns on requests (``Warning: 299 - "..."`` headers), collected per
unit of work so the caller can show them where a user looks.

``with collect() as warnings:`` around some requests gathers every warning their answers carried
(in order, at most ``LIMIT``, duplicates kept once) — also from requests ``KubeClient`` runs on its
thread pool, which carries the caller's context. The release loop turns them into ``Warning``
Events on the Deployment it was reconciling: an unknown field the server pruned, a deprecated API
version, a warning of an admission webhook. Outside ``collect`` warnings are only logged.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

LIMIT = 20

_current: ContextVar[list[str] | None] = ContextVar("canarist_api_warnings", default=None)


@contextmanager
def collect() -> Iterator[list[str]]:
    got: list[str] = []
    token = _current.set(got)
    try:
        yield got
    finally:
        _current.reset(token)


def report(text: str) -> None:
    """Add ``text`` to the warnings being collected, if any."""
    got = _current.get()
    if got is not None and text not in got and len(got) < LIMIT:
        got.append(text)
