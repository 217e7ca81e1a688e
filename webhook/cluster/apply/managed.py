"""managedFields: who set which field, and what an apply or an update does to that.

- **Apply** (``apply``): the configuration is merged into the live object. A field it sets to a
  value different from the live one, owned by another manager, is a conflict (409) unless
  ``force`` (the field then changes hands). Fields this manager applied before and no longer
  applies are removed, unless another manager owns them too. The manager's Apply entry becomes
  exactly the configuration's fields. An object no manager owns yet (created before any apply)
  first gives all its fields to ``before-first-apply``, as upstream does.
- **Update** (``track_update``, any other write to an object that has managedFields): the
  writer takes the fields whose value it changed, the other managers lose them, fields removed
  are dropped. ``managedFields: []`` in the request clears the record.

Only objects that were applied at least once carry managedFields; other writes skip all this.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from webhook.cluster.apply.fields import (
    SELF,
    FieldPath,
    ListKinds,
    describe,
    from_fieldsv1,
    leaves,
    lookup,
    to_fieldsv1,
)
from webhook.cluster.apply.merge import merged, removed
from webhook.cluster.meta import metadata

APPLY, UPDATE = "Apply", "Update"
# who an in-process write is attributed to (the embedded controllers, kubelet and collector)
DEFAULT_MANAGER = "kube-controller-manager"
BEFORE_FIRST_APPLY = "before-first-apply"


@dataclass(frozen=True)
class Entry:
    manager: str
    operation: str
    api_version: str
    time: str
    fields: frozenset[FieldPath]
    subresource: str = ""

    def same_owner(self, manager: str, operation: str) -> bool:
        return self.manager == manager and self.operation == operation

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"manager": self.manager, "operation": self.operation,
                               "apiVersion": self.api_version, "time": self.time,
                               "fieldsType": "FieldsV1", "fieldsV1": to_fieldsv1(self.fields)}
        if self.subresource:
            out["subresource"] = self.subresource
        return out


@dataclass(frozen=True)
class Conflict:
    manager: str
    api_version: str
    path: FieldPath

    def __str__(self) -> str:
        return f'conflict with "{self.manager}" using {self.api_version}: {describe(self.path)}'


class ApplyConflicts(Exception):
    def __init__(self, conflicts: list[Conflict]) -> None:
        self.conflicts = conflicts
        n = len(conflicts)
        lines = [str(c) for c in conflicts]
        head = f"Apply failed with {n} conflict{'s' if n != 1 else ''}: "
        super().__init__(head + (lines[0] if n == 1 else "\n" + "\n".join(f"- {x}" for x in lines)))


def read_entries(obj: Mapping[str, Any]) -> list[Entry]:
    """The object's managedFields; entries that are not FieldsV1 records are left out."""
    out = []
    for raw in metadata(obj).get("managedFields") or ():
        if not isinstance(raw, Mapping) or not isinstance(raw.get("fieldsV1"), Mapping):
            continue
        out.append(Entry(str(raw.get("manager") or ""), str(raw.get("operation") or UPDATE),
                         str(raw.get("apiVersion") or ""), str(raw.get("time") or ""),
                         frozenset(from_fieldsv1(raw["fieldsV1"])),
                         str(raw.get("subresource") or "")))
    return out


def _write(obj: dict[str, Any], entries: list[Entry]) -> None:
    kept = [e.to_json() for e in entries if e.fields]
    md = obj.setdefault("metadata", {})
    if kept:
        md["managedFields"] = kept
    else:
        md.pop("managedFields", None)


def _held(path: FieldPath, held: set[FieldPath]) -> bool:
    """Whether another manager owns ``path`` or a field inside it."""
    stem = path[:-1] if path[-1] == SELF else path
    return path in held or any(h[:len(stem)] == stem for h in held)


def apply(live: dict[str, Any] | None, config: dict[str, Any], manager: str, force: bool,
          kinds: ListKinds, api_version: str, now: str) -> dict[str, Any]:
    """The object after ``manager`` applied ``config`` (``live`` None: it is created)."""
    entries = read_entries(live) if live is not None else []
    if live is not None and not entries:
        existing = frozenset(leaves(live, kinds))
        if existing:
            entries = [Entry(BEFORE_FIRST_APPLY, UPDATE, api_version, now, existing)]
    wanted = leaves(config, kinds)
    mine = next((e for e in entries if e.same_owner(manager, APPLY)), None)
    others = [e for e in entries if not e.same_owner(manager, APPLY)]
    base = live if live is not None else {}
    conflicts: list[Conflict] = []
    for path, value in wanted.items():
        found, current = lookup(base, path)
        if path[-1] == SELF or value == {} or not found or current == value:
            continue  # presence (an item, an empty map) does not conflict
        conflicts.extend(Conflict(e.manager, e.api_version, path) for e in others
                         if path in e.fields)
    if conflicts and not force:
        raise ApplyConflicts(conflicts)
    taken = {c.path for c in conflicts}
    others = [Entry(e.manager, e.operation, e.api_version, e.time, e.fields - taken,
                    e.subresource) for e in others]
    new = merged(base, config, kinds) if live is not None else copy.deepcopy(config)
    if mine is not None:
        # kept: what others own, and what holds a field applied now (a map that gained fields)
        held = set(wanted).union(*(e.fields for e in others))
        new = removed(new, [p for p in mine.fields - wanted.keys() if not _held(p, held)])
    _write(new, [*others, Entry(manager, APPLY, api_version, now, frozenset(wanted))])
    return new


def track_update(old: Mapping[str, Any], new: dict[str, Any], manager: str, kinds: ListKinds,
                 api_version: str, now: str) -> None:
    """Record in ``new`` the fields an ordinary write by ``manager`` changed."""
    asked = metadata(new).get("managedFields")
    entries = read_entries(old)
    if not entries or asked == []:
        metadata(new).pop("managedFields", None)
        return
    before, after = leaves(old, kinds), leaves(new, kinds)
    changed = {p for p, v in after.items() if p not in before or before[p] != v}
    gone = before.keys() - after.keys()
    if not changed and not gone:
        metadata(new)["managedFields"] = copy.deepcopy(metadata(old).get("managedFields"))
        return
    out = [Entry(e.manager, e.operation, e.api_version, e.time, e.fields - changed - gone,
                 e.subresource) for e in entries]
    for i, e in enumerate(out):
        if e.same_owner(manager, UPDATE) and not e.subresource:
            out[i] = Entry(manager, UPDATE, api_version, now, e.fields | changed)
            break
    else:
        out.append(Entry(manager, UPDATE, api_version, now, frozenset(changed)))
    _write(new, out)
