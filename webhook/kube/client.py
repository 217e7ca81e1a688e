"""The ``ObjectClient`` of ``webhook.kube.protocol`` on the real API, sync and async.

``SyncClient`` does the work: it resolves ``apiVersion``/``kind`` to a path (``resources``),
sends raw JSON through ``Rest`` (rate limit, retries, error mapping) and returns plain dicts.
``KubeClient`` is the async face the routers, the release loop and the CLI use: every call runs
the synchronous one on a bounded thread pool (``ClientOptions.workers`` threads) so the event
loop never blocks on the network. Measured against ``kubernetes.aio`` on the embedded cluster
(``docs/benchmarks.md``), the two are on par (a little faster per sequential call, a little
slower under concurrency, lists equal; both 2.6x faster than typed models on lists), so the
thread pool wins on keeping one code path for synchronous callers (``certs ensure``, the TLS
``CertStore``, the CLI).

Semantics beyond the protocol:

- ``served_versions(group)``: the versions of an API group the server serves (discovery, cached
  like kinds), for routers that write the newest version a CRD serves (SMI); ``schema(
  apiVersion, kind)``: the OpenAPI v3 schema the server publishes (a CRD's), for routers that
  write only fields the installed CRD has (Gateway API rule names, mirror percentages).
- ``get`` answers ``None`` for a missing object and for a kind the server does not serve;
  ``create``/``replace``/``patch`` of a kind that is not served raise ``NotFound`` saying so.
- ``list`` with ``namespace=""`` lists every namespace; list items get ``apiVersion`` and
  ``kind`` (built-in lists leave them out); ``list_all`` pages (``limit``/``continue``) and
  returns the list's ``resourceVersion`` for a watch to start from.
- ``review`` creates a nameless review object (``SelfSubjectAccessReview``: "may I?") and
  returns the answer;
- ``replace``/``patch`` take ``subresource="status"`` (e.g. the release status through the
  status subresource, which does not bump ``generation``).
- ``patch_type="json"`` needs a list of operations; ``merge`` and ``strategic`` an object
  (strategic merge is for built-in kinds: the server answers 415 for custom resources).
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from webhook.errors import Expired, Forbidden, InvalidInput, NotFound, Problem, Unavailable
from webhook.kube.config import ClientOptions, Connection, load
from webhook.kube.limits import Backoff, TokenBucket
from webhook.kube.protocol import JSON, ObjectRef, PatchType
from webhook.kube.resources import Resolver, Resource
from webhook.kube.rest import PATCH_CT, Request, Rest

T = TypeVar("T")
Objects = list[JSON]  # (a method named ``list`` shadows the builtin inside the classes)
Query = list[tuple[str, str]]


class SyncClient:
    """Blocking API calls; thread-safe."""

    def __init__(
        self,
        connection: Connection,
        *,
        backoff: Backoff | None = None,
        bucket: TokenBucket | None = None,
    ) -> None:
        self.rest = Rest(connection, backoff=backoff, bucket=bucket)
        self.namespace = connection.namespace
        self.resolver = Resolver(self._discover)

    def close(self) -> None:
        self.rest.close()

    def _discover(self, path: str) -> Mapping[str, Any] | None:
        try:
            doc = self.rest.call(Request("GET", path)).json()
        except NotFound:
            return None
        return doc if isinstance(doc, Mapping) else None

    def resource(self, api_version: str, kind: str) -> Resource | None:
        return self.resolver.resolve(api_version, kind)

    def _require(self, api_version: str, kind: str) -> Resource:
        return self.resolver.require(api_version, kind)

    def served_versions(self, group: str) -> tuple[str, ...]:
        return self.resolver.group_versions(group)

    def schema(self, api_version: str, kind: str) -> JSON | None:
        """``None`` also when the server will not show its OpenAPI to this client."""
        try:
            return self.resolver.schema(api_version, kind)
        except Forbidden:
            return None

    # --- reads ----------------------------------------------------------------------------------

    def get(self, ref: ObjectRef, *, subresource: str = "") -> JSON | None:
        res = self.resource(ref.api_version, ref.kind)
        if res is None:
            return None
        _check_ref(ref, res)
        try:
            out: JSON = self.rest.call(
                Request("GET", res.path(ref.namespace, ref.name, subresource))
            ).json()
        except NotFound:
            return None
        return out

    def list(
        self,
        api_version: str,
        kind: str,
        namespace: str,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
    ) -> Objects:
        return self.list_all(
            api_version, kind, namespace, label_selector=label_selector,
            field_selector=field_selector,
        )[0]

    def list_all(
        self,
        api_version: str,
        kind: str,
        namespace: str,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
        page_size: int = 500,
    ) -> tuple[Objects, str]:
        """Every matching object (paged) and the list's ``resourceVersion``; ``NotFound`` if
        the kind is not served."""
        res = self._require(api_version, kind)
        base: Query = []
        if label_selector:
            base.append(("labelSelector", label_selector))
        if field_selector:
            base.append(("fieldSelector", field_selector))
        for _ in range(3):  # a continue token can expire mid-list: start over
            try:
                return self._pages(res, namespace, base, page_size)
            except Expired:
                continue
        return self._pages(res, namespace, base, 0)

    def _pages(
        self, res: Resource, namespace: str, base: Query, page_size: int
    ) -> tuple[Objects, str]:
        items: Objects = []
        token = ""
        while True:
            query = list(base)
            if page_size > 0:
                query.append(("limit", str(page_size)))
            if token:
                query.append(("continue", token))
            doc = self.rest.call(Request("GET", res.path(namespace), query)).json() or {}
            for item in doc.get("items") or ():
                if isinstance(item, dict):
                    item.setdefault("apiVersion", res.api_version)
                    item.setdefault("kind", res.kind)
                    items.append(item)
            meta = doc.get("metadata") or {}
            token = meta.get("continue") or ""
            if not token:
                return items, str(meta.get("resourceVersion", ""))

    # --- writes ---------------------------------------------------------------------------------

    def create(self, obj: JSON) -> JSON:
        ref, res = self._object(obj, need_name=False)
        out: JSON = self.rest.call(Request("POST", res.path(ref.namespace), body=obj)).json()
        return out

    def review(self, obj: JSON) -> JSON:
        """Create a review (``SelfSubjectAccessReview``, ``TokenReview``...): nameless,
        cluster-scoped, answered in the returned object's ``status`` and never stored."""
        ref = ObjectRef.of(obj)
        res = self._require(ref.api_version, ref.kind)
        out: JSON = self.rest.call(Request("POST", res.path(""), body=obj)).json()
        return out

    def replace(self, obj: JSON, *, subresource: str = "") -> JSON:
        ref, res = self._object(obj, need_name=True)
        req = Request("PUT", res.path(ref.namespace, ref.name, subresource), body=obj)
        out: JSON = self.rest.call(req).json()
        return out

    def patch(
        self,
        ref: ObjectRef,
        patch: Any,
        *,
        patch_type: PatchType = "merge",
        subresource: str = "",
    ) -> JSON:
        res = self._resolved(ref)
        _check_patch(patch, patch_type)
        req = Request(
            "PATCH",
            res.path(ref.namespace, ref.name, subresource),
            body=patch,
            content_type=PATCH_CT[patch_type],
        )
        out: JSON = self.rest.call(req).json()
        return out

    def delete(self, ref: ObjectRef, *, propagation: str = "Background", uid: str = "") -> bool:
        """Delete ``ref``; with ``uid``, only that object (a precondition: ``Conflict`` when the
        name now holds another one)."""
        res = self.resource(ref.api_version, ref.kind)
        if res is None:
            return False
        _check_ref(ref, res)
        body: JSON = {"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": propagation}
        if uid:
            body["preconditions"] = {"uid": uid}
        try:
            self.rest.call(Request("DELETE", res.path(ref.namespace, ref.name), body=body))
        except NotFound:
            return False
        return True

    # --- watches --------------------------------------------------------------------------------

    def open_watch(
        self,
        res: Resource,
        namespace: str,
        *,
        resource_version: str,
        label_selector: str | None = None,
        field_selector: str | None = None,
        timeout_seconds: int = 300,
        bookmarks: bool = True,
    ) -> Any:
        """Open a watch from ``resource_version`` (blocking); the open response to stream."""
        query = [("watch", "true"), ("timeoutSeconds", str(timeout_seconds))]
        if resource_version:
            query.append(("resourceVersion", resource_version))
        if bookmarks:
            query.append(("allowWatchBookmarks", "true"))
        if label_selector:
            query.append(("labelSelector", label_selector))
        if field_selector:
            query.append(("fieldSelector", field_selector))
        return self.rest.stream(
            Request("GET", res.path(namespace), query), read_timeout=timeout_seconds + 30.0
        )

    # --- helpers --------------------------------------------------------------------------------

    def _resolved(self, ref: ObjectRef) -> Resource:
        res = self._require(ref.api_version, ref.kind)
        _check_ref(ref, res)
        return res

    def _object(self, obj: JSON, *, need_name: bool) -> tuple[ObjectRef, Resource]:
        if not isinstance(obj, dict):
            raise InvalidInput([Problem("", f"expected an object, got {type(obj).__name__}")])
        ref = ObjectRef.of(obj)
        problems = []
        if not ref.api_version:
            problems.append(Problem("apiVersion", "required"))
        if not ref.kind:
            problems.append(Problem("kind", "required"))
        if problems:
            raise InvalidInput(problems, subject="object")
        res = self._require(ref.api_version, ref.kind)
        meta = obj.get("metadata") or {}
        if need_name or not meta.get("generateName"):
            _check_ref(ref, res)
        elif res.namespaced and not ref.namespace:
            raise InvalidInput([Problem("metadata.namespace", f"required for {res.kind}")])
        return ref, res


