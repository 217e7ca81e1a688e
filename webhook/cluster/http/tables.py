"""Server-side printing: ``meta.k8s.io/v1 Table`` responses, which ``kubectl get`` asks for.

Columns follow the upstream printers (pkg/printers/internalversion) for the kinds people look
at; every other kind gets NAME and AGE, as kube-apiserver's default table convertor does.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable
from typing import Any

from webhook.cluster.meta import metadata, parse_time

Row = Callable[[dict[str, Any]], list[Any]]


def human_duration(seconds: float) -> str:
    """kubectl's ``HumanDuration``: 45s, 5m10s, 3h, 2d5h..."""
    s = int(seconds)
    if s < 0:
        return "<invalid>"
    if s < 120:
        return f"{s}s"
    m = s // 60
    if m < 10:
        return f"{m}m{s % 60}s" if s % 60 else f"{m}m"
    if m < 180:
        return f"{m}m"
    h = s // 3600
    if h < 8:
        return f"{h}h{m % 60}m" if m % 60 else f"{h}h"
    if h < 48:
        return f"{h}h"
    d = h // 24
    if h < 24 * 8:
        return f"{d}d{h % 24}h" if h % 24 else f"{d}d"
    if d < 365 * 2:
        return f"{d}d"
    return f"{d // 365}y{d % 365}d" if d < 365 * 8 else f"{d // 365}y"


def age(obj: dict[str, Any]) -> str:
    ts = metadata(obj).get("creationTimestamp")
    if not ts:
        return "<unknown>"
    return human_duration((_dt.datetime.now(_dt.UTC) - parse_time(ts)).total_seconds())


def _deploy(o: dict[str, Any]) -> list[Any]:
    spec, st = o.get("spec") or {}, o.get("status") or {}
    return [f"{st.get('readyReplicas', 0)}/{spec.get('replicas', 0)}",
            st.get("updatedReplicas", 0), st.get("availableReplicas", 0)]


def _rs(o: dict[str, Any]) -> list[Any]:
    spec, st = o.get("spec") or {}, o.get("status") or {}
    return [spec.get("replicas", 0), st.get("replicas", 0), st.get("readyReplicas", 0)]


def _pod(o: dict[str, Any]) -> list[Any]:
    spec, st = o.get("spec") or {}, o.get("status") or {}
    statuses = st.get("containerStatuses") or []
    ready = sum(1 for c in statuses if c.get("ready"))
    restarts = sum(int(c.get("restartCount") or 0) for c in statuses)
    phase = st.get("reason") or st.get("phase") or "Unknown"
    if metadata(o).get("deletionTimestamp"):
        phase = "Terminating"
    return [f"{ready}/{len(spec.get('containers') or [])}", phase, restarts,
            st.get("podIP") or "<none>", spec.get("nodeName") or "<none>"]


def _svc(o: dict[str, Any]) -> list[Any]:
    spec = o.get("spec") or {}
    ports = ",".join(
        f"{p.get('port')}{':' + str(p['nodePort']) if p.get('nodePort') else ''}"
        f"/{p.get('protocol', 'TCP')}" for p in spec.get("ports") or []
    ) or "<none>"
    ext = ",".join(spec.get("externalIPs") or []) or "<none>"
    return [spec.get("type", "ClusterIP"), spec.get("clusterIP") or "<none>", ext, ports]


def _ns(o: dict[str, Any]) -> list[Any]:
    return [(o.get("status") or {}).get("phase", "")]


def _job(o: dict[str, Any]) -> list[Any]:
    """printJob (1.32): Status, Completions, Duration."""
    spec, st = o.get("spec") or {}, o.get("status") or {}
    ok = int(st.get("succeeded") or 0)
    if spec.get("completions") is not None:
        completions = f"{ok}/{spec['completions']}"
    elif int(spec.get("parallelism") or 1) > 1:
        completions = f"{ok}/1 of {spec['parallelism']}"
    else:
        completions = f"{ok}/1"
    start, done = st.get("startTime"), st.get("completionTime")
    duration = ""
    if start and done:
        duration = human_duration((parse_time(done) - parse_time(start)).total_seconds())
    elif start:
        duration = human_duration((_dt.datetime.now(_dt.UTC) - parse_time(start))
                                  .total_seconds())
    true = {c.get("type") for c in st.get("conditions") or () if c.get("status") == "True"}
    status = next((s for s in ("Complete", "Failed") if s in true), None)
    if status is None and metadata(o).get("deletionTimestamp"):
        status = "Terminating"
    status = status or next((s for s in ("Suspended", "FailureTarget", "SuccessCriteriaMet")
                             if s in true), "Running")
    return [status, completions, duration]


def _cronjob(o: dict[str, Any]) -> list[Any]:
    spec, st = o.get("spec") or {}, o.get("status") or {}
    last = st.get("lastScheduleTime")
    since = (human_duration((_dt.datetime.now(_dt.UTC) - parse_time(last)).total_seconds())
             if last else "<none>")
    suspend = spec.get("suspend")
    return [spec.get("schedule", ""), spec.get("timeZone") or "<none>",
            "<unset>" if suspend is None else str(bool(suspend)), len(st.get("active") or []),
            since]


def _pdb(o: dict[str, Any]) -> list[Any]:
    spec, st = o.get("spec") or {}, o.get("status") or {}
    shown = ["N/A" if spec.get(k) is None else str(spec[k])
             for k in ("minAvailable", "maxUnavailable")]
    return [*shown, int(st.get("disruptionsAllowed") or 0)]


