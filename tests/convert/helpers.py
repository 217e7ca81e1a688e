"""Building Rollouts and reading conversions in the tests."""

from __future__ import annotations

import json
from typing import Any

import yaml

from webhook.convert import Conversion, Outcome, Source, convert


def rollout(canary: dict[str, Any] | None = None, *, name: str = "web",
            namespace: str | None = "shop", **spec: Any) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name}
    if namespace:
        meta["namespace"] = namespace
    body: dict[str, Any] = {
        "replicas": 4,
        "selector": {"matchLabels": {"app": name}},
        "template": {"metadata": {"labels": {"app": name}},
                     "spec": {"containers": [{"name": "app", "image": "demo:v1"}]}},
        "strategy": {"canary": canary if canary is not None else {}},
    }
    body.update(spec)
    return {"apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout", "metadata": meta,
            "spec": body}


def template(name: str, metrics: list[dict[str, Any]], *, args: list[Any] | None = None,
             cluster: bool = False, **spec: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"metrics": metrics, **spec}
    if args is not None:
        body["args"] = args
    meta: dict[str, Any] = {"name": name}
    if not cluster:
        meta["namespace"] = "shop"
    return {"apiVersion": "argoproj.io/v1alpha1",
            "kind": "ClusterAnalysisTemplate" if cluster else "AnalysisTemplate",
            "metadata": meta, "spec": body}


def service(name: str, app: str = "web", **extra: Any) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "namespace": "shop", **extra}
    return {"apiVersion": "v1", "kind": "Service", "metadata": meta,
            "spec": {"selector": {"app": app}, "ports": [{"port": 80, "targetPort": 8080}]}}


def run(*objects: dict[str, Any] | str) -> Conversion:
    text = "\n---\n".join(o if isinstance(o, str) else json.dumps(o) for o in objects)
    return convert([Source("in.yaml", text)])


def deployments(conv: Conversion) -> list[dict[str, Any]]:
    return [o for o in conv.objects if o["kind"] == "Deployment"]


def annotations_of(conv: Conversion, name: str = "web") -> dict[str, str]:
    d = next(o for o in deployments(conv) if o["metadata"]["name"] == name)
    return dict(d["metadata"]["annotations"])


def parsed(conv: Conversion, key: str, name: str = "web") -> Any:
    return yaml.safe_load(annotations_of(conv, name)[key])


def lines(conv: Conversion, outcome: Outcome | None = None) -> list[str]:
    return [n.line() for n in conv.notes if outcome is None or n.outcome is outcome]


def refused(conv: Conversion) -> list[str]:
    return lines(conv, Outcome.NOT_CONVERTIBLE)


def changed(conv: Conversion) -> list[str]:
    return lines(conv, Outcome.CHANGED)
