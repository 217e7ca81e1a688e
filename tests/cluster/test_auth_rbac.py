"""The RBAC authorizer as pure functions: rule matching, the policy walk, escalation coverage,
request attributes and impersonation, each as a table of upstream's cases."""

from __future__ import annotations

from typing import Any

import pytest

from webhook.cluster.auth.errors import denied
from webhook.cluster.auth.impersonation import ImpersonationError, impersonate, parse_headers
from webhook.cluster.auth.rbac.aggregation import aggregated_rules, stale_aggregates
from webhook.cluster.auth.rbac.bootstrap import cluster_role_bindings, cluster_roles
from webhook.cluster.auth.rbac.covers import compact_string, covers, escalation_message
from webhook.cluster.auth.rbac.policy import Decision, Policy, authorize, rules_for
from webhook.cluster.auth.rbac.rules import Request, Rule, rule_allows
from webhook.cluster.auth.requestinfo import request_attributes
from webhook.cluster.auth.user import ADMIN_USER, UserInfo, as_user, split_sa_username

BOT = UserInfo("system:serviceaccount:shop:bot", "u1",
               ("system:serviceaccounts", "system:serviceaccounts:shop",
                "system:authenticated"))
JANE = UserInfo("jane", groups=("devs", "system:authenticated"))


def res(verb: str, resource: str, group: str = "", sub: str = "", name: str = "",
        ns: str = "shop", user: UserInfo = BOT) -> Request:
    return Request(user, verb, api_group=group, resource=resource, subresource=sub, name=name,
                   namespace=ns)


def url(verb: str, path: str, user: UserInfo = BOT) -> Request:
    return Request(user, verb, resource_request=False, path=path)


DEPLOY = Rule(("get", "list", "patch"), ("apps",), ("deployments",))
RULE_CASES: list[tuple[Rule, Request, bool]] = [
    (DEPLOY, res("patch", "deployments", "apps"), True),
    (DEPLOY, res("delete", "deployments", "apps"), False),  # verb
    (DEPLOY, res("patch", "deployments", ""), False),  # API group
    (DEPLOY, res("patch", "replicasets", "apps"), False),  # resource
    (DEPLOY, res("patch", "deployments", "apps", "scale"), False),  # a subresource is its own
    (DEPLOY, res("get", "deployments", "apps", "status"), False),
    (Rule(("*",), ("*",), ("*",)), res("deletecollection", "anything", "x.io", "sub"), True),
    (Rule(("get",), ("apps",), ("deployments/scale",)),
     res("get", "deployments", "apps", "scale"), True),
    (Rule(("get",), ("apps",), ("*/scale",)), res("get", "replicasets", "apps", "scale"), True),
    (Rule(("get",), ("apps",), ("*/scale",)), res("get", "replicasets", "apps"), False),
    (Rule(("get",), ("",), ("pods/log",)), res("get", "pods", "", "log", "web"), True),
    (Rule(("create",), ("",), ("serviceaccounts/token",)),
     res("create", "serviceaccounts", "", "token", "bot"), True),
    (Rule(("get",), ("",), ("pods",), ("a", "b")), res("get", "pods", name="b"), True),
    (Rule(("get",), ("",), ("pods",), ("a", "b")), res("get", "pods", name="c"), False),
    # a list has no name: resourceNames rules never allow it
    (Rule(("list",), ("",), ("pods",), ("a",)), res("list", "pods"), False),
    (Rule(("get",), non_resource_urls=("/healthz",)), url("get", "/healthz"), True),
    (Rule(("get",), non_resource_urls=("/apis/*",)), url("get", "/apis/apps/v1"), True),
    (Rule(("get",), non_resource_urls=("/apis/*",)), url("get", "/apis"), False),
    (Rule(("get",), non_resource_urls=("*",)), url("get", "/anything"), True),
    (Rule(("get",), non_resource_urls=("/healthz",)), url("post", "/healthz"), False),
    # resource rules say nothing about paths and the other way round
    (Rule(("*",), ("*",), ("*",)), url("get", "/version"), False),
    (Rule(("get",), non_resource_urls=("*",)), res("get", "pods"), False),
]


