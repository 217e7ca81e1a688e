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
cluster-scoped resources. ``patch_type`` is ``json``, ``merge`` or ``strategic`` (or the
matching Content-Type). Every method also takes ``version=`` (default: the preferred version)
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
  ``user="system:serviceaccount:kube-system:replicaset-controller"``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any, Protocol

from webhook.cluster import status as st
from webhook.cluster.admission.attributes import ADMIN, Admission, Attributes
from webhook.cluster.kinds import strategy_for
from webhook.cluster.kinds.base import Strategy
from webhook.cluster.kinds.common import invalid, required
from webhook.cluster.meta import at, clone, generated_name, metadata, new_uid, now
from webhook.cluster.patching import apply_patch
from webhook.cluster.resources import ResourceRegistry, ResourceType
from webhook.cluster.scale import scale_of, scale_onto
from webhook.cluster.selectors import SelectorError, parse_field_selector, parse_label_selector
from webhook.cluster.store import Event, Store
from webhook.cluster.watch import WatchFilter, WatchRequest, stream
from webhook.errors import APIStatusError

SYSTEM_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
_SYSTEM_FIELDS = ("uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds")
POLICIES = ("Orphan", "Background", "Foreground")
Warnings = list[str]  # aliases: inside the class, ``list`` names the method
Items = list[dict[str, Any]]


