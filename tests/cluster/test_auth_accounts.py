"""ServiceAccounts, tokens and RBAC writes on the in-process API: the default ServiceAccount and
``kube-root-ca.crt`` in every namespace, TokenRequest and token authentication, the
ServiceAccount admission plugin, ClusterRole aggregation and escalation prevention."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from webhook.cluster.api import ClusterAPI
from webhook.cluster.auth.tokens import Signer, TokenError
from webhook.cluster.auth.user import UserInfo
from webhook.errors import APIStatusError

RBAC = "rbac.authorization.k8s.io"
CR, CRB, R, RB = (f"{p}.{RBAC}" for p in ("clusterroles", "clusterrolebindings", "roles",
                                          "rolebindings"))
BOT = UserInfo("system:serviceaccount:shop:bot", "u1", (
    "system:serviceaccounts", "system:serviceaccounts:shop", "system:authenticated"))
CA = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"


@pytest.fixture
def api() -> ClusterAPI:
    api = ClusterAPI()
    api.auth.publish_root_ca(CA.encode())
    return api


async def namespace(api: ClusterAPI, name: str = "shop") -> None:
    await api.create("namespaces", None, {"metadata": {"name": name}})


def token_request(**spec: Any) -> dict[str, Any]:
    return {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": spec}


def claims_of(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    decoded: dict[str, Any] = json.loads(base64.urlsafe_b64decode(payload + "==="))
    return decoded


def pod(name: str = "web", **spec: Any) -> dict[str, Any]:
    return {"metadata": {"name": name}, "spec": {
        "containers": [{"name": "app", "image": "demo:v1"}], **spec}}


async def test_every_namespace_gets_a_default_service_account_and_the_root_ca(
        api: ClusterAPI) -> None:
    assert api.store.get("serviceaccounts", "kube-system", "default") is not None
    await namespace(api)
    assert api.store.get("serviceaccounts", "shop", "default") is not None
    cm = await api.get("configmaps", "shop", "kube-root-ca.crt")
    assert cm["data"] == {"ca.crt": CA}
    assert cm["metadata"]["annotations"]["kubernetes.io/description"].startswith(
        "Contains a CA bundle that can be used to verify the kube-apiserver")
    # deleted or edited, both come back as they were
    await api.delete("serviceaccounts", "shop", "default")
    assert api.store.get("serviceaccounts", "shop", "default") is not None
    cm["data"] = {"ca.crt": "mine"}
    await api.update("configmaps", "shop", cm)
    assert (await api.get("configmaps", "shop", "kube-root-ca.crt"))["data"] == {"ca.crt": CA}
    await api.delete("configmaps", "shop", "kube-root-ca.crt")
    assert (await api.get("configmaps", "shop", "kube-root-ca.crt"))["data"] == {"ca.crt": CA}


async def test_a_terminating_namespace_gets_no_new_default_service_account(
        api: ClusterAPI) -> None:
    await namespace(api)
    await api.create("pods", "shop", pod())  # keeps the namespace terminating (no kubelet)
    await api.delete("namespaces", None, "shop")
    await api.delete("serviceaccounts", "shop", "default")
    assert api.store.get("serviceaccounts", "shop", "default") is None


async def test_token_request_signs_upstreams_claims(api: ClusterAPI) -> None:
    await namespace(api)
    sa = await api.create("serviceaccounts", "shop", {"metadata": {"name": "bot"}})
    out = await api.create("serviceaccounts", "shop", token_request(
        audiences=["vault"], expirationSeconds=900), subresource="token", name="bot")
    assert out["kind"] == "TokenRequest" and out["metadata"]["name"] == "bot"
    claims = claims_of(out["status"]["token"])
    assert claims["sub"] == "system:serviceaccount:shop:bot"
    assert claims["aud"] == ["vault"] and claims["exp"] - claims["iat"] == 900
    assert claims["iss"] == "https://kubernetes.default.svc.cluster.local"
    assert claims["kubernetes.io"] == {"namespace": "shop", "serviceaccount": {
        "name": "bot", "uid": sa["metadata"]["uid"]}}
    assert out["status"]["expirationTimestamp"].endswith("Z")
    auth = api.auth.authenticator
    with pytest.raises(TokenError, match="token audiences"):  # not for the API server
        auth.authenticate(out["status"]["token"])
    assert auth.authenticate(out["status"]["token"], ["vault"]).audiences == ("vault",)
    default = await api.create("serviceaccounts", "shop", token_request(), subresource="token",
                               name="bot")
    user = auth.authenticate(default["status"]["token"]).user
    assert (user.name, user.uid) == ("system:serviceaccount:shop:bot", sa["metadata"]["uid"])
    assert user.groups == ("system:serviceaccounts", "system:serviceaccounts:shop",
                           "system:authenticated")
    assert claims_of(default["status"]["token"])["exp"] - claims_of(
        default["status"]["token"])["iat"] == 3600


@pytest.mark.parametrize(("body", "name", "code", "message"), [
    (token_request(expirationSeconds=60), "bot", 422,
     'TokenRequest.authentication.k8s.io "" is invalid: spec.expirationSeconds: Invalid value: '
     "60: may not specify a duration less than 10 minutes"),
    (token_request(), "ghost", 404, 'serviceaccounts "ghost" not found'),
    ({**token_request(), "metadata": {"name": "other"}}, "bot", 422,
     "metadata.name: Invalid value: \"other\": must match the service account name"),
    (token_request(boundObjectRef={"kind": "Pod", "apiVersion": "v1", "name": "gone"}), "bot",
     404, 'pods "gone" not found'),
    (token_request(boundObjectRef={"kind": "Deployment", "apiVersion": "apps/v1",
                                   "name": "x"}), "bot", 400,
     'cannot bind token for serviceaccount "bot" to object of type apps/v1, Kind=Deployment'),
    (token_request(expirationSeconds="soon"), "bot", 400, "cannot unmarshal string"),
])
async def test_token_request_refusals(api: ClusterAPI, body: dict[str, Any], name: str,
                                      code: int, message: str) -> None:
    await namespace(api)
    await api.create("serviceaccounts", "shop", {"metadata": {"name": "bot"}})
    with pytest.raises(APIStatusError) as err:
        await api.create("serviceaccounts", "shop", body, subresource="token", name=name)
    assert err.value.status == code
    assert message in err.value.body["message"]


async def test_a_pod_bound_token_dies_with_its_pod(api: ClusterAPI) -> None:
    await namespace(api)
    await api.create("serviceaccounts", "shop", {"metadata": {"name": "bot"}})
    p = await api.create("pods", "shop", pod(serviceAccountName="bot"))
    ref = {"kind": "Pod", "apiVersion": "v1", "name": "web", "uid": p["metadata"]["uid"]}
    # the kubelet's projected token: asked for 3607 s, lives a year, warns after 3607 s
    out = await api.create("serviceaccounts", "shop", token_request(
        expirationSeconds=3607, boundObjectRef=ref), subresource="token", name="bot")
    claims = claims_of(out["status"]["token"])
    assert claims["exp"] - claims["iat"] == 365 * 24 * 3600
    assert claims["kubernetes.io"]["warnafter"] - claims["iat"] == 3607
    assert claims["kubernetes.io"]["pod"] == {"name": "web", "uid": p["metadata"]["uid"]}
    user = api.auth.authenticator.authenticate(out["status"]["token"]).user
    assert user.extra_dict()["authentication.kubernetes.io/pod-name"] == ["web"]
    with pytest.raises(APIStatusError) as err:  # the pod runs as another account
        await api.create("serviceaccounts", "shop", token_request(boundObjectRef=ref),
                         subresource="token", name="default")
    assert "pod running with different serviceaccount name" in err.value.body["message"]
    with pytest.raises(APIStatusError) as err:
        await api.create("serviceaccounts", "shop", token_request(
            boundObjectRef={**ref, "uid": "not-it"}), subresource="token", name="bot")
    assert err.value.status == 409
    await api.delete("pods", "shop", "web")  # unbound: removed at once
    with pytest.raises(TokenError, match="Token has been invalidated"):
        api.auth.authenticator.authenticate(out["status"]["token"])


async def test_a_token_outlives_neither_its_lifetime_nor_its_service_account(
        api: ClusterAPI) -> None:
    await namespace(api)
    await api.create("serviceaccounts", "shop", {"metadata": {"name": "bot"}})
    token = (await api.create("serviceaccounts", "shop", token_request(expirationSeconds=600),
                              subresource="token", name="bot"))["status"]["token"]
    auth, start = api.auth.authenticator, api.auth.clock()
    api.auth.clock = lambda: start + 600 + 59  # go-jose's one minute of leeway
    auth.authenticate(token)
    api.auth.clock = lambda: start + 600 + 61
    with pytest.raises(TokenError, match="service account token has expired"):
        auth.authenticate(token)
    api.auth.clock = lambda: start - 120
    with pytest.raises(TokenError, match="not valid yet"):
        auth.authenticate(token)
    api.auth.clock = lambda: start
    await api.delete("serviceaccounts", "shop", "bot")
    with pytest.raises(TokenError, match='serviceaccount "bot" not found'):
        auth.authenticate(token)
    await api.create("serviceaccounts", "shop", {"metadata": {"name": "bot"}})
    with pytest.raises(TokenError, match=r"ServiceAccount UID \(.*\) does not match claim"):
        auth.authenticate(token)


def test_tokens_are_checked_before_they_are_believed() -> None:
    signer, other = Signer(), Signer()
    claims = {"iss": "x", "sub": "s", "aud": ["a"], "exp": 2, "nbf": 1, "iat": 1, "jti": "j",
              "kubernetes.io": {"namespace": "n", "serviceaccount": {"name": "s", "uid": "u"}}}
    token = signer.sign(claims)
    assert signer.verify(token).service_account.uid == "u"
    with pytest.raises(TokenError, match="unknown key"):
        other.verify(token)
    head, payload, sig = token.split(".")
    forged = base64.urlsafe_b64encode(json.dumps({**claims, "sub": "admin"}).encode()).decode()
    for bad in (f"{head}.{forged.rstrip('=')}.{sig}", f"{head}.{payload}", "a.b.c",
                "x" * 20000, f"{head}.{payload}.{sig[:-4]}"):
        with pytest.raises(TokenError):
            signer.verify(bad)
    assert signer.jwks()["keys"][0]["kid"] == signer.kid


async def test_the_service_account_plugin_defaults_and_mounts_the_token(
        api: ClusterAPI) -> None:
    await namespace(api)
    out = await api.create("pods", "shop", {"metadata": {"name": "web"}, "spec": {
        "initContainers": [{"name": "init", "image": "demo:v1"}],
        "containers": [{"name": "app", "image": "demo:v1"},
                       {"name": "own", "image": "demo:v1", "volumeMounts": [
                           {"name": "mine", "mountPath":
                            "/var/run/secrets/kubernetes.io/serviceaccount"}]}],
        "volumes": [{"name": "mine", "emptyDir": {}}]}})
    spec = out["spec"]
    assert spec["serviceAccountName"] == spec["serviceAccount"] == "default"
    vol = spec["volumes"][-1]
    assert vol["name"].startswith("kube-api-access-") and len(vol["name"]) == 21
    assert vol["projected"] == {"defaultMode": 420, "sources": [
        {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
        {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt",
                                                             "path": "ca.crt"}]}},
        {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {
            "apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}}]}
    mount = {"name": vol["name"], "readOnly": True,
             "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount"}
    assert spec["initContainers"][0]["volumeMounts"] == [mount]
    assert spec["containers"][0]["volumeMounts"] == [mount]
    assert spec["containers"][1]["volumeMounts"][0]["name"] == "mine"  # its own stays alone


async def test_automount_off_on_the_pod_or_the_account(api: ClusterAPI) -> None:
    await namespace(api)
    await api.create("serviceaccounts", "shop", {"metadata": {"name": "quiet"},
                                                 "automountServiceAccountToken": False,
                                                 "imagePullSecrets": [{"name": "reg"}]})
    off = await api.create("pods", "shop", pod("a", automountServiceAccountToken=False))
    assert "volumes" not in off["spec"]
    quiet = await api.create("pods", "shop", pod("b", serviceAccountName="quiet"))
    assert "volumes" not in quiet["spec"]
    assert quiet["spec"]["imagePullSecrets"] == [{"name": "reg"}]
    # the pod's own choice wins over its ServiceAccount's
    on = await api.create("pods", "shop", pod("c", serviceAccountName="quiet",
                                              automountServiceAccountToken=True))
    assert on["spec"]["volumes"][0]["name"].startswith("kube-api-access-")


async def test_a_pod_naming_a_missing_service_account_is_forbidden(api: ClusterAPI) -> None:
    await namespace(api)
    with pytest.raises(APIStatusError) as err:
        await api.create("pods", "shop", {"metadata": {"generateName": "web-7d9f-"}, "spec": {
            "serviceAccountName": "ghost", "containers": [{"name": "a", "image": "demo:v1"}]}})
    assert err.value.status == 403
    assert err.value.body["message"] == (
        'pods "web-7d9f-" is forbidden: error looking up service account shop/ghost: '
        'serviceaccount "ghost" not found')
    assert api.store.count("pods", "shop") == 0


async def test_aggregated_cluster_roles_follow_the_roles_they_select(api: ClusterAPI) -> None:
    label = {"rbac.authorization.k8s.io/aggregate-to-view": "true"}
    await api.create(CR, None, {"metadata": {"name": "widgets-view", "labels": label},
                                "rules": [{"apiGroups": ["acme.io"], "resources": ["widgets"],
                                           "verbs": ["get", "list"]}]})
    for name in ("view", "edit", "admin"):  # view is aggregated into edit, edit into admin
        rules = (await api.get(CR, None, name))["rules"]
        assert {"apiGroups": ["acme.io"], "resources": ["widgets"],
                "verbs": ["get", "list"]} in rules, name
    await api.create(CR, None, {"metadata": {"name": "mine"}, "aggregationRule": {
        "clusterRoleSelectors": [{"matchLabels": {"team": "a"}}]}})
    assert (await api.get(CR, None, "mine")).get("rules") in (None, [])
    await api.patch(CR, None, "widgets-view", {"metadata": {"labels": {"team": "a"}}}, "merge")
    assert len((await api.get(CR, None, "mine"))["rules"]) == 1
    await api.delete(CR, None, "widgets-view")
    assert (await api.get(CR, None, "mine"))["rules"] == []


@pytest.mark.parametrize(("resource", "body", "message"), [
    (R, {"metadata": {"name": "r"}, "rules": [{"verbs": [], "apiGroups": [""],
                                               "resources": ["pods"]}]},
     "rules[0].verbs: Required value: verbs must contain at least one value"),
    (R, {"metadata": {"name": "r"}, "rules": [{"verbs": ["get"], "nonResourceURLs": ["/x"]}]},
     "namespaced rules cannot apply to non-resource URLs"),
    (CR, {"metadata": {"name": "r"}, "rules": [{"verbs": ["get"], "resources": ["pods"]}]},
     "rules[0].apiGroups: Required value: resource rules must supply at least one api group"),
    (CR, {"metadata": {"name": "a/b"}, "rules": []}, "may not contain '/'"),
    (CR, {"metadata": {"name": "r"}, "aggregationRule": {"clusterRoleSelectors": []}},
     "at least one clusterRoleSelector required"),
    (RB, {"metadata": {"name": "b"}, "roleRef": {"kind": "Secret", "name": "x"},
          "subjects": []}, 'roleRef.kind: Unsupported value: "Secret"'),
    (CRB, {"metadata": {"name": "b"}, "roleRef": {"kind": "Role", "name": "x"}},
     'roleRef.kind: Unsupported value: "Role": supported values: "ClusterRole"'),
    (CRB, {"metadata": {"name": "b"}, "roleRef": {"kind": "ClusterRole", "name": "view"},
           "subjects": [{"kind": "ServiceAccount", "name": "bot"}]},
     "subjects[0].namespace: Required value"),
    (RB, {"metadata": {"name": "b"}, "roleRef": {"kind": "ClusterRole", "name": "view"},
          "subjects": [{"kind": "Robot", "name": "r"}]}, 'subjects[0].kind: Unsupported value'),
])
async def test_rbac_validation(api: ClusterAPI, resource: str, body: dict[str, Any],
                               message: str) -> None:
    await namespace(api)
    ns = "shop" if resource in (R, RB) else None
    with pytest.raises(APIStatusError) as err:
        await api.create(resource, ns, body)
    assert err.value.status == 422
    assert message in err.value.body["message"]


async def test_a_binding_defaults_api_groups_and_keeps_its_role_ref(api: ClusterAPI) -> None:
    await namespace(api)
    rb = await api.create(RB, "shop", {"metadata": {"name": "b"}, "roleRef": {
        "kind": "ClusterRole", "name": "view"}, "subjects": [
        {"kind": "User", "name": "jane"}, {"kind": "ServiceAccount", "name": "bot"}]})
    assert rb["roleRef"]["apiGroup"] == RBAC
    assert rb["subjects"][0]["apiGroup"] == RBAC and "apiGroup" not in rb["subjects"][1]
    rb["roleRef"]["name"] = "edit"
    with pytest.raises(APIStatusError) as err:
        await api.update(RB, "shop", rb)
    assert err.value.body["message"] == (
        'RoleBinding.rbac.authorization.k8s.io "b" is invalid: roleRef: Invalid value: '
        'rbac.RoleRef{APIGroup:"rbac.authorization.k8s.io", Kind:"ClusterRole", Name:"edit"}: '
        "cannot change roleRef")


async def grant(api: ClusterAPI, name: str, rules: list[dict[str, Any]]) -> None:
    await api.create(R, "shop", {"metadata": {"name": name}, "rules": rules})
    await api.create(RB, "shop", {"metadata": {"name": name}, "roleRef": {
        "kind": "Role", "name": name}, "subjects": [{"kind": "ServiceAccount", "name": "bot"}]})


RBAC_WRITES = {"apiGroups": [RBAC], "resources": ["roles", "rolebindings"],
               "verbs": ["create", "update", "patch", "get"]}
PODS = {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]}


async def test_escalation_is_refused_unless_held_or_escalate_or_bind(api: ClusterAPI) -> None:
    await namespace(api)
    await grant(api, "base", [RBAC_WRITES, PODS])
    # granting what one holds is fine; more is refused with what is missing
    await api.create(R, "shop", {"metadata": {"name": "readers"}, "rules": [PODS]}, user=BOT)
    more = {"apiGroups": [""], "resources": ["pods", "secrets"], "verbs": ["get"]}
    with pytest.raises(APIStatusError) as err:
        await api.create(R, "shop", {"metadata": {"name": "more"}, "rules": [more]}, user=BOT)
    assert err.value.status == 403
    assert err.value.body["message"] == (
        'roles.rbac.authorization.k8s.io "more" is forbidden: user '
        '"system:serviceaccount:shop:bot" (groups=["system:serviceaccounts" '
        '"system:serviceaccounts:shop" "system:authenticated"]) is attempting to grant RBAC '
        'permissions not currently held:\n{APIGroups:[""], Resources:["secrets"], '
        'Verbs:["get"]}')
    readers = await api.get(R, "shop", "readers")
    readers["rules"] = [more]
    with pytest.raises(APIStatusError):  # updates are checked too
        await api.update(R, "shop", readers, user=BOT)
    # binding a role whose rules one holds is fine; edit is more than that
    await api.create(RB, "shop", {"metadata": {"name": "r"}, "roleRef": {
        "kind": "Role", "name": "readers"}, "subjects": [{"kind": "User", "name": "x"}]},
        user=BOT)
    with pytest.raises(APIStatusError) as err:
        await api.create(RB, "shop", {"metadata": {"name": "e"}, "roleRef": {
            "kind": "ClusterRole", "name": "edit"}, "subjects": [{"kind": "User", "name": "x"}]},
            user=BOT)
    assert err.value.status == 403 and "rolebindings.rbac.authorization.k8s.io \"e\"" in (
        err.value.body["message"])
    with pytest.raises(APIStatusError) as err:
        await api.create(RB, "shop", {"metadata": {"name": "n"}, "roleRef": {
            "kind": "ClusterRole", "name": "nope"}}, user=BOT)
    assert err.value.status == 404
    assert err.value.body["message"] == 'clusterroles.rbac.authorization.k8s.io "nope" not found'
    # with bind on that one role, or escalate on roles, it goes through
    await grant(api, "binder", [{"apiGroups": [RBAC], "resources": ["clusterroles"],
                                 "verbs": ["bind"], "resourceNames": ["edit"]},
                                {"apiGroups": [RBAC], "resources": ["roles"],
                                 "verbs": ["escalate"]}])
    await api.create(RB, "shop", {"metadata": {"name": "e"}, "roleRef": {
        "kind": "ClusterRole", "name": "edit"}, "subjects": [{"kind": "User", "name": "x"}]},
        user=BOT)
    await api.create(R, "shop", {"metadata": {"name": "more"}, "rules": [more]}, user=BOT)
    # the admin and in-process callers are never checked
    await api.create(R, "shop", {"metadata": {"name": "all"}, "rules": [
        {"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}]})


async def test_an_aggregation_rule_needs_cluster_admin(api: ClusterAPI) -> None:
    await namespace(api)
    await api.create(CR, None, {"metadata": {"name": "role-writer"}, "rules": [
        {"apiGroups": [RBAC], "resources": ["clusterroles"], "verbs": ["create"]}]})
    await api.create(CRB, None, {"metadata": {"name": "role-writer"}, "roleRef": {
        "kind": "ClusterRole", "name": "role-writer"}, "subjects": [
        {"kind": "ServiceAccount", "name": "bot", "namespace": "shop"}]})
    with pytest.raises(APIStatusError) as err:
        await api.create(CR, None, {"metadata": {"name": "agg"}, "aggregationRule": {
            "clusterRoleSelectors": [{"matchLabels": {"x": "y"}}]}}, user=BOT)
    assert err.value.body["message"] == (
        'clusterroles.rbac.authorization.k8s.io "agg" is forbidden: must have cluster-admin '
        "privileges to use the aggregationRule")
