"""What each pod volume holds, as the kubelet's volume plugins compute it, pure.

``payload(volume, ...)`` gives the files of a ``secret``, ``configMap``, ``downwardAPI`` or
``projected`` volume (path -> bytes and mode), with upstream's messages when an object or key
is missing and not ``optional`` (``VolumeError``; the pod then waits in ContainerCreating with a
``FailedMount`` event). ``emptyDir`` is an empty directory. Projected ``serviceAccountToken``
sources name the TokenRequest to make (``token_requests``); the caller fetches the tokens and
passes them in. Other volume kinds are refused with a clear message.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from webhook.cluster.kubelet.downward import FieldError, field_value, resource_value
from webhook.cluster.kubelet.env import configmap_data, secret_data

DEFAULT_MODE = 0o644
SUPPORTED = ("secret", "configMap", "emptyDir", "downwardAPI", "projected")
Lookup = Callable[[str], Mapping[str, Any] | None]


class VolumeError(Exception):
    """A volume cannot be set up (the text after ``MountVolume.SetUp failed for volume``)."""


@dataclass(frozen=True)
class FileProjection:
    data: bytes
    mode: int


@dataclass(frozen=True)
class TokenSpec:
    """One projected token: the ServiceAccount, audience and lifetime to request it with."""

    service_account: str
    audience: str
    expiration_seconds: int


@dataclass(frozen=True)
class Objects:
    """How the volume plugins read the pod's world."""

    pod: Mapping[str, Any]
    pod_ip: str
    host_ip: str
    secret: Lookup
    configmap: Lookup
    tokens: Mapping[TokenSpec, str]


Payload = dict[str, FileProjection]


def kind_of(volume: Mapping[str, Any]) -> str:
    for key in volume:
        if key != "name":
            return str(key)
    return ""


def _mode(value: Any, default: int) -> int:
    return int(value) if isinstance(value, int) and 0 <= value <= 0o777 else default


def _keyed(data: Mapping[str, bytes] | None, items: Any, default_mode: int, optional: bool,
           missing: str) -> Payload:
    out: Payload = {}
    if data is None:
        return out
    if not items:
        return {k: FileProjection(v, default_mode) for k, v in data.items()}
    for item in items:
        key = str(item.get("key") or "")
        if key not in data:
            if optional:
                continue
            raise VolumeError(f"{missing}: {key}")
        out[str(item.get("path") or key)] = FileProjection(
            data[key], _mode(item.get("mode"), default_mode))
    return out


def _secret(src: Mapping[str, Any], name: str, objs: Objects, default_mode: int) -> Payload:
    optional = bool(src.get("optional"))
    obj = objs.secret(name)
    if obj is None and not optional:
        raise VolumeError(f'secret "{name}" not found')
    return _keyed(secret_data(obj) if obj is not None else None, src.get("items"), default_mode,
                  optional, "references non-existent secret key")


def _configmap(src: Mapping[str, Any], objs: Objects, default_mode: int) -> Payload:
    name = str(src.get("name") or "")
    optional = bool(src.get("optional"))
    obj = objs.configmap(name)
    if obj is None and not optional:
        raise VolumeError(f'configmap "{name}" not found')
    return _keyed(configmap_data(obj) if obj is not None else None, src.get("items"),
                  default_mode, optional, "configmap references non-existent config key")


def _downward(items: Any, objs: Objects, default_mode: int) -> Payload:
    out: Payload = {}
    containers = {str(c.get("name")): c for c in (objs.pod.get("spec") or {}).get("containers")
                  or ()}
    for item in items or ():
        try:
            if isinstance(item.get("fieldRef"), Mapping):
                value = field_value(objs.pod, str(item["fieldRef"].get("fieldPath", "")),
                                    pod_ip=objs.pod_ip, host_ip=objs.host_ip)
            elif isinstance(item.get("resourceFieldRef"), Mapping):
                ref = item["resourceFieldRef"]
                container = containers.get(str(ref.get("containerName") or ""))
                if container is None:
                    raise VolumeError(f"container {ref.get('containerName')!r} not found")
                value = resource_value(container, str(ref.get("resource", "")), ref.get("divisor"))
            else:
                continue
        except FieldError as exc:
            raise VolumeError(str(exc)) from exc
        out[str(item.get("path") or "")] = FileProjection(value.encode(),
                                                          _mode(item.get("mode"), default_mode))
    return out


