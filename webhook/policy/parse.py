"""The policy document (``policies:``) parsed into a ``PolicySet``, or refused whole.

The same document is the chart's ``policies:`` value (rendered into a ConfigMap) and the file of
``--policy FILE``. ``parse_policies`` reads it with the bounded YAML loader (no anchors or
aliases), never stops at the first problem and raises one ``PolicyError`` listing every problem
with its path (``policies[1].rules.maxWeightIncrease: must be an integer between 1 and 100, got
0``). A valid document also carries warnings (``PolicySet.warnings``): shadowed policies, and
built-in defaults that break a policy's rules.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from webhook.errors import PolicyError, Problem, SpecError
from webhook.policy import checks
from webhook.policy.effective import annotation_of
from webhook.policy.model import ClusterPolicy, Exempt, PolicySet, Rules, digest_of
from webhook.policy.selectors import LabelSelector, parse_selector
from webhook.spec import names as n
from webhook.spec.canary import parse_canary_spec
from webhook.spec.capabilities import ROUTERS
from webhook.spec.durations import parse_duration
from webhook.spec.labels import namespace_name_problem
from webhook.spec.problems import (
    Problems,
    at,
    boolean,
    index,
    integer,
    keyed,
    mapping,
    sequence,
    show,
    string,
    suggest,
    type_name,
)
from webhook.spec.yamltext import failed, load_yaml

MAX_POLICIES = 500
MAX_NAMES = 1000  # namespaces, users or groups in one list
MAX_DOCUMENT = 256 * 1024
# Deployments there are the cluster's own; the webhook is never called for them.
SYSTEM_NAMESPACES = frozenset({"kube-system", "kube-node-lease"})
POLICY_KEYS = (
    "name",
    "namespaces",
    "namespaceSelector",
    "selector",
    "adopt",
    "enforce",
    "defaults",
    "rules",
    "exempt",
)
RULE_KEYS = (
    "maxWeightIncrease",
    "minPause",
    "requireAnalysis",
    "allowedRouters",
    "allowPromoteFull",
    "maxConcurrentReleases",
)
# What a policy may default: every annotation a user sets, but the one-shot action.
DEFAULTABLE = tuple(k[len(n.PREFIX) :] for k in n.USER_ANNOTATIONS if k != n.ACTION)


def parse_policies(text: str, source: str = "") -> PolicySet:
    """Parse a policy document; ``PolicyError`` (every problem, with its path) if invalid."""
    problems = Problems()
    policies: list[ClusterPolicy] = []
    if len(text) > MAX_DOCUMENT:
        problems.add("policies", f"the document is {len(text)} characters, more than "
                     f"{MAX_DOCUMENT}")
    else:
        read = Problems()  # paths inside the document (policies[0].namespaces), or none
        raw = load_yaml(text, "", read, max_text=MAX_DOCUMENT)
        problems.extend(Problem(p.path or "policies", p.message) for p in read)
        if not failed(raw):
            policies = parse_document(raw, problems)
    problems.raise_if_any(PolicyError, subject=f"policies in {source}" if source else "policies")
    found = PolicySet(tuple(policies), digest=digest_of(text))
    return PolicySet(found.policies, tuple(checks.warnings(found)), found.digest)


def parse_document(raw: Any, problems: Problems) -> list[ClusterPolicy]:
    if raw is None:  # an empty document: no policies
        return []
    if not isinstance(raw, Mapping):
        problems.add("policies", f"the document must be a mapping with a policies: list, "
                     f"got {type_name(raw)}")
        return []
    top = mapping(raw, "policies", problems)
    if top is None:
        return []
    for key in top:
        if key != "policies":
            problems.add(key or show(key), f"unknown key {show(key)}; the document holds one "
                         "key, policies")
    items = top.get("policies")
    if items is None:
        return []
    if isinstance(items, list) and len(items) > MAX_POLICIES:
        problems.add("policies", f"has {len(items)} policies, more than {MAX_POLICIES}")
        return []
    policies: list[ClusterPolicy] = []
    seen: dict[str, str] = {}
    for i, (path, item) in enumerate(_items(items, problems)):
        policy = _policy(item, path, i, problems)
        if policy is None:
            continue
        if policy.name in seen:
            problems.add(at(path, "name"), f"{show(policy.name)} is already the name of "
                         f"{seen[policy.name]}; names must be unique")
        seen.setdefault(policy.name, path)
        policies.append(policy)
    return policies


def _items(raw: Any, problems: Problems) -> list[tuple[str, Mapping[str, Any]]]:
    """Each policy's path and mapping; the index counts items that are not mappings too."""
    out = []
    for i, item in enumerate(sequence(raw, "policies", problems) or []):
        m = keyed(item, POLICY_KEYS, index("policies", i), problems)
        out.append((index("policies", i), m if m is not None else {}))
    return out


