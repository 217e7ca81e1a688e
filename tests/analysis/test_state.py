"""The analysis state as stored in ``canarist.io/status``: shape, round trip, lenient reading."""

from __future__ import annotations

import json
import math
from datetime import timedelta

import pytest

from tests.analysis.helpers import T0, run_codes, spec
from webhook.analysis import AnalysisPhase, AnalysisRecord, Reading, RunState, assess
from webhook.spec import ReleaseStatus

P = AnalysisPhase


def test_stored_shape():
    verdict = run_codes(spec(count=3, failure_limit=1), "SFE")
    assert verdict.state.to_dict() == {
        "phase": "Running",
        "step": 2,
        "startedAt": "2026-01-02T03:04:05Z",
        "message": "measuring: success-rate 2/3",
        "metrics": [
            {
                "name": "success-rate",
                "phase": "Running",
                "count": 2,
                "successful": 1,
                "failed": 1,
                "errors": 1,
                "consecutiveErrors": 1,
                "lastAt": "2026-01-02T03:04:25Z",
                "message": "prometheus: no answer within 10s",
                "measurements": [
                    {"at": "2026-01-02T03:04:05Z", "phase": "Successful", "value": 1.0},
                    {"at": "2026-01-02T03:04:15Z", "phase": "Failed", "value": 0.5,
                     "message": "0.5 is below min 0.9"},
                    {"at": "2026-01-02T03:04:25Z", "phase": "Error",
                     "message": "prometheus: no answer within 10s"},
                ],
            }
        ],
    }


def test_round_trip_through_the_release_status():
    bg = run_codes(spec(count=None), "SSS").state
    step = run_codes(spec(count=2), "SS").state
    record = AnalysisRecord(background=bg, step=step, extra={"future": 1})
    status = ReleaseStatus(canary_hash="abc", analysis=record.to_dict())
    back = AnalysisRecord.from_dict(ReleaseStatus.from_json(status.to_json()).analysis)
    assert back.background == bg
    assert back.step == step
    assert back.step is not None and back.step.phase is P.SUCCESSFUL
    assert back.to_dict()["future"] == 1


def test_infinite_values_are_stored_as_text():
    s = spec(count=2, failure_limit=1)
    state = assess(s, None, {"success-rate": Reading.of(math.inf)}, T0).state
    text = json.dumps(state.to_dict(), allow_nan=False)  # strict JSON, as the API requires
    assert '"value": "+Inf"' in text
    back = RunState.from_dict(json.loads(text))
    assert back == state


def test_history_keeps_the_last_ten_measurements():
    state = run_codes(spec(count=None), "S" * 14).state
    ms = state.metric("success-rate")
    assert ms is not None and ms.successful == 14
    assert len(ms.measurements) == 10
    assert ms.measurements[0].at == T0 + timedelta(seconds=40)


def test_long_provider_messages_are_clipped_to_one_line():
    s = spec(count=1, error_limit=0)
    message = "line one\nline two " + "x" * 1000
    state = assess(s, None, {"success-rate": Reading.failed(message)}, T0).state
    stored = state.metrics[0].measurements[0].message
    assert len(stored) == 300 and "\n" not in stored and stored.endswith("…")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (None, AnalysisRecord()),
        ("garbage", AnalysisRecord()),
        ({"background": "x"}, AnalysisRecord()),
        ({"step": {}}, AnalysisRecord(step=RunState(phase=P.RUNNING))),
    ],
)
def test_record_reading_is_lenient(raw, expected):
    assert AnalysisRecord.from_dict(raw) == expected


@pytest.mark.parametrize(
    ("raw", "check"),
    [
        ({"phase": "Exploded"}, lambda s: s.phase is P.RUNNING),
        ({"phase": "Failed"}, lambda s: s.phase is P.FAILED),
        ({"step": -1}, lambda s: s.step is None),
        ({"step": True}, lambda s: s.step is None),
        ({"startedAt": "yesterday"}, lambda s: s.started_at is None),
        ({"startedAt": "2026-01-02T03:04:05+02:00"},
         lambda s: s.started_at == T0 - timedelta(hours=2)),
        ({"metrics": [{"name": "a"}, {"name": "a", "failed": 3}, {"nom": "b"}, 7]},
         lambda s: [m.name for m in s.metrics] == ["a"] and s.metrics[0].failed == 0),
        ({"metrics": [{"name": "a", "errors": 1, "consecutiveErrors": 9, "successful": -4}]},
         lambda s: (s.metrics[0].consecutive_errors, s.metrics[0].successful) == (1, 0)),
        ({"metrics": [{"name": "a", "measurements": [{"at": "2026-01-02T03:04:05Z",
                                                      "phase": "Running"}, {"phase": "Failed"}]}]},
         lambda s: s.metrics[0].measurements == ()),
    ],
)
def test_run_reading_is_lenient(raw, check):
    assert check(RunState.from_dict(raw))
