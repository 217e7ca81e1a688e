"""``smi``: an SMI ``TrafficSplit`` (``split.smi-spec.io/v1alpha4``) canarist creates and owns.

Shape (Argo Rollouts' order: canary first, then stable; integer weights summing to 100)::

    spec:
      service: <stable Service>          # the root Service clients call
      backends:
      - {service: <canary Service>, weight: W}
      - {service: <stable Service>, weight: 100 - W}

Named by ``canarist.io/traffic-split`` (default: the Deployment's name). A TrafficSplit of that
name that canarist does not own for this Deployment is never touched. Weight only.
"""

from __future__ import annotations

from webhook.errors import RouterError
from webhook.kube.protocol import JSON
from webhook.routers.adapter import RouterAdapter
from webhook.routers.base import Owner, ReleaseTarget
from webhook.routers.matching import split_pair
from webhook.routers.objects import Record, new_object, owned_by, store_record
from webhook.spec import CAPABILITIES
from webhook.spec.names import TRAFFIC_SPLIT

API_VERSION = "split.smi-spec.io/v1alpha4"
KIND = "TrafficSplit"
capabilities = CAPABILITIES["smi"]


def split_name(target: ReleaseTarget) -> str:
    return target.spec.options.traffic_split or target.owner.name


def check_owner(current: JSON, owner: Owner) -> None:
    if not owned_by(current, owner):
        name = current.get("metadata", {}).get("name")
        raise RouterError(
            f"{KIND} {current.get('metadata', {}).get('namespace')}/{name} exists and is not "
            f"owned by Deployment {owner.name!r}; name another one in {TRAFFIC_SPLIT} or delete it"
        )


def desired_split(current: JSON | None, target: ReleaseTarget, weight: int) -> JSON:
    """The TrafficSplit carrying ``weight`` percent to the canary."""
    owner = target.owner
    if current is None:
        obj = new_object(API_VERSION, KIND, target.namespace, split_name(target), owner)
    else:
        check_owner(current, owner)
        obj = current
    stable_weight, canary_weight = split_pair(100, weight)
    spec = dict(obj.get("spec") or {})
    spec["service"] = target.stable_service
    spec["backends"] = [
        {"service": target.canary_service, "weight": canary_weight},
        {"service": target.stable_service, "weight": stable_weight},
    ]
    obj["spec"] = spec
    return store_record(obj, owner.name, Record())


class SMIRouter(RouterAdapter):
    name = "smi"
    capabilities = capabilities

    async def set_weight(self, weight: int) -> None:
        await self.sync(
            self.ref(API_VERSION, KIND, split_name(self.target)),
            lambda cur: desired_split(cur, self.target, weight),
        )

    async def cleanup(self) -> None:
        def compute(cur: JSON | None) -> JSON | None:
            return cur if cur is not None and not owned_by(cur, self.target.owner) else None

        await self.sync(self.ref(API_VERSION, KIND, split_name(self.target)), compute)