def _policy(m: Mapping[str, Any], path: str, i: int, problems: Problems) -> ClusterPolicy | None:
    before = len(problems)
    if not m:
        return None
    name = _name(m.get("name"), at(path, "name"), problems) if "name" in m else None
    if "name" not in m:
        problems.add(at(path, "name"), "is required")
    namespaces, ns_selector = _scope(m, path, problems)
    selector = (
        parse_selector(m["selector"], at(path, "selector"), problems) if "selector" in m else None
    )
    adopt = _flag(m, "adopt", path, problems)
    enforce = _flag(m, "enforce", path, problems)
    defaults = _defaults(m.get("defaults"), at(path, "defaults"), problems)
    rules = _rules(m.get("rules"), at(path, "rules"), problems)
    exempt = _exempt(m.get("exempt"), at(path, "exempt"), problems)
    if len(problems) > before or name is None:
        return None
    policy = ClusterPolicy(
        name=name,
        index=i,
        namespaces=namespaces,
        namespace_selector=ns_selector,
        selector=None if selector is None or selector.empty else selector,
        adopt=adopt,
        enforce=enforce,
        defaults=defaults,
        rules=rules,
        exempt=exempt,
    )
    problems.extend(checks.defaults_against_rules(policy))
    return policy


def _name(raw: Any, path: str, problems: Problems) -> str | None:
    text = string(raw, path, problems)
    if text is None:
        return None
    problem = namespace_name_problem(text)  # the same syntax: an RFC 1123 label
    if problem:
        problems.add(path, f"invalid name {show(text)}: {problem}")
        return None
    return text


def _scope(
    m: Mapping[str, Any], path: str, problems: Problems
) -> tuple[frozenset[str] | None, LabelSelector | None]:
    has_names, has_selector = "namespaces" in m, "namespaceSelector" in m
    if has_names == has_selector:
        got = "both" if has_names else "neither"
        problems.add(path, f"must set exactly one of namespaces, namespaceSelector; got {got}")
        return None, None
    if has_selector:
        where = at(path, "namespaceSelector")
        selector = parse_selector(m["namespaceSelector"], where, problems)
        if selector is not None and selector.empty:
            problems.add(where, "must not be empty: it would cover every namespace (name them, "
                         "or select them by label)")
        return None, selector
    where = at(path, "namespaces")
    names = _names(m["namespaces"], where, problems, what="namespace")
    for i, name in enumerate(names):
        problem = namespace_name_problem(name)
        if problem:
            problems.add(index(where, i), f"invalid namespace {show(name)}: {problem}")
        elif name in SYSTEM_NAMESPACES:
            problems.add(index(where, i), f"{name} is the cluster's own namespace; canarist "
                         "never manages Deployments there")
    if not names and isinstance(m["namespaces"], list):
        problems.add(where, "must name at least one namespace")
    return frozenset(names), None


def _names(raw: Any, path: str, problems: Problems, *, what: str) -> list[str]:
    items = sequence(raw, path, problems)
    if items is None:
        return []
    if len(items) > MAX_NAMES:
        problems.add(path, f"has {len(items)} entries, more than {MAX_NAMES}")
        return []
    out: list[str] = []
    for i, item in enumerate(items):
        text = string(item, index(path, i), problems)
        if text is None:
            continue
        if text in out:
            problems.add(index(path, i), f"{what} {show(text)} is listed twice")
        out.append(text)
    return out


def _flag(m: Mapping[str, Any], key: str, path: str, problems: Problems) -> bool:
    if key not in m:
        return False
    return bool(boolean(m[key], at(path, key), problems))


