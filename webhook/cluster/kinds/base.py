"""The per-kind behaviour of the registry (upstream: each type's ``rest.RESTCreateStrategy``).

A ``Strategy`` defaults, prepares and validates objects of one kind. Every method is pure on
the dicts it is handed (the API passes private copies): no I/O, no store access.
"""

from __future__ import annotations

from typing import Any

from webhook.cluster.kinds.common import validate_object_meta, validate_object_meta_update
from webhook.cluster.kinds.typed import DecodeReport, decode, model_for
from webhook.cluster.resources import ResourceType
from webhook.cluster.status import Cause

# How metadata.generation moves (k8s-semantics §3.4).
GEN_NONE = "none"
GEN_SPEC = "spec"  # bump when .spec changes
GEN_SPEC_ANNOTATIONS = "spec+annotations"  # Deployments: annotations are copied to ReplicaSets
GEN_NON_METADATA = "non-metadata"  # custom resources without a status subresource
GEN_NON_METADATA_STATUS = "non-metadata-status"  # custom resources with one


class Strategy:
    """Defaults for a kind with no special rules."""

    generation = GEN_NONE
    # PUT without metadata.resourceVersion is allowed (last writer wins) unless this is False.
    unconditional_update = True
    # DELETE answers with the deleted object instead of a Success Status (pods, services...).
    return_deleted_object = False
    name_rule = "subdomain"  # subdomain | label | dns1035 | path

    def __init__(self, rt: ResourceType) -> None:
        self.rt = rt

    # --- storage form: a resource served over another one's store converts (events.k8s.io) --
    def to_storage(self, obj: dict[str, Any]) -> dict[str, Any]:
        return obj

    def from_storage(self, obj: dict[str, Any]) -> dict[str, Any]:
        return obj

    # --- who may write: a resource the cluster maintains names its writers; anyone else gets
    # 405 with ``read_only`` as the reason ------------------------------------------------------
    writers: tuple[str, ...] = ()
    read_only = ""  # empty: anyone may write

    # --- decoding: types checked, unknown fields dropped (reported for fieldValidation) ------
    def decode(self, obj: dict[str, Any]) -> DecodeReport:
        report = DecodeReport()
        model = model_for(self.rt.api_version(), self.rt.kind)
        if model is not None:
            decode(obj, model, prune=True, report=report)
        return report

    # --- defaulting (runs at decode time, and again after a mutating webhook's patch) --------
    def default(self, obj: dict[str, Any]) -> None:
        return None

    # --- create/update preparation -----------------------------------------------------------
    def prepare_create(self, obj: dict[str, Any]) -> None:
        """Status is the system's: cleared (an empty struct for built-ins, absent for CRs)."""
        if "status" in self.rt.subresources:
            if self.rt.custom:
                obj.pop("status", None)
            else:
                obj["status"] = {}

    def prepare_update(self, new: dict[str, Any], old: dict[str, Any]) -> None:
        """Main-resource write: status comes from the stored object when it has a subresource."""
        if "status" in self.rt.subresources:
            if "status" in old:
                new["status"] = old["status"]
            else:
                new.pop("status", None)

    def prepare_status_update(self, new: dict[str, Any], old: dict[str, Any]) -> None:
        """/status write: everything but status (and most metadata) comes from the old object."""
        for k, v in old.items():
            if k not in ("status", "metadata"):
                new[k] = v
        for k in list(new):
            if k not in old and k not in ("status", "metadata", "apiVersion", "kind"):
                del new[k]
        md, old_md = new.setdefault("metadata", {}), old.get("metadata", {})
        if "labels" in old_md:
            md["labels"] = old_md["labels"]
        else:
            md.pop("labels", None)

    def status_update_keeps_metadata(self) -> bool:
        return True

    # --- validation -------------------------------------------------------------------------
    def validate(self, obj: dict[str, Any]) -> list[Cause]:
        return validate_object_meta(obj, self.rt.namespaced, self.name_rule)

    def validate_update(self, new: dict[str, Any], old: dict[str, Any]) -> list[Cause]:
        return self.validate(new) + validate_object_meta_update(new, old)

    def validate_status_update(self, new: dict[str, Any], old: dict[str, Any]) -> list[Cause]:
        return validate_object_meta_update(new, old)

    # --- deletion ---------------------------------------------------------------------------
    def grace_seconds(self, obj: dict[str, Any], requested: int | None) -> int:
        """Seconds the object lingers with a deletionTimestamp before it is removed."""
        return 0

    # --- generation -------------------------------------------------------------------------
    def generation_changed(self, new: dict[str, Any], old: dict[str, Any]) -> bool:
        if self.generation == GEN_SPEC:
            return new.get("spec") != old.get("spec")
        if self.generation == GEN_SPEC_ANNOTATIONS:
            return new.get("spec") != old.get("spec") or (
                new.get("metadata", {}).get("annotations") or {}
            ) != (old.get("metadata", {}).get("annotations") or {})
        if self.generation in (GEN_NON_METADATA, GEN_NON_METADATA_STATUS):
            skip = {"metadata", "apiVersion", "kind"}
            if self.generation == GEN_NON_METADATA_STATUS:
                skip.add("status")
            keys = (set(new) | set(old)) - skip
            return any(new.get(k) != old.get(k) for k in keys)
        return False

    def uses_generation(self) -> bool:
        return self.generation != GEN_NONE
