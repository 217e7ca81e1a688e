"""The ``pod-template-hash`` and template equality, as the Deployment controller computes them.

Upstream (``controller.ComputeHash``) runs FNV-1a 32 over a deep print of the Go
``PodTemplateSpec``, appends ``collisionCount`` as 8 little-endian bytes (the low 4 set), prints the
sum as a decimal string and maps every character through ``rand.SafeEncodeString``. A Go deep
print cannot be reproduced from JSON, so the serialisation here is canonical JSON of the template
with empty values removed (Go drops them too, as zero values). Everything after it is identical.

``EqualIgnoreHash`` compares two templates after removing the ``pod-template-hash`` label from
both, with ``apiequality.Semantic`` rules: a missing, null, empty map and empty list are equal.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Mapping
from typing import Any

from webhook.spec.hashing import without_label

POD_TEMPLATE_HASH_LABEL = "pod-template-hash"

# k8s.io/apimachinery/pkg/util/rand: vowels and confusable characters left out.
SAFE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"

_FNV32_OFFSET = 0x811C9DC5
_FNV32_PRIME = 0x01000193


def fnv1a_32(data: bytes, seed: int = _FNV32_OFFSET) -> int:
    """FNV-1a, 32 bit (``hash/fnv.New32a``); ``seed`` continues an earlier sum."""
    h = seed
    for byte in data:
        h = ((h ^ byte) * _FNV32_PRIME) & 0xFFFFFFFF
    return h


def safe_encode(text: str) -> str:
    """``rand.SafeEncodeString``: each byte ``b`` becomes ``SAFE_ALPHABET[b % 27]``."""
    return "".join(SAFE_ALPHABET[b % len(SAFE_ALPHABET)] for b in text.encode("utf-8"))


def prune_empty(value: Any) -> Any:
    """Drop ``None``, ``{}`` and ``[]`` recursively (Go's nil/empty equivalence)."""
    if isinstance(value, Mapping):
        out = {}
        for k, v in value.items():
            pv = prune_empty(v)
            if pv is None or (isinstance(pv, dict | list) and not pv):
                continue
            out[str(k)] = pv
        return out
    if isinstance(value, list | tuple):
        return [prune_empty(v) for v in value]
    return value


def canonical_template(template: Mapping[str, Any]) -> bytes:
    """The bytes hashed for a pod template: pruned, key-sorted, compact JSON in UTF-8."""
    pruned = prune_empty(template)
    return json.dumps(pruned, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def compute_hash(template: Mapping[str, Any], collision_count: int | None = None) -> str:
    """``controller.ComputeHash(template, collisionCount)`` over the canonical serialisation."""
    h = fnv1a_32(canonical_template(template))
    if collision_count is not None:
        h = fnv1a_32(struct.pack("<I", collision_count & 0xFFFFFFFF) + b"\0\0\0\0", h)
    return safe_encode(str(h))


def without_hash_label(template: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of ``template`` with ``metadata.labels["pod-template-hash"]`` removed."""
    return without_label(template, POD_TEMPLATE_HASH_LABEL)


def equal_ignore_hash(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    """``deploymentutil.EqualIgnoreHash``: semantic equality, the hash label ignored."""
    return bool(prune_empty(without_hash_label(a)) == prune_empty(without_hash_label(b)))
