"""Pod volumes, volume mounts and probes: the defaults and checks of pkg/apis/core/v1/defaults.go
and pkg/apis/core/validation that charts get wrong, with upstream's field paths and wording.

- a volume has exactly one source (one with none is an ``emptyDir``, as v1 defaulting makes
  it); a ``secret`` needs ``secretName``, a ``configMap`` a ``name``; volume names are unique
  DNS labels;
- a volumeMount names a volume of the pod and has a unique ``mountPath``;
- a probe has exactly one handler (exec, httpGet, tcpSocket, grpc), ports in range, and a
  liveness or startup probe a ``successThreshold`` of 1.
"""

from __future__ import annotations

from typing import Any

from webhook.cluster.kinds.common import (
    duplicate,
    forbidden,
    invalid,
    name_problems,
    not_supported,
    required,
    show,
)
from webhook.cluster.status import Cause

# validateVolumeSource's order (the first one found counts, the others are forbidden)
VOLUME_SOURCES = (
    "emptyDir", "hostPath", "gitRepo", "gcePersistentDisk", "awsElasticBlockStore", "secret",
    "nfs", "iscsi", "glusterfs", "flocker", "persistentVolumeClaim", "rbd", "cinder", "cephfs",
    "quobyte", "downwardAPI", "fc", "flexVolume", "configMap", "azureFile", "vsphereVolume",
    "photonPersistentDisk", "portworxVolume", "azureDisk", "storageos", "projected", "scaleIO",
    "csi", "ephemeral", "image",
)
PROBE_HANDLERS = ("exec", "httpGet", "tcpSocket", "grpc")
_PORT_RANGE = "must be between 1 and 65535, inclusive"
_SCHEMES = ["HTTP", "HTTPS"]


def not_found(field: str, value: Any) -> Cause:
    return Cause(field, "FieldValueNotFound", f"Not found: {show(value)}")


def default_volumes(spec: dict[str, Any]) -> None:
    """SetDefaults_Volume: a volume without a source is an emptyDir."""
    for vol in spec.get("volumes") or ():
        if isinstance(vol, dict) and not any(vol.get(k) is not None for k in VOLUME_SOURCES):
            vol["emptyDir"] = {}


def validate_volumes(volumes: Any, path: str) -> tuple[set[str], list[Cause]]:
    """(the volume names, the problems)."""
    names: set[str] = set()
    out: list[Cause] = []
    for i, vol in enumerate(volumes or ()):
        where = f"{path}[{i}]"
        if not isinstance(vol, dict):
            out.append(invalid(where, vol, "must be an object"))
            continue
        out += _source(vol, where)
        name = vol.get("name")
        if not name:
            out.append(required(f"{where}.name"))
        elif isinstance(name, str):
            out += name_problems(f"{where}.name", name, "label")
            if name in names:
                out.append(duplicate(f"{where}.name", name))
            names.add(name)
    return names, out


def _source(vol: dict[str, Any], where: str) -> list[Cause]:
    found: list[str] = []
    out: list[Cause] = []
    for key in VOLUME_SOURCES:
        if vol.get(key) is None:
            continue
        if found:
            out.append(forbidden(f"{where}.{key}", "may not specify more than 1 volume type"))
            continue
        found.append(key)
        source = vol[key]
        if key == "secret" and isinstance(source, dict) and not source.get("secretName"):
            out.append(required(f"{where}.secret.secretName"))
        if key == "configMap" and isinstance(source, dict) and not source.get("name"):
            out.append(required(f"{where}.configMap.name"))
    if not found:
        out.append(required(where, "must specify a volume type"))
    return out


def validate_mounts(mounts: Any, volumes: set[str], path: str) -> list[Cause]:
    """ValidateVolumeMounts: each names a volume of the pod; mount paths are unique."""
    out: list[Cause] = []
    seen: set[str] = set()
    for i, mount in enumerate(mounts or ()):
        where = f"{path}[{i}]"
        if not isinstance(mount, dict):
            out.append(invalid(where, mount, "must be an object"))
            continue
        name = mount.get("name")
        if not name:
            out.append(required(f"{where}.name"))
        if name not in volumes:
            out.append(not_found(f"{where}.name", name or ""))
        mount_path = mount.get("mountPath")
        if not mount_path:
            out.append(required(f"{where}.mountPath"))
        elif mount_path in seen:
            out.append(invalid(f"{where}.mountPath", mount_path, "must be unique"))
        if isinstance(mount_path, str):
            seen.add(mount_path)
    return out


def _port(value: Any, path: str) -> list[Cause]:
    if isinstance(value, bool) or value is None:
        return [required(path)]
    if isinstance(value, int):
        return [] if 1 <= value <= 65535 else [invalid(path, value, _PORT_RANGE)]
    if isinstance(value, str) and value.isdigit():
        return [invalid(path, value, _PORT_RANGE)] if not 1 <= int(value) <= 65535 else []
    if isinstance(value, str) and (not value or len(value) > 15):
        return [invalid(path, value, "must be no more than 15 characters")]
    return []


def validate_probe(probe: Any, path: str, *, kind: str) -> list[Cause]:
    """validateProbe with validateHandler: one handler type, sane numbers."""
    if probe is None:
        return []
    if not isinstance(probe, dict):
        return [invalid(path, probe, "must be an object")]
    out: list[Cause] = []
    found = False
    for key in PROBE_HANDLERS:
        if probe.get(key) is None:
            continue
        if found:
            out.append(forbidden(f"{path}.{key}", "may not specify more than 1 handler type"))
            continue
        found = True
        out += _handler(key, probe[key], f"{path}.{key}")
    if not found:
        out.append(required(path, "must specify a handler type"))
    for key in ("initialDelaySeconds", "timeoutSeconds", "periodSeconds", "successThreshold",
                "failureThreshold"):
        value = probe.get(key)
        if isinstance(value, int) and value < 0:
            out.append(invalid(f"{path}.{key}", value, "must be greater than or equal to 0"))
    threshold = probe.get("successThreshold")
    if kind in ("livenessProbe", "startupProbe") and isinstance(threshold, int) and \
            threshold != 1:
        out.append(invalid(f"{path}.successThreshold", threshold, "must be 1"))
    return out


def _handler(key: str, handler: Any, path: str) -> list[Cause]:
    if not isinstance(handler, dict):
        return [invalid(path, handler, "must be an object")]
    if key == "exec":
        return [] if handler.get("command") else [required(f"{path}.command")]
    if key == "grpc":
        port = handler.get("port")
        return [] if isinstance(port, int) and 1 <= port <= 65535 else [
            invalid(f"{path}.port", port, _PORT_RANGE)]
    out = _port(handler.get("port"), f"{path}.port")
    if key == "httpGet":
        if not handler.get("path"):
            out.append(required(f"{path}.path"))
        scheme = handler.get("scheme")
        if scheme is not None and scheme not in _SCHEMES:
            out.append(not_supported(f"{path}.scheme", scheme, _SCHEMES))
    return out


def validate_container_parts(container: dict[str, Any], volumes: set[str], path: str
                             ) -> list[Cause]:
    out = validate_mounts(container.get("volumeMounts"), volumes, f"{path}.volumeMounts")
    for kind in ("livenessProbe", "readinessProbe", "startupProbe"):
        out += validate_probe(container.get(kind), f"{path}.{kind}", kind=kind)
    return out