class ClusterAPI:
    def __init__(
        self,
        *,
        history_size: int = 50_000,
        bookmark_interval: float = 10.0,
        admission: Admission | None = None,
    ) -> None:
        self.store = Store(history_size)
        self.registry = ResourceRegistry()
        self.admission = admission
        self.bookmark_interval = bookmark_interval
        self._strategies: dict[str, Strategy] = {}
        self._hooks: list[WriteHook] = []
        from webhook.cluster.crds import CRDHook

        self.add_hook(CRDHook(self))
        for ns in SYSTEM_NAMESPACES:
            self._seed_namespace(ns)

    # --- plumbing ---------------------------------------------------------------------------

    def add_hook(self, hook: WriteHook) -> None:
        """Register a hook that sees every committed write (CRD registry, caches)."""
        self._hooks.append(hook)

    def resolve(self, resource: str, version: str | None = None) -> tuple[ResourceType, str]:
        rt = self.registry.get(resource)
        if rt is None or (version is not None and version not in rt.versions):
            raise st.err(404, "NotFound", "the server could not find the requested resource")
        return rt, version or rt.version

    def strategy(self, rt: ResourceType) -> Strategy:
        s = self._strategies.get(rt.key)
        if s is None or s.rt is not rt:
            s = strategy_for(rt)
            self._strategies[rt.key] = s
        return s

    def _scope(self, rt: ResourceType, namespace: str | None, *, listing: bool = False) -> str:
        ns = namespace or ""
        if rt.namespaced and not ns and not listing:
            raise st.bad_request(f"the namespace of the object is required for {rt.qualified()}")
        if not rt.namespaced and ns:
            raise st.err(404, "NotFound", "the server could not find the requested resource")
        return ns

    def _out(self, rt: ResourceType, obj: Mapping[str, Any], version: str) -> dict[str, Any]:
        out: dict[str, Any] = clone(obj)
        if version != rt.version:
            out["apiVersion"] = rt.api_version(version)
        return out

    def _existing(self, rt: ResourceType, ns: str, name: str) -> dict[str, Any]:
        obj = self.store.get(rt.key, ns, name)
        if obj is None:
            raise st.not_found(rt, name)
        return obj

    def _decode(
        self,
        rt: ResourceType,
        version: str,
        obj: Mapping[str, Any],
        ns: str,
        name: str | None,
        field_validation: str | None = None,
        warnings: Warnings | None = None,
    ) -> dict[str, Any]:
        if not isinstance(obj, Mapping):
            raise st.bad_request("the body of the request must be a JSON object")
        new: dict[str, Any] = clone(dict(obj))
        want = rt.api_version(version)
        if new.get("apiVersion") not in (None, "", want):
            raise st.bad_request(
                f"the API version in the data ({new['apiVersion']}) does not match the "
                f"expected API version ({want})"
            )
        if new.get("kind") not in (None, "", rt.kind):
            raise st.bad_request(
                f"the kind in the data ({new['kind']}) does not match the expected kind ({rt.kind})"
            )
        new = {"apiVersion": rt.api_version(), "kind": rt.kind,
               **{k: v for k, v in new.items() if k not in ("apiVersion", "kind")}}
        md = new.get("metadata")
        if md is None:
            md = new["metadata"] = {}
        if not isinstance(md, dict):
            raise st.bad_request("metadata must be an object")
        if rt.namespaced:
            if md.get("namespace") not in (None, "", ns):
                raise st.bad_request(
                    "the namespace of the provided object does not match the namespace sent "
                    "on the request"
                )
            md["namespace"] = ns
        if name is not None and md.get("name") not in (None, "", name):
            raise st.bad_request(
                f"the name of the object ({md['name']}) does not match the name on the URL ({name})"
            )
        if name is not None:
            md["name"] = name
        report = self.strategy(rt).decode(new)
        what = f"{rt.kind} in version \"{version}\" cannot be handled as a {rt.kind}"
        if report.type_errors:
            raise st.bad_request(f"{what}: {report.type_errors[0]}")
        if report.unknown:
            mode = field_validation or "Warn"
            if mode == "Strict":
                fields = ", ".join(f'unknown field "{u}"' for u in report.unknown)
                raise st.bad_request(f"{what}: strict decoding error: {fields}")
            if mode == "Warn" and warnings is not None:
                warnings.extend(f'unknown field "{u}"' for u in report.unknown)
        return new

    def _namespace_active(self, rt: ResourceType, ns: str) -> None:
        if not rt.namespaced:
            return
        nso = self.store.get("namespaces", "", ns)
        if nso is None:
            raise st.namespace_not_found(ns)
        if metadata(nso).get("deletionTimestamp"):
            raise st.forbidden(
                None, "",
                f"unable to create new content in namespace {ns} because it is being terminated",
            )

    async def _admit(
        self, attrs: Attributes, obj: dict[str, Any] | None, warnings: Warnings | None
    ) -> dict[str, Any] | None:
        if self.admission is None:
            return obj
        return await self.admission.mutate(attrs, obj, warnings if warnings is not None else [])

    def _commit(self, rt: ResourceType, obj: dict[str, Any]) -> Event:
        ev = self.store.put(rt.key, obj)
        for hook in self._hooks:
            hook.after_write(rt, ev)
        return ev

    def commit_removal(self, rt: ResourceType, ns: str, name: str) -> Event | None:
        ev = self.store.remove(rt.key, ns, name)
        if ev is not None:
            for hook in self._hooks:
                hook.after_write(rt, ev)
        return ev

    def _seed_namespace(self, name: str) -> None:
        self.store.put("namespaces", {
            "apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": name, "uid": new_uid(), "creationTimestamp": now(),
                         "labels": {"kubernetes.io/metadata.name": name}},
            "spec": {"finalizers": ["kubernetes"]},
            "status": {"phase": "Active"},
        })

    # --- reads ------------------------------------------------------------------------------

    async def get(
        self,
        resource: str,
        namespace: str | None,
        name: str,
        *,
        subresource: str | None = None,
        version: str | None = None,
    ) -> dict[str, Any]:
        rt, version = self.resolve(resource, version)
        ns = self._scope(rt, namespace)
        obj = self._existing(rt, ns, name)
        if subresource == "scale":
            self._check_sub(rt, subresource)
            return scale_of(rt, obj)
        if subresource:
            self._check_sub(rt, subresource)
        return self._out(rt, obj, version)

    def _check_sub(self, rt: ResourceType, sub: str | None) -> None:
        if sub and sub not in rt.subresources:
            raise st.err(404, "NotFound", "the server could not find the requested resource")

    async def list(
        self,
        resource: str,
        namespace: str | None = None,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
        version: str | None = None,
    ) -> tuple[Items, str]:
        rt, version = self.resolve(resource, version)
        ns = self._scope(rt, namespace, listing=True)
        flt = self._filter(rt, ns or None, label_selector, field_selector)
        pinned = flt.fields.name()
        if pinned is not None and ns:
            one = self.store.get(rt.key, ns, pinned)
            found = [one] if one is not None else []
        else:
            found = list(self.store.iter(rt.key, ns or None))
        items = [o for o in found if flt.matches(o)]
        items.sort(key=lambda o: (metadata(o).get("namespace", ""), metadata(o)["name"]))
        return [self._out(rt, o, version) for o in items], str(self.store.rv)

    def _filter(
        self, rt: ResourceType, ns: str | None, labels: str | None, fields: str | None
    ) -> WatchFilter:
        try:
            lsel = parse_label_selector(labels)
            return WatchFilter(ns, lsel, parse_field_selector(fields, rt.key))
        except SelectorError as exc:
            raise st.bad_request(str(exc)) from exc

    def watch(
        self,
        resource: str,
        namespace: str | None = None,
        *,
        resource_version: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
        allow_bookmarks: bool = False,
        timeout_seconds: float | None = None,
        send_initial_events: bool = False,
        version: str | None = None,
    ) -> AsyncIterator[dict[str, Any]]:
        rt, version = self.resolve(resource, version)
        ns = self._scope(rt, namespace, listing=True)
        flt = self._filter(rt, ns or None, label_selector, field_selector)
        if resource_version not in (None, "") and not str(resource_version).isdigit():
            raise st.bad_request(f'invalid resource version "{resource_version}"')
        req = WatchRequest(
            resource=rt.key, kind=rt.kind, api_version=rt.api_version(version), flt=flt,
            resource_version=resource_version, allow_bookmarks=allow_bookmarks,
            timeout_seconds=timeout_seconds, send_initial_events=send_initial_events,
            bookmark_interval=self.bookmark_interval,
        )
        return stream(self.store, req, lambda o: self._out(rt, o, version))

    # --- create -----------------------------------------------------------------------------

    async def create(
        self,
        resource: str,
        namespace: str | None,
        obj: Mapping[str, Any],
        *,
        dry_run: bool = False,
        user: str = ADMIN,
        version: str | None = None,
        warnings: Warnings | None = None,
        field_validation: str | None = None,
        subresource: str | None = None,
        name: str | None = None,
    ) -> dict[str, Any]:
        rt, version = self.resolve(resource, version)
        ns = self._scope(rt, namespace)
        if subresource:
            if rt.key == "pods" and subresource == "binding" and name:
                return await self._bind(ns, name, obj, dry_run)
            raise st.method_not_allowed("create", f"{rt.kind}/{subresource}")
        strat = self.strategy(rt)
        new = self._decode(rt, version, obj, ns, None, field_validation, warnings)
        md = new["metadata"]
        if md.get("resourceVersion"):
            raise st.bad_request("resourceVersion should not be set on objects to be created")
        strat.default(new)
        self._namespace_active(rt, ns)
        attrs = Attributes("CREATE", rt, version, "", ns, str(md.get("name") or ""), None, user,
                           dry_run, {"kind": "CreateOptions", "apiVersion": "meta.k8s.io/v1"})
        admitted = await self._admit(attrs, new, warnings)
        assert admitted is not None
        if admitted is not new:
            strat.default(admitted)  # defaulting runs again after a webhook's patch
        new = admitted
        md = metadata(new)
        strat.prepare_create(new)
        for f in (*_SYSTEM_FIELDS, "selfLink", "resourceVersion"):
            md.pop(f, None)
        if not md.get("name") and md.get("generateName"):
            md["name"] = generated_name(str(md["generateName"]))
        md["uid"], md["creationTimestamp"] = new_uid(), now()
        if strat.uses_generation():
            md["generation"] = 1
        else:
            md.pop("generation", None)
        name = str(md.get("name") or "")
        causes = strat.validate(new)
        if causes:
            raise st.invalid(rt, name, causes)
        if self.store.get(rt.key, ns, name) is not None:
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
        user: str = ADMIN,
        version: str | None = None,
        warnings: Warnings | None = None,
        name: str | None = None,
        field_validation: str | None = None,
    ) -> dict[str, Any]:
        rt, version = self.resolve(resource, version)
        ns = self._scope(rt, namespace)
        self._check_sub(rt, subresource)
        if name is None:
            name = str(metadata(obj).get("name") or "") if isinstance(obj, Mapping) else ""
        if subresource == "scale":
            return await self._write_scale(rt, version, ns, name, obj, True, dry_run, user,
                                           warnings)
        new = self._decode(rt, version, obj, ns, name, field_validation, warnings)
        return await self._write_update(rt, version, ns, name, new, subresource or "", True,
                                        dry_run, user, warnings)

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
        user: str = ADMIN,
        version: str | None = None,
        warnings: Warnings | None = None,
        field_validation: str | None = None,
    ) -> dict[str, Any]:
        rt, version = self.resolve(resource, version)
        ns = self._scope(rt, namespace)
        self._check_sub(rt, subresource)
        old = self._existing(rt, ns, name)
        if subresource == "scale":
            patched_scale = apply_patch(scale_of(rt, old), patch, patch_type, None)
            return await self._write_scale(rt, version, ns, name, patched_scale, False, dry_run,
                                           user, warnings)
        base = self._out(rt, old, version)
        patched = apply_patch(base, patch, patch_type, rt)
        new = self._decode(rt, version, patched, ns, name, field_validation, warnings)
        new_md, old_md = metadata(new), metadata(old)
        if new_md.get("uid") not in (None, old_md.get("uid")):
            raise st.invalid(rt, name, [invalid("metadata.uid", new_md.get("uid"),
                                                "field is immutable")])
        return await self._write_update(rt, version, ns, name, new, subresource or "", False,
                                        dry_run, user, warnings)

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
        user: str,
        warnings: Warnings | None,
    ) -> dict[str, Any]:
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
        attrs = Attributes("UPDATE", rt, version, sub, ns, name, old, user, dry_run,
                           {"kind": "UpdateOptions", "apiVersion": "meta.k8s.io/v1"})
        admitted = await self._admit(attrs, new, warnings)
        assert admitted is not None
        if admitted is not new:
            strat.default(admitted)
        new = admitted
        if sub == "status":
            strat.prepare_status_update(new, old)
        _keep_system_fields(new, old)
        md = metadata(new)
        md["resourceVersion"] = old_md.get("resourceVersion")
        if strat.uses_generation():
            gen = int(old_md.get("generation") or 1)
            md["generation"] = gen + 1 if (not sub and strat.generation_changed(new, old)) else gen
        causes = (strat.validate_status_update(new, old) if sub == "status"
                  else strat.validate_update(new, old))
        if causes:
            raise st.invalid(rt, name, causes)
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
        user: str,
        warnings: Warnings | None,
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
        attrs = Attributes("UPDATE", rt, version, "scale", ns, name, scale_of(rt, old), user,
                           dry_run, {"kind": "UpdateOptions", "apiVersion": "meta.k8s.io/v1"},
                           kind=("autoscaling", "v1", "Scale"))
        admitted = await self._admit(attrs, clone(dict(scale)), warnings)
        assert admitted is not None
        parent = scale_onto(rt, clone(old), admitted)
        metadata(parent).pop("resourceVersion", None)
        await self._write_update(rt, version, ns, name, parent, "", False, dry_run, user, None)
        return scale_of(rt, self._existing(rt, ns, name)) if not dry_run else scale_of(rt, parent)

    # --- delete -----------------------------------------------------------------------------

    async def delete(
        self,
        resource: str,
        namespace: str | None,
        name: str,
        *,
        propagation_policy: str | None = None,
        grace_period_seconds: int | None = None,
        preconditions: Mapping[str, Any] | None = None,
        dry_run: bool = False,
        user: str = ADMIN,
        version: str | None = None,
        warnings: Warnings | None = None,
    ) -> dict[str, Any]:
        rt, version = self.resolve(resource, version)
        ns = self._scope(rt, namespace)
        old = self._existing(rt, ns, name)
        old_md = metadata(old)
        for key, field in (("uid", "UID"), ("resourceVersion", "ResourceVersion")):
            want = (preconditions or {}).get(key)
            if want and want != old_md.get(key):
                raise st.conflict(rt, name, f"Precondition failed: {field} in precondition: "
                                            f"{want}, {field} in object meta: {old_md.get(key)}")
        if propagation_policy is not None and propagation_policy not in POLICIES:
            raise st.err(422, "Invalid", f'DeleteOptions.meta.k8s.io "" is invalid: '
                         f'propagationPolicy: Unsupported value: "{propagation_policy}": supported '
                         'values: "Foreground", "Background", "Orphan", "nil"')
        if grace_period_seconds is not None and grace_period_seconds < 0:
            grace_period_seconds = 1  # upstream: negative means "as soon as possible"
        attrs = Attributes("DELETE", rt, version, "", ns, name, old, user, dry_run,
                           {"kind": "DeleteOptions", "apiVersion": "meta.k8s.io/v1"})
        await self._admit(attrs, None, warnings)
        return self._delete_stored(rt, version, old, propagation_policy, grace_period_seconds,
                                   dry_run)

    def _delete_stored(
        self,
        rt: ResourceType,
        version: str,
        old: dict[str, Any],
        policy: str | None,
        grace: int | None,
        dry_run: bool,
    ) -> dict[str, Any]:
        strat = self.strategy(rt)
        old_md = metadata(old)
        ns, name = old_md.get("namespace", "") or "", old_md["name"]
        fins = list(old_md.get("finalizers") or [])
        if policy == "Orphan" and "orphan" not in fins:
            fins.append("orphan")
        if policy == "Foreground" and "foregroundDeletion" not in fins:
            fins.append("foregroundDeletion")
        if policy in ("Background", "Foreground") and "orphan" in fins and policy != "Orphan":
            fins.remove("orphan")
        seconds = strat.grace_seconds(old, grace)
        pending = old_md.get("deletionTimestamp")
        if rt.key == "namespaces" or fins or seconds > 0:
            new = clone(old)
            md = metadata(new)
            md["finalizers"] = fins
            if not fins:
                md.pop("finalizers")
            if not pending or (seconds < int(old_md.get("deletionGracePeriodSeconds") or 0)):
                md["deletionTimestamp"] = at(seconds)
                md["deletionGracePeriodSeconds"] = seconds
            if rt.key == "namespaces":
                new.setdefault("status", {})["phase"] = "Terminating"
            if seconds == 0 and not fins and rt.key != "namespaces":
                pass  # a grace period cut to 0 with nothing holding it: remove below
            else:
                if dry_run or new == old:
                    return self._out(rt, new if dry_run else old, version)
                return self._out(rt, self._commit(rt, new).obj, version)
        if dry_run:
            return self._out(rt, old, version) if strat.return_deleted_object else st.success(
                rt, name, str(old_md.get("uid", "")))
        ev = self.commit_removal(rt, ns, name)
        assert ev is not None
        if strat.return_deleted_object:
            return self._out(rt, ev.obj, version)
        return st.success(rt, name, str(old_md.get("uid", "")))

    async def delete_collection(
        self,
        resource: str,
        namespace: str | None = None,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
        propagation_policy: str | None = None,
        grace_period_seconds: int | None = None,
        dry_run: bool = False,
        user: str = ADMIN,
        version: str | None = None,
    ) -> dict[str, Any]:
        rt, version = self.resolve(resource, version)
        items, _ = await self.list(resource, namespace, label_selector=label_selector,
                                   field_selector=field_selector, version=version)
        deleted = []
        for obj in items:
            md = metadata(obj)
            try:
                await self.delete(resource, md.get("namespace") or None, md["name"],
                                  propagation_policy=propagation_policy,
                                  grace_period_seconds=grace_period_seconds, dry_run=dry_run,
                                  user=user, version=version)
            except APIStatusError as exc:
                if exc.status != 404:
                    raise
            deleted.append(obj)
        return {"kind": rt.list_kind, "apiVersion": rt.api_version(version),
                "metadata": {"resourceVersion": str(self.store.rv)}, "items": deleted}


class WriteHook(Protocol):
    """Sees every committed write, synchronously (``after_write`` must not block)."""

    def after_write(self, rt: ResourceType, event: Event) -> None: ...


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