@pytest.mark.parametrize(("rule", "request_", "allowed"), RULE_CASES)
def test_rule_allows(rule: Rule, request_: Request, allowed: bool) -> None:
    assert rule_allows(request_, rule) is allowed


def role(name: str, *rules: dict[str, Any], ns: str = "", labels: dict[str, str] | None = None
         ) -> dict[str, Any]:
    md: dict[str, Any] = {"name": name, "labels": labels or {}}
    if ns:
        md["namespace"] = ns
    return {"kind": "Role" if ns else "ClusterRole", "metadata": md, "rules": list(rules)}


def binding(name: str, role_kind: str, role_name: str, *subjects: dict[str, str],
            ns: str = "") -> dict[str, Any]:
    md = {"name": name, **({"namespace": ns} if ns else {})}
    return {"kind": "RoleBinding" if ns else "ClusterRoleBinding", "metadata": md,
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": role_kind,
                        "name": role_name}, "subjects": list(subjects)}


def sa(name: str, ns: str = "") -> dict[str, str]:
    return {"kind": "ServiceAccount", "name": name, **({"namespace": ns} if ns else {})}


def group(name: str) -> dict[str, str]:
    return {"kind": "Group", "name": name, "apiGroup": "rbac.authorization.k8s.io"}


POLICY = Policy.from_objects(
    [role("pod-reader", {"apiGroups": [""], "resources": ["pods", "pods/log"],
                         "verbs": ["get", "list", "watch"]}),
     role("ns-viewer", {"apiGroups": [""], "resources": ["namespaces"], "verbs": ["get"]})],
    [role("deployer", {"apiGroups": ["apps"], "resources": ["deployments"],
                       "verbs": ["get", "patch"]}, ns="shop")],
    [binding("readers", "ClusterRole", "pod-reader", group("system:serviceaccounts:shop")),
     binding("broken", "ClusterRole", "missing", group("devs"))],
    [binding("deploy", "Role", "deployer", sa("bot"), ns="shop"),  # subject ns defaulted
     binding("other-ns-bot", "Role", "deployer", sa("bot", "elsewhere"), ns="shop"),
     binding("jane-view", "ClusterRole", "ns-viewer", {"kind": "User", "name": "jane"},
             ns="shop")])

POLICY_CASES: list[tuple[Request, bool, str]] = [
    (res("patch", "deployments", "apps", name="web"), True,
     'RBAC: allowed by RoleBinding "deploy/shop" of Role "deployer" to ServiceAccount '
     '"bot/shop"'),
    (res("list", "pods", ns="anywhere"), True,
     'RBAC: allowed by ClusterRoleBinding "readers" of ClusterRole "pod-reader" to Group '
     '"system:serviceaccounts:shop"'),
    (res("get", "pods", sub="log", name="web"), True, ""),
    (res("delete", "pods"), False, ""),
    # a RoleBinding grants in its own namespace only
    (res("patch", "deployments", "apps", ns="prod"), False, ""),
    # the namespace object is in its own namespace: a RoleBinding there can grant it
    (res("get", "namespaces", name="shop", ns="shop", user=JANE), True, ""),
    (res("get", "namespaces", name="prod", ns="prod", user=JANE), False,
     'RBAC: clusterrole.rbac.authorization.k8s.io "missing" not found'),
    (res("patch", "deployments", "apps", user=as_user("system:serviceaccount:elsewhere:bot")),
     True, ""),
]


@pytest.mark.parametrize(("request_", "allowed", "reason"), POLICY_CASES)
def test_policy_authorize(request_: Request, allowed: bool, reason: str) -> None:
    decision = authorize(POLICY, request_)
    assert decision.allowed is allowed
    if reason:
        assert decision.reason == reason


def test_rules_for_walks_cluster_bindings_then_the_namespace() -> None:
    rules, errors = rules_for(POLICY, BOT, "shop")
    assert [r.resources for r in rules] == [("pods", "pods/log"), ("deployments",)]
    assert errors == []
    _, errors = rules_for(POLICY, JANE, "shop")
    assert errors == ['clusterrole.rbac.authorization.k8s.io "missing" not found']


