"""The embedded cluster's API: the one code path for every verb.

The HTTPS server (``webhook.cluster.http``) and the in-process components (controllers, kubelet,
garbage collector) all call ``ClusterAPI``; nothing in-process goes through HTTP.

Interface (all objects in and out are plain JSON dicts, deep-copied at this boundary)::

    api = ClusterAPI()
    await api.get(resource, namespace, name, subresource=None)            -> dict
    await api.list(resource, namespace=None, label_selector=None,
                   field_selector=None)                           -> (items, resourceVersion)
    await api.create(resource, namespace, obj, dry_run=False, user=...)   -> dict
    await api.update(resource, namespace, obj, subresource=None, ...)     -> dict (409 if stale)
    await api.patch(resource, namespace, name, patch, patch_type,
                    subresource=None, ...)                                 -> dict
    await api.delete(resource, namespace, name, propagation_policy=None,
                     grace_period_seconds=None, preconditions=None, ...)   -> object or Status
    await api.delete_collection(resource, namespace, label_selector=...)  -> dict (a List)
    api.watch(resource, namespace=None, resource_version=None, label_selector=None,
              field_selector=None, allow_bookmarks=False, timeout_seconds=None)
                                                      -> AsyncIterator[{"type", "object"}]

``resource`` is ``plural`` for the core group, ``plural.group`` otherwise (``pods``,
``deployments.apps``, ``endpointslices.discovery.k8s.io``). ``namespace`` is None (or "") for
cluster-scoped resources. ``patch_type`` is ``json``, ``merge``, ``strategic`` or ``apply``
(server-side apply: ``manager=`` required, ``force=``; see ``webhook.cluster.apply``), or the
matching Content-Type. Every method also takes ``version=`` (default: the preferred version)
and the write verbs ``warnings=`` (a list that admission webhook warnings are appended to).

Errors raise ``webhook.errors.APIStatusError``; ``err.status`` is the HTTP code and
``err.body`` the full metav1 Status (reason, message, details.causes) as kube-apiserver sends.

Semantics worth knowing for in-process callers, all as upstream:
- every write, status and scale included, gets a new global resourceVersion; a write that
  changes nothing keeps the old one and emits no event;
- a main-resource write ignores ``status``; write status with ``subresource="status"``;
- deleting a pod bound to a node (``spec.nodeName`` set) is graceful: it gets a
  deletionTimestamp ``terminationGracePeriodSeconds`` ahead and stays until deleted again with
  ``grace_period_seconds=0`` (the kubelet's job); an unbound pod goes at once;
- ``spec.nodeName`` of a pod cannot be changed by update (as upstream); bind a pod to a node
  with ``create("pods", ns, {"target": {"kind": "Node", "name": n}}, subresource="binding",
  name=pod)`` (the scheduler's pods/binding);
- pods created by a ReplicaSet go through the admission chain like any create; pass
  ``user="system:serviceaccount:kube-system:replicaset-controller"`` (a name, or a
  ``webhook.cluster.auth.user.UserInfo``). Calls naming their user with a string are never
  authorized (a UserInfo, as the HTTP layer passes, gets RBAC's escalation checks);
- a ServiceAccount token (TokenRequest) is ``create("serviceaccounts", ns, token_request,
  subresource="token", name=sa)`` (``webhook.cluster.auth.tokenrequest``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from webhook.cluster import status as st
from webhook.cluster.admission.attributes import ADMIN, Attributes
from webhook.cluster.apply.fields import list_kinds
from webhook.cluster.apply.managed import DEFAULT_MANAGER, track_update
from webhook.cluster.apply.verb import server_side_apply
from webhook.cluster.auth.user import UserInfo, as_user
from webhook.cluster.core import SYSTEM_NAMESPACES, APICore, CreateRequest, WriteHook
from webhook.cluster.deletion import POLICIES, DeleteVerbs
from webhook.cluster.kinds.common import invalid, required
from webhook.cluster.meta import clone, generated_name, metadata, new_uid, now
from webhook.cluster.patching import apply_patch, normalise_patch_type
from webhook.cluster.resources import ResourceType
from webhook.cluster.scale import scale_of, scale_onto

# Writes that went through admission (an await) find the stored object changed meanwhile this
# many times before they give up with a conflict; upstream's GuaranteedUpdate retries likewise.
_WRITE_ATTEMPTS = 5


class _ChangedMeanwhile(Exception):
    """The object changed while the write waited for its admission webhooks."""


_SYSTEM_FIELDS = ("uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds")
Warnings = list[str]

__all__ = ["POLICIES", "SYSTEM_NAMESPACES", "APICore", "ClusterAPI", "WriteHook"]


class ClusterAPI(DeleteVerbs):
    ChangedMeanwhile = _ChangedMeanwhile

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.creators[("pods", "eviction")] = self._evict

    async def _evict(self, req: CreateRequest) -> dict[str, Any]:
        """``pods/NAME/eviction`` (imported when first used: it shares the disruption
        controller's decisions, and ``canarist up --without controllers`` need not load them)."""
        from webhook.cluster.eviction import evict

        return await evict(self, req)

    async def create(
        self,
        resource: str,
        namespace: str | None,
        obj: Mapping[str, Any],
        *,
        dry_run: bool = False,
        user: str | UserInfo = ADMIN,
        version: str | None = None,
        warnings: Warnings | None = None,
        field_validation: str | None = None,
        subresource: str | None = None,
        name: str | None = None,
        applied: bool = False,
    ) -> dict[str, Any]:
        rt, version = self.resolve(resource, version)
        ns = self._scope(rt, namespace)
        creator = self.creators.get((rt.key, subresource or ""))
        if creator is not None:
            return await creator(CreateRequest(rt, version, ns, name or "", obj, as_user(user),
                                               dry_run, warnings))
        if subresource:
            if rt.key == "pods" and subresource == "binding" and name:
                return await self._bind(ns, name, obj, dry_run)
            raise st.method_not_allowed("create", f"{rt.kind}/{subresource}")
        self._check_writer(rt, as_user(user).name, "create")
        strat = self.strategy(rt)
        new = self._decode(rt, version, obj, ns, None, field_validation, warnings)
        md = new["metadata"]
        if md.get("resourceVersion"):
            raise st.bad_request("resourceVersion should not be set on objects to be created")
        strat.default(new)
        self._namespace_active(rt, ns)
        attrs = Attributes("CREATE", rt, version, "", ns, str(md.get("name") or ""), None,
                           as_user(user), dry_run,
                           {"kind": "CreateOptions", "apiVersion": "meta.k8s.io/v1"})
        admitted = await self._admit(attrs, new, warnings)
        assert admitted is not None
        if admitted is not new:
            strat.default(admitted)  # defaulting runs again after a webhook's patch
        new = admitted
        md = metadata(new)
        if not applied:  # only server-side apply starts a managedFields record
            md.pop("managedFields", None)
        for f in (*_SYSTEM_FIELDS, "selfLink", "resourceVersion"):
            md.pop(f, None)
        if not md.get("name") and md.get("generateName"):
            md["name"] = generated_name(str(md["generateName"]))
        md["uid"], md["creationTimestamp"] = new_uid(), now()
        if strat.uses_generation():
            md["generation"] = 1
        else:
            md.pop("generation", None)
        strat.prepare_create(new)  # after the system fields: a Job's selector needs its uid
        name = str(md.get("name") or "")
        if isinstance(user, UserInfo):  # a requester; names are in-process, never checked
            self.check_write(rt, ns, "", new, None, user)
        causes = strat.validate(new)
        if causes:
            raise st.invalid(rt, name, causes)
        await self._validate_admission(attrs, new, warnings)
        if self.stored(rt, ns, name) is not None:
            raise st.already_exists(rt, name)
        if dry_run:
            return self._out(rt, new, version)
        return self._out(rt, self._commit(rt, new).obj, version)

    async def _bind(
        self, ns: str, name: str, binding: Mapping[str, Any], dry_run: bool
    ) -> dict[str, Any]:
        """POST pods/NAME/binding: the scheduler's way of setting spec.nodeName."""
        rt = self.resolve("pods")[0]
        pod = self._existing(rt, ns, name)
        node = (binding.get("target") or {}).get("name") if isinstance(binding, Mapping) else None
        if not node:
            raise st.bad_request("a binding needs target.name (the node)")
        current = (pod.get("spec") or {}).get("nodeName")
        if current:
            raise st.conflict(rt, name, f"pod {name} is already assigned to node \"{current}\"")
        if metadata(pod).get("deletionTimestamp"):
            raise st.conflict(rt, name, f"pod {name} is being deleted, cannot be assigned to a "
                                        "host")
        new = clone(pod)
        new["spec"]["nodeName"] = node
        conds = new.setdefault("status", {}).setdefault("conditions", [])
        conds[:] = [c for c in conds if c.get("type") != "PodScheduled"]
        conds.append({"type": "PodScheduled", "status": "True", "lastProbeTime": None,
                      "lastTransitionTime": now()})
        if not dry_run:
            self._commit(rt, new)
        return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                "code": 201}

    # --- update and patch -------------------------------------------------------------------

    async def update(
        self,
        resource: str,
        namespace: str | None,
        obj: Mapping[str, Any],
        *,
        subresource: str | None = None,
        dry_run: bool = False,
        user: str | UserInfo = ADMIN,
        version: str | None = None,
        warnings: Warnings | None = None,
        name: str | None = None,
        field_validation: str | None = None,
        manager: str | None = None,
    ) -> dict[str, Any]:
        rt, version = self.resolve(resource, version)
        ns = self._scope(rt, namespace)
        self._check_sub(rt, subresource)
        if name is None:
            name = str(metadata(obj).get("name") or "") if isinstance(obj, Mapping) else ""
        if subresource == "scale":
            return await self._write_scale(rt, version, ns, name, obj, True, dry_run, user,
                                           warnings, manager)
        conditional = isinstance(obj, Mapping) and bool(metadata(obj).get("resourceVersion"))
        for _ in range(_WRITE_ATTEMPTS):
            new = self._decode(rt, version, obj, ns, name, field_validation, warnings)
            try:
                return await self._write_update(rt, version, ns, name, new, subresource or "",
                                                True, dry_run, user, warnings, manager=manager)
            except _ChangedMeanwhile:
                if conditional:  # the client's resourceVersion no longer matches
                    break
        raise st.conflict(rt, name)

    async def patch(
        self,
        resource: str,
        namespace: str | None,
        name: str,
        patch: Any,
        patch_type: str,
        *,
        subresource: str | None = None,
        dry_run: bool = False,
        user: str | UserInfo = ADMIN,
        version: str | None = None,
        warnings: Warnings | None = None,
        field_validation: str | None = None,
        manager: str | None = None,
        force: bool = False,
    ) -> dict[str, Any]:
        rt, version = self.resolve(resource, version)
        ns = self._scope(rt, namespace)
        self._check_sub(rt, subresource)
        if normalise_patch_type(patch_type) == "apply":
            obj, _ = await self.apply(resource, ns, name, patch, manager=manager, force=force,
                                      dry_run=dry_run, user=user, version=version,
                                      warnings=warnings, field_validation=field_validation,
                                      subresource=subresource)
            return obj
        old = self._existing(rt, ns, name)
        if subresource == "scale":
            patched_scale = apply_patch(scale_of(rt, old), patch, patch_type, None)
            return await self._write_scale(rt, version, ns, name, patched_scale, False, dry_run,
                                           user, warnings, manager)
        for _ in range(_WRITE_ATTEMPTS):
            # applied to the current object each time; a resourceVersion the patch itself
            # carries stays a precondition and fails once the object moved on
            base = self._out(rt, old, version)
            patched = apply_patch(base, patch, patch_type, rt)
            new = self._decode(rt, version, patched, ns, name, field_validation, warnings)
            new_md, old_md = metadata(new), metadata(old)
            if new_md.get("uid") not in (None, old_md.get("uid")):
                raise st.invalid(rt, name, [invalid("metadata.uid", new_md.get("uid"),
                                                    "field is immutable")])
            try:
                return await self._write_update(rt, version, ns, name, new, subresource or "",
                                                False, dry_run, user, warnings, manager=manager)
            except _ChangedMeanwhile:
                old = self._existing(rt, ns, name)
        raise st.conflict(rt, name)

    async def apply(self, resource: str, namespace: str | None, name: str, config: Any, *,
                    manager: str | None, force: bool = False, dry_run: bool = False,
                    user: str | UserInfo = ADMIN, version: str | None = None,
                    warnings: Warnings | None = None, field_validation: str | None = None,
                    subresource: str | None = None) -> tuple[dict[str, Any], bool]:
        """Server-side apply of ``config`` by ``manager``: (the object, whether it was created)."""
        rt, version = self.resolve(resource, version)
        return await server_side_apply(
            self, rt, version, self._scope(rt, namespace), name, config, manager=manager,
            force=force, dry_run=dry_run, user=user, warnings=warnings,
            field_validation=field_validation, subresource=subresource)

    async def _write_update(
        self,
        rt: ResourceType,
        version: str,
        ns: str,
        name: str,
        new: dict[str, Any],
        sub: str,
        is_put: bool,
        dry_run: bool,
        user: str | UserInfo,
        warnings: Warnings | None,
        *,
        manager: str | None = None,
        applied: bool = False,
    ) -> dict[str, Any]:
        self._check_writer(rt, as_user(user).name, "update")
        strat = self.strategy(rt)
        old = self._existing(rt, ns, name)
        md, old_md = metadata(new), metadata(old)
        rv = md.get("resourceVersion")
        if rv:
            if str(rv) != old_md.get("resourceVersion"):
                raise st.conflict(rt, name)
        elif is_put and not strat.unconditional_update:
            raise st.invalid(rt, name, [invalid("metadata.resourceVersion", 0,
                                                "must be specified for an update")])
        if md.get("uid") and md["uid"] != old_md.get("uid"):
            raise st.conflict(rt, name, f"Precondition failed: UID in precondition: "
                                        f"{md['uid']}, UID in object meta: {old_md.get('uid')}")
        strat.default(new)
        if sub == "status":
            strat.prepare_status_update(new, old)
        else:
            strat.prepare_update(new, old)
        _keep_system_fields(new, old)
        attrs = Attributes("UPDATE", rt, version, sub, ns, name, old, as_user(user), dry_run,
                           {"kind": "UpdateOptions", "apiVersion": "meta.k8s.io/v1"})
        admitted = await self._admit(attrs, new, warnings)
        assert admitted is not None
        if metadata(self._existing(rt, ns, name)).get("resourceVersion") != old_md.get(
                "resourceVersion"):
            raise _ChangedMeanwhile()  # checked before the await: check again before writing
        if admitted is not new:
            strat.default(admitted)
        new = admitted
        if sub == "status":
            strat.prepare_status_update(new, old)
        _keep_system_fields(new, old)
        md = metadata(new)
        if sub:  # subresource writes leave the record as it was
            md["managedFields"] = clone(old_md.get("managedFields"))
            if md["managedFields"] is None:
                del md["managedFields"]
        elif not applied:
            track_update(old, new, manager or DEFAULT_MANAGER, list_kinds(rt, version),
                         rt.api_version(version), now())
        md["resourceVersion"] = old_md.get("resourceVersion")
        if strat.uses_generation():
            gen = int(old_md.get("generation") or 1)
            md["generation"] = gen + 1 if (not sub and strat.generation_changed(new, old)) else gen
        if not sub and isinstance(user, UserInfo):
            self.check_write(rt, ns, name, new, old, user)
        causes = (strat.validate_status_update(new, old) if sub == "status"
                  else strat.validate_update(new, old))
        if causes:
            raise st.invalid(rt, name, causes)
        await self._validate_admission(attrs, new, warnings)
        if metadata(self._existing(rt, ns, name)).get("resourceVersion") != old_md.get(
                "resourceVersion"):
            raise _ChangedMeanwhile()  # a validating webhook took its time
        if new == old:
            return self._out(rt, old, version)
        if dry_run:
            return self._out(rt, new, version)
        if md.get("deletionTimestamp") and not md.get("finalizers") and (
            old_md.get("finalizers") and not _grace_pending(old_md)
        ):
            ev = self.commit_removal(rt, ns, name)
            assert ev is not None
            return self._out(rt, ev.obj, version)
        return self._out(rt, self._commit(rt, new).obj, version)

    async def _write_scale(
        self,
        rt: ResourceType,
        version: str,
        ns: str,
        name: str,
        scale: Any,
        is_put: bool,
        dry_run: bool,
        user: str | UserInfo,
        warnings: Warnings | None,
        manager: str | None = None,
    ) -> dict[str, Any]:
        old = self._existing(rt, ns, name)
        if not isinstance(scale, Mapping):
            raise st.bad_request("the body of the request must be a JSON object")
        rv = metadata(scale).get("resourceVersion")
        if rv and str(rv) != metadata(old).get("resourceVersion"):
            raise st.conflict(rt, name)
        replicas = (scale.get("spec") or {}).get("replicas")
        if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 0:
            scale_rt = ResourceType("autoscaling", "Scale", "scale", True, ("v1",))
            raise st.invalid(scale_rt, name, [
                invalid("spec.replicas", replicas, "must be greater than or equal to 0")
                if isinstance(replicas, int) else required("spec.replicas")
            ])
        attrs = Attributes("UPDATE", rt, version, "scale", ns, name, scale_of(rt, old),
                           as_user(user), dry_run,
                           {"kind": "UpdateOptions", "apiVersion": "meta.k8s.io/v1"},
                           kind=("autoscaling", "v1", "Scale"))
        admitted = await self._admit(attrs, clone(dict(scale)), warnings)
        assert admitted is not None
        await self._validate_admission(attrs, admitted, warnings)
        for _ in range(_WRITE_ATTEMPTS):
            # onto the object as it is now: it may have changed during the admission above
            current = self._existing(rt, ns, name)
            if rv and str(rv) != metadata(current).get("resourceVersion"):
                break
            parent = scale_onto(rt, clone(current), admitted)
            metadata(parent).pop("resourceVersion", None)
            try:
                await self._write_update(rt, version, ns, name, parent, "", False, dry_run, user,
                                         None, manager=manager)
            except _ChangedMeanwhile:
                continue
            return (scale_of(rt, self._existing(rt, ns, name)) if not dry_run
                    else scale_of(rt, parent))
        raise st.conflict(rt, name)

    # --- delete -----------------------------------------------------------------------------


def _keep_system_fields(new: dict[str, Any], old: dict[str, Any]) -> None:
    md, old_md = metadata(new), metadata(old)
    for f in (*_SYSTEM_FIELDS, "generation"):
        if f in old_md:
            md[f] = old_md[f]
        else:
            md.pop(f, None)
    md.pop("selfLink", None)


def _grace_pending(md: Mapping[str, Any]) -> bool:
    return bool(md.get("deletionGracePeriodSeconds"))