def _check_ref(ref: ObjectRef, res: Resource) -> None:
    problems = []
    if not ref.name:
        problems.append(Problem("metadata.name", "required"))
    if res.namespaced and not ref.namespace:
        problems.append(Problem("metadata.namespace", f"required for {res.kind}"))
    if problems:
        raise InvalidInput(problems, subject=f"{ref.kind} {ref.namespace}/{ref.name}".rstrip("/"))


def _check_patch(patch: Any, patch_type: str) -> None:
    if patch_type not in PATCH_CT:
        raise InvalidInput(
            [Problem("patch_type", f"unknown {patch_type!r} (one of {', '.join(PATCH_CT)})")]
        )
    if patch_type == "json" and not isinstance(patch, list):
        raise InvalidInput([Problem("patch", "a JSON patch is a list of operations")])
    if patch_type != "json" and not isinstance(patch, dict):
        raise InvalidInput([Problem("patch", f"a {patch_type} patch is an object")])


class KubeClient:
    """Async ``ObjectClient``: each call runs ``SyncClient``'s on a bounded thread pool."""

    def __init__(self, sync: SyncClient, *, workers: int = 8) -> None:
        self.sync = sync
        self.namespace = sync.namespace
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="canarist-kube")

    @property
    def rest(self) -> Rest:
        return self.sync.rest

    async def _run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        loop = asyncio.get_running_loop()
        context = contextvars.copy_context()  # the caller's (``warnings.collect``) in the thread
        try:
            future = loop.run_in_executor(
                self._pool, functools.partial(context.run, fn, *args, **kwargs)
            )
        except RuntimeError as exc:  # the pool is shut down: a call racing aclose()
            raise Unavailable("the API client is closed") from exc
        return await future

    async def aclose(self) -> None:
        self.sync.close()
        self._pool.shutdown(wait=False, cancel_futures=True)

    async def __aenter__(self) -> KubeClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def resource(self, api_version: str, kind: str) -> Resource | None:
        return await self._run(self.sync.resource, api_version, kind)

    async def get(self, ref: ObjectRef, *, subresource: str = "") -> JSON | None:
        return await self._run(self.sync.get, ref, subresource=subresource)

    async def served_versions(self, group: str) -> tuple[str, ...]:
        return await self._run(self.sync.served_versions, group)

    async def schema(self, api_version: str, kind: str) -> JSON | None:
        return await self._run(self.sync.schema, api_version, kind)

    async def list(
        self,
        api_version: str,
        kind: str,
        namespace: str,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
    ) -> Objects:
        return await self._run(
            self.sync.list, api_version, kind, namespace, label_selector=label_selector,
            field_selector=field_selector,
        )

    async def list_all(
        self,
        api_version: str,
        kind: str,
        namespace: str,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
        page_size: int = 500,
    ) -> tuple[Objects, str]:
        return await self._run(
            self.sync.list_all, api_version, kind, namespace, label_selector=label_selector,
            field_selector=field_selector, page_size=page_size,
        )

    async def create(self, obj: JSON) -> JSON:
        return await self._run(self.sync.create, obj)

    async def review(self, obj: JSON) -> JSON:
        return await self._run(self.sync.review, obj)

    async def replace(self, obj: JSON, *, subresource: str = "") -> JSON:
        return await self._run(self.sync.replace, obj, subresource=subresource)

    async def patch(
        self,
        ref: ObjectRef,
        patch: Any,
        *,
        patch_type: PatchType = "merge",
        subresource: str = "",
    ) -> JSON:
        return await self._run(
            self.sync.patch, ref, patch, patch_type=patch_type, subresource=subresource
        )

    async def delete(
        self, ref: ObjectRef, *, propagation: str = "Background", uid: str = ""
    ) -> bool:
        return await self._run(self.sync.delete, ref, propagation=propagation, uid=uid)


def connect_sync(options: ClientOptions | None = None, **kw: Any) -> SyncClient:
    """A ``SyncClient`` from kubeconfig/in-cluster config (``config.load``)."""
    return SyncClient(load(options or ClientOptions()), **kw)


def connect(options: ClientOptions | None = None, **kw: Any) -> KubeClient:
    """A ``KubeClient``; close it with ``await client.aclose()`` (or ``async with``)."""
    opts = options or ClientOptions()
    return KubeClient(SyncClient(load(opts), **kw), workers=opts.workers)


__all__ = ["KubeClient", "SyncClient", "connect", "connect_sync"]
