"""Pod spec defaults and validation shared by Pods, ReplicaSets and Deployments.

Defaults are those of pkg/apis/core/v1/defaults.go that a client sees on a stored object;
validation covers what a user can get wrong in practice (pkg/apis/core/validation).
"""

from __future__ import annotations

from typing import Any

from webhook.cluster.kinds.common import (
    duplicate,
    invalid,
    name_problems,
    not_supported,
    required,
    type_invalid,
    validate_annotations,
    validate_labels,
)
from webhook.cluster.kinds.volumes import (
    default_volumes,
    validate_container_parts,
    validate_volumes,
)
from webhook.cluster.status import Cause

_PROTOCOLS = ["SCTP", "TCP", "UDP"]
_PULL_POLICIES = ["Always", "IfNotPresent", "Never"]
_RESTART = ["Always", "OnFailure", "Never"]


def _default_probe(probe: Any) -> None:
    if not isinstance(probe, dict):
        return
    probe.setdefault("timeoutSeconds", 1)
    probe.setdefault("periodSeconds", 10)
    probe.setdefault("successThreshold", 1)
    probe.setdefault("failureThreshold", 3)
    http = probe.get("httpGet")
    if isinstance(http, dict):
        http.setdefault("path", "/")
        http.setdefault("scheme", "HTTP")


def _pull_policy(image: str) -> str:
    if "@" in image:
        return "IfNotPresent"
    last = image.rsplit("/", 1)[-1]
    tag = last.split(":", 1)[1] if ":" in last else ""
    return "Always" if tag in ("", "latest") else "IfNotPresent"


def default_container(c: Any) -> None:
    if not isinstance(c, dict):
        return
    c.setdefault("terminationMessagePath", "/dev/termination-log")
    c.setdefault("terminationMessagePolicy", "File")
    if isinstance(c.get("image"), str):
        c.setdefault("imagePullPolicy", _pull_policy(c["image"]))
    c.setdefault("resources", {})
    for p in c.get("ports") or []:
        if isinstance(p, dict):
            p.setdefault("protocol", "TCP")
    for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
        _default_probe(c.get(probe))
    for env in c.get("env") or []:
        ref = env.get("valueFrom", {}).get("fieldRef") if isinstance(env, dict) else None
        if isinstance(ref, dict):
            ref.setdefault("apiVersion", "v1")


def default_pod_spec(spec: Any) -> None:
    if not isinstance(spec, dict):
        return
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("securityContext", {})
    spec.setdefault("schedulerName", "default-scheduler")
    for key in ("containers", "initContainers"):
        for c in spec.get(key) or []:
            default_container(c)
    default_volumes(spec)


def default_template(template: Any) -> None:
    if isinstance(template, dict):
        default_pod_spec(template.get("spec"))


def _validate_container(c: Any, path: str, seen: set[str]) -> list[Cause]:
    if not isinstance(c, dict):
        return [type_invalid(path, c, "object")]
    out: list[Cause] = []
    name = c.get("name")
    if not name:
        out.append(required(f"{path}.name"))
    elif isinstance(name, str):
        out += name_problems(f"{path}.name", name, "label")
        if name in seen:
            out.append(duplicate(f"{path}.name", name))
        seen.add(name)
    if not c.get("image"):
        out.append(required(f"{path}.image"))
    policy = c.get("imagePullPolicy")
    if policy is not None and policy not in _PULL_POLICIES:
        out.append(not_supported(f"{path}.imagePullPolicy", policy, _PULL_POLICIES))
    port_names: set[str] = set()
    for j, p in enumerate(c.get("ports") or []):
        pp = f"{path}.ports[{j}]"
        if not isinstance(p, dict):
            out.append(type_invalid(pp, p, "object"))
            continue
        port = p.get("containerPort")
        if port is None:
            out.append(required(f"{pp}.containerPort"))
        elif not isinstance(port, int) or not 1 <= port <= 65535:
            out.append(invalid(f"{pp}.containerPort", port,
                               "must be between 1 and 65535, inclusive"))
        if p.get("protocol") not in (None, *_PROTOCOLS):
            out.append(not_supported(f"{pp}.protocol", p.get("protocol"), _PROTOCOLS))
        pname = p.get("name")
        if pname:
            if len(pname) > 15 or not all(ch.isalnum() or ch == "-" for ch in pname):
                out.append(invalid(f"{pp}.name", pname,
                                   "must be no more than 15 characters and consist of lower "
                                   "case alphanumeric characters or '-'"))
            if pname in port_names:
                out.append(duplicate(f"{pp}.name", pname))
            port_names.add(pname)
    for j, e in enumerate(c.get("env") or []):
        if not isinstance(e, dict) or not e.get("name"):
            out.append(required(f"{path}.env[{j}].name"))
    return out


def validate_pod_spec(spec: Any, path: str, *, restart: list[str] | None = None) -> list[Cause]:
    if not isinstance(spec, dict):
        return [required(path)]
    volumes, out = validate_volumes(spec.get("volumes"), f"{path}.volumes")
    containers = spec.get("containers")
    if not containers:
        out.append(required(f"{path}.containers"))
    seen: set[str] = set()
    for key in ("containers", "initContainers"):
        for i, c in enumerate(spec.get(key) or []):
            out += _validate_container(c, f"{path}.{key}[{i}]", seen)
            if isinstance(c, dict):
                out += validate_container_parts(c, volumes, f"{path}.{key}[{i}]")
    allowed = restart or _RESTART
    rp = spec.get("restartPolicy")
    if rp not in allowed:
        out.append(not_supported(f"{path}.restartPolicy", rp, allowed))
    grace = spec.get("terminationGracePeriodSeconds")
    if isinstance(grace, int) and grace < 0:
        out.append(invalid(f"{path}.terminationGracePeriodSeconds", grace,
                           "must be greater than or equal to 0"))
    return out


def validate_template(template: Any, path: str, *, restart: list[str] | None = None
                      ) -> list[Cause]:
    """A pod template; its restartPolicy must be one of ``restart`` (default: Always, as
    Deployments and ReplicaSets want)."""
    if not isinstance(template, dict):
        return [required(path)]
    md = template.get("metadata") or {}
    out = validate_labels(f"{path}.metadata.labels", md.get("labels"))
    out += validate_annotations(f"{path}.metadata.annotations", md.get("annotations"))
    out += validate_pod_spec(template.get("spec"), f"{path}.spec",
                             restart=restart or ["Always"])
    return out
