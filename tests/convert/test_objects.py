"""The objects around a Rollout: which of them Argo's leftovers are taken out of."""

from __future__ import annotations

from typing import Any

import pytest

from .helpers import changed, rollout, run

SVC = {"canaryService": "web-canary", "stableService": "web"}
ROUTES = [{"name": "hdr", "route": [{"destination": {"host": "web-canary"}}]},
          {"name": "primary", "route": [{"destination": {"host": "web"}}]}]


def virtual_service(namespace: str | None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": "vs"}
    if namespace is not None:
        meta["namespace"] = namespace
    return {"apiVersion": "networking.istio.io/v1", "kind": "VirtualService", "metadata": meta,
            "spec": {"hosts": ["web"], "http": ROUTES}}


@pytest.mark.parametrize(
    ("ref", "rollout_ns", "vs_ns", "cleaned"),
    [
        ("vs", "shop", "shop", True),
        ("vs.mesh", "shop", "mesh", True),  # Argo's name.namespace: another namespace
        ("vs.mesh", "shop", "shop", False),  # a VirtualService of that name, not the one named
        ("vs", "shop", "mesh", False),  # "vs" is the Rollout's namespace's
        ("vs.mesh", None, "mesh", True),
        ("vs.mesh", "shop", None, True),  # applied wherever kubectl puts it: taken as named
        ("vs", None, "mesh", True),  # so is a Rollout without a namespace
        ("other.mesh", "shop", "mesh", False),
    ],
)
def test_managed_routes_are_taken_out_of_the_virtual_service_the_rollout_names(
        ref: str, rollout_ns: str | None, vs_ns: str | None, cleaned: bool) -> None:
    canary = {**SVC, "trafficRouting": {"managedRoutes": [{"name": "hdr"}],
                                        "istio": {"virtualService": {"name": ref}}}}
    conv = run(virtual_service(vs_ns), rollout(canary, namespace=rollout_ns))
    vs_out, deployment = conv.objects
    assert deployment["kind"] == "Deployment"
    names = [r["name"] for r in vs_out["spec"]["http"]]
    assert names == (["primary"] if cleaned else ["hdr", "primary"])
    taken = [line for line in changed(conv) if "route 'hdr' left by Argo Rollouts" in line]
    assert len(taken) == (1 if cleaned else 0)
    assert conv.complete


def test_a_virtual_service_named_by_two_rollouts_loses_the_routes_of_both() -> None:
    def argo(name: str, route: str, ref: str) -> dict[str, Any]:
        return rollout({"canaryService": f"{name}-canary", "stableService": name,
                        "trafficRouting": {"managedRoutes": [{"name": route}],
                                           "istio": {"virtualService": {"name": ref}}}},
                       name=name)

    vs = virtual_service("mesh")
    vs["spec"]["http"] = [{"name": "a-hdr"}, {"name": "b-hdr"}, *ROUTES]
    conv = run(vs, argo("a", "a-hdr", "vs.mesh"), argo("b", "b-hdr", "vs.mesh"))
    assert [r["name"] for r in conv.objects[0]["spec"]["http"]] == ["hdr", "primary"]
