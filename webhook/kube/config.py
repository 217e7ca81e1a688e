"""Where the API server is and who we are: kubeconfig or in-cluster, and the namespace.

Resolution follows kubectl (client-go's loading rules):

1. ``--kubeconfig FILE`` (must exist), else ``$KUBECONFIG`` (a ``:``-separated list, merged;
   first one wins per name), else ``~/.kube/config`` when it exists;
2. with none of those, the in-cluster config (``KUBERNETES_SERVICE_HOST``/``_PORT`` and the
   service account's token and CA, refreshed as the kubelet rotates the token);
3. ``--context NAME`` selects a context (an unknown one is refused, listing those that exist).

The namespace is ``-n/--namespace``, else the context's ``namespace``, else (in a cluster)
``$POD_NAMESPACE`` or the service account's namespace file, else ``default``.

Auth plugins (exec, OIDC, client certificates, tokens) are the official client's
(``kubernetes.config``); nothing is written back to the kubeconfig.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from kubernetes import client as k8s_client
from kubernetes.config.config_exception import ConfigException
from kubernetes.config.incluster_config import InClusterConfigLoader
from kubernetes.config.kube_config import load_kube_config

from webhook.errors import ConfigError, Problem
from webhook.spec import boundedyaml

SA_DIR = Path("/var/run/secrets/kubernetes.io/serviceaccount")
DEFAULT_KUBECONFIG = "~/.kube/config"
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")


@dataclass(frozen=True)
class ClientOptions:
    """How to reach the API server, and how hard to push it."""

    kubeconfig: str | None = None
    context: str | None = None
    namespace: str | None = None
    qps: float = 50.0  # client-side rate limit (<= 0: none)
    burst: int = 100
    workers: int = 8  # threads running API calls for the async client
    timeout: float = 30.0  # seconds per request (watches: their own, longer)
    user_agent: str = "canarist"


@dataclass(frozen=True)
class InCluster:
    """Where a pod finds its service account (overridable for tests)."""

    token: Path = SA_DIR / "token"
    ca: Path = SA_DIR / "ca.crt"
    namespace_file: Path = SA_DIR / "namespace"


@dataclass(frozen=True)
class Connection:
    configuration: Any  # kubernetes.client.Configuration
    namespace: str
    source: str  # "kubeconfig <paths> (context <name>)" or "in-cluster"
    options: ClientOptions


def check_namespace(value: str, flag: str = "--namespace") -> str:
    if not _DNS_LABEL.match(value):
        raise ConfigError(
            [
                Problem(
                    flag,
                    f"{value!r} is not a valid namespace (lowercase letters, digits and '-', "
                    "at most 63 characters, starting and ending with a letter or digit)",
                )
            ]
        )
    return value


def kubeconfig_paths(flag: str | None, env: Mapping[str, str]) -> str | None:
    """The kubeconfig path list to load, or None for in-cluster; pure apart from file checks."""
    if flag:
        path = os.path.expanduser(flag)
        if not os.path.isfile(path):
            raise ConfigError([Problem("--kubeconfig", f"{flag}: no such file")])
        return path
    listed = env.get("KUBECONFIG", "")
    if listed.strip(os.pathsep):
        existing = [
            os.path.expanduser(p)
            for p in listed.split(os.pathsep)
            if p and os.path.isfile(os.path.expanduser(p))
        ]
        if not existing:
            raise ConfigError([Problem("KUBECONFIG", f"none of {listed!r} exists")])
        return os.pathsep.join(existing)
    default = os.path.expanduser(DEFAULT_KUBECONFIG)
    return default if os.path.isfile(default) else None


def pick_namespace(flag: str | None, context_ns: str | None, pod_ns: str | None) -> str:
    """kubectl's order: the flag, the context's namespace, the pod's namespace, ``default``."""
    for candidate in (flag, context_ns, pod_ns):
        if candidate:
            return candidate
    return "default"


