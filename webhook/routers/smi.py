"""``smi``: an SMI ``TrafficSplit`` canarist creates and owns, in the newest version of
``split.smi-spec.io`` the cluster's CRD serves among v1alpha1–v1alpha4 (discovery; Linkerd's SMI
extension serves v1alpha1 and v1alpha2, the published CRD v1alpha4).

Shape (Argo Rollouts' order: canary first, then stable; weights summing to 100)::

    spec:
      service: <root Service>            # canarist.io/smi-root-service; default the stable one
      backends:
      - {service: <canary Service>, weight: W}
      - {service: <stable Service>, weight: 100 - W}

Each version's exact shape (the SMI specification, ``apis/traffic-split/<version>/``): in
v1alpha1 a weight is a Kubernetes quantity ("Identical to resources, 1 = 1000m"), written as a
string (``"20"``) as a Go ``resource.Quantity`` serialises; from v1alpha2 on "Weights must be
whole numbers"; ``spec.matches`` (HTTPRouteGroups) exists from v1alpha3 on and is dropped below.

Named by ``canarist.io/traffic-split`` (default: the Deployment's name). A TrafficSplit of that
name that canarist does not own for this Deployment is never touched. Weight only.
"""

from __future__ import annotations

from webhook.errors import RouterError
from webhook.kube.protocol import JSON, ObjectRef
from webhook.routers.adapter import RouterAdapter
from webhook.routers.base import Owner, ReleaseTarget
from webhook.routers.matching import split_pair
from webhook.routers.objects import Record, new_object, owned_by, store_record
from webhook.spec import CAPABILITIES
from webhook.spec.names import TRAFFIC_SPLIT

GROUP = "split.smi-spec.io"
KIND = "TrafficSplit"
VERSIONS = ("v1alpha4", "v1alpha3", "v1alpha2", "v1alpha1")  # newest first
ASSUMED = "v1alpha4"  # the published CRD's, when nothing says what the cluster serves
capabilities = CAPABILITIES["smi"]


def choose_version(served: tuple[str, ...] | None) -> str:
    """The newest version canarist writes that ``served`` lists (``None``: unknown, offline)."""
    if served is None:
        return ASSUMED
    for version in VERSIONS:
        if version in served:
            return version
    if not served:
        raise RouterError(
            f"the API server does not serve {GROUP}: install the TrafficSplit "
            "CustomResourceDefinition (with Linkerd: its SMI extension, linkerd-smi)"
        )
    raise RouterError(
        f"the API server serves {GROUP} in {', '.join(served)} only; canarist writes "
        f"TrafficSplit in {', '.join(reversed(VERSIONS))}"
    )


def split_name(target: ReleaseTarget) -> str:
    return target.spec.options.traffic_split or target.owner.name


def root_service(target: ReleaseTarget) -> str:
    return target.spec.options.smi_root_service or target.stable_service


def check_owner(current: JSON, owner: Owner) -> None:
    if not owned_by(current, owner):
        name = current.get("metadata", {}).get("name")
        raise RouterError(
            f"{KIND} {current.get('metadata', {}).get('namespace')}/{name} exists and is not "
            f"owned by Deployment {owner.name!r}; name another one in {TRAFFIC_SPLIT} or delete it"
        )


def backend_weight(version: str, weight: int) -> int | str:
    """A weight in ``version``'s type: a quantity string in v1alpha1, else a whole number."""
    return str(weight) if version == "v1alpha1" else weight


def desired_split(
    current: JSON | None, target: ReleaseTarget, weight: int, version: str = ASSUMED
) -> JSON:
    """The TrafficSplit (in ``version``) carrying ``weight`` percent to the canary."""
    owner = target.owner
    api_version = f"{GROUP}/{version}"
    if current is None:
        obj = new_object(api_version, KIND, target.namespace, split_name(target), owner)
    else:
        check_owner(current, owner)
        obj = current
        obj["apiVersion"] = api_version
    stable_weight, canary_weight = split_pair(100, weight)
    spec = dict(obj.get("spec") or {})
    if version in ("v1alpha1", "v1alpha2"):
        spec.pop("matches", None)
    spec["service"] = root_service(target)
    spec["backends"] = [
        {"service": target.canary_service, "weight": backend_weight(version, canary_weight)},
        {"service": target.stable_service, "weight": backend_weight(version, stable_weight)},
    ]
    obj["spec"] = spec
    return store_record(obj, owner.name, Record())


class SMIRouter(RouterAdapter):
    name = "smi"
    capabilities = capabilities

    async def _version(self) -> str:
        return choose_version(await self.client.served_versions(GROUP))

    def _ref(self, version: str) -> ObjectRef:
        return self.ref(f"{GROUP}/{version}", KIND, split_name(self.target))

    async def set_weight(self, weight: int) -> None:
        version = await self._version()
        await self.sync(
            self._ref(version), lambda cur: desired_split(cur, self.target, weight, version)
        )

    async def cleanup(self) -> None:
        served = await self.client.served_versions(GROUP)
        if served is not None and not set(served) & set(VERSIONS):
            return  # nothing canarist could have written is served

        def compute(cur: JSON | None) -> JSON | None:
            return cur if cur is not None and not owned_by(cur, self.target.owner) else None

        await self.sync(self._ref(choose_version(served)), compute)
