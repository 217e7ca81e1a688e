"""``canarist.io/status``: the release state canarist writes on the Deployment.

A JSON object with camelCase keys. The admission webhook records the phase and hashes when it
holds a template change; the reconciler owns everything else. Keys this version does not know are
kept as they are (``extra``), so an older and a newer canarist can share a cluster.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any


class Phase(StrEnum):
    HEALTHY = "Healthy"
    PROGRESSING = "Progressing"
    PAUSED = "Paused"
    PROMOTING = "Promoting"
    DEGRADED = "Degraded"


@dataclass(frozen=True)
class ReleaseStatus:
    phase: Phase | None = None
    message: str = ""
    step: int = 0
    steps: int = 0
    weight: int = 0
    stable_hash: str = ""
    canary_hash: str = ""
    header_routes: tuple[str, ...] = ()
    mirror: str | None = None
    started_at: str | None = None
    step_started_at: str | None = None
    aborted_at: str | None = None
    analysis: dict[str, Any] | None = field(default=None, hash=False)
    extra: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)

    @property
    def in_release(self) -> bool:
        """A canary revision differs from the stable one (held, progressing or aborted)."""
        return bool(self.canary_hash) and self.canary_hash != self.stable_hash

    def with_(self, **changes: Any) -> ReleaseStatus:
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = dict(self.extra)
        for name, key in _FIELDS.items():
            value = getattr(self, name)
            if value in (None, "", (), {}) and name not in _ALWAYS:
                continue
            if isinstance(value, tuple):
                value = list(value)
            elif isinstance(value, Phase):
                value = value.value
            out[key] = value
        return out

    def to_json(self) -> str:
        return _ENCODER.encode(self.to_dict())

    @classmethod
    def from_json(cls, text: str | None) -> ReleaseStatus:
        """Lenient: a missing or garbled annotation reads as the empty status."""
        if not text:
            return cls()
        try:
            raw = json.loads(text)
        except (ValueError, RecursionError):
            return cls()
        return cls.from_dict(raw) if isinstance(raw, dict) else cls()

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> ReleaseStatus:
        values: dict[str, Any] = {}
        for name, key in _FIELDS.items():
            if key in raw:
                coerced = _coerce(name, raw[key])
                if coerced is not None:
                    values[name] = coerced
        extra = {k: v for k, v in raw.items() if k not in _KEYS}
        return cls(**values, extra=extra)


_FIELDS = {
    "phase": "phase",
    "message": "message",
    "step": "step",
    "steps": "steps",
    "weight": "weight",
    "stable_hash": "stableHash",
    "canary_hash": "canaryHash",
    "header_routes": "headerRoutes",
    "mirror": "mirror",
    "started_at": "startedAt",
    "step_started_at": "stepStartedAt",
    "aborted_at": "abortedAt",
    "analysis": "analysis",
}
_KEYS = set(_FIELDS.values())
# json.dumps with arguments builds an encoder per call: this one is built once (same output).
_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"))
_ALWAYS = {"step", "steps", "weight"}


def _coerce(name: str, value: Any) -> Any:
    if name == "phase":
        try:
            return Phase(value)
        except ValueError:
            return None
    if name in ("step", "steps", "weight"):
        return value if isinstance(value, int) and not isinstance(value, bool) else None
    if name == "header_routes":
        return tuple(v for v in value if isinstance(v, str)) if isinstance(value, list) else None
    if name == "analysis":
        return value if isinstance(value, dict) else None
    return value if isinstance(value, str) else None
