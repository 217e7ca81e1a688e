"""Acting as a user (``webhook.kube.users``): the user's token is the only credential, RBAC
decides, ``SelfSubjectAccessReview`` answers "may I?" — on the embedded cluster over HTTPS."""

from __future__ import annotations

import pytest

from tests.cluster.conftest import kubectl
from tests.kube.conftest import deployment
from webhook.cluster.runtime import RunningCluster
from webhook.errors import Forbidden, InvalidInput
from webhook.kube.client import KubeClient, connect
from webhook.kube.config import ClientOptions, load
from webhook.kube.controls import request_action
from webhook.kube.protocol import ObjectRef
from webhook.kube.users import Access, UserClients, as_user, can_i, check_token
from webhook.spec import Action
from webhook.spec.names import ACTION, ENABLED_LABEL, STATUS

PAUSED = ('{"phase":"Paused","step":1,"steps":4,"weight":20,"stableHash":"aaa111",'
          '"canaryHash":"bbb222"}')


def token_for(cluster: RunningCluster, ns: str, sa: str, *verbs: str) -> str:
    """A ServiceAccount token allowed ``verbs`` on Deployments of ``ns`` (none: nothing)."""
    kubectl(cluster, "-n", ns, "create", "sa", sa, check=True)
    if verbs:
        kubectl(cluster, "-n", ns, "create", "role", sa, f"--verb={','.join(verbs)}",
                "--resource=deployments.apps", check=True)
        kubectl(cluster, "-n", ns, "create", "rolebinding", sa, f"--role={sa}",
                f"--serviceaccount={ns}:{sa}", check=True)
    return kubectl(cluster, "-n", ns, "create", "token", sa, check=True).stdout.strip()


@pytest.mark.parametrize("token", ["", "a b", "a\r\nX-Evil: 1", "x" * 8193, "tok;en"])
def test_a_token_that_could_split_a_header_is_refused(token: str) -> None:
    with pytest.raises(InvalidInput, match="not a bearer token"):
        check_token(token)


def test_as_user_keeps_only_the_users_token(embedded_cluster: RunningCluster) -> None:
    ours = load(ClientOptions(kubeconfig=str(embedded_cluster.kubeconfig)))
    theirs = as_user(ours, "abc.def-ghi_jkl")
    cfg = theirs.configuration
    assert cfg.api_key == {"authorization": "Bearer abc.def-ghi_jkl"}
    assert (cfg.cert_file, cfg.key_file, cfg.username, cfg.password) == (None, None, None, None)
    assert cfg.refresh_api_key_hook is None
    assert cfg.host == ours.configuration.host
    assert cfg.ssl_ca_cert == ours.configuration.ssl_ca_cert
    assert ours.configuration.api_key != cfg.api_key  # ours is untouched


async def test_rbac_decides_reviews_reads_and_actions(embedded_cluster: RunningCluster,
                                                      ns: str, client: KubeClient) -> None:
    body = deployment(ns, labels={ENABLED_LABEL: "true"}, annotations={STATUS: PAUSED})
    body["spec"]["template"]["metadata"]["labels"]["rollouts-pod-template-hash"] = "bbb222"
    await client.create(body)
    viewer = token_for(embedded_cluster, ns, "viewer", "get", "list", "watch")
    operator = token_for(embedded_cluster, ns, "operator", "get", "list", "watch", "patch")
    users = UserClients(load(ClientOptions(kubeconfig=str(embedded_cluster.kubeconfig))), size=1)
    try:
        as_viewer = await users.get(viewer)
        assert await can_i(as_viewer, Access("list", "deployments", "apps", ns))
        assert not await can_i(as_viewer, Access("patch", "deployments", "apps", ns, "web"))
        assert not await can_i(as_viewer, Access("list", "deployments", "apps"))  # cluster-wide
        with pytest.raises(Forbidden) as denied:
            await request_action(as_viewer, ns, "web", Action.PROMOTE)
        assert denied.value.status == 403
        assert f'User "system:serviceaccount:{ns}:viewer" cannot patch' in str(denied.value)
        got = await client.get(ObjectRef("apps/v1", "Deployment", ns, "web"))
        assert got is not None and ACTION not in got["metadata"]["annotations"]

        as_operator = await users.get(operator)  # size=1: the viewer's client is closed
        assert len(users) == 1
        result = await request_action(as_operator, ns, "web", Action.PROMOTE)
        assert result.done, result.message
        got = await client.get(ObjectRef("apps/v1", "Deployment", ns, "web"))
        assert got is not None and got["metadata"]["annotations"][ACTION] == "promote"

        with pytest.raises(Forbidden) as rejected:
            await can_i(await users.get("not-a-real-token"), Access("list", "pods"))
        assert rejected.value.status == 401
    finally:
        await users.aclose()


async def test_a_refused_action_says_why_and_writes_nothing(ns: str, options: ClientOptions
                                                             ) -> None:
    async with connect(options) as client:
        body = deployment(ns, labels={ENABLED_LABEL: "true"},
                          annotations={STATUS: PAUSED.replace("Paused", "Healthy").replace(
                              "bbb222", "aaa111")})
        await client.create(body)
        result = await request_action(client, ns, "web", Action.ABORT)
        assert not result.done
        assert result.message == "abort refused: no release in progress (phase Healthy): " \
                                 "nothing to abort"
        got = await client.get(ObjectRef("apps/v1", "Deployment", ns, "web"))
        assert got is not None and ACTION not in got["metadata"]["annotations"]
