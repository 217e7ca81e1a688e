"""``canarist.io/status`` is canarist's alone.

The status records the release: its stable hash decides what is a template change to hold, its
phase whether an unpause is the reconciler's promotion. Anyone able to write the Deployment
could otherwise forge it (``stableHash`` set to the new template's hash rolls a change out with
no canary) or clobber it (``kubectl apply`` of a manifest exported mid-release writes the old
status back). So when the webhook knows the reconciler's identity (``--trusted-user``), every
other writer's change to the annotation is undone, on the Deployment and on its ``status``
subresource (whose writes keep annotation changes), with a warning saying so. The webhook's
own status writes (holding a template change) are made from the previous status.

Without ``--trusted-user`` nothing is undone (and the server logs that at start).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from webhook.admission.patch import Op, pointer, set_nested
from webhook.admission.review import JSONObject, ReviewRequest
from webhook.spec import names as n

ANNOTATIONS = ("metadata", "annotations")


def untrusted(req: ReviewRequest, trusted: frozenset[str] | None) -> bool:
    """Whether ``req``'s writer may not change the status (``trusted is None``: anyone may)."""
    return trusted is not None and req.user not in trusted


def restore(
    ops: list[Op], obj: JSONObject, annotations: Mapping[str, Any], old_text: Any
) -> bool:
    """Add the ops that put the old status back on ``obj``; True if it had changed."""
    new_text = annotations.get(n.STATUS)
    if new_text == old_text:
        return False
    if isinstance(old_text, str):
        set_nested(ops, obj, ANNOTATIONS, n.STATUS, old_text)
    else:
        ops.append({"op": "remove", "path": pointer(*ANNOTATIONS, n.STATUS)})
    return True


def warning(req: ReviewRequest, ref: str) -> str:
    who = req.user or "an unnamed user"
    return (
        f"canarist: {n.STATUS} on {ref} is written by canarist only; the change by {who} "
        f"was undone"
    )
