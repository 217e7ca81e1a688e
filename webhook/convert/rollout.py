"""One Rollout as a Deployment labelled and annotated for canarist.

An inline ``template`` gives a new Deployment with the Rollout's metadata and the spec fields
Deployments share (``replicas``, ``selector``, ``template``, ``minReadySeconds``,
``revisionHistoryLimit``, ``progressDeadlineSeconds``; the canary's ``maxSurge`` and
``maxUnavailable`` as its rolling update). A ``workloadRef`` gives the referenced Deployment
with the label, the annotations and the Rollout's ``replicas`` added — or, when it is not in
the input, a merge patch to apply to it. A blue-green Rollout, or one whose only traffic router
canarist lacks, is not converted: it is written back unchanged, and reported.
"""

from __future__ import annotations

import copy
import json
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from webhook.convert.analysis import Lookup
from webhook.convert.canary import Canary, convert_canary
from webhook.convert.loading import Doc
from webhook.convert.report import Notes
from webhook.spec import names as n
from webhook.spec.problems import Problems, at

SERVER_FIELDS = ("uid", "resourceVersion", "generation", "creationTimestamp", "managedFields",
                 "selfLink", "deletionTimestamp", "deletionGracePeriodSeconds")
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
_COPIED = ("replicas", "selector", "template", "minReadySeconds", "revisionHistoryLimit",
           "progressDeadlineSeconds")
_NOT_CONVERTIBLE = {
    "restartAt": ("a restart is a template change in canarist, released through the steps",
                  "kubectl rollout restart deployment/<name>"),
    "rollbackWindow": ("reverting the template to the stable revision is always a fast "
                       "rollback in canarist", ""),
    "progressDeadlineAbort": ("canarist reports an exceeded progress deadline in its status "
                              "but does not abort", "canarist abort <name>"),
}


@dataclass
class Result:
    deployment: dict[str, Any] | None = None  # the object to write, None: keep the Rollout
    replaces: Doc | None = None  # the input Deployment it replaces (workloadRef)
    canary: Canary | None = None


def convert_rollout(doc: Doc, lookup: Lookup, find_deployment: Any, notes: Notes,
                    problems: Problems) -> Result:
    """``find_deployment(name, namespace) -> Doc | None``; bad input goes to ``problems``,
    each path prefixed with the document (``web.yaml[2].spec.strategy...``)."""
    local = Problems()
    result = _convert(doc, lookup, find_deployment, notes, local, problems)
    for p in local:
        problems.add(at(doc.where, p.path), p.message)
    return result


def _convert(doc: Doc, lookup: Lookup, find_deployment: Any, notes: Notes,
             problems: Problems, outer: Problems) -> Result:
    rollout = doc.obj
    meta = rollout["metadata"]
    name, namespace = meta["name"], meta.get("namespace")
    subject = f"Rollout {namespace + '/' if namespace else ''}{name}"
    spec = rollout.get("spec")
    if not isinstance(spec, dict):
        problems.add("spec", "is required (a mapping)")
        return Result()
    strategy: dict[str, Any] = spec["strategy"] if isinstance(spec.get("strategy"), dict) else {}
    if "blueGreen" in strategy:
        notes.refused(subject, "spec.strategy.blueGreen", "canarist releases by canary steps; "
                      "the Rollout is written back unchanged",
                      "a canary with setCanaryScale: {weight: 100}, a setHeaderRoute to test "
                      "it, pause: {} and setWeight: 100 behaves like blue-green")
        return Result()
    canary_raw = strategy.get("canary")
    if not isinstance(canary_raw, dict):
        problems.add("spec.strategy.canary", "is required (a mapping)")
        return Result()
    canary = convert_canary(canary_raw, "spec.strategy.canary", rollout=rollout,
                            lookup=lookup, notes=notes, subject=subject, problems=problems)
    if canary is None:
        notes.refused(subject, "spec.strategy.canary.trafficRouting", "no traffic router "
                      "converts; the Rollout is written back unchanged")
        return Result()
    _spec_notes(spec, notes, subject)
    if "workloadRef" in spec:
        return _workload(spec, meta, canary, find_deployment, notes, subject, problems, outer)
    if not isinstance(spec.get("template"), dict) or not isinstance(spec.get("selector"), dict):
        problems.add("spec", "needs template and selector (or workloadRef)")
        return Result()
    if not _check_spec(spec, problems):
        return Result()
    dspec = {k: copy.deepcopy(spec[k]) for k in _COPIED if k in spec}
    for key in dspec:
        notes.converted(subject, f"spec.{key}", f"Deployment spec.{key}")
    _rolling(dspec, canary)
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": _metadata(meta, canary.annotations, notes, subject),
        "spec": dspec,
    }
    return Result(deployment, None, canary)


_COUNTS = {"replicas": 0, "minReadySeconds": 0, "revisionHistoryLimit": 0,
           "progressDeadlineSeconds": 1}


def _check_spec(spec: Mapping[str, Any], problems: Problems) -> bool:
    """What a Deployment needs of the copied fields, so what is written is a Deployment."""
    before = len(problems)
    for key, low in _COUNTS.items():
        value = spec.get(key)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool)
                                  or value < low):
            problems.add(f"spec.{key}", f"must be an integer >= {low}")
    template = spec["template"]
    meta = template.get("metadata", {})
    labels = meta.get("labels", {}) if isinstance(meta, dict) else None
    if not isinstance(labels, dict) or not all(isinstance(v, str) for v in labels.values()):
        problems.add("spec.template.metadata", "must be a mapping with labels (strings)")
    if not isinstance(template.get("spec"), dict):
        problems.add("spec.template.spec", "is required (a mapping)")
    return len(problems) == before


