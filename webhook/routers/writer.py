"""Read, compute, write only when the shape changed; retry once on a conflict.

Routers keep the reconciler's budget (at most a few API writes per weight change) by comparing
the computed object with the one read: an unchanged shape costs one read and no write. A
``Conflict`` (someone wrote in between, or created the object first) is answered by reading
again and recomputing, once; a second conflict propagates so the caller requeues.
"""

from __future__ import annotations

import copy
from collections.abc import Callable

from webhook.errors import Conflict, RouterError
from webhook.kube.protocol import JSON, ObjectClient, ObjectRef

# current object (a private copy; None when absent) -> desired object (None: absent)
Compute = Callable[[JSON | None], JSON | None]


async def sync(
    client: ObjectClient,
    ref: ObjectRef,
    compute: Compute,
    *,
    required: str = "",
) -> JSON | None:
    """Bring the object named by ``ref`` to what ``compute`` says; returns it as written.

    ``required`` (the option that names the object, e.g. ``canarist.io/istio-virtual-service``)
    makes a missing object a ``RouterError`` instead of passing ``None`` to ``compute``.
    """
    for attempt in (1, 2):
        current = await client.get(ref)
        if current is None and required:
            raise RouterError(f"{ref} not found (named by {required})")
        desired = compute(copy.deepcopy(current) if current is not None else None)
        try:
            return await _write(client, ref, current, desired)
        except Conflict:
            if attempt == 2:
                raise
    raise AssertionError("unreachable")  # pragma: no cover


async def _write(
    client: ObjectClient, ref: ObjectRef, current: JSON | None, desired: JSON | None
) -> JSON | None:
    if desired is None:
        if current is not None:
            await client.delete(ref)
        return None
    if current is None:
        return await client.create(desired)
    if same_shape(current, desired):
        return current
    meta = desired.setdefault("metadata", {})
    meta["resourceVersion"] = (current.get("metadata") or {}).get("resourceVersion")
    return await client.replace(desired)


def same_shape(current: JSON, desired: JSON) -> bool:
    """Equal, ignoring the fields the server owns (resourceVersion, managedFields...)."""
    return _comparable(current) == _comparable(desired)


_SERVER_FIELDS = ("resourceVersion", "managedFields", "generation")


def _comparable(obj: JSON) -> JSON:
    out = {k: v for k, v in obj.items() if k != "status"}
    meta = dict(out.get("metadata") or {})
    for key in _SERVER_FIELDS:
        meta.pop(key, None)
    out["metadata"] = meta
    return out
