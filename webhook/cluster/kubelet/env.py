"""A container's environment as the kubelet builds it (``makeEnvironmentVariables``), pure.

Order of resolution, as upstream:

1. ``envFrom`` (ConfigMaps and Secrets, with ``prefix``; keys that are not valid variable names
   are skipped with an ``InvalidEnvironmentVariableNames`` warning; a missing source fails
   unless ``optional``);
2. ``env`` in declaration order: a ``value`` has its ``$(VAR)`` references expanded against
   the variables declared before it and the service variables; a ``valueFrom`` reads a
   ConfigMap or Secret key (``optional`` honoured), a pod field or a container resource;
3. the service variables that ``env`` did not set: ``<SVC>_SERVICE_HOST``/``_PORT`` (and the
   Docker link variables) for every Service of the pod's namespace when
   ``enableServiceLinks`` is not false, and always for ``kubernetes`` in ``default``.

Missing objects or keys raise ``ConfigError`` with upstream's message; the container then waits
in ``CreateContainerConfigError``.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from webhook.cluster.kubelet.downward import FieldError, field_value, resource_value
from webhook.cluster.kubelet.expansion import expand, mapping_for

_ENV_NAME = re.compile(r"^[-._a-zA-Z][-._a-zA-Z0-9]*$")
Lookup = Callable[[str], Mapping[str, Any] | None]


class ConfigError(Exception):
    """The container's configuration cannot be built (``CreateContainerConfigError``)."""


@dataclass(frozen=True)
class EnvInputs:
    """What the environment is built from: the pod, its address and the objects around it."""

    pod: Mapping[str, Any]
    pod_ip: str
    host_ip: str
    secret: Lookup
    configmap: Lookup
    service_env: Mapping[str, str]


def secret_data(secret: Mapping[str, Any]) -> dict[str, bytes]:
    out: dict[str, bytes] = {}
    for k, v in (secret.get("data") or {}).items():
        try:
            out[str(k)] = base64.b64decode(str(v))
        except ValueError:
            out[str(k)] = b""
    return out


def configmap_data(cm: Mapping[str, Any]) -> dict[str, bytes]:
    out = {str(k): str(v).encode() for k, v in (cm.get("data") or {}).items()}
    for k, v in (cm.get("binaryData") or {}).items():
        try:
            out[str(k)] = base64.b64decode(str(v))
        except ValueError:
            out[str(k)] = b""
    return out


def _env_name(service: str) -> str:
    return service.upper().replace("-", "_")


def service_variables(service: Mapping[str, Any]) -> dict[str, str]:
    """``envvars.FromServices`` for one Service with a cluster IP."""
    spec = service.get("spec") or {}
    ip = spec.get("clusterIP")
    ports = [p for p in spec.get("ports") or () if isinstance(p, Mapping)]
    if not ip or ip == "None" or not ports:
        return {}
    prefix = _env_name(str((service.get("metadata") or {}).get("name", "")))
    out = {f"{prefix}_SERVICE_HOST": str(ip), f"{prefix}_SERVICE_PORT": str(ports[0]["port"])}
    for p in ports:
        if p.get("name"):
            out[f"{prefix}_SERVICE_PORT_{_env_name(str(p['name']))}"] = str(p["port"])
    for i, p in enumerate(ports):
        proto = str(p.get("protocol") or "TCP")
        url = f"{proto.lower()}://{ip}:{p['port']}"
        if i == 0:
            out[f"{prefix}_PORT"] = url
        port_prefix = f"{prefix}_PORT_{p['port']}_{proto.upper()}"
        out[port_prefix] = url
        out[f"{port_prefix}_PROTO"] = proto.lower()
        out[f"{port_prefix}_PORT"] = str(p["port"])
        out[f"{port_prefix}_ADDR"] = str(ip)
    return out


def service_env(namespace: str, services: Sequence[Mapping[str, Any]], *, links: bool,
                api_host: str, api_port: int) -> dict[str, str]:
    """The service variables a pod of ``namespace`` sees. ``kubernetes`` (in ``default``)
    always points where pods reach the API server (``api_host:api_port``)."""
    out: dict[str, str] = {}
    if links:
        for svc in services:
            md = svc.get("metadata") or {}
            if md.get("namespace") == namespace and not (
                    namespace == "default" and md.get("name") == "kubernetes"):
                out.update(service_variables(svc))
    api = {"metadata": {"name": "kubernetes"},
           "spec": {"clusterIP": api_host, "ports": [{"name": "https", "port": api_port,
                                                       "protocol": "TCP"}]}}
    out.update(service_variables(api))
    return out