def load(
    options: ClientOptions,
    *,
    env: Mapping[str, str] | None = None,
    in_cluster: InCluster | None = None,
) -> Connection:
    """A ready ``Configuration`` and the namespace to use; ``ConfigError`` naming the flag or
    file when something is wrong."""
    env = os.environ if env is None else env
    if options.namespace is not None:
        check_namespace(options.namespace)
    cfg = k8s_client.Configuration()
    paths = kubeconfig_paths(options.kubeconfig, env)
    if paths is not None:
        context, context_ns = _context(paths, options.context)
        try:
            load_kube_config(  # type: ignore[no-untyped-call]
                config_file=paths, context=context, client_configuration=cfg, persist_config=False
            )
        except (ConfigException, OSError, ValueError) as exc:
            raise ConfigError([Problem(_flag(options), f"{paths}: {exc}")]) from exc
        namespace = pick_namespace(options.namespace, context_ns, None)
        source = f"kubeconfig {paths} (context {context})"
    else:
        if options.context:
            raise ConfigError(
                [Problem("--context", "no kubeconfig found (--kubeconfig, $KUBECONFIG, "
                         f"{DEFAULT_KUBECONFIG}) to take context {options.context!r} from")]
            )
        where = in_cluster or InCluster()
        _load_in_cluster(cfg, env, where)
        namespace = pick_namespace(options.namespace, None, _pod_namespace(env, where))
        source = "in-cluster"
    _tune(cfg, options)
    return Connection(cfg, namespace, source, options)


def _flag(options: ClientOptions) -> str:
    return "--kubeconfig" if options.kubeconfig else "KUBECONFIG"


def _context(paths: str, wanted: str | None) -> tuple[str, str | None]:
    """The context to use and its namespace. As kubectl merges files: the first file that
    defines a context name or sets ``current-context`` wins (the official client's loader lets
    the last one win, so the choice is made here and passed to it)."""
    contexts: dict[str, Any] = {}
    current = ""
    for path in paths.split(os.pathsep):
        try:
            with open(path, encoding="utf-8") as fh:
                doc = boundedyaml.load(fh.read(), boundedyaml.DOCUMENT)
        except OSError as exc:
            raise ConfigError([Problem("--kubeconfig", f"{path}: {exc}")]) from exc
        except yaml.YAMLError as exc:
            where, message = boundedyaml.describe(exc)
            raise ConfigError([Problem("--kubeconfig", f"{path}{where}: YAML {message}")]) from None
        if not isinstance(doc, dict):
            raise ConfigError([Problem("--kubeconfig", f"{path}: not a kubeconfig")])
        for entry in doc.get("contexts") or ():
            if isinstance(entry, dict) and isinstance(entry.get("name"), str):
                contexts.setdefault(entry["name"], entry.get("context") or {})
        if not current and isinstance(doc.get("current-context"), str):
            current = doc["current-context"]
    name = wanted or current
    known = ", ".join(sorted(contexts)) or "none"
    if not name:
        raise ConfigError(
            [Problem("--context", f"{paths} sets no current-context; pick one of: {known}")]
        )
    if name not in contexts:
        raise ConfigError(
            [Problem("--context", f"context {name!r} not found in {paths} (contexts: {known})")]
        )
    ns = contexts[name].get("namespace") if isinstance(contexts[name], dict) else None
    return name, ns if isinstance(ns, str) and ns else None


def _load_in_cluster(cfg: Any, env: Mapping[str, str], where: InCluster) -> None:
    if not env.get("KUBERNETES_SERVICE_HOST"):
        raise ConfigError(
            [Problem("--kubeconfig", f"no kubeconfig found (pass --kubeconfig, set KUBECONFIG "
                     f"or create {DEFAULT_KUBECONFIG}) and not running in a cluster")]
        )
    loader = InClusterConfigLoader(  # type: ignore[no-untyped-call]
        token_filename=str(where.token), cert_filename=str(where.ca), environ=env
    )
    try:
        loader.load_and_set(cfg)  # type: ignore[no-untyped-call]
    except (ConfigException, OSError) as exc:
        raise ConfigError([Problem("in-cluster config", str(exc))]) from exc


def _pod_namespace(env: Mapping[str, str], where: InCluster) -> str | None:
    if env.get("POD_NAMESPACE"):
        return env["POD_NAMESPACE"]
    try:
        return where.namespace_file.read_text(encoding="utf-8").strip() or None
    except OSError:
        return None


def _tune(cfg: Any, options: ClientOptions) -> None:
    # Retries are ours (webhook.kube.rest): the pool must not retry underneath.
    cfg.retries = False
    # One connection per worker plus one per open watch (each informer holds one), with room.
    cfg.connection_pool_maxsize = options.workers + 32
