"""DELETE and DELETE-collection: preconditions, finalizers, graceful deletion, propagation."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from webhook.cluster import status as st
from webhook.cluster.admission.attributes import ADMIN, Attributes
from webhook.cluster.auth.user import UserInfo, as_user
from webhook.cluster.core import APICore
from webhook.cluster.meta import at, clone, metadata
from webhook.cluster.resources import ResourceType
from webhook.errors import APIStatusError

POLICIES = ("Orphan", "Background", "Foreground")
Warnings = list[str]


class DeleteVerbs(APICore):
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
        user: str | UserInfo = ADMIN,
        version: str | None = None,
        warnings: Warnings | None = None,
        admit: bool = True,
    ) -> dict[str, Any]:
        """``admit=False``: the API server's own delete (an eviction), without admission."""
        rt, version = self.resolve(resource, version)
        ns = self._scope(rt, namespace)
        old = self._existing(rt, ns, name)
        self._check_writer(rt, as_user(user).name, "delete")
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
        attrs = Attributes("DELETE", rt, version, "", ns, name, old, as_user(user), dry_run,
                           {"kind": "DeleteOptions", "apiVersion": "meta.k8s.io/v1"})
        if admit:
            await self.admit_and_validate(attrs, None, warnings)
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
        user: str | UserInfo = ADMIN,
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
