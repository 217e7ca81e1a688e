"""Events, served as core ``v1`` and as ``events.k8s.io/v1`` over one store, as upstream does.

The events.k8s.io/v1 form renames fields of the stored (core) form
(pkg/apis/events/v1/conversion.go): ``regarding`` is ``involvedObject``, ``note`` is
``message``, ``reportingController`` is ``reportingComponent``, and the legacy
``source``/``firstTimestamp``/``lastTimestamp``/``count`` are ``deprecatedSource``/
``deprecatedFirstTimestamp``/``deprecatedLastTimestamp``/``deprecatedCount``; everything else
(reason, type, action, eventTime, series, related, reportingInstance) is the same. An Event
written through either group is read through both.

Validation is pkg/apis/core/validation/events.go: the legacy rules for both groups (an event
with an ``eventTime`` needs a reporting controller, instance, action and reason, within their
lengths; the namespaces agree), and for events.k8s.io/v1 creates the strict ones as well.
"""

from __future__ import annotations

import re
from typing import Any

from webhook.cluster.kinds.base import Strategy
from webhook.cluster.kinds.common import (
    DNS1123_SUBDOMAIN,
    SUBDOMAIN_MSG,
    immutable,
    invalid,
    required,
    validate_object_meta_update,
)
from webhook.cluster.status import Cause

# events.k8s.io/v1 name -> core v1 name
RENAMED = {
    "regarding": "involvedObject",
    "note": "message",
    "reportingController": "reportingComponent",
    "deprecatedSource": "source",
    "deprecatedFirstTimestamp": "firstTimestamp",
    "deprecatedLastTimestamp": "lastTimestamp",
    "deprecatedCount": "count",
}
TO_EVENTS_V1 = {core: v1 for v1, core in RENAMED.items()}
REPORTING_INSTANCE_MAX = ACTION_MAX = REASON_MAX = 128
NOTE_MAX = 1024
_QUALIFIED = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_QUALIFIED_MSG = (
    "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and "
    "end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex "
    "used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
)


def _renamed(obj: dict[str, Any], names: dict[str, str], api_version: str) -> dict[str, Any]:
    out = {names.get(k, k): v for k, v in obj.items()}
    out["apiVersion"] = api_version
    return out


def _qualified_name(value: str, path: str) -> list[Cause]:
    """ValidateQualifiedName: an optional DNS-subdomain prefix and a name part."""
    prefix, _, name = value.rpartition("/")
    out: list[Cause] = []
    if prefix and not DNS1123_SUBDOMAIN.match(prefix):
        out.append(invalid(path, value, "prefix part " + SUBDOMAIN_MSG))
    if not name:
        out.append(invalid(path, value, "name part must be non-empty"))
    elif len(name) > 63:
        out.append(invalid(path, value, "name part must be no more than 63 characters"))
    elif not _QUALIFIED.match(name):
        out.append(invalid(path, value, _QUALIFIED_MSG))
    return out


def legacy_causes(event: dict[str, Any], controller_field: str, note_field: str,
                  regarding_field: str) -> list[Cause]:
    """legacyValidateEvent on the stored (core) form; field names as the client's group
    spells them."""
    out: list[Cause] = []
    ns = str((event.get("metadata") or {}).get("namespace") or "")
    involved_ns = str((event.get("involvedObject") or {}).get("namespace") or "")
    where = f"{regarding_field}.namespace"
    if not event.get("eventTime"):
        if (involved_ns and ns != involved_ns) or (not involved_ns and ns not in ("",
                                                                                   "default")):
            out.append(invalid(where, involved_ns, "does not match event.namespace"))
    else:
        if not involved_ns and ns not in ("default", "kube-system"):
            out.append(invalid(where, involved_ns, "does not match event.namespace"))
        controller = str(event.get("reportingComponent") or "")
        if not controller:
            out.append(required(controller_field))
        out += _qualified_name(controller, controller_field)
        for key, limit in (("reportingInstance", REPORTING_INSTANCE_MAX), ("action", ACTION_MAX),
                           ("reason", REASON_MAX)):
            value = str(event.get(key) or "")
            if not value:
                out.append(required(key))
            if len(value) > limit:
                out.append(invalid(key, "", f"can have at most {limit} characters"))
        if len(str(event.get("message") or "")) > NOTE_MAX:
            out.append(invalid(note_field, "", f"can have at most {NOTE_MAX} characters"))
    if ns and not DNS1123_SUBDOMAIN.match(ns):
        out.append(invalid("namespace", ns, SUBDOMAIN_MSG))
    return out


class EventStrategy(Strategy):
    """core/v1 Events: only the legacy rules."""

    def validate(self, obj: dict[str, Any]) -> list[Cause]:
        return super().validate(obj) + legacy_causes(obj, "reportingComponent", "message",
                                                     "involvedObject")


class EventsV1Strategy(Strategy):
    """events.k8s.io/v1 Events: the core store, the renamed fields, the strict rules."""

    def to_storage(self, obj: dict[str, Any]) -> dict[str, Any]:
        return _renamed(obj, RENAMED, "v1")

    def from_storage(self, obj: dict[str, Any]) -> dict[str, Any]:
        return _renamed(obj, TO_EVENTS_V1, self.rt.api_version())

    def validate(self, obj: dict[str, Any]) -> list[Cause]:
        out = super().validate(obj)
        core = self.to_storage(obj)
        out += legacy_causes(core, "reportingController", "note", "regarding")
        if not obj.get("eventTime"):
            out.append(required("eventTime"))
        etype = obj.get("type")
        if etype not in ("Normal", "Warning"):
            out.append(invalid("type", "", f"has invalid value: {etype or ''}"))
        for key in ("deprecatedFirstTimestamp", "deprecatedLastTimestamp", "deprecatedCount"):
            if obj.get(key):
                out.append(invalid(key, "", "needs to be unset"))
        source = obj.get("deprecatedSource") or {}
        if isinstance(source, dict) and (source.get("component") or source.get("host")):
            out.append(invalid("deprecatedSource", "", "needs to be unset"))
        series = obj.get("series")
        if isinstance(series, dict):
            if int(series.get("count") or 0) < 2:
                out.append(invalid("series.count", "", "should be at least 2"))
            if not series.get("lastObservedTime"):
                out.append(required("series.lastObservedTime"))
        return out

    def validate_update(self, new: dict[str, Any], old: dict[str, Any]) -> list[Cause]:
        """ValidateEventUpdate: the legacy rules, and what identifies the event is fixed."""
        out = Strategy.validate(self, new) + validate_object_meta_update(new, old)
        out += legacy_causes(self.to_storage(new), "reportingController", "note", "regarding")
        for key in ("regarding", "related", "reportingController", "reportingInstance",
                    "action", "reason", "type", "eventTime"):
            if new.get(key) != old.get(key):
                out.append(immutable(key, new.get(key)))
        return out
