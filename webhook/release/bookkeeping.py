"""The reconciler's own fields in ``canarist.io/status``, beyond the documented ones.

``ReleaseStatus`` keeps keys it does not know in ``extra``; these are the keys the release engine
stores there (camelCase like the rest of the annotation):

| key | meaning |
|---|---|
| ``release`` | the canary hash the step index and the step clock belong to |
| ``promoteFull`` | ``promote-full`` was asked: skip the remaining steps |
| ``userPaused`` | ``pause`` was asked: no step advances until ``resume`` |
| ``scaleDownAt`` | when the canary Deployment goes (after promotion or rollback) |
| ``routedHashes`` | ``[canary, stable]`` last given to the routers' ``update_hash`` |
| ``routes`` | the header and mirror routes applied, as ``name@step`` |
| ``replicas`` | the user's replica count while canarist runs the stable pods below it |
| ``stableReplicas`` | the ``spec.replicas`` canarist last wrote (with ``replicas``, in one write) |
| ``replicasHeld`` | someone set ``spec.replicas`` back to the total: canarist leaves it alone |
| ``abortReason`` | why the release was aborted |
| ``policy`` | the cluster policy governing the Deployment (``canarist status`` shows it) |
| ``queuedAt`` | when the release began to wait for a slot (``maxConcurrentReleases``) |
| ``bypassRecorded`` | the ``uid`` of the last policy bypass recorded as an Event |
| ``handover`` | the canary ReplicaSet a promotion is handing over to the user's Deployment |
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from webhook.spec import ReleaseStatus


@dataclass(frozen=True)
class Books:
    release: str = ""
    promote_full: bool = False
    user_paused: bool = False
    scale_down_at: str | None = None
    routed_hashes: tuple[str, str] | None = None
    routes: tuple[str, ...] = ()
    replicas: int | None = None
    stable_replicas: int | None = None
    replicas_held: bool = False
    abort_reason: str = ""
    policy: str = ""
    queued_at: str | None = None
    bypass_recorded: str = ""
    handover: str = ""

    def with_(self, **changes: Any) -> Books:
        return replace(self, **changes)

    @classmethod
    def of(cls, status: ReleaseStatus) -> Books:
        x = status.extra
        hashes = x.get("routedHashes")
        routed = (
            (hashes[0], hashes[1])
            if isinstance(hashes, list)
            and len(hashes) == 2
            and all(isinstance(h, str) for h in hashes)
            else None
        )
        routes = x.get("routes")
        return cls(
            release=x["release"] if isinstance(x.get("release"), str) else "",
            promote_full=x.get("promoteFull") is True,
            user_paused=x.get("userPaused") is True,
            scale_down_at=x["scaleDownAt"] if isinstance(x.get("scaleDownAt"), str) else None,
            routed_hashes=routed,
            routes=tuple(r for r in routes if isinstance(r, str))
            if isinstance(routes, list)
            else (),
            replicas=_count(x.get("replicas")),
            stable_replicas=_count(x.get("stableReplicas")),
            replicas_held=x.get("replicasHeld") is True,
            abort_reason=x["abortReason"] if isinstance(x.get("abortReason"), str) else "",
            policy=_text(x.get("policy")),
            queued_at=x["queuedAt"] if isinstance(x.get("queuedAt"), str) else None,
            bypass_recorded=_text(x.get("bypassRecorded")),
            handover=x["handover"] if isinstance(x.get("handover"), str) else "",
        )

    def into(self, status: ReleaseStatus) -> ReleaseStatus:
        extra = {k: v for k, v in status.extra.items() if k not in _KEYS}
        values: dict[str, Any] = {
            "release": self.release or None,
            "promoteFull": self.promote_full or None,
            "userPaused": self.user_paused or None,
            "scaleDownAt": self.scale_down_at,
            "routedHashes": list(self.routed_hashes) if self.routed_hashes else None,
            "routes": list(self.routes) or None,
            "replicas": self.replicas,
            "stableReplicas": self.stable_replicas,
            "replicasHeld": self.replicas_held or None,
            "abortReason": self.abort_reason or None,
            "policy": self.policy or None,
            "queuedAt": self.queued_at,
            "bypassRecorded": self.bypass_recorded or None,
            "handover": self.handover or None,
        }
        extra.update({k: v for k, v in values.items() if v is not None})
        return replace(status, extra=extra)


_KEYS = {
    "release",
    "promoteFull",
    "userPaused",
    "scaleDownAt",
    "routedHashes",
    "routes",
    "replicas",
    "stableReplicas",
    "replicasHeld",
    "abortReason",
    "policy",
    "queuedAt",
    "bypassRecorded",
    "handover",
}


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _count(value: Any) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    return None
