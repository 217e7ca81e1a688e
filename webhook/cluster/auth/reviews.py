"""The review resources: POSTed, answered, never stored (upstream pkg/registry/authorization
and pkg/registry/authentication).

- ``SubjectAccessReview``: may this user/groups do this? (``spec.user``/``groups``/``extra``)
- ``LocalSubjectAccessReview``: the same, confined to the namespace of the URL;
- ``SelfSubjectAccessReview``: may I? (``kubectl auth can-i``)
- ``SelfSubjectRulesReview``: what may I do in a namespace? (``kubectl auth can-i --list``)
- ``SelfSubjectReview``: who am I? (``kubectl auth whoami``)
- ``TokenReview``: who is this bearer token? (what a webhook or proxy asks to authenticate)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from webhook.cluster import status as st
from webhook.cluster.auth.rbac.rules import Request
from webhook.cluster.auth.tokens import TokenError
from webhook.cluster.auth.user import UserInfo
from webhook.cluster.core import CreateRequest
from webhook.cluster.kinds.common import invalid
from webhook.cluster.kinds.typed import DecodeReport, decode, model_for
from webhook.cluster.status import Cause

if TYPE_CHECKING:
    from webhook.cluster.auth.install import AuthServices


def _body(req: CreateRequest) -> dict[str, Any]:
    """The posted object, typed as the Go decoder would, apiVersion/kind checked."""
    rt, body = req.rt, req.body
    if not isinstance(body, Mapping):
        raise st.bad_request("the body of the request must be a JSON object")
    want = rt.api_version(req.version)
    if body.get("apiVersion") not in (None, "", want):
        raise st.bad_request(f"the API version in the data ({body['apiVersion']}) does not "
                             f"match the expected API version ({want})")
    if body.get("kind") not in (None, "", rt.kind):
        raise st.bad_request(f"the kind in the data ({body['kind']}) does not match the "
                             f"expected kind ({rt.kind})")
    obj: dict[str, Any] = {**body, "apiVersion": want, "kind": rt.kind}
    spec = obj.get("spec")
    if isinstance(spec, Mapping) and isinstance(spec.get("extra"), Mapping):
        # a protobuf body carries each extra value as ExtraValue{items}; JSON as the list
        obj["spec"] = {**spec, "extra": {k: v["items"] if isinstance(v, Mapping) and isinstance(
            v.get("items"), list) else v for k, v in spec["extra"].items()}}
    model = model_for(want, rt.kind)
    report = DecodeReport()
    if model is not None:
        decode(obj, model, prune=True, report=report)
    if report.type_errors:
        raise st.bad_request(f'{rt.kind} in version "{req.version}" cannot be handled as a '
                             f"{rt.kind}: {report.type_errors[0]}")
    md = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
    assert isinstance(md, dict)
    md = {k: v for k, v in md.items() if k != "managedFields" and v not in (None, "", {}, [])}
    if rt.namespaced:
        md["namespace"] = req.namespace
    md["creationTimestamp"] = None
    obj["metadata"] = md
    if not isinstance(obj.get("spec"), dict):
        obj["spec"] = {}
    return obj


def _invalid(req: CreateRequest, causes: list[Cause]) -> None:
    if causes:
        raise st.invalid(req.rt, "", causes)


def _access_request(user: UserInfo, spec: Mapping[str, Any]) -> Request:
    ra, nra = spec.get("resourceAttributes"), spec.get("nonResourceAttributes")
    if isinstance(ra, Mapping):
        return Request(user, str(ra.get("verb") or ""), api_group=str(ra.get("group") or ""),
                       api_version=str(ra.get("version") or ""),
                       resource=str(ra.get("resource") or ""),
                       subresource=str(ra.get("subresource") or ""),
                       namespace=str(ra.get("namespace") or ""), name=str(ra.get("name") or ""))
    nra = nra if isinstance(nra, Mapping) else {}
    return Request(user, str(nra.get("verb") or ""), resource_request=False,
                   path=str(nra.get("path") or ""))


def _attribute_causes(spec: Mapping[str, Any]) -> list[Cause]:
    ra, nra = spec.get("resourceAttributes"), spec.get("nonResourceAttributes")
    if ra is not None and nra is not None:
        return [invalid("spec.nonResourceAttributes", nra,
                        "cannot be specified in combination with resourceAttributes")]
    if ra is None and nra is None:
        return [invalid("spec.resourceAttributes", None,
                        "exactly one of nonResourceAttributes or resourceAttributes must be "
                        "specified")]
    return []


def _metadata_causes(obj: Mapping[str, Any], allowed: tuple[str, ...]) -> list[Cause]:
    md = {k: v for k, v in (obj.get("metadata") or {}).items()
          if k not in (*allowed, "creationTimestamp")}
    return [invalid("metadata", md, "must be empty")] if md else []


class Reviews:
    def __init__(self, services: AuthServices) -> None:
        self.services = services

    def _decide(self, obj: dict[str, Any], user: UserInfo) -> dict[str, Any]:
        decision = self.services.authorizer.authorize(_access_request(user, obj["spec"]))
        obj["status"] = {"allowed": decision.allowed}
        if decision.reason:
            obj["status"]["reason"] = decision.reason
        return obj

    async def subject_access(self, req: CreateRequest) -> dict[str, Any]:
        obj = _body(req)
        spec = obj["spec"]
        causes = _metadata_causes(obj, ()) + _attribute_causes(spec)
        if not spec.get("user") and not spec.get("groups"):
            causes.append(invalid("spec.user", spec.get("user") or "",
                                  "at least one of user or group must be specified"))
        _invalid(req, causes)
        user = UserInfo.make(str(spec.get("user") or ""), str(spec.get("uid") or ""),
                             spec.get("groups") or (), spec.get("extra") or {})
        return self._decide(obj, user)

    async def local_subject_access(self, req: CreateRequest) -> dict[str, Any]:
        obj = _body(req)
        spec = obj["spec"]
        causes = _metadata_causes(obj, ("namespace",)) + _attribute_causes(spec)
        if not spec.get("user") and not spec.get("groups"):
            causes.append(invalid("spec.user", spec.get("user") or "",
                                  "at least one of user or group must be specified"))
        ra = spec.get("resourceAttributes")
        if isinstance(ra, Mapping) and (ra.get("namespace") or "") != req.namespace:
            causes.append(invalid("spec.resourceAttributes.namespace", ra.get("namespace") or "",
                                  "must match metadata.namespace"))
        if spec.get("nonResourceAttributes") is not None:
            causes.append(invalid("spec.nonResourceAttributes", spec["nonResourceAttributes"],
                                  "disallowed on this kind of request"))
        _invalid(req, causes)
        user = UserInfo.make(str(spec.get("user") or ""), str(spec.get("uid") or ""),
                             spec.get("groups") or (), spec.get("extra") or {})
        return self._decide(obj, user)

    async def self_subject_access(self, req: CreateRequest) -> dict[str, Any]:
        obj = _body(req)
        _invalid(req, _attribute_causes(obj["spec"]))
        return self._decide(obj, req.user)

    async def self_subject_rules(self, req: CreateRequest) -> dict[str, Any]:
        obj = _body(req)
        namespace = str(obj["spec"].get("namespace") or "")
        if not namespace:
            raise st.bad_request("no namespace on request")
        review = self.services.authorizer.rules_for(req.user, namespace)
        resource_rules, url_rules = [], []
        for r in review.rules:
            if r.resources:
                rule: dict[str, Any] = {"verbs": list(r.verbs), "apiGroups": list(r.api_groups),
                                        "resources": list(r.resources)}
                if r.resource_names:
                    rule["resourceNames"] = list(r.resource_names)
                resource_rules.append(rule)
            if r.non_resource_urls:
                url_rules.append({"verbs": list(r.verbs),
                                  "nonResourceURLs": list(r.non_resource_urls)})
        obj["status"] = {"resourceRules": resource_rules, "nonResourceRules": url_rules,
                         "incomplete": bool(review.errors)}
        if review.errors:
            obj["status"]["evaluationError"] = "[" + ", ".join(review.errors) + "]"
        return obj

    async def self_subject(self, req: CreateRequest) -> dict[str, Any]:
        obj = _body(req)
        obj.pop("spec", None)
        obj["status"] = {"userInfo": req.user.to_json()}
        return obj

    async def token(self, req: CreateRequest) -> dict[str, Any]:
        obj = _body(req)
        spec = obj["spec"]
        token = spec.get("token")
        if not token:
            raise st.bad_request("token is required for TokenReview in authentication.k8s.io")
        audiences = [a for a in spec.get("audiences") or [] if isinstance(a, str)]
        try:
            result = self.services.authenticator.authenticate(str(token), audiences)
        except TokenError as exc:
            obj["status"] = {"user": {}, "error": str(exc)}  # authenticated: false, omitted
            return obj
        obj["status"] = {"authenticated": True, "user": result.user.to_json(),
                         "audiences": list(result.audiences)}
        return obj
