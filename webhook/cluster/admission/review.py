"""AdmissionReview v1 requests and responses, as kube-apiserver builds and checks them."""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from webhook.cluster.admission.attributes import Attributes


class InvalidResponse(ValueError):
    """The webhook answered something that is not a usable AdmissionReview v1 response."""


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    patch: list[Any] | None
    warnings: tuple[str, ...]
    status: dict[str, Any]


def build_request(attrs: Attributes, obj: Mapping[str, Any] | None) -> dict[str, Any]:
    rt = attrs.rt
    group, version, kind = attrs.kind or (rt.group, attrs.version, rt.kind)
    kind_ref = {"group": group, "version": version, "kind": kind}
    res_ref = {"group": rt.group, "version": attrs.version, "resource": rt.plural}
    req: dict[str, Any] = {
        "uid": str(uuid.uuid4()),
        "kind": kind_ref,
        "resource": res_ref,
        "requestKind": kind_ref,
        "requestResource": res_ref,
        "operation": attrs.operation,
        "userInfo": attrs.user.to_json(),
        "object": obj,
        "oldObject": attrs.old,
        "dryRun": attrs.dry_run,
        "options": attrs.options,
    }
    if attrs.subresource:
        req["subResource"] = attrs.subresource
        req["requestSubResource"] = attrs.subresource
    if attrs.name:
        req["name"] = attrs.name
    if attrs.namespace:
        req["namespace"] = attrs.namespace
    return {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": req}


def parse_response(body: bytes, request_uid: str, *, mutating: bool = True) -> Verdict:
    """Check a response as upstream does (request/admissionreview.go); a validating webhook
    may return no patch."""
    try:
        doc = json.loads(body)
    except ValueError as exc:
        raise InvalidResponse(f"couldn't decode the response: {exc}") from exc
    if not isinstance(doc, dict):
        raise InvalidResponse("the response is not a JSON object")
    if doc.get("apiVersion") != "admission.k8s.io/v1" or doc.get("kind") != "AdmissionReview":
        raise InvalidResponse(
            f'expected webhook response of admission.k8s.io/v1, Kind=AdmissionReview, got '
            f'{doc.get("apiVersion")}, Kind={doc.get("kind")}')
    resp = doc.get("response")
    if not isinstance(resp, dict):
        raise InvalidResponse("webhook response was absent")
    if resp.get("uid") != request_uid:
        raise InvalidResponse(f'expected response.uid="{request_uid}", got "{resp.get("uid")}"')
    patch_type, raw_patch = resp.get("patchType"), resp.get("patch")
    if not mutating:
        if raw_patch not in (None, ""):
            raise InvalidResponse("validating webhook may not return response.patch")
        if patch_type is not None:
            raise InvalidResponse("validating webhook may not return response.patchType")
    patch: list[Any] | None = None
    if raw_patch not in (None, "") or patch_type not in (None, ""):
        if patch_type in (None, ""):
            raise InvalidResponse("webhook returned response.patch but not response.patchType")
        if raw_patch in (None, ""):
            raise InvalidResponse("webhook returned response.patchType but not response.patch")
        if patch_type != "JSONPatch":
            raise InvalidResponse(f'webhook returned invalid response.patchType of '
                                  f'"{patch_type}"')
        try:
            decoded = json.loads(base64.b64decode(str(raw_patch), validate=True))
        except (binascii.Error, ValueError) as exc:
            raise InvalidResponse(f"couldn't decode the JSON patch: {exc}") from exc
        if not isinstance(decoded, list):
            raise InvalidResponse("the JSON patch is not a list of operations")
        patch = decoded
    warnings = resp.get("warnings") or []
    status = resp.get("status") if isinstance(resp.get("status"), dict) else {}
    return Verdict(bool(resp.get("allowed")), patch,
                   tuple(str(w) for w in warnings if isinstance(w, str)), dict(status or {}))


def denial(webhook: str, status: Mapping[str, Any]) -> dict[str, Any]:
    """The Status a denial becomes (errors/statuserror.go ToStatusErr)."""
    out = dict(status)
    code = out.get("code")
    out["code"] = code if isinstance(code, int) and code >= 400 else 400
    out["status"] = "Failure"
    denied = f'admission webhook "{webhook}" denied the request'
    if out.get("message"):
        out["message"] = f"{denied}: {out['message']}"
    elif out.get("reason"):
        out["message"] = f"{denied}: {out['reason']}"
    else:
        out["message"] = f"{denied} without explanation"
    out.setdefault("reason", "")
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, **out}
