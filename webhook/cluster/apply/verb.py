"""The server-side apply verb: ``PATCH`` with ``application/apply-patch+yaml``.

A helper of ``ClusterAPI`` (it uses the API's own decode and write steps). The body is the
full intent of one manager (``fieldManager``, required). When the object does
not exist it is created; otherwise the intent is merged into it (``managed.apply``) and the
result goes through the same admission, validation and storage as any update. A conflict is
409 with upstream's wording and one cause per field, so kubectl explains ``--force-conflicts``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from webhook.cluster import status as st
from webhook.cluster.apply.fields import describe, list_kinds
from webhook.cluster.apply.managed import ApplyConflicts, apply
from webhook.cluster.meta import metadata, now
from webhook.errors import APIStatusError

if TYPE_CHECKING:
    from webhook.cluster.api import ClusterAPI
    from webhook.cluster.auth.user import UserInfo
    from webhook.cluster.resources import ResourceType

ATTEMPTS = 5


def _conflict(rt: ResourceType, name: str, exc: ApplyConflicts) -> APIStatusError:
    causes = [{"reason": "FieldManagerConflict",
               "message": f'conflict with "{c.manager}" using {c.api_version}',
               "field": describe(c.path)} for c in exc.conflicts]
    return st.err(409, "Conflict", str(exc), {"name": name, "group": rt.group, "kind": rt.plural,
                                             "causes": causes})


def check_intent(config: Any, rt: ResourceType, version: str, name: str) -> dict[str, Any]:
    if not isinstance(config, Mapping):
        raise st.bad_request("error decoding YAML: an apply configuration must be an object")
    want = rt.api_version(version)
    missing = [f for f in ("apiVersion", "kind") if not config.get(f)]
    if missing:
        raise st.bad_request(f"invalid object type: {', '.join(missing)} must be set in an "
                             f"apply configuration (apiVersion: {want}, kind: {rt.kind})")
    md = config.get("metadata")
    if isinstance(md, Mapping) and md.get("name") not in (None, "", name):
        raise st.bad_request(f"the name of the object ({md['name']}) does not match the name "
                             f"on the URL ({name})")
    return dict(config)


async def server_side_apply(
    api: ClusterAPI, rt: ResourceType, version: str, ns: str, name: str, config: Any, *,
    manager: str | None, force: bool, dry_run: bool, user: str | UserInfo,
    warnings: list[str] | None,
    field_validation: str | None, subresource: str | None,
) -> tuple[dict[str, Any], bool]:
    """(the object, whether it was created)."""
    if subresource:
        raise st.err(415, "UnsupportedMediaType",
                     "server-side apply to a subresource is not supported by this API server; "
                     "apply to the object itself")
    if not manager:
        raise st.bad_request("PATCH requests with apply patch type must specify fieldManager")
    intent = check_intent(config, rt, version, name)
    kinds, api_version = list_kinds(rt, version), rt.api_version(version)
    for _ in range(ATTEMPTS):
        live = api.stored(rt, ns, name)
        try:
            new = apply(None if live is None else api._out(rt, live, version), intent, manager,
                        force, kinds, api_version, now())
        except ApplyConflicts as exc:
            raise _conflict(rt, name, exc) from exc
        metadata(new)["name"] = name
        if live is None:
            try:
                created = await api.create(rt.key, ns, new, dry_run=dry_run, user=user,
                                           version=version, warnings=warnings,
                                           field_validation=field_validation, applied=True)
            except APIStatusError as exc:
                if exc.status == 409 and exc.body.get("reason") == "AlreadyExists":
                    continue  # created meanwhile: apply onto it
                raise
            return created, True
        decoded = api._decode(rt, version, new, ns, name, field_validation, warnings)
        try:
            return await api._write_update(rt, version, ns, name, decoded, "", False, dry_run,
                                           user, warnings, applied=True), False
        except api.ChangedMeanwhile:
            continue
    raise st.conflict(rt, name)
