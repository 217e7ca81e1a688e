"""Following cluster policies through the API: the ConfigMap holding the document, and the
labels of Namespaces (which policies selecting namespaces by label need).

Both the webhook and the reconciler run a ``PolicyFeed`` (``--policy-configmap NS/NAME``): an
informer on that one ConfigMap (a field selector on its name) hands each version of the document
(its ``policies.yaml`` key) to the sink; a deleted or absent ConfigMap means no policies, one
without the key is refused. Namespaces are watched only once a policy selects namespaces by
label (``sink.needs_namespace_labels``), so an installation without such policies needs no
right to list them. A change reaches the sink as soon as the watch delivers it (no
volume mount, whose kubelet sync takes a minute), so a ``helm upgrade`` changing ``policies:``
applies within seconds without a restart. The sink (``webhook.policy.PolicyStore``) decides
what to keep; ``on_loaded`` lets the caller report each load (the reconciler records an Event on
the ConfigMap when a document is refused).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Protocol

from webhook.errors import ConfigError, Problem
from webhook.kube.client import KubeClient, connect
from webhook.kube.config import ClientOptions
from webhook.kube.informer import Informer, start_all, stop_all
from webhook.kube.protocol import JSON

KEY = "policies.yaml"
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?\Z")
_NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?\Z")
_KEY = re.compile(r"^[-._a-zA-Z0-9]{1,253}\Z")


class PolicySink(Protocol):
    def load(self, text: str | None, source: str) -> Any: ...
    def refuse(self, problem: str, source: str) -> Any: ...
    def set_namespace(self, name: str, labels: Mapping[str, str] | None) -> None: ...
    @property
    def needs_namespace_labels(self) -> bool: ...


@dataclass(frozen=True)
class ConfigMapRef:
    namespace: str
    name: str
    key: str = KEY

    def __str__(self) -> str:
        return f"ConfigMap {self.namespace}/{self.name}"

    @classmethod
    def parse(cls, text: str, flag: str = "--policy-configmap") -> ConfigMapRef:
        """``NAMESPACE/NAME`` or ``NAMESPACE/NAME:KEY``."""
        where, _, key = text.partition(":")
        ns, slash, name = where.partition("/")
        if not slash or not _DNS_LABEL.match(ns) or not _NAME.match(name):
            raise ConfigError([Problem(flag, f"must be NAMESPACE/NAME[:KEY], got {text!r}")])
        if key and not _KEY.match(key):
            raise ConfigError([Problem(flag, f"invalid ConfigMap key {key!r}")])
        return cls(ns, name, key or KEY)


Loaded = Callable[[Any, JSON | None], None]  # (what the sink's load returned, the ConfigMap)


class PolicyFeed:
    def __init__(
        self,
        client: KubeClient,
        sink: PolicySink,
        configmap: ConfigMapRef | None,
        *,
        on_loaded: Loaded | None = None,
    ) -> None:
        self.client = client
        self.sink = sink
        self.ref = configmap
        self.on_loaded = on_loaded
        self.informers: list[Informer] = []  # to start (and sync) with the caller's
        self.namespaces: Informer | None = None  # started once policies need the labels
        if configmap is not None:
            self.configmaps = Informer(
                client, "v1", "ConfigMap", namespace=configmap.namespace,
                field_selector=f"metadata.name={configmap.name}")
            self.configmaps.add_handler(self._on_configmap)
            self.informers.append(self.configmaps)
        self._follow_namespaces(at_start=True)

    def synced(self) -> None:
        """Call once the informers are synced: an absent ConfigMap means no policies."""
        if self.ref is not None and self.configmaps.get(self.ref.namespace, self.ref.name) is None:
            self._load(None, None)

    @property
    def namespaces_synced(self) -> bool:
        return self.namespaces is None or self.namespaces.synced

    async def stop(self) -> None:
        """Stop the Namespace informer if it was started late (the caller stops the others)."""
        if self.namespaces is not None and self.namespaces not in self.informers:
            await self.namespaces.stop()

    def _follow_namespaces(self, *, at_start: bool = False) -> None:
        if self.namespaces is not None or not self.sink.needs_namespace_labels:
            return
        self.namespaces = Informer(self.client, "v1", "Namespace")
        self.namespaces.add_handler(self._on_namespace)
        if at_start:
            self.informers.append(self.namespaces)  # started (and synced) with the others
        else:
            self.namespaces.start()

    def _on_configmap(self, etype: str, obj: JSON, old: JSON | None) -> None:
        if etype == "DELETED":
            self._load(None, obj)
        else:
            self._load(obj, obj)

    def _load(self, cm: JSON | None, involved: JSON | None) -> None:
        assert self.ref is not None
        source = str(self.ref)
        if cm is None:
            result = self.sink.load(None, source)
        else:
            data = cm.get("data") if isinstance(cm.get("data"), dict) else {}
            text = data.get(self.ref.key) if isinstance(data, dict) else None
            if not isinstance(text, str):
                result = self.sink.refuse(f"has no key {self.ref.key}", source)
            else:
                result = self.sink.load(text, source)
        self._follow_namespaces()
        if self.on_loaded is not None:
            self.on_loaded(result, involved)

    def _on_namespace(self, etype: str, obj: JSON, old: JSON | None) -> None:
        meta = obj.get("metadata") or {}
        name = str(meta.get("name") or "")
        labels = meta.get("labels") if isinstance(meta.get("labels"), dict) else {}
        self.sink.set_namespace(name, None if etype == "DELETED" else labels)


@asynccontextmanager
async def following(options: ClientOptions, sink: PolicySink,
                    configmap: ConfigMapRef | None) -> AsyncIterator[None]:
    """Feed ``sink`` while the context runs (the webhook's): connect, follow, stop. Returns at
    once; the sink is ``synced`` once the first document (or its absence) is known."""
    async with connect(options) as client:
        feed = PolicyFeed(client, sink, configmap)

        async def start() -> None:
            if await start_all(feed.informers, within=None):
                feed.synced()

        task = asyncio.create_task(start(), name="policy feed")
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            await stop_all(feed.informers)
            await feed.stop()