def token_spec(src: Mapping[str, Any], pod: Mapping[str, Any]) -> TokenSpec:
    spec = pod.get("spec") or {}
    return TokenSpec(str(spec.get("serviceAccountName") or "default"),
                     str(src.get("audience") or ""), int(src.get("expirationSeconds") or 3600))


def token_requests(volume: Mapping[str, Any], pod: Mapping[str, Any]) -> list[TokenSpec]:
    """The tokens a projected volume needs."""
    projected = volume.get("projected")
    if not isinstance(projected, Mapping):
        return []
    return [token_spec(s["serviceAccountToken"], pod) for s in projected.get("sources") or ()
            if isinstance(s.get("serviceAccountToken"), Mapping)]


def _projected(src: Mapping[str, Any], objs: Objects) -> Payload:
    default_mode = _mode(src.get("defaultMode"), DEFAULT_MODE)
    out: Payload = {}
    errors: list[str] = []
    for source in src.get("sources") or ():
        try:
            if isinstance(source.get("secret"), Mapping):
                s = source["secret"]
                out.update(_secret(s, str(s.get("name") or ""), objs, default_mode))
            elif isinstance(source.get("configMap"), Mapping):
                out.update(_configmap(source["configMap"], objs, default_mode))
            elif isinstance(source.get("downwardAPI"), Mapping):
                out.update(_downward(source["downwardAPI"].get("items"), objs, default_mode))
            elif isinstance(source.get("serviceAccountToken"), Mapping):
                tp = source["serviceAccountToken"]
                spec = token_spec(tp, objs.pod)
                if spec not in objs.tokens:
                    raise VolumeError(f"failed to fetch token: no token for service account "
                                      f'"{spec.service_account}"')
                out[str(tp.get("path") or "")] = FileProjection(
                    objs.tokens[spec].encode(), default_mode)
            else:
                raise VolumeError(f"projected source {kind_of(source)!r} is not supported by "
                                  "the embedded cluster's node")
        except VolumeError as exc:
            errors.append(str(exc))
    if errors:  # utilerrors.NewAggregate: one error as itself, more as a list
        raise VolumeError(errors[0] if len(errors) == 1 else f"[{', '.join(errors)}]")
    return out


def payload(volume: Mapping[str, Any], objs: Objects) -> Payload | None:
    """The files of the volume (``None`` for an ``emptyDir``, which starts empty)."""
    kind = kind_of(volume)
    src = volume.get(kind)
    if not isinstance(src, Mapping):
        src = {}
    if kind == "emptyDir":
        return None
    if kind == "secret":
        return _secret(src, str(src.get("secretName") or ""), objs,
                       _mode(src.get("defaultMode"), DEFAULT_MODE))
    if kind == "configMap":
        return _configmap(src, objs, _mode(src.get("defaultMode"), DEFAULT_MODE))
    if kind == "downwardAPI":
        return _downward(src.get("items"), objs, _mode(src.get("defaultMode"), DEFAULT_MODE))
    if kind == "projected":
        return _projected(src, objs)
    raise VolumeError(f"{kind or 'an empty'} volume is not supported by the embedded cluster's "
                      f"node (it mounts {', '.join(SUPPORTED)})")


def referenced(volumes: Any) -> tuple[set[str], set[str]]:
    """The Secrets and ConfigMaps the volumes read (to re-project them when they change)."""
    secrets: set[str] = set()
    configmaps: set[str] = set()
    for v in volumes or ():
        if isinstance(v.get("secret"), Mapping):
            secrets.add(str(v["secret"].get("secretName") or ""))
        if isinstance(v.get("configMap"), Mapping):
            configmaps.add(str(v["configMap"].get("name") or ""))
        for s in (v.get("projected") or {}).get("sources") or ():
            if isinstance(s.get("secret"), Mapping):
                secrets.add(str(s["secret"].get("name") or ""))
            if isinstance(s.get("configMap"), Mapping):
                configmaps.add(str(s["configMap"].get("name") or ""))
    return secrets, configmaps
