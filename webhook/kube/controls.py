"""The CLI controls: ``status``, ``list``, ``promote``, ``abort``, ``retry``, ``pause``, ``resume``
(``undo`` is in ``webhook.kube.undo``).

``webhook.cli`` parses the flags and calls ``run_status``, ``run_list`` or ``run_action``; each
returns the exit code (``docs/cli.md``): 0 done; 1 the operation failed or was refused (or, for
``status``, the release is Degraded); 2 bad input (raised as ``InvalidInput``); 3 the Deployment
does not exist.

Actions are written as ``canarist.io/action`` on the Deployment with a merge patch that carries
the ``resourceVersion`` just read as a precondition: if the Deployment changed between the read
and the write (409), it is read and judged again, so an action is never written on the strength
of a stale state. ``status -w`` follows the Deployment with a watch (an informer on that one
name) and redraws a progress bar on a terminal, or prints a plain line per change otherwise,
until the release ends.
"""

from __future__ import annotations

import asyncio
import io
import re
import sys
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any, TextIO

import yaml

from webhook.errors import ConfigError, Conflict, NotFound, Problem
from webhook.kube.client import KubeClient, connect
from webhook.kube.config import ClientOptions
from webhook.kube.display import (
    ReleaseView,
    as_json,
    progress_line,
    refusal,
    status_text,
    table,
)
from webhook.kube.informer import Informer
from webhook.kube.policies import DEFAULT_CONFIGMAP, PolicySource, policy_for, read_policies
from webhook.kube.protocol import JSON, ObjectRef
from webhook.policy import PolicySet
from webhook.spec import Action, Phase
from webhook.spec.names import ACTION

EXIT_OK, EXIT_FAILED, EXIT_NOT_FOUND = 0, 1, 3
_NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")
OUTPUTS = ("text", "json", "yaml")


def check_name(name: str) -> str:
    if not _NAME.match(name):
        raise ConfigError([Problem("NAME", f"{name!r} is not a valid Deployment name "
                                   "(lowercase letters, digits, '-' and '.')")])
    return name


def _deployment(ns: str, name: str) -> ObjectRef:
    return ObjectRef("apps/v1", "Deployment", ns, name)


def run_body(options: ClientOptions, err: TextIO,
         body: Callable[[KubeClient], Coroutine[Any, Any, int]]) -> int:
    async def main() -> int:
        async with connect(options) as client:
            return await body(client)

    try:
        return asyncio.run(main())
    except NotFound as exc:
        print(f"canarist: {exc}", file=err)
        return EXIT_NOT_FOUND


async def read_deployment(client: KubeClient, ns: str, name: str) -> JSON:
    obj = await client.get(_deployment(ns, name))
    if obj is None:
        raise NotFound(f'deployment "{name}" not found in namespace "{ns}"', status=404)
    return obj


def _dump(doc: Any, output: str) -> str:
    if output == "yaml":
        return yaml.safe_dump(doc, sort_keys=True)
    return as_json(doc)


# --- status ------------------------------------------------------------------------------------


def run_status(options: ClientOptions, name: str, *, watch: bool = False, output: str = "text",
               timeout: float | None = None, out: TextIO | None = None,
               err: TextIO | None = None) -> int:
    check_name(name)
    out, err = out or sys.stdout, err or sys.stderr

    async def body(client: KubeClient) -> int:
        ns = client.namespace
        if watch:
            return await _follow(client, ns, name, output, timeout, out, err)
        view = ReleaseView.of(await read_deployment(client, ns, name))
        if not view.managed:
            print(f"canarist: {refusal(view, Action.PROMOTE)}", file=err)
            return EXIT_FAILED
        out.write(status_text(view) if output == "text" else _dump(view.to_json(), output))
        return EXIT_FAILED if view.status.phase == Phase.DEGRADED else EXIT_OK

    return run_body(options, err, body)


async def _follow(client: KubeClient, ns: str, name: str, output: str,
                  limit: float | None, out: TextIO, err: TextIO) -> int:
    tty = output == "text" and out.isatty()
    changes: asyncio.Queue[tuple[str, JSON]] = asyncio.Queue()
    informer = Informer(client, "apps/v1", "Deployment", namespace=ns,
                        field_selector=f"metadata.name={name}")
    informer.add_handler(lambda etype, obj, old: changes.put_nowait((etype, obj)))
    informer.start()
    shown = ""
    loop = asyncio.get_running_loop()
    deadline = None if limit is None else loop.time() + limit
    try:
        if not await informer.wait_synced(60):
            print("canarist: the API server did not answer the watch in time", file=err)
            return EXIT_FAILED
        first = informer.get(ns, name)
        if first is None:
            raise NotFound(f'deployment "{name}" not found in namespace "{ns}"', status=404)
        obj: JSON = first
        while True:
            view = ReleaseView.of(obj)
            if not view.managed:
                print(f"\ncanarist: {refusal(view, Action.PROMOTE)}" if tty else
                      f"canarist: {refusal(view, Action.PROMOTE)}", file=err)
                return EXIT_FAILED
            shown = _draw(view, output, tty, shown, out)
            if view.ended:
                return EXIT_FAILED if view.status.phase == Phase.DEGRADED else EXIT_OK
            left = None if deadline is None else deadline - loop.time()
            if left is not None and left <= 0:
                print(f"{chr(10) if tty else ''}canarist: still {view.phase} after "
                      f"{limit:g}s", file=err)
                return EXIT_FAILED
            try:
                etype, obj = await asyncio.wait_for(changes.get(), left)
            except TimeoutError:
                continue
            if etype == "DELETED":
                print(f"{chr(10) if tty else ''}canarist: deployment {ns}/{name} was deleted",
                      file=err)
                return EXIT_NOT_FOUND
    finally:
        if tty and shown:
            out.write("\n")
        await informer.stop()


