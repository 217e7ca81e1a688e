"""Kubeconfig files, read by canarist's own bounded loader and merged as client-go merges them.

The official client parses kubeconfigs with PyYAML, unbounded (any size, aliases expanded by
whatever walks them). canarist reads each file once itself: at most ``MAX_BYTES``, UTF-8, YAML
through ``webhook.spec.boundedyaml`` (aliases bounded, never recursive, nesting bounded); a file
over a limit is refused with a message naming it. The documents are then merged (the first file
defining a cluster, user or context name wins; each entry remembers its file, so relative paths
— ``certificate-authority``, ``client-key``, an exec plugin's command — resolve next to the file
that holds them) and handed to the client's loader as data: it never opens the files again.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import yaml
from kubernetes.config.kube_config import ConfigNode

from webhook.errors import ConfigError, Problem
from webhook.spec import boundedyaml

MAX_BYTES = 8 * 1024 * 1024  # far more than any kubeconfig (a context with its certificates: 8 KB)
LIMITS = boundedyaml.DOCUMENT  # aliases allowed, at most 100,000 nodes added by them
ENTRIES = ("clusters", "contexts", "users")


@dataclass(frozen=True)
class Kubeconfig:
    path: str
    doc: dict[str, Any]


def _refuse(flag: str, path: str, message: str) -> ConfigError:
    return ConfigError([Problem(flag, f"{path}: {message}")])


def read(path: str, flag: str = "--kubeconfig") -> Kubeconfig:
    """One kubeconfig file, checked and parsed with bounds; ``ConfigError`` naming it."""
    try:
        with open(path, "rb") as fh:
            if os.fstat(fh.fileno()).st_size > MAX_BYTES:
                raise _refuse(flag, path, f"larger than {MAX_BYTES} bytes: not a kubeconfig")
            data = fh.read(MAX_BYTES + 1)
    except OSError as exc:
        raise _refuse(flag, path, str(exc.strerror or exc)) from exc
    if len(data) > MAX_BYTES:  # (it grew while being read)
        raise _refuse(flag, path, f"larger than {MAX_BYTES} bytes: not a kubeconfig")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _refuse(flag, path, f"not UTF-8 text (byte {exc.start})") from None
    try:
        doc = boundedyaml.load(text, LIMITS)
    except yaml.YAMLError as exc:
        where, message = boundedyaml.describe(exc)
        raise ConfigError([Problem(flag, f"{path}{where}: YAML {message}")]) from None
    if not isinstance(doc, dict):
        raise _refuse(flag, path, "not a kubeconfig")
    for item in ENTRIES:
        entries = doc.get(item)
        if entries is None:
            continue
        if not isinstance(entries, list) or not all(
                isinstance(e, dict) and isinstance(e.get("name"), str) for e in entries):
            raise _refuse(flag, path, f"{item}: must be a list of entries with a name")
    return Kubeconfig(path, doc)


def merge(files: Sequence[Kubeconfig]) -> ConfigNode:
    """The files as one kubeconfig for the client's loader, merged as its ``KubeConfigMerger``
    does (first name wins; each entry keeps its file's path), ``current-context`` from the first
    file that sets it (kubectl's rule; the context is chosen before anyway)."""
    first = files[0]
    top = {k: v for k, v in first.doc.items() if k not in ENTRIES}
    top.update({item: [] for item in ENTRIES})
    top.pop("current-context", None)
    merged = ConfigNode(first.path, top, first.path)  # type: ignore[no-untyped-call]
    for f in files:
        for item in ENTRIES:
            known = {e["name"] for e in merged.value[item]}
            for entry in f.doc.get(item) or ():
                if entry["name"] not in known:
                    known.add(entry["name"])
                    merged.value[item].append(ConfigNode(  # type: ignore[no-untyped-call]
                        f"{f.path}/{item}", entry, f.path))
        if "current-context" not in top and "current-context" in f.doc:
            top["current-context"] = f.doc["current-context"]
    return merged
