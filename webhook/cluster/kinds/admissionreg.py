"""Mutating- and ValidatingWebhookConfiguration defaults and validation
(admissionregistration.k8s.io/v1, pkg/apis/admissionregistration/{v1/defaults,validation}).

A ``caBundle`` is bytes: text that is not base64 is a 400 from the JSON decoder, as upstream;
base64 of something that is not PEM certificates is stored, and calling the webhook fails
(upstream validates PEM only for CRD conversion webhooks)."""

from __future__ import annotations

import base64
import binascii
from typing import Any
from urllib.parse import urlsplit

from webhook.cluster.kinds.base import GEN_NON_METADATA, Strategy
from webhook.cluster.kinds.common import duplicate, invalid, not_supported, required
from webhook.cluster.kinds.typed import DecodeReport
from webhook.cluster.status import Cause

_OPERATIONS = ["*", "CONNECT", "CREATE", "DELETE", "UPDATE"]
_SIDE_EFFECTS = ["None", "NoneOnDryRun"]


def default_webhook(w: Any, *, mutating: bool = True) -> None:
    if not isinstance(w, dict):
        return
    w.setdefault("failurePolicy", "Fail")
    w.setdefault("matchPolicy", "Equivalent")
    w.setdefault("namespaceSelector", {})
    w.setdefault("objectSelector", {})
    w.setdefault("timeoutSeconds", 10)
    if mutating:
        w.setdefault("reinvocationPolicy", "Never")
    for rule in w.get("rules") or []:
        if isinstance(rule, dict):
            rule.setdefault("scope", "*")
    svc = (w.get("clientConfig") or {}).get("service")
    if isinstance(svc, dict):
        svc.setdefault("port", 443)


def validate_webhook(w: Any, path: str) -> list[Cause]:
    if not isinstance(w, dict):
        return [invalid(path, w, "must be an object")]
    out: list[Cause] = []
    name = w.get("name")
    if not name:
        out.append(required(f"{path}.name"))
    elif len(str(name).split(".")) < 3:
        out.append(invalid(f"{path}.name", name,
                           "should be a domain with at least three segments separated by dots"))
    cc = w.get("clientConfig") or {}
    has_url, has_svc = bool(cc.get("url")), bool(cc.get("service"))
    if has_url == has_svc:
        out.append(required(f"{path}.clientConfig", "exactly one of url or service is required"))
    if has_url:
        u = urlsplit(str(cc["url"]))
        if u.scheme != "https":
            out.append(invalid(f"{path}.clientConfig.url", cc["url"],
                               "'https' is the only allowed URL scheme"))
        if u.username or u.password:
            out.append(invalid(f"{path}.clientConfig.url", cc["url"],
                               "user information is not permitted in the URL"))
        if u.query or u.fragment:
            out.append(invalid(f"{path}.clientConfig.url", cc["url"],
                               "query parameters and fragments are not permitted in the URL"))
    if has_svc:
        svc = cc["service"]
        for key in ("name", "namespace"):
            if not svc.get(key):
                out.append(required(f"{path}.clientConfig.service.{key}"))
        port = svc.get("port")
        if isinstance(port, int) and not 1 <= port <= 65535:
            out.append(invalid(f"{path}.clientConfig.service.port", port,
                               "port is not valid: must be between 1 and 65535, inclusive"))
    se = w.get("sideEffects")
    if se is None:
        out.append(required(f"{path}.sideEffects", "must specify one of None, NoneOnDryRun"))
    elif se not in _SIDE_EFFECTS:
        out.append(not_supported(f"{path}.sideEffects", se, _SIDE_EFFECTS))
    arv = w.get("admissionReviewVersions")
    if not arv:
        out.append(required(f"{path}.admissionReviewVersions",
                            "must specify one of v1, v1beta1"))
    elif not any(v in ("v1", "v1beta1") for v in arv):
        out.append(invalid(f"{path}.admissionReviewVersions", arv,
                           "must include at least one of v1, v1beta1"))
    ts = w.get("timeoutSeconds")
    if isinstance(ts, int) and not 1 <= ts <= 30:
        out.append(invalid(f"{path}.timeoutSeconds", ts,
                           "the timeout value must be between 1 and 30 seconds"))
    fp = w.get("failurePolicy")
    if fp not in ("Fail", "Ignore"):
        out.append(not_supported(f"{path}.failurePolicy", fp, ["Fail", "Ignore"]))
    for i, rule in enumerate(w.get("rules") or []):
        for j, op in enumerate((rule or {}).get("operations") or []):
            if op not in _OPERATIONS:
                out.append(not_supported(f"{path}.rules[{i}].operations[{j}]", op, _OPERATIONS))
    return out


def base64_problem(text: str) -> int | None:
    """Where Go's base64 decoder (StdEncoding) stops on ``text``, or None if it decodes."""
    alphabet = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
    body = text.rstrip("=")
    for i, ch in enumerate(body):
        if ch not in alphabet:
            return i
    padding = len(text) - len(body)
    if len(text) % 4 or padding > 2 or len(body) % 4 == 1:
        return len(body) if len(body) % 4 == 1 else len(text) - len(text) % 4 or len(body)
    try:
        base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return len(body)
    return None


class MutatingWebhookConfigurationStrategy(Strategy):
    generation = GEN_NON_METADATA
    mutating = True

    def decode(self, obj: dict[str, Any]) -> DecodeReport:
        report = super().decode(obj)
        for w in obj.get("webhooks") or []:
            bundle = ((w or {}).get("clientConfig") or {}).get("caBundle")
            if isinstance(bundle, str):
                at = base64_problem(bundle)
                if at is not None:
                    report.type_errors.append(f"illegal base64 data at input byte {at}")
        return report

    def default(self, obj: dict[str, Any]) -> None:
        for w in obj.get("webhooks") or []:
            default_webhook(w, mutating=self.mutating)

    def validate(self, obj: dict[str, Any]) -> list[Cause]:
        out = super().validate(obj)
        names: set[str] = set()
        for i, w in enumerate(obj.get("webhooks") or []):
            out += validate_webhook(w, f"webhooks[{i}]")
            name = w.get("name") if isinstance(w, dict) else None
            if name in names:
                out.append(duplicate(f"webhooks[{i}].name", name))
            if isinstance(name, str):
                names.add(name)
        return out


class ValidatingWebhookConfigurationStrategy(MutatingWebhookConfigurationStrategy):
    mutating = False
