"""Argo Rollouts manifests as what to apply instead: annotated Deployments (pure).

``convert(sources)`` reads Rollouts, AnalysisTemplates, ClusterAnalysisTemplates and the objects
around them, and returns the objects to write, in input order, with a note on every field
(converted, changed, or not convertible). It raises ``InvalidInput`` (every problem with its
input, document index and field path) for input that is not a valid manifest, and never
anything else. Imports nothing of canarist's but ``webhook.spec`` and ``webhook.errors``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from webhook.convert.emit import dump
from webhook.convert.loading import Doc, Source, load
from webhook.convert.objects import Owner, pass_through, subject_of
from webhook.convert.report import Note, Notes, Outcome, summary
from webhook.convert.rollout import Result, convert_rollout
from webhook.errors import InvalidInput
from webhook.spec.problems import Problems

__all__ = ["Conversion", "Note", "Outcome", "Source", "convert", "dump", "summary"]

ARGO_GROUP = "argoproj.io/"
TEMPLATE_KINDS = ("AnalysisTemplate", "ClusterAnalysisTemplate")


@dataclass(frozen=True)
class Conversion:
    objects: tuple[dict[str, Any], ...]
    notes: tuple[Note, ...]

    @property
    def complete(self) -> bool:
        """Everything converted (possibly changed); nothing was not convertible."""
        return all(n.outcome is not Outcome.NOT_CONVERTIBLE for n in self.notes)


def _ns(doc: Doc) -> str | None:
    ns = doc.obj["metadata"].get("namespace")
    return ns if isinstance(ns, str) else None


class _Catalog:
    def __init__(self, docs: list[Doc]) -> None:
        self.docs = docs
        self.used: dict[int, list[str]] = {}  # id(doc) of a template -> Rollouts using it

    def find(self, kind: str, name: str, namespace: str | None) -> Doc | None:
        for doc in self.docs:
            meta = doc.obj["metadata"]
            if doc.obj["kind"] != kind or meta["name"] != name:
                continue
            ns = _ns(doc)
            if kind == "ClusterAnalysisTemplate" or ns is None or namespace is None or (
                    ns == namespace):
                return doc
        return None

    def lookup_for(self, rollout: Doc) -> Any:
        namespace = _ns(rollout)
        user = rollout.obj["metadata"]["name"]

        def lookup(name: str, cluster: bool) -> tuple[str, Mapping[str, Any]] | None:
            kind = TEMPLATE_KINDS[1] if cluster else TEMPLATE_KINDS[0]
            doc = self.find(kind, name, namespace)
            if doc is None:
                return None
            self.used.setdefault(id(doc), []).append(user)
            spec = doc.obj.get("spec")
            # A template without a spec mapping is reported for its missing metrics.
            return subject_of(doc.obj), {**doc.obj, "spec": spec if isinstance(spec, dict) else {}}

        return lookup


def convert(sources: Sequence[Source]) -> Conversion:
    docs = load(sources)
    catalog = _Catalog(docs)
    notes = Notes()
    problems = Problems()
    results: dict[int, Result] = {}
    for doc in docs:
        if doc.obj["kind"] == "Rollout" and doc.obj["apiVersion"].startswith(ARGO_GROUP):
            results[id(doc)] = convert_rollout(
                doc, catalog.lookup_for(doc),
                lambda name, ns: catalog.find("Deployment", name, ns), notes, problems)
    problems.raise_if_any(InvalidInput)
    owners = [_owner(d, r) for d in docs
              if (r := results.get(id(d))) is not None and r.canary is not None]
    unconverted = {id(d) for d in docs if (r := results.get(id(d))) is not None
                   and r.canary is None}
    replaced = {id(r.replaces): r for r in results.values() if r.replaces is not None}
    objects: list[dict[str, Any]] = []
    for doc in docs:
        out = _one(doc, results, replaced, owners, catalog, unconverted, notes)
        if out is not None:
            objects.append(out)
    return Conversion(tuple(objects), tuple(notes.items))


def _one(doc: Doc, results: dict[int, Result], replaced: dict[int, Result],
         owners: list[Owner], catalog: _Catalog, unconverted: set[int], notes: Notes
         ) -> dict[str, Any] | None:
    obj = doc.obj
    result = results.get(id(doc))
    if result is not None:
        return result.deployment if result.canary is not None else obj
    if id(doc) in replaced:
        return None  # written where the Rollout was
    if obj["apiVersion"].startswith(ARGO_GROUP):
        return _argo_object(doc, catalog, unconverted, results, notes)
    return pass_through(obj, owners, notes)


def _argo_object(doc: Doc, catalog: _Catalog, unconverted: set[int],
                 results: dict[int, Result], notes: Notes) -> dict[str, Any] | None:
    obj, kind = doc.obj, doc.obj["kind"]
    subject = subject_of(obj)
    if kind not in TEMPLATE_KINDS:
        notes.refused(subject, "", f"canarist has no {kind}; left out",
                      "see docs/migrating.md for what to use instead")
        return None
    users = catalog.used.get(id(doc), [])
    staying = [u for u in users if any(
        d.obj["metadata"]["name"] == u and id(d) in unconverted for d in catalog.docs)]
    if staying:
        notes.converted(subject, "", f"kept for Rollout {', '.join(sorted(set(staying)))}, "
                        "which stays a Rollout")
        return obj
    if users:
        notes.converted(subject, "", "its metrics are in canarist.io/analysis of "
                        + ", ".join(sorted(set(users))))
        return None
    notes.refused(subject, "", "no Rollout in the input uses it; passed through unchanged",
                  "convert it together with the Rollout that uses it")
    return obj


def _owner(doc: Doc, result: Result) -> Owner:
    canary = result.canary
    assert canary is not None
    r = canary.routing
    services = [s for s in (canary.stable, canary.canary, r.alb_root) if s]
    return Owner(doc.obj["metadata"]["name"], _ns(doc), list(r.managed_routes),
                 list(r.virtual_services), r.destination_rule, list(r.http_routes),
                 list(r.alb_ingresses), list(r.nginx_ingresses), r.traffic_split, services)
