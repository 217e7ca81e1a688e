"""Building policy documents and policies for the tests."""

from __future__ import annotations

from typing import Any

import yaml

from webhook.policy import ClusterPolicy, PolicySet, parse_policies


def document(*policies: dict[str, Any]) -> str:
    return yaml.safe_dump({"policies": list(policies)}, sort_keys=False)


def policy_set(*policies: dict[str, Any]) -> PolicySet:
    return parse_policies(document(*policies), "test.yaml")


def one(**fields: Any) -> ClusterPolicy:
    """A valid policy ``team-a`` over namespace team-a, with ``fields`` over that."""
    base: dict[str, Any] = {"name": "team-a", "namespaces": ["team-a"]}
    base.update(fields)
    return policy_set(base).policies[0]
