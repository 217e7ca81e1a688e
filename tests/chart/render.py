"""The chart rendered offline with Helm's Go SDK (``helm_python``: what ``helm template``
does), and the checks every rendered object must pass."""

from __future__ import annotations

import copy
import functools
from pathlib import Path
from typing import Any

import helm_python as helm
import kubernetes_validate
import yaml
from kubernetes_validate import utils as kv_utils

from webhook.cluster.schema import prune_and_default, validate

ROOT = Path(__file__).resolve().parent.parent.parent
CHART = ROOT / "charts" / "canarist"
CI_FILES = sorted((CHART / "ci").glob("*-values.yaml"))
CRD_DIR = ROOT / "tests" / "data" / "crds-chart"
NAMESPACE = "canarist-system"
IMAGE_REPOSITORIES = ("ghcr.io/canarist/canarist", "registry.example.com/platform/canarist")


def ci_values(path: Path) -> dict[str, Any]:
    return yaml.safe_load(path.read_text()) or {}


@functools.cache
def chart() -> helm.Chart:
    return helm.Chart.load(str(CHART))


def render_all(values: dict[str, Any] | None = None, *, name: str = "canarist",
               namespace: str = NAMESPACE) -> dict[str, str]:
    """Template path -> rendered text (NOTES.txt included)."""
    return chart().render(copy.deepcopy(values) if values else None, name=name,
                          namespace=namespace, is_install=True)


def render(values: dict[str, Any] | None = None, **kw: Any) -> list[dict[str, Any]]:
    """Every object the chart renders for ``values`` (hooks included)."""
    out = []
    for path, text in sorted(render_all(values, **kw).items()):
        if path.endswith(".yaml"):
            out += [d for d in yaml.safe_load_all(text) if d]
    return out


def find(objects: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    hits = [o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name]
    assert len(hits) == 1, f"{kind} {name}: {len(hits)} rendered"
    return hits[0]


def kubernetes_versions(oldest: str = "1.29") -> list[str]:
    """Every minor version ``kubernetes-validate`` has schemas for, from ``oldest`` on."""
    found = sorted({kv_utils.major_minor(v) for v in kv_utils.all_versions()},
                   key=lambda v: tuple(int(p) for p in v.split(".")))
    return [v for v in found if tuple(int(p) for p in v.split(".")) >= (1, 29)]


CRD_FILES = {
    ("monitoring.coreos.com", "ServiceMonitor"): "monitoring.coreos.com_servicemonitors.yaml",
    ("monitoring.coreos.com", "PodMonitor"): "monitoring.coreos.com_podmonitors.yaml",
    ("monitoring.coreos.com", "PrometheusRule"): "monitoring.coreos.com_prometheusrules.yaml",
    ("cert-manager.io", "Certificate"): "cert-manager.io_certificates.yaml",
    ("cert-manager.io", "Issuer"): "cert-manager.io_issuers.yaml",
}


@functools.cache
def crd_schema(group: str, kind: str, version: str) -> dict[str, Any]:
    crd = yaml.safe_load((CRD_DIR / CRD_FILES[(group, kind)]).read_text())
    for v in crd["spec"]["versions"]:
        if v["name"] == version and v.get("served"):
            return dict(v["schema"]["openAPIV3Schema"])
    raise AssertionError(f"{group}/{version} {kind} is not served by its CRD")


def problems(obj: dict[str, Any], version: str) -> list[str]:
    """Why Kubernetes ``version`` would refuse ``obj`` (or silently drop part of it)."""
    group, _, api = str(obj["apiVersion"]).rpartition("/")
    if (group, obj["kind"]) in CRD_FILES:
        schema = crd_schema(group, obj["kind"], api)
        pruned = copy.deepcopy(obj)
        out = [f"{p}: unknown field" for p in prune_and_default(pruned, schema)]
        return out + [c.text() for c in validate(obj, schema)]
    try:
        kubernetes_validate.validate(obj, version, strict=True)
    except kubernetes_validate.ValidationError as exc:
        path = ".".join(str(p) for p in exc.path)
        return [f"{path}: {exc.message}"]
    return []
