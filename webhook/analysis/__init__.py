"""Analysis: metric providers and Argo-style verdicts (``docs/analysis.md``).

Pure: ``plan`` (which metrics a run measures), ``verdict`` (readings -> new state and phase),
``state`` (the JSON kept in ``canarist.io/status``). I/O: ``measure.Measurer`` and the
``providers`` it dispatches to.
"""

from webhook.analysis.measure import Measurer
from webhook.analysis.phases import AnalysisPhase, worst
from webhook.analysis.plan import RunSpec, background_active, background_spec, step_spec
from webhook.analysis.providers.base import MeasureContext
from webhook.analysis.providers.datadog import SecretReader, decode_secret
from webhook.analysis.state import AnalysisRecord, Measurement, MetricState, RunState
from webhook.analysis.verdict import Reading, Verdict, assess, due, next_due, start, terminate

__all__ = [
    "AnalysisPhase",
    "AnalysisRecord",
    "MeasureContext",
    "Measurement",
    "Measurer",
    "MetricState",
    "Reading",
    "RunSpec",
    "RunState",
    "SecretReader",
    "Verdict",
    "assess",
    "background_active",
    "background_spec",
    "decode_secret",
    "due",
    "next_due",
    "start",
    "step_spec",
    "terminate",
    "worst",
]
