"""Small helpers on object metadata: copies, timestamps, uids, generated names, owner refs."""

from __future__ import annotations

import datetime as _dt
import random
import uuid
from collections.abc import Mapping
from typing import Any

# apimachinery util/rand: consonants and digits without vowels or look-alikes.
_ALPHANUMS = "bcdfghjklmnpqrstvwxz2456789"
_rng = random.Random()


def clone(obj: Any) -> Any:
    """A deep copy of a JSON-like value (dicts, lists, scalars): faster than copy.deepcopy.

    Everything on the API's paths is copied here, so the walk is unrolled and compares exact
    types (nested values are JSON: plain dicts and lists); the value itself may be any dict or
    list subclass."""
    if isinstance(obj, dict):
        return _clone_dict(obj)
    if isinstance(obj, list):
        return _clone_list(obj)
    return obj


def _clone_dict(d: dict[Any, Any]) -> dict[Any, Any]:
    out: dict[Any, Any] = {}
    for k, v in d.items():
        t = type(v)
        if t is dict:
            out[k] = _clone_dict(v)
        elif t is list:
            out[k] = _clone_list(v)
        else:
            out[k] = v
    return out


def _clone_list(items: list[Any]) -> list[Any]:
    out: list[Any] = []
    append = out.append
    for v in items:
        t = type(v)
        if t is dict:
            append(_clone_dict(v))
        elif t is list:
            append(_clone_list(v))
        else:
            append(v)
    return out


def now() -> str:
    """RFC 3339 with second precision and a ``Z``, like metav1.Time."""
    return _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def at(seconds_from_now: float) -> str:
    t = _dt.datetime.now(_dt.UTC) + _dt.timedelta(seconds=seconds_from_now)
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text: str) -> _dt.datetime:
    return _dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def new_uid() -> str:
    return str(uuid.uuid4())


def random_suffix(n: int = 5) -> str:
    return "".join(_rng.choice(_ALPHANUMS) for _ in range(n))


def generated_name(prefix: str) -> str:
    """``generateName`` + 5 random characters, the prefix cut so the name stays <= 63."""
    return prefix[: 63 - 5] + random_suffix()


def metadata(obj: Mapping[str, Any]) -> dict[str, Any]:
    md = obj.get("metadata")
    return md if isinstance(md, dict) else {}


def labels_of(obj: Mapping[str, Any] | None) -> dict[str, str]:
    if not obj:
        return {}
    lb = metadata(obj).get("labels")
    return lb if isinstance(lb, dict) else {}


def owner_uids(obj: Mapping[str, Any]) -> list[str]:
    refs = metadata(obj).get("ownerReferences") or []
    return [str(r.get("uid")) for r in refs if isinstance(r, dict) and r.get("uid")]


def get_path(obj: Any, path: str) -> Any:
    """Value at a dotted path (``.spec.replicas``), None when absent."""
    cur = obj
    for part in path.strip(".").split("."):
        if not isinstance(cur, Mapping):
            return None
        cur = cur.get(part)
    return cur


def set_path(obj: dict[str, Any], path: str, value: Any) -> None:
    parts = path.strip(".").split(".")
    cur = obj
    for part in parts[:-1]:
        nxt = cur.get(part)
        if not isinstance(nxt, dict):
            nxt = {}
            cur[part] = nxt
        cur = nxt
    cur[parts[-1]] = value
