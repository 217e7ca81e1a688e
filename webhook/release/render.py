"""``canarist render``: every object canarist would create or change for a release, offline.

FILE holds the Deployment as the user applies it for the new revision, with its Services and
routing objects. For step N (0-based; default 0) the state is what steps 0..N put in force — the
last ``setWeight``, the header and mirror routes set and not removed since — or, with
``--weight W``, that weight and no routes. The canary's pods are taken as available. The stable
revision's hash is ``--stable-hash``, else the ``rollouts-pod-template-hash`` label already on the
template when it differs from the new template's hash, else the literal ``stable``.

The same code as in a cluster writes the objects: the release engine's builders and executor, the
routers, over an in-memory API (``webhook.routers.offline.OfflineClient``). Printed as YAML
documents: the user's Deployment as canarist leaves it (hash stamped, held, status), the pinned
stable Service, the canary Service and Deployment, and every routing object created or changed.
What the cluster serves (the SMI TrafficSplit version) comes from ``--api-versions`` and the
CustomResourceDefinitions in FILE.
"""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import yaml

from webhook.errors import ConfigError, Problem
from webhook.kube.protocol import JSON, ObjectRef, PatchType
from webhook.release.bookkeeping import Books
from webhook.release.canary import canary_body
from webhook.release.draft import Ctx
from webhook.release.execute import Executor
from webhook.release.model import DeploymentView, observe
from webhook.release.names import HASH_LABEL
from webhook.release.ops import (
    CreateCanary,
    Op,
    PatchDeployment,
    Plan,
    RouteTraffic,
)
from webhook.release.progress import settled
from webhook.release.routing import release_target
from webhook.release.services import (
    Pin,
    canary_service_ops,
    find_stable,
    has_canary_service,
    pin_patch,
    pins_services,
)
from webhook.release.stepping import routes_at, weight_at
from webhook.routers import build_routers
from webhook.routers.offline import OfflineClient
from webhook.spec import CanarySpec, Pause, Phase, ReleaseStatus, boundedyaml, template_hash
from webhook.spec.files import argo_message
from webhook.spec.names import ENABLED_LABEL, PREFIX

SERVER_FIELDS = ("resourceVersion", "uid", "creationTimestamp", "generation")


class _Writer:
    """The executor's writes on the offline client (which has no subresources)."""

    def __init__(self, client: OfflineClient) -> None:
        self.client = client

    async def create(self, obj: JSON) -> JSON:
        return await self.client.create(obj)

    async def patch(
        self, ref: ObjectRef, patch: Any, *, patch_type: PatchType = "merge", subresource: str = ""
    ) -> JSON:
        return await self.client.patch(ref, patch, patch_type=patch_type)

    async def delete(
        self, ref: ObjectRef, *, propagation: str = "Background", uid: str = ""
    ) -> bool:
        return await self.client.delete(ref)


class _NoEvents:
    def record(self, obj: Mapping[str, Any], etype: str, reason: str, message: str) -> None:
        return None


def load_documents(text: str, source: str = "FILE") -> list[JSON]:
    try:
        docs = [d for d in boundedyaml.load_all(text) if d is not None]
    except yaml.YAMLError as exc:
        where, message = boundedyaml.describe(exc)
        raise ConfigError([Problem(f"{source}{where}", f"not valid YAML: {message}")]) from None
    out: list[JSON] = []
    for i, doc in enumerate(docs):
        listed = isinstance(doc, dict) and doc.get("kind") == "List"
        items = (doc.get("items") or []) if listed else [doc]
        for obj in items or ():
            if not isinstance(obj, dict) or not obj.get("kind") or not obj.get("apiVersion"):
                raise ConfigError(
                    [
                        Problem(
                            f"{source}[{i}]",
                            "every document must be an object with apiVersion and kind",
                        )
                    ]
                )
            meta = obj.setdefault("metadata", {})
            if not isinstance(meta, dict) or not meta.get("name"):
                raise ConfigError([Problem(f"{source}[{i}].metadata.name", "is required")])
            meta.setdefault("namespace", "default")
            out.append(obj)
    return out


def _released(obj: JSON) -> bool:
    meta = obj["metadata"]
    labels = meta.get("labels") or {}
    annotations = meta.get("annotations") or {}
    return obj.get("kind") == "Deployment" and (
        labels.get(ENABLED_LABEL) == "true" or any(k.startswith(PREFIX) for k in annotations)
    )


def stable_hash_of(template: Mapping[str, Any], new: str, given: str | None) -> str:
    if given:
        return given
    labels = ((template.get("metadata") or {}).get("labels")) or {}
    old = labels.get(HASH_LABEL)
    return old if old and old != new else "stable"


def render(
    text: str,
    *,
    step: int | None = None,
    weight: int | None = None,
    stable_hash: str | None = None,
    source: str = "FILE",
    api_versions: Sequence[str] = (),
) -> str:
    """``api_versions`` (``group/version``, as ``helm template --api-versions``) say what the
    cluster serves where a router writes the newest version it serves (SMI); so do the
    CustomResourceDefinitions in ``text``. Without either, the published CRD's is assumed."""
    objects = load_documents(text, source)
    for i, item in enumerate(api_versions):
        group, _, version = item.rpartition("/")
        if not group or not version:
            raise ConfigError(
                [Problem(f"--api-versions[{i}]", f"must be GROUP/VERSION, got {item!r}")]
            )
    deployments = [o for o in objects if _released(o)]
    if not deployments:
        argo = [m for m in (argo_message(o, source) for o in objects) if m]
        problem = "no Deployment with the canarist.io/enabled label or canarist annotations"
        raise ConfigError([Problem(source, argo[0] if argo else problem)])
    client = OfflineClient(objects, api_versions=api_versions)
    for d in deployments:
        asyncio.run(_render_one(client, d, step=step, weight=weight, stable_hash=stable_hash))
    return _dump(client.changed())