def _spec_notes(spec: Mapping[str, Any], notes: Notes, subject: str) -> None:
    if spec.get("paused") is True:
        notes.refused(subject, "spec.paused", "canarist holds the Deployment itself during a "
                      "release", "canarist pause <name> once it is applied")
    for key, (why, instead) in _NOT_CONVERTIBLE.items():
        if spec.get(key) not in (None, False):
            notes.refused(subject, f"spec.{key}", why, instead)
    if spec.get("analysis") is not None:
        notes.changed(subject, "spec.analysis", "canarist keeps the current release's analysis "
                      "in canarist.io/status, not a history of runs")
    known = {*_COPIED, "workloadRef", "strategy", "paused", "analysis", *_NOT_CONVERTIBLE}
    for key in spec:
        if key not in known:
            notes.refused(subject, f"spec.{key}", f"unknown field {key!r} is left out")


def _metadata(meta: Mapping[str, Any], canarist: dict[str, str], notes: Notes, subject: str
              ) -> dict[str, Any]:
    out = {k: copy.deepcopy(v) for k, v in meta.items() if k not in SERVER_FIELDS}
    if any(k in meta for k in SERVER_FIELDS):
        notes.converted(subject, "metadata", "fields the API server writes are left out")
    labels = dict(out.get("labels") or {})
    labels[n.ENABLED_LABEL] = "true"
    out["labels"] = labels
    annotations = {}
    for key, value in (out.get("annotations") or {}).items():
        if key.startswith("notifications.argoproj.io/"):
            notes.refused(subject, f"metadata.annotations.{key}", "canarist has no "
                          "notifications", "canarist records every release step as a "
                          "Kubernetes Event on the Deployment; forward those")
        elif key.startswith("rollout.argoproj.io/") or key == LAST_APPLIED:
            notes.converted(subject, f"metadata.annotations.{key}", "left out (written by "
                            "Argo Rollouts or kubectl)")
        else:
            annotations[key] = value
    annotations.update(canarist)
    out["annotations"] = annotations
    return out


def _rolling(spec: dict[str, Any], canary: Canary) -> None:
    if canary.rolling_update:
        spec["strategy"] = {"type": "RollingUpdate",
                            "rollingUpdate": dict(canary.rolling_update)}


def _workload(spec: Mapping[str, Any], meta: Mapping[str, Any], canary: Canary,
              find_deployment: Any, notes: Notes, subject: str, problems: Problems,
              outer: Problems) -> Result:
    """``problems``: the Rollout's (relative paths); ``outer``: placed ones (the Deployment)."""
    ref = spec.get("workloadRef")
    if not isinstance(ref, dict) or not isinstance(ref.get("name"), str):
        problems.add("spec.workloadRef", "must be a mapping with a name")
        return Result()
    if ref.get("kind", "Deployment") != "Deployment":
        notes.refused(subject, "spec.workloadRef.kind", f"canarist releases Deployments, not "
                      f"{ref.get('kind')}; the Rollout is written back unchanged")
        return Result()
    if "scaleDown" in ref:
        notes.converted(subject, "spec.workloadRef.scaleDown", "not needed: the Deployment runs "
                        "its own pods again")
    replicas = spec.get("replicas", 1)
    if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 0:
        problems.add("spec.replicas", "must be an integer >= 0")
        return Result()
    found = find_deployment(ref["name"], meta.get("namespace"))
    if found is None:
        patch = _patch(replicas, canary)
        where_ns = f" -n {shlex.quote(meta['namespace'])}" if meta.get("namespace") else ""
        notes.changed(subject, "spec.workloadRef", f"Deployment {ref['name']} is not in the "
                      "input; apply this merge patch to it: kubectl patch deployment "
                      f"{shlex.quote(ref['name'])}{where_ns} --type merge -p "
                      + shlex.quote(json.dumps(patch, separators=(",", ":"))))
        return Result(None, None, canary)
    own = Problems()
    dspec_in = found.obj.get("spec")
    if not isinstance(dspec_in, dict) or not isinstance(dspec_in.get("template"), dict) or (
            not isinstance(dspec_in.get("selector"), dict)):
        own.add("spec", "needs template and selector")
    else:
        _check_spec(dspec_in, own)
    for p in own:
        outer.add(f"{found.where}.{p.path}", f"{p.message} (the Deployment of "
                     f"{subject}'s workloadRef)")
    if own:
        return Result()
    base = copy.deepcopy(found.obj)
    out = {**base, "metadata": _metadata(base["metadata"], canary.annotations, notes, subject)}
    dspec = out.setdefault("spec", {})
    if dspec.get("replicas") != replicas:
        notes.changed(subject, "spec.replicas", f"Deployment {ref['name']} gets the Rollout's "
                      f"replicas ({replicas}; it had {dspec.get('replicas', 1)})")
    dspec["replicas"] = replicas
    _rolling(dspec, canary)
    out.pop("status", None)
    notes.converted(subject, "spec.workloadRef", f"Deployment {ref['name']}, labelled and "
                    "annotated for canarist")
    return Result(out, found, canary)


def _patch(replicas: Any, canary: Canary) -> dict[str, Any]:
    spec: dict[str, Any] = {"replicas": replicas}
    if canary.rolling_update:
        spec["strategy"] = {"rollingUpdate": dict(canary.rolling_update)}
    return {"metadata": {"labels": {n.ENABLED_LABEL: "true"},
                         "annotations": dict(canary.annotations)}, "spec": spec}
