"""Router options and behaviour annotations: small string formats, parsed with paths."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from webhook.spec import names as n
from webhook.spec.capabilities import ROUTERS
from webhook.spec.durations import parse_duration
from webhook.spec.problems import Problems, show, suggest

_DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?\Z")
_DNS1035_LABEL = re.compile(r"^[a-z]([-a-z0-9]{0,61}[a-z0-9])?\Z")
_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\Z")
_HOST = re.compile(r"^(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\Z")
_COOKIE = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,64}\Z")
_ANNOTATION_KEY = re.compile(
    r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?"
    r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$"
)
NGINX_PREFIX = "nginx.ingress.kubernetes.io/"
MAX_JSON = 64 * 1024  # as an annotation's YAML (webhook.spec.yamltext.MAX_TEXT)


@dataclass(frozen=True)
class VirtualServiceRef:
    """An Istio VirtualService and the names of its routes to split (empty: the only route);
    ``namespace`` "" is the Deployment's (Argo's ``name.namespace`` names another)."""

    name: str
    routes: tuple[str, ...] = ()
    namespace: str = ""


@dataclass(frozen=True)
class DestinationRuleRef:
    """Subset-level Istio split: the DestinationRule and its stable and canary subset names."""

    name: str
    stable_subset: str = "stable"
    canary_subset: str = "canary"


STICKY_MAX_AGE = 3600
STICKY_MAX_AGE_LIMIT = 7 * 24 * 3600  # an ALB target group's stickiness takes 1 s to 7 days


@dataclass(frozen=True)
class Sticky:
    """Keep a client on the version it first got, by a cookie living ``max_age`` seconds."""

    cookie: str
    max_age: int = STICKY_MAX_AGE


@dataclass(frozen=True)
class RouterOptions:
    istio_virtual_services: tuple[VirtualServiceRef, ...] = ()
    istio_destination_rule: DestinationRuleRef | None = None
    nginx_ingresses: tuple[str, ...] = ()
    nginx_annotations: tuple[tuple[str, str], ...] = ()
    alb_ingresses: tuple[str, ...] = ()
    alb_service_port: int | None = None
    alb_root_service: str | None = None
    http_routes: tuple[str, ...] = ()
    traffic_split: str | None = None
    smi_root_service: str | None = None
    proxy_hosts: tuple[str, ...] = ()


def object_name(text: str, path: str, problems: Problems, what: str = "name") -> str | None:
    if len(text) <= 253 and _SUBDOMAIN.match(text):
        return text
    problems.add(
        path,
        f"invalid {what} {show(text)}: lowercase letters, digits, '-' and '.', "
        "starting and ending with a letter or digit",
    )
    return None


def service_name(text: str, path: str, problems: Problems) -> str | None:
    if _DNS1035_LABEL.match(text):
        return text
    problems.add(
        path,
        f"invalid Service name {show(text)}: at most 63 lowercase letters, digits and '-', "
        "starting with a letter",
    )
    return None


def name_list(text: str, path: str, problems: Problems, what: str) -> tuple[str, ...]:
    items = [part.strip() for part in text.split(",")]
    if not any(items):
        problems.add(path, f"must name at least one {what}")
        return ()
    out = []
    for item in items:
        if not item:
            problems.add(path, f"empty {what} name in {show(text)}")
        elif object_name(item, path, problems, f"{what} name") is not None:
            out.append(item)
    return tuple(out)


def parse_routers(text: str, path: str, problems: Problems) -> tuple[str, ...]:
    items = [part.strip() for part in text.split(",")]
    routers: list[str] = []
    for item in items:
        if item not in ROUTERS:
            hint = suggest(item, ROUTERS)
            mean = f" (did you mean {show(hint)}?)" if hint else ""
            problems.add(
                path, f"unknown traffic router {show(item)}{mean}; allowed: {', '.join(ROUTERS)}"
            )
        elif item in routers:
            problems.add(path, f"traffic router {show(item)} is listed twice")
        else:
            routers.append(item)
    if "none" in routers and len(routers) > 1:
        problems.add(path, '"none" cannot be combined with other traffic routers')
    return tuple(routers)


def parse_virtual_services(
    text: str, path: str, problems: Problems
) -> tuple[VirtualServiceRef, ...]:
    """``name`` or ``name:route1,route2``, the name as ``name`` or Argo Rollouts'
    ``name.namespace`` (a VirtualService in another namespace); several separated by ``;``."""
    refs = []
    for part in (p.strip() for p in text.split(";")):
        if not part:
            problems.add(path, f"empty VirtualService in {show(text)}")
            continue
        written, _, routes_text = part.partition(":")
        name, namespace = _name_namespace(written.strip(), path, problems)
        routes: tuple[str, ...] = ()
        if routes_text.strip():
            routes = tuple(r.strip() for r in routes_text.split(","))
            for route in routes:
                if not route:
                    problems.add(path, f"empty route name in {show(part)}")
        elif ":" in part:
            problems.add(path, f"no route names after ':' in {show(part)}")
        if name:
            refs.append(VirtualServiceRef(name, routes, namespace))
    return tuple(refs)


def _name_namespace(text: str, path: str, problems: Problems) -> tuple[str | None, str]:
    """``name`` or ``name.namespace``, each a DNS-1123 label (so, as in Argo Rollouts, a
    VirtualService whose own name has a dot cannot be named)."""
    parts = text.split(".")
    if len(parts) <= 2 and all(len(p) <= 63 and _DNS1123_LABEL.match(p) for p in parts):
        return parts[0], parts[1] if len(parts) == 2 else ""
    problems.add(
        path,
        f"invalid VirtualService {show(text)}: write NAME, or NAME.NAMESPACE for one in another "
        "namespace (lowercase letters, digits and '-')",
    )
    return None, ""


def parse_destination_rule(text: str, path: str, problems: Problems) -> DestinationRuleRef | None:
    """``name`` (subsets ``stable``/``canary``) or ``name:stableSubset,canarySubset``."""
    name, sep, subsets = text.partition(":")
    ok = object_name(name.strip(), path, problems, "DestinationRule name")
    if not sep:
        return DestinationRuleRef(ok) if ok else None
    parts = [p.strip() for p in subsets.split(",")]
    if len(parts) != 2 or not all(_DNS1123_LABEL.match(p) for p in parts):
        problems.add(
            path, f"subsets must be written name:stableSubset,canarySubset, got {show(text)}"
        )
        return None
    if parts[0] == parts[1]:
        problems.add(path, f"stable and canary subsets must differ, both are {show(parts[0])}")
        return None
    return DestinationRuleRef(ok, parts[0], parts[1]) if ok else None


def parse_nginx_annotations(
    text: str, path: str, problems: Problems
) -> tuple[tuple[str, str], ...]:
    """A JSON object of extra annotations for the canary Ingress (values are strings).

    A key without a ``/`` gets the ``nginx.ingress.kubernetes.io/`` prefix.
    """
    if len(text) > MAX_JSON:
        problems.add(path, f"is {len(text)} characters, larger than {MAX_JSON}")
        return ()
    try:
        raw = json.loads(text)
    except ValueError as exc:
        problems.add(path, f"must be a JSON object: {exc}")
        return ()
    except RecursionError:
        problems.add(path, "must be a JSON object of strings; this one is nested too deeply")
        return ()
    if not isinstance(raw, dict):
        problems.add(path, f"must be a JSON object, got {show(raw)}")
        return ()
    out = []
    for key, value in raw.items():
        full = key if "/" in key else NGINX_PREFIX + key
        if not _ANNOTATION_KEY.match(full):
            problems.add(path, f"invalid annotation name {show(key)}")
        elif not isinstance(value, str):
            problems.add(path, f"value of {show(key)} must be a string, got {show(value)}")
        else:
            out.append((full, value))
    return tuple(sorted(out))


def parse_port(text: str, path: str, problems: Problems) -> int | None:
    if text.strip().isascii() and text.strip().isdigit() and 1 <= int(text) <= 65535:
        return int(text)
    problems.add(path, f"must be a port number between 1 and 65535, got {show(text)}")
    return None


def parse_hosts(text: str, path: str, problems: Problems) -> tuple[str, ...]:
    hosts = []
    for host in (h.strip().lower() for h in text.split(",")):
        if not host or not _HOST.match(host):
            problems.add(path, f"invalid host name {show(host)}")
        else:
            hosts.append(host)
    return tuple(hosts)


def parse_bool(text: str, path: str, problems: Problems) -> bool | None:
    if text in ("true", "false"):
        return text == "true"
    problems.add(path, f'must be "true" or "false", got {show(text)}')
    return None


def parse_delay(text: str, path: str, problems: Problems) -> float | None:
    return parse_duration(text, path, problems)


def parse_sticky(text: str, deployment: str, path: str, problems: Problems) -> Sticky | None:
    """``"false"``, or ``"true"`` (cookie ``canarist-<deployment>``) or a cookie name, optionally
    followed by ``; max-age=DURATION`` (whole seconds, 1s to 7 days; default 1h)."""
    head, sep, rest = text.partition(";")
    head = head.strip()
    if head == "false":
        if sep:
            problems.add(path, f'"false" takes no max-age, got {show(text)}')
        return None
    if head == "true":
        cookie = f"canarist-{deployment}" if deployment else "canarist"
    elif _COOKIE.match(head):
        cookie = head
    else:
        problems.add(
            path,
            'must be "true", "false" or a cookie name, optionally followed by '
            f'"; max-age=DURATION" (e.g. "true; max-age=2h"), got {show(text)}',
        )
        return None
    if not sep:
        return Sticky(cookie)
    max_age = _max_age(rest, path, problems)
    return None if max_age is None else Sticky(cookie, max_age)


def _max_age(text: str, path: str, problems: Problems) -> int | None:
    key, eq, value = text.strip().partition("=")
    if key.strip().lower() != "max-age" or not eq:
        problems.add(
            path, f'after ";" only "max-age=DURATION" is allowed, got {show(text.strip())}'
        )
        return None
    seconds = parse_duration(value.strip(), path, problems)
    if seconds is None:
        return None
    if seconds != int(seconds) or not 1 <= seconds <= STICKY_MAX_AGE_LIMIT:
        problems.add(
            path,
            f"max-age must be whole seconds from 1s to 7 days (168h; an ALB's stickiness "
            f"limit, kept for every router), got {show(value.strip())}",
        )
        return None
    return int(seconds)


REQUIRED_OPTIONS: dict[str, tuple[str, ...]] = {
    "istio": (n.ISTIO_VIRTUAL_SERVICE,),
    "nginx": (n.NGINX_INGRESS,),
    "alb": (n.ALB_INGRESS, n.ALB_SERVICE_PORT),
    "gateway-api": (n.HTTP_ROUTE,),
}
