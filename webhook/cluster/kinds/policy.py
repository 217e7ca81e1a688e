"""policy/v1 PodDisruptionBudgets (pkg/registry/policy/poddisruptionbudget,
pkg/apis/policy/validation): spec rules, a status only the disruption controller writes."""

from __future__ import annotations

import json
from typing import Any

from webhook.cluster.kinds.base import GEN_SPEC, Strategy
from webhook.cluster.kinds.common import int_or_percent, invalid, not_supported
from webhook.cluster.selectors import SelectorError, selector_from_object
from webhook.cluster.status import Cause

EVICTION_POLICIES = ["AlwaysAllow", "IfHealthyBudget"]
PERCENT_MSG = (
    "a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%',  "
    "or '93%', regex used for validation is '[0-9]+%')"
)
EMPTY_STATUS = {"disruptionsAllowed": 0, "currentHealthy": 0, "desiredHealthy": 0,
                "expectedPods": 0}


def int_or_percent_causes(value: Any, path: str) -> list[Cause]:
    """ValidatePositiveIntOrPercent and IsNotMoreThan100Percent."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        return [invalid(path, value, "must be an integer or percentage (e.g '5%')")]
    parsed = int_or_percent(value)
    if isinstance(value, str) and parsed is None:
        return [invalid(path, value, PERCENT_MSG)]
    if parsed is None:
        return []
    number, percent = parsed
    if number < 0:
        return [invalid(path, value, "must be greater than or equal to 0")]
    if percent and number > 100:
        return [invalid(path, value, "must not be greater than 100%")]
    return []


def validate_selector(selector: Any, path: str) -> list[Cause]:
    if selector is None:
        return []
    if not isinstance(selector, dict):
        return [invalid(path, selector, "must be a label selector")]
    try:
        selector_from_object(selector)
    except SelectorError as exc:
        return [invalid(path, selector, str(exc))]
    return []


class PodDisruptionBudgetStrategy(Strategy):
    generation = GEN_SPEC

    def prepare_create(self, obj: dict[str, Any]) -> None:
        obj["status"] = dict(EMPTY_STATUS)

    def validate(self, obj: dict[str, Any]) -> list[Cause]:
        out = super().validate(obj)
        spec = obj.get("spec")
        if not isinstance(spec, dict):
            return out
        if spec.get("minAvailable") is not None and spec.get("maxUnavailable") is not None:
            out.append(invalid("spec", json.loads(json.dumps(spec)),
                               "minAvailable and maxUnavailable cannot be both set"))
        for key in ("minAvailable", "maxUnavailable"):
            if spec.get(key) is not None:
                out += int_or_percent_causes(spec[key], f"spec.{key}")
        out += validate_selector(spec.get("selector"), "spec.selector")
        policy = spec.get("unhealthyPodEvictionPolicy")
        if policy is not None and policy not in EVICTION_POLICIES:
            out.append(not_supported("spec.unhealthyPodEvictionPolicy", policy,
                                     EVICTION_POLICIES))
        return out

    def validate_status_update(self, new: dict[str, Any], old: dict[str, Any]) -> list[Cause]:
        out = super().validate_status_update(new, old)
        status = new.get("status") or {}
        for key in ("disruptionsAllowed", "currentHealthy", "desiredHealthy", "expectedPods"):
            value = status.get(key)
            if isinstance(value, int) and value < 0:
                out.append(invalid(f"status.{key}", value, "must be greater than or equal to 0"))
        return out
