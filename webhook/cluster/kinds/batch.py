"""batch/v1 Jobs and CronJobs (pkg/registry/batch, pkg/apis/batch/{v1/defaults,validation}).

Job: defaults as 1.32 sets them (completions and parallelism 1 when both are unset,
backoffLimit 6, completionMode NonIndexed, suspend and manualSelector false,
podReplacementPolicy TerminatingOrFailed, or Failed beside a podFailurePolicy); on create the
selector is generated from the uid (``batch.kubernetes.io/controller-uid``) and the template
gets the job-name and controller-uid labels (both the ``batch.kubernetes.io/`` and the legacy
spellings), which the Job also takes when it has no labels of its own. CronJob: defaults, the
schedule parsed as robfig/cron does, the job template checked like a Job's spec.
"""

from __future__ import annotations

from typing import Any

from webhook.cluster import cron
from webhook.cluster.kinds.base import GEN_SPEC, Strategy
from webhook.cluster.kinds.common import (
    immutable,
    invalid,
    not_supported,
    required,
)
from webhook.cluster.kinds.podspec import default_template, validate_template
from webhook.cluster.selectors import SelectorError, selector_from_object
from webhook.cluster.status import Cause

JOB_NAME = "batch.kubernetes.io/job-name"
CONTROLLER_UID = "batch.kubernetes.io/controller-uid"
LEGACY_JOB_NAME = "job-name"
LEGACY_CONTROLLER_UID = "controller-uid"
TRACKING_FINALIZER = "batch.kubernetes.io/job-tracking"
COMPLETION_INDEX = "batch.kubernetes.io/job-completion-index"
MAX_INT32 = 2**31 - 1
_MODES = ["NonIndexed", "Indexed"]
_REPLACEMENT = ["Failed", "TerminatingOrFailed"]
_JOB_RESTART = ["OnFailure", "Never"]
_CONCURRENCY = ["Allow", "Forbid", "Replace"]
_CRONJOB_NAME_MAX = 52  # 63 minus the 11 characters of "-<scheduled time>"


def default_job_spec(spec: Any) -> None:
    """SetDefaults_Job on a JobSpec (a Job's, or a CronJob's job template's)."""
    if not isinstance(spec, dict):
        return
    if spec.get("completions") is None and spec.get("parallelism") is None:
        spec["completions"] = 1
        spec["parallelism"] = 1
    spec.setdefault("parallelism", 1)
    if spec.get("backoffLimit") is None:
        spec["backoffLimit"] = MAX_INT32 if spec.get("backoffLimitPerIndex") is not None else 6
    spec.setdefault("completionMode", "NonIndexed")
    spec.setdefault("suspend", False)
    spec.setdefault("manualSelector", False)
    if spec.get("podReplacementPolicy") is None:
        spec["podReplacementPolicy"] = ("Failed" if spec.get("podFailurePolicy") is not None
                                        else "TerminatingOrFailed")
    for rule in (spec.get("podFailurePolicy") or {}).get("rules") or []:
        for cond in (rule or {}).get("onPodConditions") or []:
            if isinstance(cond, dict):
                cond.setdefault("status", "True")
    default_template(spec.get("template"))


def generate_selector(job: dict[str, Any]) -> None:
    """The selector and template labels of a Job without ``manualSelector`` (strategy.go)."""
    md = job.get("metadata") or {}
    spec = job.get("spec")
    if not isinstance(spec, dict) or spec.get("manualSelector") is True:
        return
    template = spec.get("template")
    if not isinstance(template, dict):
        return
    tmd = template.setdefault("metadata", {})
    if not isinstance(tmd, dict):
        return
    labels = tmd.get("labels")
    if not isinstance(labels, dict):
        labels = tmd["labels"] = {}
    name, uid = str(md.get("name") or ""), str(md.get("uid") or "")
    for key in (LEGACY_JOB_NAME, JOB_NAME):
        labels.setdefault(key, name)
    for key in (LEGACY_CONTROLLER_UID, CONTROLLER_UID):
        labels.setdefault(key, uid)
    selector = spec.get("selector")
    if not isinstance(selector, dict):
        selector = spec["selector"] = {}
    match = selector.get("matchLabels")
    if not isinstance(match, dict):
        match = selector["matchLabels"] = {}
    match.setdefault(CONTROLLER_UID, uid)


def _nonnegative(spec: dict[str, Any], key: str, path: str) -> list[Cause]:
    value = spec.get(key)
    if isinstance(value, int) and value < 0:
        return [invalid(f"{path}.{key}", value, "must be greater than or equal to 0")]
    return []


