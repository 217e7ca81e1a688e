"""Analysis in a release, end to end: the loop measures a real HTTP endpoint (``web`` provider)
through ``webhook.analysis`` and the release passes the analysis step or aborts on it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from webhook.cluster.runtime import RunningCluster
from webhook.spec import Phase

from .e2e import harness

pytestmark = pytest.mark.slow

STEPS = (
    "- setWeight: 20\n- analysis: {templates: [{templateName: smoke}]}\n"
    "- setWeight: 50\n- pause: {}\n"
)


class Check:
    """A smoke-test endpoint: ``{"passed": 1}`` or ``{"passed": 0}``."""

    def __init__(self) -> None:
        self.passed = 1
        self.calls = 0

    async def handle(self, request: web.Request) -> web.Response:
        self.calls += 1
        return web.json_response({"passed": self.passed})


@pytest.fixture
async def check() -> AsyncIterator[tuple[Check, str]]:
    state = Check()
    app = web.Application()
    app.router.add_get("/check", state.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    try:
        yield state, f"http://{host}:{port}/check"
    finally:
        await runner.cleanup()


def release_annotations(url: str) -> dict[str, str]:
    analysis = (
        "interval: 1s\ncount: 2\nfailureLimit: 0\nbackground: false\nmetrics:\n"
        f"- name: smoke\n  provider: {{web: {{url: '{url}', jsonPath: '$.passed'}}}}\n  min: 1\n"
    )
    return {
        "canarist.io/traffic-router": "proxy",
        "canarist.io/steps": STEPS,
        "canarist.io/analysis": analysis,
    }


async def test_a_passing_analysis_step_lets_the_release_go_on(
    release_cluster: RunningCluster, check: tuple[Check, str]
) -> None:
    state, url = check
    async with harness(release_cluster, release_annotations(url)) as h:
        await h.set_version("v2")
        status = await h.wait("weight 50", lambda s, d: s.step == 3 and s.weight == 50)
        assert status.analysis is not None
        assert status.analysis["step"]["phase"] == "Successful"
        assert state.calls == 2  # count: 2, one second apart


async def test_a_failing_analysis_step_aborts_the_release(
    release_cluster: RunningCluster, check: tuple[Check, str]
) -> None:
    state, url = check
    state.passed = 0
    async with harness(release_cluster, release_annotations(url)) as h:
        v1 = (await h.status()).stable_hash
        await h.set_version("v2")
        status = await h.wait("aborted", lambda s, d: s.phase == Phase.DEGRADED)
        assert status.message.startswith("analysis of step 2 failed")
        assert "0 is below min 1" in status.message
        assert status.weight == 0
        assert await h.selector("web-canary") == {"app": "web", "rollouts-pod-template-hash": v1}


async def test_analysis_runs_in_the_background_unless_told_not_to(
    release_cluster: RunningCluster, check: tuple[Check, str]
) -> None:
    """Issue: metrics written for an analysis step also ran in the background (``background``
    defaulted to true) and aborted the release during an earlier pause. As Argo: no background
    run without ``background: true`` (or ``startingStep``); the step measures when reached."""
    state, url = check
    state.passed = 0
    analysis = (
        "interval: 1s\ncount: 2\nmetrics:\n"
        f"- name: smoke\n  provider: {{web: {{url: '{url}', jsonPath: '$.passed'}}}}\n  min: 1\n"
    )
    annotations = {
        "canarist.io/traffic-router": "proxy",
        "canarist.io/steps": (
            "- setWeight: 20\n- pause: {}\n- analysis: {templates: [{templateName: smoke}]}\n"
        ),
        "canarist.io/analysis": analysis,
    }
    async with harness(release_cluster, annotations) as h:
        await h.set_version("v2")
        await h.wait("paused at 20%", lambda s, d: s.step == 1 and s.phase == Phase.PAUSED)
        await asyncio.sleep(3)  # three intervals: a background run would have failed by now
        status = await h.status()
        assert (status.phase, status.step) == (Phase.PAUSED, 1), status.message
        assert state.calls == 0
        assert not (status.analysis or {}).get("background")
        await h.annotate("promote")  # the analysis step measures, and its failure aborts
        status = await h.wait("aborted", lambda s, d: s.phase == Phase.DEGRADED)
        assert status.message.startswith("analysis of step 3 failed")
        assert state.calls >= 1
