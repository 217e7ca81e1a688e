"""The user's API: canarist annotations parsed into frozen dataclasses, validated with paths.

Imports nothing of canarist's but the error tree. Everything other layers need is re-exported here.
"""

from webhook.spec import names
from webhook.spec.analysis import (
    Analysis,
    BuiltinProvider,
    DatadogProvider,
    Metric,
    PrometheusProvider,
    Provider,
    WebProvider,
    parse_analysis,
)
from webhook.spec.canary import (
    DEFAULT_STEPS,
    Action,
    CanarySpec,
    ParsedSpec,
    parse_canary_spec,
)
from webhook.spec.capabilities import CAPABILITIES, ROUTERS, Capability
from webhook.spec.hashing import template_hash
from webhook.spec.matches import HeaderMatch, MirrorMatch, StringMatch
from webhook.spec.options import DestinationRuleRef, RouterOptions, Sticky, VirtualServiceRef
from webhook.spec.problems import Problems
from webhook.spec.status import Phase, ReleaseStatus
from webhook.spec.steps import (
    AnalysisStep,
    Pause,
    SetCanaryScale,
    SetHeaderRoute,
    SetMirrorRoute,
    SetWeight,
    Step,
    parse_steps,
)

__all__ = [
    "CAPABILITIES",
    "DEFAULT_STEPS",
    "ROUTERS",
    "Action",
    "Analysis",
    "AnalysisStep",
    "BuiltinProvider",
    "CanarySpec",
    "Capability",
    "DatadogProvider",
    "DestinationRuleRef",
    "HeaderMatch",
    "Metric",
    "MirrorMatch",
    "ParsedSpec",
    "Pause",
    "Phase",
    "Problems",
    "PrometheusProvider",
    "Provider",
    "ReleaseStatus",
    "RouterOptions",
    "SetCanaryScale",
    "SetHeaderRoute",
    "SetMirrorRoute",
    "SetWeight",
    "Step",
    "Sticky",
    "StringMatch",
    "VirtualServiceRef",
    "WebProvider",
    "names",
    "parse_analysis",
    "parse_canary_spec",
    "parse_steps",
    "template_hash",
]
