"""Analysis in the planner: an analysis step waits for its run, passes or aborts; a failed
background run aborts; a promotion ends the background run (measured with canned readings the
way the loop's Measurer would)."""

from __future__ import annotations

from webhook.spec import Phase

from .sim import Sim

ANALYSIS = """
interval: 10s
count: 2
failureLimit: 0
background: false
metrics: [{name: success-rate, provider: builtin, min: 0.95}]
"""
ANALYSIS_STEPS = (
    "- setWeight: 20\n- analysis: {templates: [{templateName: success-rate}]}\n"
    "- setWeight: 50\n- pause: {}"
)


def analysed(background: bool = False) -> Sim:
    text = ANALYSIS.replace("background: false", f"background: {str(background).lower()}")
    return Sim(
        {
            "canarist.io/steps": ANALYSIS_STEPS,
            "canarist.io/analysis": text,
            "canarist.io/traffic-router": "proxy",
        }
    )


def test_an_analysis_step_waits_for_its_measurements_then_passes() -> None:
    sim = analysed()
    sim.run()
    sim.update_template("v2")
    sim.run()
    assert sim.status.step == 1  # nothing measured yet: the step waits
    assert sim.plans[-1].requeue_after == 0.0  # ...and asks to be measured at once
    sim.readings = {"success-rate": 0.99}
    sim.reconcile()
    status = sim.status
    assert status.step == 1 and status.analysis is not None
    assert status.analysis["step"]["phase"] == "Running"
    assert sim.plans[-1].requeue_after == 10.0  # the next measurement is due in 10 s
    sim.advance(10)
    sim.run()
    status = sim.status
    assert status.analysis is not None and status.analysis["step"]["phase"] == "Successful"
    assert (status.step, status.weight) == (3, 50)


def test_a_failed_analysis_step_aborts() -> None:
    sim = analysed()
    sim.run()
    sim.update_template("v2")
    sim.run()
    sim.readings = {"success-rate": 0.80}
    sim.run()
    status = sim.status
    assert status.phase == Phase.DEGRADED
    assert "analysis of step 2 failed" in status.message
    assert "0.8 is below min 0.95" in status.message
    assert sim.router.weight == 0


def test_a_failed_background_analysis_aborts_and_a_promotion_ends_it() -> None:
    sim = analysed(background=True)
    sim.run()
    sim.update_template("v2")
    sim.readings = {"success-rate": 0.99}
    sim.run()
    sim.advance(10)
    sim.run()
    status = sim.status
    assert status.analysis is not None and status.analysis["background"]["phase"] == "Running"
    sim.annotate("promote")
    sim.run()
    sim.advance(30)  # scale-down-delay: the old pods stay, then the hand-over
    sim.run()
    status = sim.status
    assert status.phase == Phase.HEALTHY
    assert status.analysis is not None
    assert status.analysis["background"]["phase"] == "Successful"  # ended with the release

    sim.update_template("v3")
    sim.run()
    sim.readings = {"success-rate": 0.5}
    sim.advance(10)
    sim.run()
    status = sim.status
    assert status.phase == Phase.DEGRADED
    assert "failed" in status.message and "0.5 is below min 0.95" in status.message
    assert status.analysis is not None
    assert status.analysis["background"]["phase"] == "Failed"  # measured on its own


def test_a_failed_background_analysis_alone_aborts() -> None:
    analysis = ANALYSIS.replace("background: false", "background: true")
    sim = Sim(
        {
            "canarist.io/steps": "- setWeight: 20\n- pause: {}",
            "canarist.io/analysis": analysis,
            "canarist.io/traffic-router": "proxy",
        }
    )
    sim.run()
    sim.update_template("v2")
    sim.readings = {"success-rate": 0.99}
    sim.run()
    assert sim.status.phase == Phase.PAUSED
    sim.readings = {"success-rate": 0.5}
    sim.advance(10)
    sim.run()
    status = sim.status
    assert status.phase == Phase.DEGRADED
    assert status.message.startswith("background analysis failed")