def validate_job_spec(spec: Any, path: str, *, template_of: str = "job") -> list[Cause]:
    """validateJobSpec: counts, modes, policies and the pod template."""
    if not isinstance(spec, dict):
        return [required(path)]
    out: list[Cause] = []
    for key in ("parallelism", "completions", "activeDeadlineSeconds", "backoffLimit",
                "ttlSecondsAfterFinished", "backoffLimitPerIndex", "maxFailedIndexes"):
        out += _nonnegative(spec, key, path)
    mode = spec.get("completionMode")
    if mode is not None and mode not in _MODES:
        out.append(not_supported(f"{path}.completionMode", mode, _MODES))
    if mode == "Indexed" and spec.get("completions") is None:
        out.append(required(f"{path}.completions", "when completion mode is Indexed"))
    if mode != "Indexed" and spec.get("backoffLimitPerIndex") is not None:
        out.append(invalid(f"{path}.backoffLimitPerIndex", spec["backoffLimitPerIndex"],
                           "requires indexed completion mode"))
    policy = spec.get("podReplacementPolicy")
    if policy is not None and policy not in _REPLACEMENT:
        out.append(not_supported(f"{path}.podReplacementPolicy", policy, _REPLACEMENT))
    elif policy == "TerminatingOrFailed" and spec.get("podFailurePolicy") is not None:
        out.append(not_supported(f"{path}.podReplacementPolicy", policy, ["Failed"]))
    out += validate_template(spec.get("template"), f"{path}.template", restart=_JOB_RESTART)
    return out


def _selector_causes(spec: dict[str, Any], path: str) -> list[Cause]:
    selector = spec.get("selector")
    if selector is None:
        return [required(f"{path}.selector")]
    labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
    try:
        sel = selector_from_object(selector)
    except SelectorError as exc:
        return [invalid(f"{path}.selector", selector, str(exc))]
    if not sel.matches(labels):
        return [invalid(f"{path}.template.metadata.labels", labels,
                        "`selector` does not match template `labels`")]
    return []


def _generated_selector_causes(job: dict[str, Any]) -> list[Cause]:
    """ValidateGeneratedSelector: the labels and selector generation put there are there."""
    spec = job.get("spec") or {}
    if spec.get("manualSelector") is True or not isinstance(spec.get("selector"), dict):
        return []
    md = job.get("metadata") or {}
    name, uid = str(md.get("name") or ""), str(md.get("uid") or "")
    labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
    out: list[Cause] = []
    for key, want in ((CONTROLLER_UID, uid), (JOB_NAME, name)):
        if labels.get(key) != want:
            out.append(invalid(f"spec.template.metadata.labels[{key}]", labels.get(key),
                               f"must be '{want}'"))
    try:
        sel = selector_from_object(spec["selector"])
    except SelectorError:
        return out
    if not sel.matches({CONTROLLER_UID: uid, JOB_NAME: name}):
        out.append(invalid("spec.selector", spec["selector"], "`selector` not auto-generated"))
    return out


class JobStrategy(Strategy):
    generation = GEN_SPEC

    def default(self, obj: dict[str, Any]) -> None:
        default_job_spec(obj.get("spec"))

    def prepare_create(self, obj: dict[str, Any]) -> None:
        super().prepare_create(obj)
        generate_selector(obj)
        md = obj.get("metadata")
        spec = obj.get("spec")
        if isinstance(md, dict) and isinstance(spec, dict) and not md.get("labels"):
            labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels")
            if isinstance(labels, dict) and labels:
                md["labels"] = dict(labels)

    def validate(self, obj: dict[str, Any]) -> list[Cause]:
        out = super().validate(obj)
        spec = obj.get("spec")
        if not isinstance(spec, dict):
            return [*out, required("spec")]
        out += _generated_selector_causes(obj)
        out += validate_job_spec(spec, "spec")
        out += _selector_causes(spec, "spec")
        return out

    def validate_update(self, new: dict[str, Any], old: dict[str, Any]) -> list[Cause]:
        out = super().validate_update(new, old)
        spec, old_spec = new.get("spec") or {}, old.get("spec") or {}
        for key in ("selector", "completionMode", "podFailurePolicy", "backoffLimitPerIndex",
                    "manualSelector"):
            if spec.get(key) != old_spec.get(key):
                out.append(immutable(f"spec.{key}", spec.get(key)))
        completions = spec.get("completions")
        if completions != old_spec.get("completions") and not (
                spec.get("completionMode") == "Indexed"
                and completions == spec.get("parallelism")):
            out.append(immutable("spec.completions", completions))
        if spec.get("template") != old_spec.get("template") and not _may_change_template(
                spec, old_spec):
            out.append(immutable("spec.template", spec.get("template")))
        return out

    def validate_status_update(self, new: dict[str, Any], old: dict[str, Any]) -> list[Cause]:
        out = super().validate_status_update(new, old)
        status = new.get("status") or {}
        for key in ("active", "succeeded", "failed", "ready", "terminating"):
            out += _nonnegative(status, key, "status")
        return out