def _endpoints(o: dict[str, Any]) -> list[Any]:
    """formatEndpoints: up to three ip:port, then "+ N more..."."""
    pairs = [f"{a.get('ip')}:{p.get('port')}" for sub in o.get("subsets") or []
             for p in sub.get("ports") or [None] if p for a in sub.get("addresses") or []]
    if not pairs:
        return ["<none>"]
    extra = f" + {len(pairs) - 3} more..." if len(pairs) > 3 else ""
    return [",".join(pairs[:3]) + extra]


def _netpol(o: dict[str, Any]) -> list[Any]:
    sel = (o.get("spec") or {}).get("podSelector") or {}
    parts = [f"{k}={v}" for k, v in sorted((sel.get("matchLabels") or {}).items())]
    for expr in sel.get("matchExpressions") or []:
        op, key = expr.get("operator"), expr.get("key")
        values = ",".join(expr.get("values") or [])
        parts.append({"In": f"{key} in ({values})", "NotIn": f"{key} notin ({values})",
                      "Exists": str(key), "DoesNotExist": f"!{key}"}.get(str(op), str(key)))
    return [",".join(parts) or "<none>"]


def _subjects(o: dict[str, Any], kind: str) -> str:
    subjects = [s for s in o.get("subjects") or [] if isinstance(s, dict) and
                s.get("kind") == kind]
    if kind == "ServiceAccount":
        return ", ".join(f"{s.get('namespace', '')}/{s.get('name', '')}" for s in subjects)
    return ", ".join(str(s.get("name", "")) for s in subjects)


def _binding(o: dict[str, Any]) -> list[Any]:
    ref = o.get("roleRef") or {}
    return [f"{ref.get('kind', '')}/{ref.get('name', '')}", age(o), _subjects(o, "User"),
            _subjects(o, "Group"), _subjects(o, "ServiceAccount")]


def _role(o: dict[str, Any]) -> list[Any]:
    return [metadata(o).get("creationTimestamp") or ""]


def _sa(o: dict[str, Any]) -> list[Any]:
    return [len(o.get("secrets") or [])]


_S, _I = "string", "integer"
_BINDING: tuple[list[tuple[str, str, int]], Row] = (
    [("Role", _S, 0), ("Age", _S, 0), ("Users", _S, 1), ("Groups", _S, 1),
     ("ServiceAccounts", _S, 1)], _binding)
_ROLE: tuple[list[tuple[str, str, int]], Row] = ([("Created At", "date", 0)], _role)
COLUMNS: dict[str, tuple[list[tuple[str, str, int]], Row]] = {
    "deployments.apps": ([("Ready", _S, 0), ("Up-to-date", _I, 0), ("Available", _I, 0)], _deploy),
    "replicasets.apps": ([("Desired", _I, 0), ("Current", _I, 0), ("Ready", _I, 0)], _rs),
    "pods": ([("Ready", _S, 0), ("Status", _S, 0), ("Restarts", _S, 0), ("IP", _S, 1),
              ("Node", _S, 1)], _pod),
    "services": ([("Type", _S, 0), ("Cluster-IP", _S, 0), ("External-IP", _S, 0),
                  ("Port(s)", _S, 0)], _svc),
    "namespaces": ([("Status", _S, 0)], _ns),
    "jobs.batch": ([("Status", _S, 0), ("Completions", _S, 0), ("Duration", _S, 0)], _job),
    "cronjobs.batch": ([("Schedule", _S, 0), ("Timezone", _S, 0), ("Suspend", _S, 0),
                        ("Active", _I, 0), ("Last Schedule", _S, 0)], _cronjob),
    "poddisruptionbudgets.policy": ([("Min Available", _S, 0), ("Max Unavailable", _S, 0),
                                     ("Allowed Disruptions", _I, 0)], _pdb),
    "endpoints": ([("Endpoints", _S, 0)], _endpoints),
    "networkpolicies.networking.k8s.io": ([("Pod-Selector", _S, 0)], _netpol),
    "serviceaccounts": ([("Secrets", _I, 0)], _sa),
    # upstream prints these with their own time column (no trailing Age)
    "roles.rbac.authorization.k8s.io": _ROLE,
    "clusterroles.rbac.authorization.k8s.io": _ROLE,
    "rolebindings.rbac.authorization.k8s.io": _BINDING,
    "clusterrolebindings.rbac.authorization.k8s.io": _BINDING,
}


def _partial(obj: dict[str, Any]) -> dict[str, Any]:
    return {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
            "metadata": metadata(obj)}


def to_table(resource: str, items: list[dict[str, Any]], list_meta: dict[str, Any],
             include_object: str = "Metadata") -> dict[str, Any]:
    cols, row = COLUMNS.get(resource, ([], lambda o: []))
    defs = [{"name": "Name", "type": "string", "format": "name", "priority": 0,
             "description": "Name must be unique within a namespace."}]
    defs += [{"name": n, "type": t, "format": "", "priority": p, "description": n}
             for n, t, p in cols]
    own_time = any(n in ("Age", "Created At") for n, _, _ in cols)
    if not own_time:
        defs.append({"name": "Age", "type": "string", "format": "", "priority": 0,
                     "description": "CreationTimestamp is a timestamp representing the server "
                                    "time when this object was created."})
    rows = []
    for obj in items:
        cells = [metadata(obj).get("name", ""), *row(obj)]
        if not own_time:
            cells.append(age(obj))
        shown: dict[str, Any] | None
        if include_object == "None":
            shown = None
        elif include_object == "Object":
            shown = obj
        else:
            shown = _partial(obj)
        rows.append({"cells": cells, "object": shown})
    return {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": list_meta,
            "columnDefinitions": defs, "rows": rows}


def wants_table(accept: str) -> bool:
    first = accept.split(",", maxsplit=1)[0] if accept else ""
    return "as=Table" in first
