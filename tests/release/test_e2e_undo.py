"""``canarist undo`` live on the embedded cluster (real webhook, reconciler, Deployment
controller, kubectl 1.32): mid-release a fast rollback where ``kubectl rollout undo`` refuses,
at rest a release of the previous revision through the steps, or straight there."""

from __future__ import annotations

import asyncio
import subprocess

import pytest

from webhook.cli import main
from webhook.cluster.runtime import RunningCluster
from webhook.spec import Phase

from .e2e import Harness, harness

pytestmark = pytest.mark.slow

STEPS = "- setWeight: 20\n- pause: {}\n- setWeight: 50\n- pause: {}\n"
ANNOTATIONS = {
    "canarist.io/traffic-router": "proxy",
    "canarist.io/steps": STEPS,
    "canarist.io/scale-down-delay": "1s",
    "canarist.io/abort-scale-down-delay": "1s",
}


def kubectl(h: Harness, *args: str) -> subprocess.CompletedProcess[str]:
    command = ["kubectl", "--kubeconfig", str(h.cluster.kubeconfig), "-n", h.ns, *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)


async def undo(h: Harness, *flags: str) -> int:
    argv = ["undo", "web", "-n", h.ns, "--kubeconfig", str(h.cluster.kubeconfig), *flags]
    return await asyncio.to_thread(main, argv)


async def template_hash(h: Harness) -> str:
    d = await h.deployment()
    return str(d["spec"]["template"]["metadata"]["labels"]["rollouts-pod-template-hash"])


async def promoted(h: Harness, version: str) -> str:
    """Release ``version`` to the end; its hash."""
    await h.set_version(version)
    status = await h.wait("released", lambda s, d: s.in_release and s.step == 1)
    await h.annotate("promote-full")
    hash_ = status.canary_hash
    await h.wait(
        f"{version} promoted",
        lambda s, d: s.phase == Phase.HEALTHY and s.stable_hash == hash_,
        within=40,
    )
    return hash_


async def test_no_undo_mid_release(
    release_cluster: RunningCluster, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue: kubectl rollout undo is refused on the paused Deployment of a release, and there
    was no canarist undo. Mid-release, undo is a fast rollback to the stable revision."""
    async with harness(release_cluster, ANNOTATIONS) as h:
        v2 = await promoted(h, "v2")
        await h.set_version("v3")
        await h.wait("at 20%", lambda s, d: s.step == 1 and s.weight == 20)
        refused = kubectl(h, "rollout", "undo", "deployment/web")
        assert refused.returncode != 0
        assert "you cannot rollback a paused deployment" in refused.stderr  # upstream's rule
        capsys.readouterr()
        assert await undo(h) == 0
        assert "rolling back to the stable revision 2" in capsys.readouterr().out
        status = await h.wait("rolled back", lambda s, d: s.phase == Phase.HEALTHY)
        assert status.message == f"rolled back to {v2}"
        assert await template_hash(h) == v2
        assert (await h.deployment())["spec"]["paused"] is False
        await h.wait_for("canary deleted", lambda: _gone(h))


async def test_undo_at_rest_releases_the_previous_revision_through_the_steps(
    release_cluster: RunningCluster, capsys: pytest.CaptureFixture[str]
) -> None:
    async with harness(release_cluster, ANNOTATIONS) as h:
        v1 = (await h.status()).stable_hash
        v2 = await promoted(h, "v2")
        capsys.readouterr()
        assert await undo(h) == 0  # the previous revision: v1, as a release
        assert "releasing revision 1" in capsys.readouterr().out
        status = await h.wait(
            "v1 released at 20%", lambda s, d: s.canary_hash == v1 and s.step == 1
        )
        assert (status.stable_hash, status.weight, status.phase) == (v2, 20, Phase.PAUSED)
        assert (await h.deployment())["spec"]["paused"] is True
        # and undo mid-release goes back to the stable v2 at once
        assert await undo(h) == 0
        await h.wait("back on v2", lambda s, d: s.phase == Phase.HEALTHY and not s.in_release)
        assert await template_hash(h) == v2


async def test_undo_to_a_revision_with_every_step_skipped(
    release_cluster: RunningCluster, capsys: pytest.CaptureFixture[str]
) -> None:
    async with harness(release_cluster, ANNOTATIONS) as h:
        v1 = (await h.status()).stable_hash
        await promoted(h, "v2")
        await promoted(h, "v3")
        assert await undo(h, "--to-revision", "7") == 1
        assert "unable to find revision 7 (revisions: 1, 2, 3)" in capsys.readouterr().err
        assert await undo(h, "--to-revision", "1", "--skip-steps") == 0
        status = await h.wait(
            "v1 promoted",
            lambda s, d: s.phase == Phase.HEALTHY and s.stable_hash == v1,
            within=40,
        )
        assert status.weight == 0
        assert await template_hash(h) == v1
        # the history kubectl shows goes on: v1's ReplicaSet is revision 4 now
        history = kubectl(h, "rollout", "history", "deployment/web")
        assert history.returncode == 0 and "4" in history.stdout, history


async def _gone(h: Harness) -> bool:
    return await h.canary() is None