async def _render_one(
    client: OfflineClient,
    raw: JSON,
    *,
    step: int | None,
    weight: int | None,
    stable_hash: str | None,
) -> None:
    d = copy.deepcopy(raw)
    d["metadata"].setdefault("uid", f"<uid of Deployment {d['metadata']['name']}>")
    template = d.setdefault("spec", {}).setdefault("template", {})
    new = template_hash(template)
    stable = stable_hash_of(template, new, stable_hash)
    template.setdefault("metadata", {}).setdefault("labels", {})[HASH_LABEL] = new
    world = observe(d, services=[o for o in client.objects() if o["kind"] == "Service"])
    if world.spec is None:
        raise ConfigError([Problem(f"Deployment {d['metadata']['name']}", world.spec_error or "")])
    spec, view = world.spec, world.deployment
    index, w, routes = _state(spec, step, weight, view.name)
    ctx = Ctx(world, spec, datetime.now(UTC))
    count, stable_count = settled(ctx, index, view.replicas, weight)
    ops: list[Op] = []
    choice = find_stable(world, spec.stable_service, spec.canary_service)
    if choice.service is None and pins_services(spec):
        raise ConfigError([Problem(f"Deployment {view.name}", choice.problem)])
    if choice.service is not None:
        if pins_services(spec):
            patch = pin_patch(choice.service, Pin(HASH_LABEL, stable), view.name)
            if patch:
                ops.append(patch)
        if has_canary_service(spec):
            name = spec.canary_service_for(choice.service.name)
            ops.extend(canary_service_ops(world, choice.service, name, Pin(HASH_LABEL, new)))
    ops.append(CreateCanary(canary_body(view, count)))
    if spec.traffic_routed:
        ops.append(
            RouteTraffic(
                w,
                new,
                stable,
                tuple(r for _, r in routes.headers),
                tuple(r for _, r in routes.mirrors),
            )
        )
    paused = weight is None and index < len(spec.steps) and isinstance(spec.steps[index], Pause)
    books = Books()
    if stable_count != view.replicas:  # the user's count, kept while canarist lowers it
        books = Books(replicas=view.replicas, stable_replicas=stable_count)
    status = ReleaseStatus(
        phase=Phase.PAUSED if paused else Phase.PROGRESSING,
        step=index,
        steps=len(spec.steps),
        weight=w,
        stable_hash=stable,
        canary_hash=new,
        header_routes=routes.header_names,
        mirror=",".join(routes.mirror_names) or None,
    )
    replicas = stable_count if stable_count != view.replicas else None
    ops.append(PatchDeployment(paused=True, replicas=replicas, status=books.into(status)))
    await client.replace(_stamped(client, d))
    target = release_target(view, spec, choice)
    routers = build_routers(target, client)

    async def routers_for() -> Sequence[Any]:
        return routers

    executor = Executor(_Writer(client), _NoEvents())
    await executor.run(Plan(tuple(ops)), _fresh_view(client, view), routers_for)


def _stamped(client: OfflineClient, d: JSON) -> JSON:
    """The Deployment with the new hash stamped, as the admission webhook leaves it."""
    current = client.peek(
        ObjectRef("apps/v1", "Deployment", d["metadata"]["namespace"], d["metadata"]["name"])
    )
    assert current is not None
    current["spec"]["template"] = d["spec"]["template"]
    return current


def _fresh_view(client: OfflineClient, view: DeploymentView) -> DeploymentView:
    current = client.peek(ObjectRef("apps/v1", "Deployment", view.namespace, view.name))
    assert current is not None
    return DeploymentView.of(current)


def _state(
    spec: CanarySpec, step: int | None, weight: int | None, name: str
) -> tuple[int, int, Any]:
    n = len(spec.steps)
    if weight is not None:
        if not 0 <= weight <= 100:
            raise ConfigError([Problem("--weight", f"must be between 0 and 100, got {weight}")])
        return (step or 0), weight, routes_at((), 0)
    index = 0 if step is None else step
    if not 0 <= index < max(n, 1):
        raise ConfigError(
            [Problem("--step", f"Deployment {name} has steps 0..{n - 1}, got {index}")]
        )
    return index, weight_at(spec.steps, index), routes_at(spec.steps, index)


class _Dumper(yaml.SafeDumper):
    """Multi-line strings (the steps, a route table) as ``|`` blocks, as people write them."""


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value and not value.startswith(" ") else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def _dump(objects: list[JSON]) -> str:
    docs = []
    for obj in objects:
        meta = obj.get("metadata") or {}
        for key in SERVER_FIELDS:
            meta.pop(key, None)
        obj.pop("status", None)
        docs.append(
            yaml.dump(obj, Dumper=_Dumper, sort_keys=False, default_flow_style=False, width=100)
        )
    return "---\n".join(docs)
