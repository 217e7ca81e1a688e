"""The pod-template hash stamped as ``rollouts-pod-template-hash``.

Definition (stable across runs, Python versions and hash seeds):

1. Take ``spec.template`` and remove the label ``rollouts-pod-template-hash`` from
   ``metadata.labels``.
2. Normalise: drop ``null`` values, empty maps and empty lists at every depth (the API server and
   kubectl add and omit those freely, e.g. ``creationTimestamp: null`` or ``resources: {}``).
3. Serialise as canonical JSON: keys sorted, no whitespace, UTF-8.
4. SHA-256 the bytes; write the first 10 base-27 digits of the digest (as a big-endian integer)
   with the alphabet ``bcdfghjklmnpqrstvwxz2456789`` — Kubernetes' own lowercase alphanumeric
   alphabet for generated names, which has no vowels and so never spells a word.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

HASH_LABEL = "rollouts-pod-template-hash"
ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
LENGTH = 10


_SCALARS = frozenset({str, int, float, bool, type(None)})


def _normalise(value: Any) -> Any:
    """Step 2 of the definition; ``None`` for what is dropped. On the admission hot path, so
    scalars (most of a template) are kept without a call each."""
    kind = type(value)
    if kind is dict:
        out = {}
        for key, item in value.items():
            norm = item if type(item) in _SCALARS else _normalise(item)
            if norm is not None:
                out[key] = norm
        return out or None
    if kind is list:
        items = [item if type(item) in _SCALARS else _normalise(item) for item in value]
        return items or None
    if isinstance(value, Mapping):
        return _normalise(dict(value))
    if isinstance(value, list):
        return _normalise(list(value))
    return value


def _without_hash_label(template: Mapping[str, Any]) -> dict[str, Any]:
    copy = dict(template)
    metadata = dict(copy.get("metadata") or {})
    labels = dict(metadata.get("labels") or {})
    labels.pop(HASH_LABEL, None)
    metadata["labels"] = labels
    copy["metadata"] = metadata
    return copy


def canonical_bytes(template: Mapping[str, Any]) -> bytes:
    norm = _normalise(_without_hash_label(template)) or {}
    return json.dumps(norm, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def template_hash(template: Mapping[str, Any] | None) -> str:
    """The 10-character content hash of a pod template (see the module docstring)."""
    digest = int.from_bytes(hashlib.sha256(canonical_bytes(template or {})).digest(), "big")
    chars = []
    for _ in range(LENGTH):
        digest, rem = divmod(digest, len(ALPHABET))
        chars.append(ALPHABET[rem])
    return "".join(chars)


def is_hash(text: str) -> bool:
    return len(text) == LENGTH and all(c in ALPHABET for c in text)
