"""Resource requests over HTTP: query parameters and bodies in, JSON (or a watch stream) out.

Every verb is a thin translation onto ``ClusterAPI``; errors come back as the Status body of
the ``APIStatusError`` with its code, and admission warnings as ``Warning: 299`` headers.
"""

from __future__ import annotations

import base64
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import yaml
from aiohttp import web

from webhook.cluster import status as st
from webhook.cluster.api import ClusterAPI
from webhook.cluster.auth.user import ADMIN_USER, UserInfo
from webhook.cluster.http.paths import RequestInfo
from webhook.cluster.http.podlogs import serve_log
from webhook.cluster.http.portforward import serve_portforward
from webhook.cluster.http.tables import to_table, wants_table
from webhook.cluster.meta import metadata
from webhook.cluster.patching import normalise_patch_type
from webhook.cluster.protobuf import PROTOBUF, decode_object
from webhook.cluster.resources import CREATE_ONLY, CREATE_ONLY_SUBRESOURCES, ResourceType
from webhook.errors import APIStatusError, WireFormatError
from webhook.spec import boundedyaml

log = logging.getLogger(__name__)
USER_KEY = web.RequestKey("canarist.user", UserInfo)  # set by the server's authentication
# pods/log and pods/portforward: served with the node, as the API server proxies to the kubelet
POD_STREAMS: dict[str, Callable[[web.Request, ClusterAPI, RequestInfo],
                                Awaitable[web.StreamResponse]]] = {"log": serve_log,
                                                                   "portforward": serve_portforward}