def _from_source(ref: Mapping[str, Any], kind: str, inputs: EnvInputs,
                 cache: dict[tuple[str, str], dict[str, bytes] | None]) -> dict[str, bytes] | None:
    """The data of the ConfigMap/Secret a reference names (``None``: missing and optional)."""
    name = str(ref.get("name") or "")
    key = (kind, name)
    if key not in cache:
        obj = (inputs.secret if kind == "secret" else inputs.configmap)(name)
        cache[key] = None if obj is None else (
            secret_data(obj) if kind == "secret" else configmap_data(obj))
    data = cache[key]
    if data is None and not ref.get("optional"):
        raise ConfigError(f'{kind} "{name}" not found')
    return data


def container_env(container: Mapping[str, Any], inputs: EnvInputs,
                  warn: Callable[[str, str], None] | None = None) -> dict[str, str]:
    """The container's variables, in the order a process sees them."""
    pod_md = inputs.pod.get("metadata") or {}
    ns = str(pod_md.get("namespace") or "")
    cache: dict[tuple[str, str], dict[str, bytes] | None] = {}
    env: dict[str, str] = {}
    for src in container.get("envFrom") or ():
        for kind, field in (("configmap", "configMapRef"), ("secret", "secretRef")):
            ref = src.get(field)
            if not isinstance(ref, Mapping):
                continue
            data = _from_source(ref, kind, inputs, cache)
            invalid = []
            for key, raw in (data or {}).items():
                name = str(src.get("prefix") or "") + key
                if not _ENV_NAME.match(name):
                    invalid.append(name)
                    continue
                env[name] = raw.decode(errors="replace")
            if invalid and warn is not None:
                label = "configMap" if kind == "configmap" else "secret"
                warn("InvalidEnvironmentVariableNames",
                     f"Keys [{', '.join(sorted(invalid))}] from the EnvFrom {label} "
                     f"{ns}/{ref.get('name')} were skipped since they are considered invalid "
                     f"environment variable names.")
    services = dict(inputs.service_env)
    for var in container.get("env") or ():
        name = str(var.get("name") or "")
        value = var.get("value")
        source = var.get("valueFrom")
        resolved: str | None = ""
        if value:
            resolved = expand(str(value), mapping_for(env, services))
        elif isinstance(source, Mapping):
            resolved = _value_from(source, container, inputs, cache, ns)
        if resolved is None:
            continue
        services.pop(name, None)
        env[name] = resolved
    for k, v in services.items():
        env.setdefault(k, v)
    return env


def _value_from(source: Mapping[str, Any], container: Mapping[str, Any], inputs: EnvInputs,
                cache: dict[tuple[str, str], dict[str, bytes] | None], ns: str) -> str | None:
    try:
        if isinstance(source.get("fieldRef"), Mapping):
            return field_value(inputs.pod, str(source["fieldRef"].get("fieldPath", "")),
                               pod_ip=inputs.pod_ip, host_ip=inputs.host_ip)
        if isinstance(source.get("resourceFieldRef"), Mapping):
            ref = source["resourceFieldRef"]
            target = _container_named(inputs.pod, ref.get("containerName")) or container
            return resource_value(target, str(ref.get("resource", "")), ref.get("divisor"))
    except FieldError as exc:
        raise ConfigError(str(exc)) from exc
    for kind, field, label in (("configmap", "configMapKeyRef", "ConfigMap"),
                               ("secret", "secretKeyRef", "Secret")):
        ref = source.get(field)
        if not isinstance(ref, Mapping):
            continue
        data = _from_source(ref, kind, inputs, cache)
        if data is None:
            return None
        key = str(ref.get("key") or "")
        if key not in data:
            if ref.get("optional"):
                return None
            raise ConfigError(f"couldn't find key {key} in {label} {ns}/{ref.get('name')}")
        return data[key].decode(errors="replace")
    return ""


def _container_named(pod: Mapping[str, Any], name: Any) -> Mapping[str, Any] | None:
    if not name:
        return None
    spec = pod.get("spec") or {}
    for c in list(spec.get("containers") or ()) + list(spec.get("initContainers") or ()):
        if c.get("name") == name:
            return dict(c)
    return None


def command_line(container: Mapping[str, Any], env: Mapping[str, str],
                 entrypoint: Sequence[str]) -> list[str]:
    """``command``/``args`` expanded (``ExpandContainerCommandAndArgs``) over the image's
    entrypoint: ``command`` replaces it, ``args`` follow whichever applies."""
    look = mapping_for(env)
    command = [expand(str(c), look) for c in container.get("command") or ()]
    args = [expand(str(a), look) for a in container.get("args") or ()]
    return (command or list(entrypoint)) + args