def test_the_bootstrap_policy_is_upstreams() -> None:
    roles = {r["metadata"]["name"]: r for r in cluster_roles()}
    bindings = {b["metadata"]["name"]: b for b in cluster_role_bindings()}
    policy = Policy.from_objects(roles.values(), [], bindings.values(), [])
    nobody = UserInfo("nobody", groups=("system:authenticated",))
    for path in ("/api", "/apis/apps/v1", "/version", "/healthz", "/openapi/v3"):
        assert authorize(policy, url("get", path, nobody)).allowed, path
    assert not authorize(policy, url("get", "/metrics", nobody)).allowed
    assert authorize(policy, res("create", "selfsubjectaccessreviews",
                                 "authorization.k8s.io", ns="", user=nobody)).allowed
    assert not authorize(policy, res("list", "pods", user=nobody)).allowed
    admin = UserInfo("root", groups=("system:masters",))
    assert authorize(policy, res("delete", "anything", "any.io", user=admin)).allowed
    # admin > edit > view, by aggregation of the system:aggregate-to-* roles
    view, edit, adm = (set(Policy.from_objects([roles[n]], [], [], []).cluster_roles[n])
                       for n in ("view", "edit", "admin"))
    assert view and view < edit < adm
    assert Rule(("get", "list", "watch"), ("",), ("pods/log",)) in {
        Rule(r.verbs, r.api_groups, (res_,)) for r in view for res_ in r.resources}
    assert roles["edit"]["metadata"]["labels"]["rbac.authorization.k8s.io/aggregate-to-admin"]


def test_aggregation_collects_selected_roles_in_name_order_once() -> None:
    agg = {"metadata": {"name": "monitoring"}, "aggregationRule": {"clusterRoleSelectors": [
        {"matchLabels": {"agg": "yes"}}, {"matchExpressions": [
            {"key": "extra", "operator": "Exists"}]}]}, "rules": []}
    b = role("b", {"verbs": ["get"], "apiGroups": [""], "resources": ["pods"]},
             labels={"agg": "yes"})
    a = role("a", {"verbs": ["list"], "apiGroups": [""], "resources": ["pods"]},
             {"verbs": ["get"], "apiGroups": [""], "resources": ["pods"]},
             labels={"agg": "yes", "extra": ""})
    c = role("c", {"verbs": ["watch"], "apiGroups": [""], "resources": ["pods"]})
    rules = aggregated_rules(agg, [agg, b, a, c])
    assert rules == [{"verbs": ["list"], "apiGroups": [""], "resources": ["pods"]},
                     {"verbs": ["get"], "apiGroups": [""], "resources": ["pods"]}]
    assert aggregated_rules(b, [agg, b]) is None
    assert stale_aggregates([agg, a, b, c]) == [("monitoring", rules)]


COVER_CASES: list[tuple[list[Rule], Rule, bool]] = [
    ([Rule(("*",), ("*",), ("*",))], Rule(("get", "delete"), ("apps",), ("deployments",)),
     True),
    ([Rule(("get",), ("apps",), ("deployments",))],
     Rule(("get", "delete"), ("apps",), ("deployments",)), False),
    # split over two held rules still covers
    ([Rule(("get",), ("apps",), ("deployments",)), Rule(("delete",), ("apps",), ("*",))],
     Rule(("get", "delete"), ("apps",), ("deployments",)), True),
    ([Rule(("get",), ("",), ("*/scale",))], Rule(("get",), ("",), ("deployments/scale",)),
     True),
    ([Rule(("get",), ("",), ("pods",), ("a",))], Rule(("get",), ("",), ("pods",)), False),
    ([Rule(("get",), ("",), ("pods",))], Rule(("get",), ("",), ("pods",), ("a",)), True),
    ([Rule(("get",), non_resource_urls=("/apis/*",))],
     Rule(("get",), non_resource_urls=("/apis/apps",)), True),
    ([Rule(("get",), non_resource_urls=("/apis",))],
     Rule(("get",), non_resource_urls=("/apis/*",)), False),
]


@pytest.mark.parametrize(("owner", "servant", "covered"), COVER_CASES)
def test_covers(owner: list[Rule], servant: Rule, covered: bool) -> None:
    assert covers(owner, [servant])[0] is covered


