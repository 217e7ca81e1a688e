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
POD_TEMPLATE_HASH = "pod-template-hash"  # Kubernetes' own per-ReplicaSet label
ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
LENGTH = 10

# Step 3, built once. check_circular=False changes no output: a normalised form is a fresh tree.
_CANONICAL = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False, check_circular=False
)
_MODULUS = len(ALPHABET) ** LENGTH  # the 10 low base-27 digits are those of digest % 27**10


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


def without_label(template: Mapping[str, Any], label: str) -> dict[str, Any]:
    """A copy of a pod template with ``metadata.labels[label]`` removed (the rest shared)."""
    copy = dict(template)
    metadata = dict(copy.get("metadata") or {})
    labels = dict(metadata.get("labels") or {})
    labels.pop(label, None)
    metadata["labels"] = labels
    copy["metadata"] = metadata
    return copy


def canonical_form(template: Mapping[str, Any] | None) -> dict[str, Any]:
    """Steps 1 and 2: what the hash is computed from. Two templates whose forms differ have
    different hashes (unless a form holds a NaN, which JSON cannot carry)."""
    form = _normalise(without_label(template or {}, HASH_LABEL))
    return form if isinstance(form, dict) else {}


def canonical_bytes(template: Mapping[str, Any]) -> bytes:
    return _CANONICAL.encode(canonical_form(template)).encode()


def form_hash(form: dict[str, Any]) -> str:
    """Steps 3 and 4 for a ``canonical_form``."""
    digest = int.from_bytes(hashlib.sha256(_CANONICAL.encode(form).encode()).digest(), "big")
    digest %= _MODULUS
    chars = []
    for _ in range(LENGTH):
        digest, rem = divmod(digest, len(ALPHABET))
        chars.append(ALPHABET[rem])
    return "".join(chars)


def template_hash(template: Mapping[str, Any] | None) -> str:
    """The 10-character content hash of a pod template (see the module docstring)."""
    return form_hash(canonical_form(template))


def revision_hash(template: Mapping[str, Any] | None) -> str:
    """The canarist hash of a pod template, of a Deployment or of one of its ReplicaSets: its
    ``rollouts-pod-template-hash`` label when stamped, else the content hash (without
    Kubernetes' ``pod-template-hash``, which a ReplicaSet adds)."""
    tpl = template or {}
    labels = (tpl.get("metadata") or {}).get("labels") or {}
    stamped = labels.get(HASH_LABEL)
    if isinstance(stamped, str) and stamped:
        return stamped
    if POD_TEMPLATE_HASH in labels:
        tpl = without_label(tpl, POD_TEMPLATE_HASH)
    return template_hash(tpl)


def is_hash(text: str) -> bool:
    return len(text) == LENGTH and all(c in ALPHABET for c in text)