def _may_change_template(spec: dict[str, Any], old_spec: dict[str, Any]) -> bool:
    """A suspended Job that never started may change its pods' scheduling directives (node
    selector, affinity, tolerations, labels, annotations, scheduling gates)."""
    if not old_spec.get("suspend"):
        return False
    new_t, old_t = dict(spec.get("template") or {}), dict(old_spec.get("template") or {})
    new_s, old_s = dict(new_t.pop("spec", None) or {}), dict(old_t.pop("spec", None) or {})
    for key in ("nodeSelector", "affinity", "tolerations", "schedulingGates"):
        new_s.pop(key, None)
        old_s.pop(key, None)
    new_md, old_md = dict(new_t.pop("metadata", None) or {}), dict(old_t.pop("metadata", None)
                                                                   or {})
    for key in ("labels", "annotations"):
        new_md.pop(key, None)
        old_md.pop(key, None)
    return new_s == old_s and new_md == old_md and new_t == old_t


class CronJobStrategy(Strategy):
    generation = GEN_SPEC

    def default(self, obj: dict[str, Any]) -> None:
        spec = obj.get("spec")
        if not isinstance(spec, dict):
            return
        spec.setdefault("concurrencyPolicy", "Allow")
        spec.setdefault("suspend", False)
        spec.setdefault("successfulJobsHistoryLimit", 3)
        spec.setdefault("failedJobsHistoryLimit", 1)
        template = (spec.get("jobTemplate") or {}).get("spec")
        if isinstance(template, dict):
            default_template(template.get("template"))

    def validate(self, obj: dict[str, Any]) -> list[Cause]:
        out = super().validate(obj)
        name = (obj.get("metadata") or {}).get("name")
        if isinstance(name, str) and len(name) > _CRONJOB_NAME_MAX:
            out.append(invalid("metadata.name", name,
                               f"must be no more than {_CRONJOB_NAME_MAX} characters"))
        spec = obj.get("spec")
        if not isinstance(spec, dict):
            return [*out, required("spec")]
        out += _schedule_causes(spec)
        out += _nonnegative(spec, "startingDeadlineSeconds", "spec")
        out += _nonnegative(spec, "successfulJobsHistoryLimit", "spec")
        out += _nonnegative(spec, "failedJobsHistoryLimit", "spec")
        policy = spec.get("concurrencyPolicy")
        if not policy:
            out.append(required("spec.concurrencyPolicy"))
        elif policy not in _CONCURRENCY:
            out.append(not_supported("spec.concurrencyPolicy", policy, _CONCURRENCY))
        out += _job_template_causes(spec.get("jobTemplate"), "spec.jobTemplate")
        return out


def _schedule_causes(spec: dict[str, Any]) -> list[Cause]:
    schedule = spec.get("schedule")
    if not schedule:
        return [required("spec.schedule")]
    out: list[Cause] = []
    try:
        cron.parse(str(schedule))
    except cron.CronError as exc:
        out.append(invalid("spec.schedule", schedule, str(exc)))
    if "TZ" in str(schedule):
        out.append(invalid("spec.schedule", schedule,
                           "cannot use TZ or CRON_TZ in schedule, use timeZone field instead"))
    tz = spec.get("timeZone")
    if tz is not None:
        import zoneinfo  # only for a CronJob with a zone: keeps the API's start light

        try:
            zoneinfo.ZoneInfo(str(tz))
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            out.append(invalid("spec.timeZone", tz, "unknown time zone " + str(tz)))
    return out


def _job_template_causes(template: Any, path: str) -> list[Cause]:
    if not isinstance(template, dict):
        return [required(path)]
    spec = template.get("spec")
    out = validate_job_spec(spec, f"{path}.spec")
    if isinstance(spec, dict):
        if spec.get("selector") is not None:
            out.append(invalid(f"{path}.spec.selector", spec["selector"],
                               "`selector` will be auto-generated"))
        if spec.get("manualSelector") is True:
            out.append(not_supported(f"{path}.spec.manualSelector", True, ["nil", "false"]))
    return out
