"""Cluster policies as frozen values, and the first-match lookup the webhook runs on every review.

A ``PolicySet`` is the parsed ``policies:`` list, in order. ``match`` finds the first policy whose
namespaces and selector cover a Deployment; it is precomputed at parse time so a review with a
50-entry set costs one dict lookup and the selectors of the few candidates: the policies that
name the namespace, and those that select namespaces by label.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from webhook.policy.selectors import LabelSelector, selects

NAME_LABEL = "kubernetes.io/metadata.name"  # every Namespace carries it (since 1.21)


@dataclass(frozen=True)
class Rules:
    """Guardrails: checked at admission on the effective configuration (``rules.py``)."""

    max_weight_increase: int | None = None
    min_pause: float | None = None  # seconds
    require_analysis: bool = False
    allowed_routers: tuple[str, ...] | None = None
    allow_promote_full: bool = True
    max_concurrent_releases: int | None = None


@dataclass(frozen=True)
class Exempt:
    """Who may bypass the policy (break glass): each bypass is recorded in a Warning Event."""

    users: frozenset[str] = frozenset()
    groups: frozenset[str] = frozenset()

    def covers(self, user: str, groups: Iterable[str]) -> bool:
        return (bool(user) and user in self.users) or any(g in self.groups for g in groups)

    @property
    def empty(self) -> bool:
        return not self.users and not self.groups


@dataclass(frozen=True)
class ClusterPolicy:
    name: str
    index: int  # position in the document: policies[index]
    namespaces: frozenset[str] | None = None  # by name; None: namespace_selector decides
    namespace_selector: LabelSelector | None = None
    selector: LabelSelector | None = None  # which Deployments (their metadata.labels)
    adopt: bool = False
    enforce: bool = False
    # annotation defaults, by full annotation name (canarist.io/steps), sorted by name
    defaults: tuple[tuple[str, str], ...] = ()
    rules: Rules = field(default_factory=Rules)
    exempt: Exempt = field(default_factory=Exempt)

    @property
    def path(self) -> str:
        return f"policies[{self.index}]"

    @property
    def defaults_map(self) -> dict[str, str]:
        return dict(self.defaults)

    def in_namespace(self, namespace: str, labels: Mapping[str, str] | None) -> bool:
        if self.namespaces is not None:
            return namespace in self.namespaces
        return selects(self.namespace_selector, namespace_labels(namespace, labels))

    def selects(self, labels: Mapping[str, str]) -> bool:
        return selects(self.selector, labels)

    def describe_scope(self) -> str:
        where = (
            "namespaces " + ", ".join(sorted(self.namespaces))
            if self.namespaces is not None
            else "namespaces labelled "
            + (self.namespace_selector.describe() if self.namespace_selector else "(any)")
        )
        which = f"Deployments labelled {self.selector.describe()}" if self.selector else (
            "every Deployment"
        )
        return f"{which} in {where}"


def namespace_labels(namespace: str, labels: Mapping[str, str] | None) -> Mapping[str, str]:
    """A Namespace's labels; the name label is always there, as the API server sets it."""
    if labels is None:
        return {NAME_LABEL: namespace}
    if labels.get(NAME_LABEL) == namespace:
        return labels
    return {**labels, NAME_LABEL: namespace}


@dataclass(frozen=True)
class PolicySet:
    """The policies of one document, in order, with the namespace index ``match`` uses."""

    policies: tuple[ClusterPolicy, ...] = ()
    warnings: tuple[str, ...] = ()  # shadowed policies, defaults that break the rules
    digest: str = ""  # of the document's text: which version is in force
    _by_namespace: Mapping[str, tuple[ClusterPolicy, ...]] = field(
        init=False, repr=False, compare=False
    )
    _by_label: tuple[ClusterPolicy, ...] = field(init=False, repr=False, compare=False)
    _by_name: Mapping[str, ClusterPolicy] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        by_label = tuple(p for p in self.policies if p.namespaces is None)
        names: set[str] = set()
        for p in self.policies:
            names |= p.namespaces or set()
        index = {
            ns: tuple(p for p in self.policies if p.namespaces is None or ns in p.namespaces)
            for ns in names
        }
        object.__setattr__(self, "_by_namespace", index)
        object.__setattr__(self, "_by_label", by_label)
        object.__setattr__(self, "_by_name", {p.name: p for p in self.policies})

    def __bool__(self) -> bool:
        return bool(self.policies)

    def __len__(self) -> int:
        return len(self.policies)

    @property
    def needs_namespace_labels(self) -> bool:
        """Some policy selects namespaces by label: matching needs the Namespaces' labels."""
        return bool(self._by_label)

    @property
    def namespace_names(self) -> frozenset[str]:
        return frozenset(self._by_namespace)

    def get(self, name: str) -> ClusterPolicy | None:
        return self._by_name.get(name)

    def candidates(self, namespace: str) -> tuple[ClusterPolicy, ...]:
        """The policies that may cover ``namespace``, in order."""
        return self._by_namespace.get(namespace, self._by_label)

    def match(
        self,
        namespace: str,
        labels: Mapping[str, str],
        namespace_labels: Mapping[str, str] | None = None,
    ) -> ClusterPolicy | None:
        """The first policy covering a Deployment of ``namespace`` with these ``labels``."""
        for policy in self.candidates(namespace):
            if policy.in_namespace(namespace, namespace_labels) and policy.selects(labels):
                return policy
        return None

    def in_scope(self, namespace: str, namespace_labels: Mapping[str, str] | None) -> bool:
        """Some policy covers the namespace (for some Deployment selector)."""
        return any(p.in_namespace(namespace, namespace_labels) for p in self.candidates(namespace))


EMPTY = PolicySet()


def digest_of(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:12]
