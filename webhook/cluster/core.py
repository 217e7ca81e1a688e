"""Plumbing and reads of the embedded API (see ``webhook.cluster.api`` for the interface)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Protocol

from webhook.cluster import status as st
from webhook.cluster.admission.attributes import Admission, Attributes
from webhook.cluster.auth.user import UserInfo
from webhook.cluster.kinds import strategy_for
from webhook.cluster.kinds.base import Strategy
from webhook.cluster.meta import clone, metadata, new_uid, now
from webhook.cluster.nodeapi import NodeBackend
from webhook.cluster.resources import CREATE_ONLY_SUBRESOURCES, ResourceRegistry, ResourceType
from webhook.cluster.scale import scale_of
from webhook.cluster.selectors import SelectorError, parse_field_selector, parse_label_selector
from webhook.cluster.store import Event, Store
from webhook.cluster.watch import WatchFilter, WatchRequest, stream

if TYPE_CHECKING:
    from webhook.cluster.auth.install import AuthServices

SYSTEM_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
Warnings = list[str]  # aliases: inside the class, ``list`` names the method
Items = list[dict[str, Any]]


class WriteHook(Protocol):
    """Sees every committed write, synchronously (``after_write`` must not block)."""

    def after_write(self, rt: ResourceType, event: Event) -> None: ...


@dataclass(frozen=True)
class CreateRequest:
    """A POST to a resource that stores nothing (the reviews) or to a create-only
    subresource (``serviceaccounts/token``)."""

    rt: ResourceType
    version: str
    namespace: str
    name: str  # the name in the URL ("" for a POST to a collection)
    body: Any
    user: UserInfo
    dry_run: bool
    warnings: list[str] | None


# (resource, subresource or "") -> what answers its create
Creator = Callable[[CreateRequest], Awaitable[dict[str, Any]]]
# built-in mutating admission, run before the webhooks (upstream: ServiceAccount, ...)
AdmissionPlugin = Callable[[Attributes, dict[str, Any] | None], Awaitable[dict[str, Any] | None]]
# sees a main-resource write after admission, before validation; raises to refuse it
# (rt, namespace, name in the URL, new object, old object or None, requester)
WriteCheck = Callable[
    [ResourceType, str, str, dict[str, Any], dict[str, Any] | None, UserInfo], None]


class APICore:
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
        self.node: NodeBackend | None = None  # the running kubelet (pods/log)
        self.bookmark_interval = bookmark_interval
        self._strategies: dict[str, Strategy] = {}
        self._hooks: list[WriteHook] = []
        self.creators: dict[tuple[str, str], Creator] = {}
        self.plugins: list[AdmissionPlugin] = []
        self.write_checks: list[WriteCheck] = []
        from webhook.cluster.auth.install import install_auth
        from webhook.cluster.crds import CRDHook

        self.add_hook(CRDHook(self))
        self.auth: AuthServices = install_auth(self)
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

    def _check_writer(self, rt: ResourceType, user: str, verb: str) -> None:
        """A resource the cluster maintains is written only by its controllers."""
        strat = self.strategy(rt)
        if strat.read_only and user not in strat.writers:
            raise st.err(405, "MethodNotAllowed", f"{verb} is not allowed on "
                         f"{rt.qualified()}: {strat.read_only}")

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
        obj = self.stored(rt, ns, name)
        if obj is None:
            raise st.not_found(rt, name)
        return obj

    def stored(self, rt: ResourceType, ns: str, name: str) -> dict[str, Any] | None:
        """The stored object as ``rt`` shows it (shared: do not mutate), or None."""
        obj = self.store.get(rt.store_key, ns, name)
        if obj is None or not rt.storage:
            return obj
        return self.strategy(rt).from_storage(obj)

    def _converted(self, rt: ResourceType, ev: Event) -> Event:
        """A store event of another resource's storage, in ``rt``'s form."""
        if not rt.storage:
            return ev
        conv = self.strategy(rt).from_storage
        return replace(ev, resource=rt.key, obj=conv(ev.obj),
                       old=conv(ev.old) if ev.old is not None else None)

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
        for plugin in self.plugins:
            obj = await plugin(attrs, obj)
        if self.admission is None:
            return obj
        return await self.admission.mutate(attrs, obj, warnings if warnings is not None else [])

    async def _validate_admission(self, attrs: Attributes, obj: dict[str, Any] | None,
                                  warnings: Warnings | None) -> None:
        """Validating admission, once the object passed the kind's own validation."""
        if self.admission is not None:
            await self.admission.validate(attrs, obj, warnings if warnings is not None else [])

    async def admit_and_validate(self, attrs: Attributes, obj: dict[str, Any] | None,
                                 warnings: Warnings | None) -> dict[str, Any] | None:
        """Both admission phases for a request with no stored object of its own (a
        subresource such as ``pods/eviction``)."""
        admitted = await self._admit(attrs, obj, warnings)
        await self._validate_admission(attrs, admitted, warnings)
        return admitted

    def check_write(self, rt: ResourceType, ns: str, url_name: str, new: dict[str, Any],
                    old: dict[str, Any] | None, user: UserInfo) -> None:
        for check in self.write_checks:
            check(rt, ns, url_name, new, old, user)

    def _commit(self, rt: ResourceType, obj: dict[str, Any]) -> Event:
        ev = self.store.put(rt.store_key, self.strategy(rt).to_storage(obj))
        self._after_write(rt, ev)
        return self._converted(rt, ev)

    def commit(self, rt: ResourceType, obj: dict[str, Any]) -> Event:
        """Store a system-made object (taken over) as a controller's write would."""
        return self._commit(rt, obj)

    def commit_removal(self, rt: ResourceType, ns: str, name: str) -> Event | None:
        ev = self.store.remove(rt.store_key, ns, name)
        if ev is not None:
            self._after_write(rt, ev)
            return self._converted(rt, ev)
        return ev

    def _after_write(self, rt: ResourceType, ev: Event) -> None:
        owner = self.registry.get(rt.storage) if rt.storage else rt
        for hook in self._hooks:
            hook.after_write(owner or rt, ev)

    def _seed_namespace(self, name: str) -> None:
        self._commit(self.resolve("namespaces")[0], {
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
        if sub in CREATE_ONLY_SUBRESOURCES:  # pods/eviction, serviceaccounts/token
            raise st.err(405, "MethodNotAllowed",
                         "the server does not allow this method on the requested resource")

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
            one = self.store.get(rt.store_key, ns, pinned)
            found = [one] if one is not None else []
        else:
            found = list(self.store.iter(rt.store_key, ns or None))
        items = [o for o in found if flt.matches(o)]
        if rt.storage:
            items = [self.strategy(rt).from_storage(o) for o in items]
        items.sort(key=lambda o: (metadata(o).get("namespace", ""), metadata(o)["name"]))
        return [self._out(rt, o, version) for o in items], str(self.store.rv)

    def _filter(
        self, rt: ResourceType, ns: str | None, labels: str | None, fields: str | None
    ) -> WatchFilter:
        try:
            lsel = parse_label_selector(labels)
            return WatchFilter(ns, lsel, parse_field_selector(fields, rt.store_key))
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
            resource=rt.store_key, kind=rt.kind, api_version=rt.api_version(version), flt=flt,
            resource_version=resource_version, allow_bookmarks=allow_bookmarks,
            timeout_seconds=timeout_seconds, send_initial_events=send_initial_events,
            bookmark_interval=self.bookmark_interval,
        )
        view = self.strategy(rt).from_storage if rt.storage else None
        return stream(self.store, req, lambda o: self._out(rt, view(o) if view else o, version))

    # --- create -----------------------------------------------------------------------------