def _defaults(raw: Any, path: str, problems: Problems) -> tuple[tuple[str, str], ...]:
    if raw is None:
        return ()
    m = mapping(raw, path, problems)
    if m is None:
        return ()
    values: dict[str, str] = {}
    for key, value in m.items():
        where = at(path, key)
        short = key[len(n.PREFIX) :] if key.startswith(n.PREFIX) else key
        if short not in DEFAULTABLE:
            problems.add(where, _unknown_default(key, short))
            continue
        if key != short:
            problems.add(where, f"write the annotation name without {n.PREFIX}: {short}")
            continue
        text = string(value, where, problems, nonempty=False)
        if text is not None:
            values[n.PREFIX + short] = text
    _check_defaults(values, path, problems)
    return tuple(sorted(values.items()))


def _unknown_default(key: str, short: str) -> str:
    if short == "action":
        return "the action is a one-shot request, not a setting: it cannot have a default"
    if short in ("status", "enabled", "bypass", "managed-by"):
        return f"{n.PREFIX}{short} is canarist's own, not a setting"
    hint = suggest(short, DEFAULTABLE)
    mean = f" (did you mean {show(hint)}?)" if hint else ""
    return f"unknown annotation {show(key)}{mean}; allowed: {', '.join(DEFAULTABLE)}"


def _check_defaults(values: Mapping[str, str], path: str, problems: Problems) -> None:
    """The defaults parse, together, as annotations: keep the problems in their own values.

    Problems of annotations they do not set (an option the chosen router requires, such as
    the VirtualService of ``istio``) are each Deployment's to solve; so is the router, when
    they leave it out: the steps are then read with a router able to do every step.
    """
    extra = {} if n.TRAFFIC_ROUTER in values else checks.ANY_ROUTER
    try:
        parse_canary_spec({**checks.STAND_INS, **extra, **values})
    except SpecError as exc:
        for p in exc.problems:
            key = annotation_of(p.path)
            if key in values:
                problems.add(at(path, p.path[len(n.PREFIX) :]), p.message)


def _rules(raw: Any, path: str, problems: Problems) -> Rules:
    if raw is None:
        return Rules()
    m = keyed(raw, RULE_KEYS, path, problems)
    if m is None:
        return Rules()
    routers = m.get("allowedRouters")
    allowed: list[str] | None = None
    if routers is not None:
        where = at(path, "allowedRouters")
        allowed = _names(routers, where, problems, what="router")
        for i, router in enumerate(allowed):
            if router not in ROUTERS:
                hint = suggest(router, ROUTERS)
                mean = f" (did you mean {show(hint)}?)" if hint else ""
                problems.add(index(where, i), f"unknown traffic router {show(router)}{mean}; "
                             f"routers: {', '.join(ROUTERS)}")
        if not allowed and isinstance(routers, list):
            problems.add(where, "must allow at least one router")
    pause = m.get("minPause")
    min_pause = None
    if pause is not None:
        min_pause = parse_duration(pause, at(path, "minPause"), problems)
        if min_pause == 0:
            problems.add(at(path, "minPause"), "must be longer than 0 (leave it out for none)")
    return Rules(
        max_weight_increase=_int(m, "maxWeightIncrease", path, problems, 1, 100),
        min_pause=min_pause,
        require_analysis=_flag(m, "requireAnalysis", path, problems),
        allowed_routers=tuple(allowed) if allowed is not None else None,
        allow_promote_full=_flag(m, "allowPromoteFull", path, problems)
        if "allowPromoteFull" in m
        else True,
        max_concurrent_releases=_int(m, "maxConcurrentReleases", path, problems, 1, 10000),
    )


def _int(
    m: Mapping[str, Any], key: str, path: str, problems: Problems, low: int, high: int
) -> int | None:
    if key not in m:
        return None
    if isinstance(m[key], float) and not m[key].is_integer():
        problems.add(at(path, key), f"must be an integer between {low} and {high}, got "
                     f"{show(m[key])}")
        return None
    return integer(m[key], at(path, key), problems, low=low, high=high)


def _exempt(raw: Any, path: str, problems: Problems) -> Exempt:
    if raw is None:
        return Exempt()
    m = keyed(raw, ("users", "groups"), path, problems)
    if m is None:
        return Exempt()
    users = _names(m["users"], at(path, "users"), problems, what="user") if "users" in m else []
    groups = (
        _names(m["groups"], at(path, "groups"), problems, what="group") if "groups" in m else []
    )
    return Exempt(frozenset(users), frozenset(groups))