def _draw(view: ReleaseView, output: str, tty: bool, shown: str, out: TextIO) -> str:
    if output != "text":
        doc = _dump(view.to_json(), output)
        text = doc if output == "json" else "---\n" + doc
    else:
        text = progress_line(view)
    if text == shown:
        return shown
    if tty:
        out.write("\r\x1b[K" + text)
    else:
        out.write(text if output != "text" else text + "\n")
    out.flush()
    return text


# --- list ----------------------------------------------------------------------------------------


def run_list(options: ClientOptions, *, all_namespaces: bool = False, output: str = "text",
             out: TextIO | None = None, err: TextIO | None = None) -> int:
    out, err = out or sys.stdout, err or sys.stderr

    async def body(client: KubeClient) -> int:
        ns = "" if all_namespaces else client.namespace
        # every Deployment: those a cluster policy adopted carry no label, only a status
        items = await client.list("apps/v1", "Deployment", ns)
        found = (ReleaseView.of(i) for i in items)
        views = sorted((v for v in found if v.managed), key=lambda v: (v.namespace, v.name))
        if output != "text":
            out.write(_dump([v.to_json() for v in views], output))
        elif not views:
            where = "any namespace" if all_namespaces else f"namespace {ns}"
            print(f"No Deployments managed by canarist in {where}.", file=err)
        else:
            out.write(table(views, all_namespaces=all_namespaces))
        return EXIT_OK

    return run_body(options, err, body)


# --- actions -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ActionResult:
    """What asking for an action came to: ``done`` (written, or already pending), or why not."""

    done: bool
    message: str


async def request_action(client: KubeClient, ns: str, name: str, action: Action, *,
                         policies: PolicySource = DEFAULT_CONFIGMAP,
                         err: TextIO | None = None) -> ActionResult:
    """Write ``action`` on Deployment ``ns/name`` unless ``refusal`` says it makes no sense now
    (``promote-full`` under the Deployment's cluster policy, read from ``policies``; what keeps
    them from being read goes to ``err``); judged again if the Deployment changed in between.
    API errors (``NotFound``, ``Forbidden``, an admission webhook's denial) are raised as they
    come."""
    found: PolicySet | None = None
    for _ in range(5):
        obj = await read_deployment(client, ns, name)
        view = ReleaseView.of(obj)
        policy = None
        if action is Action.PROMOTE_FULL and view.managed:
            if found is None:
                found = await read_policies(client, policies, err or io.StringIO())
            policy = await policy_for(client, found, obj)
        why = refusal(view, action, policy)
        if why:
            return ActionResult(False, f"{_verb(action)} refused: {why}")
        if view.pending_action == action.value:
            return ActionResult(True, f"deployment.apps/{name}: {action.value} already "
                                "requested, waiting for the reconciler")
        patch = {"metadata": {"resourceVersion": view.resource_version,
                              "annotations": {ACTION: action.value}}}
        try:
            await client.patch(_deployment(ns, name), patch)
        except Conflict:
            continue  # changed since read: judge again
        replaced = f" (replaces pending {view.pending_action})" if view.pending_action else ""
        return ActionResult(True, f"deployment.apps/{name} annotated: {ACTION}={action.value}"
                            f"{replaced}")
    return ActionResult(False, f"deployment {ns}/{name} kept changing; try again")


def run_action(options: ClientOptions, name: str, action: Action, *, out: TextIO | None = None,
               err: TextIO | None = None, policies: PolicySource | None = None) -> int:
    """Write ``action``; ``promote-full`` is judged under the Deployment's cluster policy, read
    from ``policies`` (default: the ConfigMap the chart renders)."""
    check_name(name)
    out, err = out or sys.stdout, err or sys.stderr

    async def body(client: KubeClient) -> int:
        result = await request_action(client, client.namespace, name, action,
                                      policies=policies or DEFAULT_CONFIGMAP, err=err)
        if not result.done:
            print(f"canarist: {result.message}", file=err)
            return EXIT_FAILED
        print(result.message, file=out)
        return EXIT_OK

    return run_body(options, err, body)


def _verb(action: Action) -> str:
    return "promote --full" if action is Action.PROMOTE_FULL else action.value

