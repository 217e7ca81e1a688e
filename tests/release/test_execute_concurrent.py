"""The reconciler's workers run plans of different Deployments at once on one ``Executor``: each
run's guarded writes carry the resourceVersion of its own Deployment. (They once shared it:
a run paused in a router write took another run's version, and every release adopted at once
with the ``proxy`` router conflicted for as long as the writes kept overlapping.)"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any

from webhook.errors import Conflict
from webhook.kube.protocol import ObjectRef
from webhook.release.execute import Executor
from webhook.release.model import DeploymentView
from webhook.release.ops import CreateService, Plan, WriteStatus
from webhook.routers.base import Router
from webhook.spec import Phase, ReleaseStatus

JSON = dict[str, Any]


class Server:
    """Deployments with their resourceVersions; a write with another version is a 409, as the
    API server answers a stale precondition. A create waits for ``release`` when asked to."""

    def __init__(self, versions: Mapping[str, str]) -> None:
        self.versions = dict(versions)
        self.next = 1000
        self.release = asyncio.Event()
        self.slow_creates: set[str] = set()
        self.statuses: dict[str, str] = {}

    async def create(self, obj: JSON) -> JSON:
        if obj["metadata"]["name"] in self.slow_creates:
            await self.release.wait()
        return obj

    async def patch(self, ref: ObjectRef, patch: Any, *, patch_type: str = "merge",
                    subresource: str = "") -> JSON:
        sent = patch["metadata"]["resourceVersion"]
        if sent != self.versions[ref.name]:
            raise Conflict(f"{ref.name}: sent {sent}, stored {self.versions[ref.name]}")
        self.next += 1
        self.versions[ref.name] = str(self.next)
        self.statuses[ref.name] = patch["metadata"]["annotations"]["canarist.io/status"]
        self.release.set()  # a run wrote its Deployment: let the paused one go on
        return {"metadata": {"name": ref.name, "resourceVersion": self.versions[ref.name]}}

    async def delete(self, ref: ObjectRef, *, propagation: str = "Background",
                     uid: str = "") -> bool:
        return True


class NoEvents:
    def record(self, obj: Mapping[str, Any], etype: str, reason: str, message: str) -> None:
        pass


async def no_routers() -> Sequence[Router]:
    return ()


def view(name: str, rv: str) -> DeploymentView:
    return DeploymentView.of({"metadata": {"name": name, "namespace": "shop", "uid": f"u-{name}",
                                           "resourceVersion": rv}, "spec": {}})


def adoption(name: str) -> Plan:
    service = {"apiVersion": "v1", "kind": "Service",
               "metadata": {"name": f"{name}-canary", "namespace": "shop"}}
    return Plan((CreateService(service), WriteStatus(ReleaseStatus(phase=Phase.HEALTHY))))


async def test_overlapping_runs_write_with_their_own_versions() -> None:
    server = Server({"web0": "201", "web1": "233"})
    server.slow_creates = {"web0-canary"}  # web0's run waits in its create while web1's runs
    executor = Executor(server, NoEvents())
    ran0, ran1 = await asyncio.wait_for(asyncio.gather(
        executor.run(adoption("web0"), view("web0", "201"), no_routers),
        executor.run(adoption("web1"), view("web1", "233"), no_routers),
    ), timeout=10)
    assert set(server.statuses) == {"web0", "web1"}
    assert ran0.wrote_deployment and ran0.superseded == ("201",)
    assert ran1.wrote_deployment and ran1.superseded == ("233",)
    assert executor.writes == 4
