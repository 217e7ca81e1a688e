"""Reading one YAML annotation value (or a route table) into a problem with its path.

The parsing itself is ``boundedyaml``'s, with ``boundedyaml.ANNOTATION`` limits: no anchors or
aliases, shallow nesting, and a time budget when the caller set one. A refusal names the node,
e.g. ``canarist.io/steps[2].setHeaderRoute: anchors and aliases are not allowed (*a) at line 3,
column 12``.
"""

from __future__ import annotations

from typing import Any

import yaml

from webhook.spec import boundedyaml
from webhook.spec.problems import Problems

# An annotation value's size limit. Parsing is linear but not free (PyYAML's own parser reads
# about 150 KB/s): 64 KiB is far more than 100 steps or 50 metrics take.
MAX_TEXT = 64 * 1024

# Whether libyaml may parse (tests and the benchmark's profile turn it off to compare).
use_libyaml = True


def load_yaml(
    text: str,
    path: str,
    problems: Problems,
    *,
    max_text: int = MAX_TEXT,
    limits: boundedyaml.Limits = boundedyaml.ANNOTATION,
) -> Any:
    """Parse one YAML (or JSON) document; on failure record the problem and return ``FAILED``."""
    if len(text) > max_text:
        problems.add(path, f"is {len(text)} characters, larger than {max_text}")
        return _FAILED
    try:
        return boundedyaml.load(text, limits, fast=use_libyaml)
    except yaml.YAMLError as exc:
        where, message = boundedyaml.describe(exc)
        problems.add(f"{path}{where}" if path else where.lstrip("."), f"YAML {message}")
    except (RecursionError, ValueError) as exc:
        problems.add(path, f"YAML does not parse: {type(exc).__name__}")
    return _FAILED


_FAILED = object()
FAILED = _FAILED


def failed(value: Any) -> bool:
    return value is _FAILED