def test_escalation_message_lists_what_is_missing_compacted() -> None:
    held = [Rule(("get",), ("apps",), ("deployments",))]
    _, missing = covers(held, [Rule(("get", "delete", "patch"), ("apps",),
                                    ("deployments", "replicasets"))])
    assert escalation_message("system:serviceaccount:shop:bot", ("system:authenticated",),
                              missing) == (
        'user "system:serviceaccount:shop:bot" (groups=["system:authenticated"]) is attempting '
        "to grant RBAC permissions not currently held:\n"
        '{APIGroups:["apps"], Resources:["deployments"], Verbs:["delete" "patch"]}\n'
        '{APIGroups:["apps"], Resources:["replicasets"], Verbs:["get" "delete" "patch"]}')
    assert compact_string(Rule(("get",), non_resource_urls=("/x",))) == (
        '{NonResourceURLs:["/x"], Verbs:["get"]}')


ATTR_CASES: list[tuple[str, str, dict[str, str], tuple[Any, ...]]] = [
    ("GET", "/api/v1/namespaces/shop/pods", {}, (True, "list", "", "pods", "", "shop", "")),
    ("GET", "/api/v1/namespaces/shop/pods", {"watch": "true"},
     (True, "watch", "", "pods", "", "shop", "")),
    ("GET", "/api/v1/watch/namespaces/shop/pods/web", {},
     (True, "watch", "", "pods", "", "shop", "web")),
    ("GET", "/api/v1/namespaces/shop/pods", {"fieldSelector": "metadata.name=web"},
     (True, "list", "", "pods", "", "shop", "web")),
    ("GET", "/api/v1/namespaces/shop/pods/web/log", {},
     (True, "get", "", "pods", "log", "shop", "web")),
    ("PATCH", "/apis/apps/v1/namespaces/shop/deployments/web/scale", {},
     (True, "patch", "apps", "deployments", "scale", "shop", "web")),
    ("DELETE", "/apis/apps/v1/namespaces/shop/deployments", {},
     (True, "deletecollection", "apps", "deployments", "", "shop", "")),
    ("POST", "/api/v1/namespaces/shop/serviceaccounts/bot/token", {},
     (True, "create", "", "serviceaccounts", "token", "shop", "bot")),
    ("GET", "/api/v1/namespaces/shop", {}, (True, "get", "", "namespaces", "", "shop", "shop")),
    ("PUT", "/api/v1/namespaces/shop/finalize", {},
     (True, "update", "", "namespaces", "finalize", "shop", "shop")),
    ("GET", "/apis/rbac.authorization.k8s.io/v1/clusterroles/view", {},
     (True, "get", "rbac.authorization.k8s.io", "clusterroles", "", "", "view")),
    ("GET", "/apis/apps/v1", {}, (False, "get", "/apis/apps/v1")),
    ("GET", "/version/", {}, (False, "get", "/version/")),
    ("POST", "/api", {}, (False, "post", "/api")),
]


@pytest.mark.parametrize(("method", "path", "query", "want"), ATTR_CASES)
def test_request_attributes(method: str, path: str, query: dict[str, str],
                            want: tuple[Any, ...]) -> None:
    r = request_attributes(BOT, method, path, query)
    if want[0]:
        assert (r.resource_request, r.verb, r.api_group, r.resource, r.subresource,
                r.namespace, r.name) == want
    else:
        assert (r.resource_request, r.verb, r.path) == want


def test_denials_read_as_upstreams() -> None:
    body = denied(res("patch", "deployments", "apps", name="web")).body
    assert body["message"] == (
        'deployments.apps "web" is forbidden: User "system:serviceaccount:shop:bot" cannot '
        'patch resource "deployments" in API group "apps" in the namespace "shop"')
    assert body["details"] == {"name": "web", "group": "apps", "kind": "deployments"}
    assert body["code"] == 403 and body["reason"] == "Forbidden"
    assert denied(res("list", "nodes", ns="")).body["message"] == (
        'nodes is forbidden: User "system:serviceaccount:shop:bot" cannot list resource "nodes" '
        'in API group "" at the cluster scope')
    assert denied(url("get", "/metrics"), "RBAC: x").body["message"] == (
        'forbidden: User "system:serviceaccount:shop:bot" cannot get path "/metrics": RBAC: x')
    assert denied(res("get", "pods", sub="log", name="p")).body["message"].startswith(
        'pods "p" is forbidden: User "system:serviceaccount:shop:bot" cannot get resource '
        '"pods/log"')


