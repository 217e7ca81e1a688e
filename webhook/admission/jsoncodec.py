"""JSON for the review's request and response: orjson when installed, else the standard library.

orjson (the ``fast`` extra) only accelerates; the standard library decides. Whatever orjson
accepts decodes to the same values as ``json.loads`` would give; whatever it refuses (NaN, invalid
text) is handed to the standard library, so the answer and the wording of every error are the
same with or without orjson. orjson reads an integer beyond 64 bits as a float, so a body with a
run of 19 or more digits anywhere is left to the standard library too. ``dumps`` writes what
``json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()`` writes for the values a
response holds (strings, booleans, integers, null, lists and string-keyed maps).

The pod-template hash never goes through here: it has its own canonical form
(``webhook.spec.hashing``), written by the standard library only.

Two things the standard library would let through are refused, as they are not JSON (RFC 8259)
and the API server never sends them: ``NaN``/``Infinity``, and a ``\\uD800``-style escape of half
a surrogate pair, which no UTF-8 text can carry (it made the response unencodable).
"""

from __future__ import annotations

import json
import re
from typing import Any

_orjson: Any  # the orjson module, or None: the tests set None to run the fallback
try:
    import orjson as _orjson
except ImportError:  # pragma: no cover - the "fast" extra is optional
    _orjson = None

# A \u escape in the surrogate range: only then can a decoded string hold a lone surrogate.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89abcdefABCDEF]")
# Digits -> "0", every other byte -> " ": a run of 19 digits is then a plain substring search.
_DIGITS = bytes(0x30 if 0x30 <= b <= 0x39 else 0x20 for b in range(256))
_LONG_NUMBER = b"0" * 19
_COMPACT = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, check_circular=False)


class NotJSON(ValueError):
    """Text the standard library decodes that is not JSON; ``message`` says what."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def name() -> str:
    """Which library decodes and encodes: ``orjson`` or ``json``."""
    return "json" if _orjson is None else "orjson"


def loads(body: bytes | str) -> Any:
    """Decode a request body; raises what ``json.loads`` raises, or ``NotJSON``.

    Text is taken as its UTF-8 bytes (a lone surrogate in it then fails to decode, as it should).
    """
    if isinstance(body, str):
        body = body.encode("utf-8", "surrogatepass")
    if _orjson is not None and _LONG_NUMBER not in body.translate(_DIGITS):
        try:
            return _orjson.loads(body)
        except _orjson.JSONDecodeError:
            pass  # the standard library decides, and words the error
    return std_loads(body)


def std_loads(body: bytes) -> Any:
    """``loads`` without orjson."""
    value = json.loads(body.decode("utf-8"), parse_constant=_no_constant)
    if _SURROGATE_ESCAPE.search(body) is not None:
        _check_text(value)
    return value


def dumps(value: Any) -> bytes:
    """Compact UTF-8 JSON of a response value."""
    if _orjson is not None:
        return _orjson.dumps(value)  # type: ignore[no-any-return]
    return std_dumps(value)


def std_dumps(value: Any) -> bytes:
    """``dumps`` without orjson."""
    return _COMPACT.encode(value).encode()


def _no_constant(name: str) -> Any:
    raise NotJSON(f"{name} is not a JSON value")


def _check_text(value: Any) -> None:
    """Refuse a decoded value holding half a surrogate pair (rare: only after such an escape)."""
    try:
        _COMPACT.encode(value).encode()
    except UnicodeEncodeError:
        raise NotJSON("a \\u escape encodes half of a surrogate pair (not text)") from None
