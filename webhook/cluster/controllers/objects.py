"""Small, pure helpers over plain Kubernetes JSON objects shared by every controller.

Label selectors (``metav1.LabelSelector`` semantics), controller references, RFC 3339 times at
second precision, and the pod readiness predicates of ``pkg/api/v1/pod``.
"""

from __future__ import annotations

import calendar
import time
from collections.abc import Mapping
from typing import Any

Obj = Mapping[str, Any]
Key = tuple[str, str]  # (namespace, name): what a controller's work queue holds

APPS_V1 = "apps/v1"


# --- times -------------------------------------------------------------------------------------


def format_time(epoch: float) -> str:
    """RFC 3339 at second precision with a ``Z``, as ``metav1.Time`` serialises."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(int(epoch)))


def parse_time(value: str | None) -> float | None:
    """Parse a ``metav1.Time``/``MicroTime`` string; ``None`` or unparsable gives ``None``."""
    if not value:
        return None
    text = value.rstrip("Z")
    frac = 0.0
    if "." in text:
        text, _, digits = text.partition(".")
        try:
            frac = float("0." + digits)
        except ValueError:
            return None
    try:
        return calendar.timegm(time.strptime(text, "%Y-%m-%dT%H:%M:%S")) + frac
    except ValueError:
        return None


# --- metadata ----------------------------------------------------------------------------------


def meta(obj: Obj) -> Obj:
    m = obj.get("metadata")
    return m if isinstance(m, Mapping) else {}


def key_of(obj: Obj) -> Key:
    """The work-queue key of ``obj`` (client-go's ``MetaNamespaceKeyFunc`` as a pair)."""
    md = meta(obj)
    return (str(md.get("namespace") or ""), str(md.get("name") or ""))


def name_of(obj: Obj) -> str:
    return str(meta(obj).get("name", ""))


def namespace_of(obj: Obj) -> str:
    return str(meta(obj).get("namespace", ""))


def uid_of(obj: Obj) -> str:
    return str(meta(obj).get("uid", ""))


def labels_of(obj: Obj) -> Mapping[str, str]:
    labels = meta(obj).get("labels")
    return labels if isinstance(labels, Mapping) else {}


def annotations_of(obj: Obj) -> Mapping[str, str]:
    ann = meta(obj).get("annotations")
    return ann if isinstance(ann, Mapping) else {}


def is_deleting(obj: Obj) -> bool:
    return bool(meta(obj).get("deletionTimestamp"))


def controller_ref(obj: Obj) -> Mapping[str, Any] | None:
    """The ownerReference with ``controller: true`` (``metav1.GetControllerOf``)."""
    for ref in meta(obj).get("ownerReferences") or ():
        if isinstance(ref, Mapping) and ref.get("controller") is True:
            return ref
    return None


def controller_uid(obj: Obj) -> str | None:
    ref = controller_ref(obj)
    return str(ref.get("uid", "")) if ref is not None else None


def new_controller_ref(owner: Obj, *, api_version: str, kind: str) -> dict[str, Any]:
    """``metav1.NewControllerRef``: controller and blockOwnerDeletion both true."""
    return {
        "apiVersion": api_version,
        "kind": kind,
        "name": name_of(owner),
        "uid": uid_of(owner),
        "controller": True,
        "blockOwnerDeletion": True,
    }


# --- label selectors ---------------------------------------------------------------------------


def selector_matches(selector: Obj | None, labels: Mapping[str, str]) -> bool:
    """``metav1.LabelSelectorAsSelector(selector).Matches(labels)``.

    A nil selector selects nothing; an empty one (``{}``) selects everything.
    """
    if selector is None:
        return False
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    return all(_expression_matches(expr, labels) for expr in selector.get("matchExpressions") or ())


def _expression_matches(expr: Obj, labels: Mapping[str, str]) -> bool:
    key = str(expr.get("key", ""))
    op = expr.get("operator")
    values = set(expr.get("values") or ())
    if op == "In":
        return key in labels and labels[key] in values
    if op == "NotIn":
        return key not in labels or labels[key] not in values
    if op == "Exists":
        return key in labels
    if op == "DoesNotExist":
        return key not in labels
    return False


def map_selector_matches(selector: Mapping[str, str], labels: Mapping[str, str]) -> bool:
    """A Service-style selector (a plain map): every pair must be present."""
    return all(labels.get(k) == v for k, v in selector.items())


def selector_is_empty(selector: Obj | None) -> bool:
    """``{}`` (not nil): the selector that selects everything."""
    return selector is not None and not selector.get("matchLabels") and not selector.get(
        "matchExpressions"
    )


# --- pods --------------------------------------------------------------------------------------


def pod_condition(pod: Obj, ctype: str) -> Mapping[str, Any] | None:
    status = pod.get("status") or {}
    for cond in status.get("conditions") or ():
        if isinstance(cond, Mapping) and cond.get("type") == ctype:
            return cond
    return None


def is_pod_ready(pod: Obj) -> bool:
    """``podutil.IsPodReady``: the Ready condition is True."""
    cond = pod_condition(pod, "Ready")
    return cond is not None and cond.get("status") == "True"


def pod_ready_time(pod: Obj) -> float | None:
    """When the pod last became ready (its Ready condition's lastTransitionTime)."""
    if not is_pod_ready(pod):
        return None
    cond = pod_condition(pod, "Ready")
    return parse_time(cond.get("lastTransitionTime")) if cond else None


def is_pod_available(pod: Obj, min_ready_seconds: int, now: float) -> bool:
    """``podutil.IsPodAvailable``: ready, and ready for longer than minReadySeconds."""
    if not is_pod_ready(pod):
        return False
    if min_ready_seconds == 0:
        return True
    since = pod_ready_time(pod)
    return since is not None and since + min_ready_seconds < now


def pod_phase(pod: Obj) -> str:
    return str((pod.get("status") or {}).get("phase") or "")


def is_pod_terminal(pod: Obj) -> bool:
    return pod_phase(pod) in ("Succeeded", "Failed")


def is_pod_active(pod: Obj) -> bool:
    """``controller.IsPodActive``: not terminal and not being deleted."""
    return not is_pod_terminal(pod) and not is_deleting(pod)


def pod_ip(pod: Obj) -> str:
    status = pod.get("status") or {}
    ip = status.get("podIP")
    if ip:
        return str(ip)
    for entry in status.get("podIPs") or ():
        if isinstance(entry, Mapping) and entry.get("ip"):
            return str(entry["ip"])
    return ""
