"""The policies in force in one process (webhook or reconciler), and the Namespaces' labels.

A ``PolicyStore`` is fed from outside (a file read once, or a ConfigMap followed through the
API by ``webhook.kube.policyfeed``); it does no I/O itself. ``load`` takes a new document: a
valid one replaces the set in force, an invalid one is refused whole and the last good set
stays (``Loaded`` says which, with every problem, for an Event and a metric). Readers take the
current set with ``policies`` and match with ``match``; both are safe from other threads (the
webhook's review threads), since the set is replaced, never changed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from webhook.errors import PolicyError, Problem
from webhook.policy.model import EMPTY, ClusterPolicy, PolicySet
from webhook.policy.parse import parse_policies

log = logging.getLogger("canarist.policy")


@dataclass(frozen=True)
class Loaded:
    accepted: bool
    source: str
    digest: str  # of the set in force after this load
    error: PolicyError | None = None
    changed: bool = False  # the set in force changed


Listener = Callable[[PolicySet, PolicySet], None]  # (old, new)


class PolicyStore:
    def __init__(self, policies: PolicySet = EMPTY, source: str = "") -> None:
        self._policies = policies
        self.source = source
        self._namespaces: dict[str, Mapping[str, str]] = {}
        self._listeners: list[Listener] = []
        self._namespace_listeners: list[Callable[[str], None]] = []
        self.loads = {"accepted": 0, "refused": 0}
        self.valid = True  # the last document loaded was valid
        self.last_error: PolicyError | None = None
        self.synced = False  # a first document (or its absence) has been seen

    @property
    def policies(self) -> PolicySet:
        return self._policies

    @property
    def needs_namespace_labels(self) -> bool:
        return self._policies.needs_namespace_labels

    def on_change(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def on_namespace(self, listener: Callable[[str], None]) -> None:
        self._namespace_listeners.append(listener)

    # --- feeding -------------------------------------------------------------------------

    def load(self, text: str | None, source: str) -> Loaded:
        """A new document (``None``: there is none, i.e. no policies)."""
        self.synced = True
        try:
            new = parse_policies(text, source) if text is not None else EMPTY
        except PolicyError as exc:
            return self._refused(exc, source)
        self.loads["accepted"] += 1
        self.valid = True
        self.last_error = None
        self.source = source
        old, self._policies = self._policies, new
        changed = old.digest != new.digest or len(old) != len(new)
        if changed:
            log.info("policies in force: %d from %s (%s)", len(new), source, new.digest or "none")
            for listener in self._listeners:
                listener(old, new)
        return Loaded(True, source, new.digest, changed=changed)

    def refuse(self, problem: str, source: str) -> Loaded:
        """A document that cannot even be read (a ConfigMap without its key)."""
        return self._refused(PolicyError([Problem("policies", problem)], subject=source), source)

    def _refused(self, exc: PolicyError, source: str) -> Loaded:
        self.synced = True
        self.loads["refused"] += 1
        self.valid = False
        self.last_error = exc
        log.warning("policy document refused, keeping the one in force (%s): %s",
                    self._policies.digest or "none", exc)
        return Loaded(False, source, self._policies.digest, exc)

    def set_namespace(self, name: str, labels: Mapping[str, str] | None) -> None:
        """A Namespace's labels (``None``: deleted)."""
        before = self._namespaces.get(name)
        if labels is None:
            self._namespaces.pop(name, None)
        else:
            self._namespaces[name] = dict(labels)
        if before != labels:
            for listener in self._namespace_listeners:
                listener(name)

    # --- reading -------------------------------------------------------------------------

    def namespace_labels(self, namespace: str) -> Mapping[str, str] | None:
        return self._namespaces.get(namespace)

    def match(self, namespace: str, labels: Mapping[str, str]) -> ClusterPolicy | None:
        policies = self._policies
        if not policies:
            return None
        return policies.match(namespace, labels, self._namespaces.get(namespace))
