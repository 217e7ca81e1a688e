"""``POST serviceaccounts/<name>/token``: a TokenRequest answered with a signed token
(upstream pkg/registry/core/serviceaccount/storage/token.go).

In-process callers (the kubelet's projected volumes) use the same path::

    await api.create("serviceaccounts", ns, {
        "apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
        "spec": {"audiences": [...], "expirationSeconds": 3607,
                 "boundObjectRef": {"kind": "Pod", "apiVersion": "v1", "name": pod, "uid": uid}}},
        subresource="token", name=service_account)
    # -> the TokenRequest with status.token and status.expirationTimestamp

``expirationSeconds`` defaults to 3600 and must be 600..2^32; ``audiences`` default to the API
server's. A token bound to a pod (or a secret) works only while that object exists with the
same uid, and the pod must run as the ServiceAccount. A pod-bound token asked for 3607 s with
the API server's audiences (the kubelet's projected token) lives a year and reports 3607 s, as
upstream's ``--service-account-extend-token-expiration`` (on by default) does.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from webhook.cluster import status as st
from webhook.cluster.auth.tokens import (
    API_AUDIENCES,
    EXTENDED_EXPIRATION,
    MAX_EXPIRATION,
    MIN_EXPIRATION,
    WARN_ONLY_EXPIRATION,
    Ref,
    claims_for,
)
from webhook.cluster.core import CreateRequest
from webhook.cluster.kinds.common import invalid
from webhook.cluster.kinds.typed import DecodeReport, decode
from webhook.cluster.meta import metadata
from webhook.cluster.resources import ResourceType
from webhook.cluster.status import Cause

if TYPE_CHECKING:
    from webhook.cluster.auth.install import AuthServices

API_VERSION = "authentication.k8s.io/v1"
_TOKEN_REQUEST = ResourceType("authentication.k8s.io", "TokenRequest", "tokenrequests", True,
                              ("v1",))


def _rfc3339(epoch: float) -> str:
    return dt.datetime.fromtimestamp(epoch, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _decoded(body: Any) -> dict[str, Any]:
    if not isinstance(body, Mapping):
        raise st.bad_request("the body of the request must be a JSON object")
    for key, want in (("apiVersion", API_VERSION), ("kind", "TokenRequest")):
        if body.get(key) not in (None, "", want):
            raise st.bad_request(f"the {'API version' if key == 'apiVersion' else 'kind'} in "
                                 f"the data ({body[key]}) does not match the expected "
                                 f"{'API version' if key == 'apiVersion' else 'kind'} ({want})")
    obj: dict[str, Any] = {**body, "apiVersion": API_VERSION, "kind": "TokenRequest"}
    report = DecodeReport()
    decode(obj, "AuthenticationV1TokenRequest", prune=True, report=report)
    if report.type_errors:
        raise st.bad_request('TokenRequest in version "v1" cannot be handled as a TokenRequest: '
                             f"{report.type_errors[0]}")
    if not isinstance(obj.get("spec"), dict):
        obj["spec"] = {}
    if not isinstance(obj.get("metadata"), dict):
        obj["metadata"] = {}
    return obj


def _check_metadata(obj: dict[str, Any], name: str, ns: str) -> None:
    md = obj["metadata"]
    out = []
    if md.get("name") not in (None, "", name):
        out.append(invalid("metadata.name", md["name"],
                           "must match the service account name if specified"))
    if md.get("namespace") not in (None, "", ns):
        out.append(invalid("metadata.namespace", md["namespace"],
                           "must match the service account namespace if specified"))
    if out:
        raise st.invalid(_TOKEN_REQUEST, name, out)


def _validate(spec: dict[str, Any]) -> list[Cause]:
    out = []
    seconds = spec["expirationSeconds"]
    if seconds < MIN_EXPIRATION:
        out.append(invalid("spec.expirationSeconds", seconds,
                           "may not specify a duration less than 10 minutes"))
    if seconds > MAX_EXPIRATION:
        out.append(invalid("spec.expirationSeconds", seconds,
                           "may not specify a duration larger than 2^32 seconds"))
    return out


class TokenRequests:
    def __init__(self, services: AuthServices) -> None:
        self.services = services

    async def __call__(self, req: CreateRequest) -> dict[str, Any]:
        store, name, ns = self.services.api.store, req.name, req.namespace
        obj = _decoded(req.body)
        spec = obj["spec"]
        if spec.get("expirationSeconds") is None:
            spec["expirationSeconds"] = 3600
        _check_metadata(obj, name, ns)
        sa = store.get("serviceaccounts", ns, name)
        if sa is None:
            raise st.not_found(req.rt, name)
        if not spec.get("audiences"):
            spec["audiences"] = list(API_AUDIENCES)
        causes = _validate(spec)
        if causes:
            raise st.invalid(_TOKEN_REQUEST, "", causes)
        pod, secret = self._bound(spec.get("boundObjectRef"), ns, name)
        if pod is not None:
            running_as = (store.get("pods", ns, pod.name) or {}).get("spec", {})
            if running_as.get("serviceAccountName") != name:
                raise st.bad_request(f'cannot bind token for serviceaccount "{name}" to pod '
                                     "running with different serviceaccount name.")
        now = int(self.services.clock())
        seconds = int(spec["expirationSeconds"])
        lifetime, warn_after = seconds, 0
        if pod is not None and seconds == WARN_ONLY_EXPIRATION and all(
                a in API_AUDIENCES for a in spec["audiences"]):
            lifetime, warn_after = EXTENDED_EXPIRATION, seconds
        sa_ref = Ref(name, str(metadata(sa).get("uid") or ""))
        token = self.services.signer().sign(claims_for(
            ns, sa_ref, audiences=spec["audiences"], now=now, expiration=lifetime,
            warn_after=warn_after, pod=pod, secret=secret))
        obj["metadata"] = {"name": name, "namespace": ns, "creationTimestamp": _rfc3339(now)}
        obj["status"] = {"token": token, "expirationTimestamp": _rfc3339(now + seconds)}
        return obj

    def _bound(self, ref: Any, ns: str, sa: str) -> tuple[Ref | None, Ref | None]:
        if not isinstance(ref, Mapping) or not ref.get("kind"):
            return None, None
        kind, api_version, name = ref.get("kind"), ref.get("apiVersion") or "", ref.get("name")
        resource = {"Pod": "pods", "Secret": "secrets"}.get(str(kind))
        if resource is None or api_version not in ("v1", ""):
            group = str(api_version).rpartition("/")[0] if "/" in str(api_version) else ""
            gvk = f"{group}/{str(api_version).rpartition('/')[2]}, Kind={kind}"
            raise st.bad_request(f'cannot bind token for serviceaccount "{sa}" to object of '
                                 f"type {gvk}")
        rt = self.services.api.resolve(resource)[0]
        obj = self.services.api.store.get(resource, ns, str(name or ""))
        if obj is None:
            raise st.not_found(rt, str(name or ""))
        uid = str(metadata(obj).get("uid") or "")
        if ref.get("uid") and ref["uid"] != uid:
            raise st.err(409, "Conflict", f'Operation cannot be fulfilled on {kind} "{name}": the '
                         f"UID in the bound object reference ({ref['uid']}) does not match the "
                         "UID in record. The object might have been deleted and then recreated",
                         {"name": str(name), "kind": str(kind)})
        bound = Ref(str(name), uid)
        return (bound, None) if kind == "Pod" else (None, bound)
