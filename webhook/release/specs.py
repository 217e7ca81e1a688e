"""The reconciler's parsed specs: a Deployment's ``canarist.io/`` annotations over its cluster
policy's defaults, parsed once per distinct text and kept bounded in bytes like the webhook's
(``webhook.spec.speccache``): keyed by the annotation text, they would otherwise hold every
distinct (large) annotation value ever seen.
"""

from __future__ import annotations

from webhook.errors import SpecError
from webhook.policy import ClusterPolicy, parse_effective
from webhook.spec import CanarySpec
from webhook.spec.boundedcache import BoundedCache
from webhook.spec.speccache import DEFAULT_BYTES, cost_of

# The policy is part of the key: a policy object is shared by every Deployment it covers and
# replaced whole when the policies change, so it costs the key nothing to count.
SpecKey = tuple[str, tuple[tuple[str, str], ...], ClusterPolicy | None]
SPECS: BoundedCache[SpecKey, tuple[CanarySpec | None, str | None]] = BoundedCache(
    DEFAULT_BYTES, lambda key, _: cost_of((key[0], key[1])))


def parsed_spec(
    name: str, annotations: tuple[tuple[str, str], ...], policy: ClusterPolicy | None = None
) -> tuple[CanarySpec | None, str | None]:
    """The spec of a Deployment's ``canarist.io/`` annotations over its policy's defaults, or
    the problems with them.

    Cached (``SPECS``): parsing is a pure function of the annotations and the policy, and YAML
    parsing is the costliest part of a reconcile, while both change only when someone edits
    them."""
    key = (name, annotations, policy)
    found = SPECS.get(key)
    if found is None:
        try:
            found = parse_effective(dict(annotations), policy, deployment=name).spec, None
        except SpecError as exc:
            found = None, exc.summary()
        SPECS.put(key, found)
    return found
