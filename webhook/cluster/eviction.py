"""``POST pods/NAME/eviction``: a policy/v1 Eviction deletes a pod if its disruption budget
allows (pkg/registry/core/pod/storage/eviction.go).

A pod that is finished, pending or already being deleted is deleted at once. Otherwise the one
PodDisruptionBudget selecting it decides (two or more: 500): an unhealthy pod may go when the
budget is met (or its ``unhealthyPodEvictionPolicy`` is ``AlwaysAllow``); a healthy one takes a
disruption (``disruptionsAllowed`` minus one, the pod listed in ``disruptedPods``), or the
request is ``429 TooManyRequests`` — "Cannot evict pod as it would violate the pod's disruption
budget." — while none is left or the budget's status is older than its spec. The pod gets the
``DisruptionTarget`` condition, then a graceful delete with the Eviction's ``deleteOptions``.
The request goes through admission as CREATE of ``pods/eviction`` (kind policy/v1 Eviction).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from webhook.cluster import status as st
from webhook.cluster.admission.attributes import Attributes
from webhook.cluster.controllers import disruption as dis
from webhook.cluster.meta import clone, metadata, now
from webhook.errors import APIStatusError

if TYPE_CHECKING:
    from webhook.cluster.api import ClusterAPI
    from webhook.cluster.core import CreateRequest

PDBS = "poddisruptionbudgets.policy"
SERVER = "system:apiserver"
ATTEMPTS = 5
_KINDS = ("policy/v1", "policy/v1beta1")


def too_many_requests(cause: str) -> APIStatusError:
    return st.err(429, "TooManyRequests", dis.TOO_MANY,
                  {"causes": [{"reason": "DisruptionBudget", "message": cause}]})


def _options(eviction: Mapping[str, Any], dry_run: bool) -> dict[str, Any]:
    opts = eviction.get("deleteOptions")
    out = dict(opts) if isinstance(opts, Mapping) else {}
    if dry_run:
        out["dryRun"] = ["All"]
    return out


def _check(eviction: Any, name: str) -> Mapping[str, Any]:
    if not isinstance(eviction, Mapping):
        raise st.bad_request("the body of an eviction must be a policy/v1 Eviction object")
    if eviction.get("apiVersion") not in (None, "", *_KINDS) or eviction.get("kind") not in (
            None, "", "Eviction"):
        raise st.bad_request(f"the body of an eviction must be a policy/v1 Eviction object, "
                             f"not {eviction.get('apiVersion')}/{eviction.get('kind')}")
    given = metadata(eviction).get("name")
    if given and given != name:
        raise st.bad_request("name in URL does not match name in Eviction object")
    return eviction


async def evict(api: ClusterAPI, req: CreateRequest) -> dict[str, Any]:
    ns, name, warnings = req.namespace, req.name, req.warnings
    if not name:
        raise st.method_not_allowed("create", "Pod/eviction")
    eviction = _check(req.body, name)
    opts = _options(eviction, req.dry_run)
    dry = bool(opts.get("dryRun"))
    attrs = Attributes("CREATE", req.rt, "v1", "eviction", ns, name, None, req.user, dry,
                       {"kind": "CreateOptions", "apiVersion": "meta.k8s.io/v1"},
                       kind=("policy", "v1", "Eviction"))
    admitted = await api.admit_and_validate(attrs, clone(dict(eviction)), warnings)
    opts = _options(admitted or eviction, dry)
    pod = await api.get("pods", ns, name)
    if dis.can_ignore_budget(pod):
        rv_check = (pod.get("status") or {}).get("phase") not in ("Succeeded", "Failed") \
            and not metadata(pod).get("deletionTimestamp")
        await _condition_and_delete(api, ns, name, opts, pod if rv_check else None, dry)
        return _success()
    pdbs, _ = await api.list(PDBS, ns)
    verdict = dis.judge_eviction(pod, pdbs)
    if verdict.outcome == "multiple":
        raise APIStatusError(st.status_body(500, "", dis.MULTIPLE))
    if verdict.outcome in ("refuse", "forbid", "decrement"):
        await _take_disruption(api, ns, pod, verdict, dry)
    try:
        await _condition_and_delete(api, ns, name, opts, pod if verdict.check_version else None,
                                    dry)
    except APIStatusError as exc:
        given = (opts.get("preconditions") or {}).get("resourceVersion")
        if exc.status == 409 and verdict.check_version and not given and verdict.pdb:
            raise too_many_requests(f"The disruption budget {metadata(verdict.pdb)['name']} "
                                    "is still being processed by the server.") from exc
        raise
    return _success()


async def _take_disruption(api: ClusterAPI, ns: str, pod: Mapping[str, Any],
                           verdict: dis.Eviction, dry: bool) -> None:
    """``checkAndDecrement`` with retries on conflict, on a fresh budget each time."""
    pdb = verdict.pdb
    for attempt in range(ATTEMPTS):
        assert pdb is not None
        if attempt:
            pdb = await api.get(PDBS, ns, str(metadata(pdb)["name"]))
            verdict = dis.judge_eviction(pod, [pdb])
        if verdict.outcome == "refuse":
            raise too_many_requests(verdict.cause)
        if verdict.outcome == "forbid":
            pdb_rt = api.resolve(PDBS)[0]
            raise st.err(403, "Forbidden", f'poddisruptionbudget.policy "{metadata(pdb)["name"]}"'
                         f" is forbidden: {verdict.cause}",
                         {"name": metadata(pdb)["name"], "group": pdb_rt.group,
                          "kind": "poddisruptionbudget"})
        if verdict.outcome != "decrement" or dry:
            return
        body = dict(pdb, status=dis.decremented(pdb, str(metadata(pod)["name"]), time.time()))
        try:
            await api.update(PDBS, ns, body, subresource="status", user=SERVER)
            return
        except APIStatusError as exc:
            if exc.status != 409:
                raise
    raise st.timeout(f"couldn't update PodDisruptionBudget "
                     f"\"{metadata(verdict.pdb or {}).get('name', '')}\" due to conflicts", 10)


async def _condition_and_delete(api: ClusterAPI, ns: str, name: str, opts: dict[str, Any],
                                judged: Mapping[str, Any] | None, dry: bool) -> None:
    """``addConditionAndDeletePod``: DisruptionTarget on the pod, then the delete (only of the
    version judged, when ``judged`` is given)."""
    pre = dict(opts.get("preconditions") or {})
    if judged is not None and not pre.get("resourceVersion"):
        pre["resourceVersion"] = metadata(judged).get("resourceVersion")
    if not dry:
        current = await api.get("pods", ns, name)
        for key, field in (("uid", "UID"), ("resourceVersion", "ResourceVersion")):
            if pre.get(key) and pre[key] != metadata(current).get(key):
                rt = api.resolve("pods")[0]
                raise st.conflict(rt, name, f"Precondition failed: {field} in precondition: "
                                            f"{pre[key]}, {field} in object meta: "
                                            f"{metadata(current).get(key)}")
        status = dict(current.get("status") or {})
        conds = [c for c in status.get("conditions") or () if c.get("type") != "DisruptionTarget"]
        conds.append({"type": "DisruptionTarget", "status": "True", "lastProbeTime": None,
                      "lastTransitionTime": now(), "reason": "EvictionByEvictionAPI",
                      "message": "Eviction API: evicting"})
        updated = await api.update("pods", ns, dict(current, status=dict(status, conditions=conds)),
                                   subresource="status", user=SERVER)
        if pre.get("resourceVersion"):
            pre["resourceVersion"] = metadata(updated).get("resourceVersion")
    await api.delete("pods", ns, name, grace_period_seconds=opts.get("gracePeriodSeconds"),
                     propagation_policy=opts.get("propagationPolicy"),
                     preconditions=pre or None, dry_run=dry, user=SERVER, admit=False)


def _success() -> dict[str, Any]:
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
            "code": 201}