def dumps(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


def json_response(obj: Any, status: int = 200, warnings: list[str] | None = None) -> web.Response:
    # encoding/json's Encoder ends the body with a newline; clients compare error bodies
    resp = web.Response(body=dumps(obj) + b"\n", status=status,
                        content_type="application/json")
    for w in warnings or []:
        escaped = w.replace("\\", "\\\\").replace('"', '\\"')
        resp.headers.add("Warning", f'299 - "{escaped}"')
    return resp


def status_response(exc: APIStatusError, warnings: list[str] | None = None) -> web.Response:
    return json_response(exc.body, exc.status or 500, warnings)


def _flag(q: Mapping[str, str], name: str) -> bool:
    return q.get(name, "").lower() in ("1", "true")


def _int(q: Mapping[str, str], name: str) -> int | None:
    raw = q.get(name)
    if raw in (None, ""):
        return None
    try:
        return int(raw)
    except ValueError as exc:
        raise st.bad_request(f'{name}: Invalid value: "{raw}": must be an integer') from exc


def _dry_run(values: list[str]) -> bool:
    for v in values:
        if v != "All":
            raise st.err(400, "BadRequest",
                         f'dryRun: Unsupported value: "{v}": supported values: "All"')
    return bool(values)


def _manager(request: web.Request) -> str:
    """Who a write is attributed to in managedFields: ``fieldManager``, else the client's
    User-Agent up to its first slash, as upstream."""
    given = request.query.get("fieldManager")
    if given:
        return given
    agent = request.headers.get("User-Agent", "").split("/", 1)[0].strip()
    return agent or "unknown"


def _field_validation(q: Mapping[str, str]) -> str | None:
    v = q.get("fieldValidation")
    if v in (None, ""):
        return None
    if v not in ("Ignore", "Warn", "Strict"):
        raise st.bad_request(f'fieldValidation: Unsupported value: "{v}": supported values: '
                             '"Ignore", "Warn", "Strict"')
    return v


async def read_body(request: web.Request, *, optional: bool = False) -> Any:
    raw = await request.read()
    if not raw.strip():
        if optional:
            return None
        raise st.bad_request("the request body is empty; an object was expected")
    ctype = request.content_type
    if ctype == PROTOBUF:
        try:
            return decode_object(raw)
        except WireFormatError as exc:
            raise st.bad_request(f"the request body could not be decoded as {PROTOBUF}: "
                                 f"{exc}") from exc
    if "protobuf" in ctype or "cbor" in ctype:
        raise st.err(415, "UnsupportedMediaType",
                     f'the body of the request was in an unknown format - accepted media types '
                     f'include: application/json, application/yaml, {PROTOBUF} '
                     f'(got "{ctype}")')
    try:
        if "yaml" in ctype:
            return boundedyaml.load(raw.decode("utf-8"), boundedyaml.DOCUMENT)
        return json.loads(raw)
    except yaml.YAMLError as exc:
        where, message = boundedyaml.describe(exc)
        raise st.bad_request(f"the request body could not be decoded as YAML: "
                             f"{where.lstrip('.') or 'body'}: {message}") from None
    except (ValueError, RecursionError) as exc:
        raise st.bad_request(f"the request body could not be decoded as "
                             f"{'YAML' if 'yaml' in ctype else 'JSON'}: {exc}") from None


class ResourceHandlers:
    def __init__(self, api: ClusterAPI) -> None:
        self.api = api

    async def handle(self, request: web.Request, info: RequestInfo) -> web.StreamResponse:
        rt = self.api.registry.lookup(info.group, info.version, info.resource)
        if rt is None:
            raise st.err(404, "NotFound", "the server could not find the requested resource")
        if rt.key == "pods" and info.name and info.subresource in POD_STREAMS:
            return await POD_STREAMS[info.subresource](request, self.api, info)
        if info.subresource and info.subresource not in rt.subresources and not (
            rt.key == "pods" and info.subresource == "binding"
        ):
            raise st.err(404, "NotFound", "the server could not find the requested resource")
        if request.method != "POST" and (rt.verbs == CREATE_ONLY or (
                info.subresource in CREATE_ONLY_SUBRESOURCES)):
            raise st.err(405, "MethodNotAllowed",
                         "the server does not allow this method on the requested resource")
        if (not rt.namespaced and info.namespace) or (
            rt.namespaced and not info.namespace and (info.name or request.method == "POST")
        ):
            raise st.err(404, "NotFound", "the server could not find the requested resource")
        method = request.method
        q = request.query
        if method == "GET":
            if info.name and not info.watch_prefix:
                return await self._get(request, rt, info)
            if info.watch_prefix or _flag(q, "watch"):
                return await self._watch(request, rt, info)
            return await self._list(request, rt, info)
        warnings: list[str] = []
        try:
            return await self._write(request, rt, info, warnings)
        except APIStatusError as exc:
            return status_response(exc, warnings)

    async def _write(
        self, request: web.Request, rt: ResourceType, info: RequestInfo, warnings: list[str]
    ) -> web.StreamResponse:
        q = request.query
        ns = info.namespace or None
        dry = _dry_run(q.getall("dryRun", []))
        common: dict[str, Any] = {"dry_run": dry, "user": request.get(USER_KEY, ADMIN_USER),
                                  "version": info.version}
        method = request.method
        if method == "POST":
            if info.name and not info.subresource:
                raise st.method_not_allowed("POST", "")
            body = await read_body(request)
            obj = await self.api.create(rt.key, ns, body, warnings=warnings,
                                        field_validation=_field_validation(q),
                                        subresource=info.subresource or None,
                                        name=info.name or None, **common)
            return json_response(obj, 201, warnings)
        if method == "PUT" and info.name:
            body = await read_body(request)
            obj = await self.api.update(rt.key, ns, body, subresource=info.subresource or None,
                                        warnings=warnings, name=info.name,
                                        field_validation=_field_validation(q),
                                        manager=_manager(request), **common)
            return json_response(obj, 200, warnings)
        if method == "PATCH" and info.name:
            ctype = request.headers.get("Content-Type", "")
            body = await read_body(request)
            if normalise_patch_type(ctype) == "apply":
                obj, created = await self.api.apply(
                    rt.key, ns, info.name, body, manager=q.get("fieldManager"),
                    force=_flag(q, "force"), subresource=info.subresource or None,
                    warnings=warnings, field_validation=_field_validation(q), **common)
                return json_response(obj, 201 if created else 200, warnings)
            obj = await self.api.patch(rt.key, ns, info.name, body, ctype,
                                       subresource=info.subresource or None, warnings=warnings,
                                       field_validation=_field_validation(q),
                                       manager=_manager(request), **common)
            return json_response(obj, 200, warnings)
        if method == "DELETE":
            return await self._delete(request, rt, info, warnings, common)
        raise st.err(405, "MethodNotAllowed",
                     f"the server does not allow this method on the requested resource "
                     f"({method} {rt.plural})")

    async def _delete(
        self,
        request: web.Request,
        rt: ResourceType,
        info: RequestInfo,
        warnings: list[str],
        common: dict[str, Any],
    ) -> web.StreamResponse:
        q = request.query
        opts = await read_body(request, optional=True) or {}
        if not isinstance(opts, dict):
            raise st.bad_request("the body of a DELETE must be a DeleteOptions object")
        policy = opts.get("propagationPolicy") or q.get("propagationPolicy") or None
        orphan = opts.get("orphanDependents")
        if orphan is None and "orphanDependents" in q:
            orphan = _flag(q, "orphanDependents")
        if policy is None and orphan is not None:
            policy = "Orphan" if orphan else "Background"
        grace = opts.get("gracePeriodSeconds")
        if grace is None:
            grace = _int(q, "gracePeriodSeconds")
        if opts.get("dryRun"):
            common["dry_run"] = _dry_run(list(opts["dryRun"]))
        ns = info.namespace or None
        if info.name:
            result = await self.api.delete(
                rt.key, ns, info.name, propagation_policy=policy, grace_period_seconds=grace,
                preconditions=opts.get("preconditions"), warnings=warnings, **common)
            return json_response(result, 200, warnings)
        result = await self.api.delete_collection(
            rt.key, ns, label_selector=q.get("labelSelector"),
            field_selector=q.get("fieldSelector"), propagation_policy=policy,
            grace_period_seconds=grace, **common)
        return json_response(result, 200, warnings)

    async def _get(self, request: web.Request, rt: ResourceType, info: RequestInfo
                   ) -> web.StreamResponse:
        obj = await self.api.get(rt.key, info.namespace or None, info.name,
                                 subresource=info.subresource or None, version=info.version)
        accept = request.headers.get("Accept", "")
        if wants_table(accept) and not info.subresource:
            return json_response(to_table(rt.key, [obj], {"resourceVersion": self._rv()},
                                          request.query.get("includeObject", "Metadata")))
        return json_response(obj)

    def _rv(self) -> str:
        return str(self.api.store.rv)

    async def _list(self, request: web.Request, rt: ResourceType, info: RequestInfo
                    ) -> web.StreamResponse:
        q = request.query
        rv = q.get("resourceVersion", "")
        if rv and rv != "0":
            if not rv.isdigit():
                raise st.bad_request(f'invalid resource version "{rv}"')
            if int(rv) > self.api.store.rv:
                raise st.timeout(f"Too large resource version: {rv}, current: "
                                 f"{self.api.store.rv}", 1)
        items, list_rv = await self.api.list(
            rt.key, info.namespace or None, label_selector=q.get("labelSelector"),
            field_selector=q.get("fieldSelector"), version=info.version)
        list_meta: dict[str, Any] = {"resourceVersion": list_rv}
        items = self._page(items, q, list_meta)
        if wants_table(request.headers.get("Accept", "")):
            return json_response(to_table(rt.key, items, list_meta,
                                          q.get("includeObject", "Metadata")))
        if not rt.custom:
            for item in items:
                item.pop("apiVersion", None)
                item.pop("kind", None)
        return json_response({"kind": rt.list_kind, "apiVersion": rt.api_version(info.version),
                              "metadata": list_meta, "items": items})

    def _page(self, items: list[dict[str, Any]], q: Mapping[str, str],
              list_meta: dict[str, Any]) -> list[dict[str, Any]]:
        token = q.get("continue")
        if token:
            try:
                state = json.loads(base64.urlsafe_b64decode(token.encode()))
                start_rv, after = int(state["rv"]), tuple(state["after"])
            except (ValueError, KeyError, TypeError) as exc:
                raise st.bad_request(f"continue key is not valid: {exc}") from exc
            if start_rv < self.api.store.compacted_rv:
                raise st.gone("The provided continue parameter is too old to display a "
                              "consistent list result. You can start a new list without the "
                              "continue parameter.")
            list_meta["resourceVersion"] = str(start_rv)
            items = [i for i in items if _sort_key(i) > after]
        limit = _int(q, "limit")
        if limit and limit > 0 and len(items) > limit:
            page, rest = items[:limit], len(items) - limit
            state = {"rv": int(list_meta["resourceVersion"]), "after": list(_sort_key(page[-1]))}
            list_meta["continue"] = base64.urlsafe_b64encode(dumps(state)).decode()
            list_meta["remainingItemCount"] = rest
            return page
        return items

    async def _watch(self, request: web.Request, rt: ResourceType, info: RequestInfo
                     ) -> web.StreamResponse:
        q = request.query
        timeout = _int(q, "timeoutSeconds")
        events = self.api.watch(
            rt.key, info.namespace or None, resource_version=q.get("resourceVersion") or None,
            label_selector=q.get("labelSelector"), field_selector=q.get("fieldSelector"),
            allow_bookmarks=_flag(q, "allowWatchBookmarks"),
            timeout_seconds=timeout, send_initial_events=_flag(q, "sendInitialEvents"),
            version=info.version)
        table = wants_table(request.headers.get("Accept", ""))
        resp = web.StreamResponse(status=200)
        resp.content_type = "application/json"
        resp.enable_chunked_encoding()
        await resp.prepare(request)
        try:
            async for ev in events:
                out = ev
                if table and ev["type"] in ("ADDED", "MODIFIED", "DELETED"):
                    out = {"type": ev["type"], "object": to_table(
                        rt.key, [ev["object"]],
                        {"resourceVersion": metadata(ev["object"]).get("resourceVersion", "")},
                        q.get("includeObject", "Metadata"))}
                await resp.write(dumps(out) + b"\n")
        except (ConnectionResetError, ConnectionError):
            return resp
        finally:
            await events.aclose()  # type: ignore[attr-defined]
        with contextlib.suppress(ConnectionError):  # the client went first (e.g. at shutdown)
            await resp.write_eof()
        return resp


def _sort_key(obj: dict[str, Any]) -> tuple[str, str]:
    md = metadata(obj)
    return (md.get("namespace", "") or "", md.get("name", ""))