def allow_all(_: Request) -> Decision:
    return Decision(True)


IMPERSONATION_CASES: list[tuple[list[tuple[str, str]], UserInfo]] = [
    ([("Impersonate-User", "jane")], UserInfo("jane", groups=("system:authenticated",))),
    ([("Impersonate-User", "jane"), ("Impersonate-Group", "devs"),
      ("Impersonate-Group", "ops")],
     UserInfo("jane", groups=("devs", "ops", "system:authenticated"))),
    ([("Impersonate-User", "jane"), ("Impersonate-Group", "system:authenticated")],
     UserInfo("jane", groups=("system:authenticated",))),
    ([("Impersonate-User", "system:serviceaccount:shop:bot")],
     UserInfo("system:serviceaccount:shop:bot", groups=(
         "system:serviceaccounts", "system:serviceaccounts:shop", "system:authenticated"))),
    ([("Impersonate-User", "system:serviceaccount:shop:bot"), ("Impersonate-Group", "g")],
     UserInfo("system:serviceaccount:shop:bot", groups=("g", "system:authenticated"))),
    ([("Impersonate-User", "system:anonymous")],
     UserInfo("system:anonymous", groups=("system:unauthenticated",))),
    ([("Impersonate-User", "jane"), ("Impersonate-Uid", "42"),
      ("Impersonate-Extra-Acme.com%2fproject", "a"), ("Impersonate-Extra-acme.com%2Fproject",
                                                      "b")],
     UserInfo.make("jane", "42", ("system:authenticated",), {"acme.com/project": ["a", "b"]})),
]


@pytest.mark.parametrize(("headers", "want"), IMPERSONATION_CASES)
def test_impersonation_builds_the_user(headers: list[tuple[str, str]], want: UserInfo) -> None:
    assert impersonate(ADMIN_USER, parse_headers(headers), allow_all) == want


def test_impersonation_needs_the_impersonate_verb_on_each_part() -> None:
    asked: list[Request] = []

    def users_only(r: Request) -> Decision:
        asked.append(r)
        return Decision(r.resource in ("users", "serviceaccounts"))

    asks = parse_headers([("Impersonate-User", "system:serviceaccount:shop:bot"),
                          ("Impersonate-Group", "admins")])
    with pytest.raises(Exception) as err:
        impersonate(JANE, asks, users_only)
    assert err.value.body["message"] == (  # type: ignore[attr-defined]
        'groups "admins" is forbidden: User "jane" cannot impersonate resource "groups" in '
        'API group "" at the cluster scope')
    assert [(r.verb, r.resource, r.namespace, r.name) for r in asked] == [
        ("impersonate", "serviceaccounts", "shop", "bot"), ("impersonate", "groups", "", "admins")]
    extra = parse_headers([("Impersonate-User", "x"), ("Impersonate-Extra-scopes", "view"),
                           ("Impersonate-Uid", "7")])
    assert [(r.request(JANE).api_group, r.request(JANE).combined_resource) for r in extra] == [
        ("", "users"), ("authentication.k8s.io", "userextras/scopes"),
        ("authentication.k8s.io", "uids")]
    with pytest.raises(ImpersonationError, match="without impersonating a user"):
        parse_headers([("Impersonate-Group", "devs")])
    assert parse_headers([("Accept", "application/json")]) == []


@pytest.mark.parametrize(("name", "want"), [
    ("system:serviceaccount:shop:bot", ("shop", "bot")),
    ("system:serviceaccount:shop", None),
    ("system:serviceaccount:Shop:bot", None),
    ("system:serviceaccount:shop:bot:x", None),
    ("jane", None),
])
def test_service_account_usernames(name: str, want: tuple[str, str] | None) -> None:
    assert split_sa_username(name) == want
