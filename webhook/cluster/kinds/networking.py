"""networking.k8s.io/v1 NetworkPolicies: stored and validated (pkg/apis/networking/validation);
nothing enforces them here, as on a cluster whose network plugin does not."""

from __future__ import annotations

from typing import Any

from webhook.cluster.kinds.base import GEN_SPEC, Strategy
from webhook.cluster.kinds.common import forbidden, invalid, not_supported, required
from webhook.cluster.kinds.policy import validate_selector
from webhook.cluster.status import Cause

POLICY_TYPES = ["Ingress", "Egress"]
PROTOCOLS = ["TCP", "UDP", "SCTP"]
_PORT_RANGE = "must be between 1 and 65535, inclusive"


def _cidr(value: Any, path: str) -> list[Cause]:
    import ipaddress  # only for a policy with ipBlocks: keeps the API's start light

    if not value:
        return [required(path)]
    try:
        ipaddress.ip_network(str(value), strict=False)
    except ValueError:
        return [invalid(path, value, "must be a valid CIDR value, (e.g. 10.9.8.0/24 or "
                                     "2001:db8::/64)")]
    return []


def _ip_block(block: Any, path: str) -> list[Cause]:
    if not isinstance(block, dict):
        return [invalid(path, block, "must be an object")]
    import ipaddress

    out = _cidr(block.get("cidr"), f"{path}.cidr")
    if out:
        return out
    net = ipaddress.ip_network(str(block["cidr"]), strict=False)
    for i, exc in enumerate(block.get("except") or []):
        sub = f"{path}.except[{i}]"
        bad = _cidr(exc, sub)
        if bad:
            out += bad
            continue
        inner = ipaddress.ip_network(str(exc), strict=False)
        if (inner.version != net.version or inner == net
                or not inner.subnet_of(net)):  # type: ignore[arg-type]
            out.append(invalid(sub, exc, "must be a strict subset of `cidr`"))
    return out


def _peer(peer: Any, path: str) -> list[Cause]:
    if not isinstance(peer, dict):
        return [invalid(path, peer, "must be an object")]
    out: list[Cause] = []
    kinds = 0
    for key in ("podSelector", "namespaceSelector"):
        if peer.get(key) is not None:
            kinds += 1
            out += validate_selector(peer[key], f"{path}.{key}")
    if peer.get("ipBlock") is not None:
        kinds += 1
        out += _ip_block(peer["ipBlock"], f"{path}.ipBlock")
    if kinds == 0:
        out.append(required(path, "must specify a peer"))
    elif kinds > 1 and peer.get("ipBlock") is not None:
        out.append(forbidden(path, "may not specify both ipBlock and another peer"))
    return out


def _port(port: Any, path: str) -> list[Cause]:
    if not isinstance(port, dict):
        return [invalid(path, port, "must be an object")]
    out: list[Cause] = []
    protocol = port.get("protocol")
    if protocol is not None and protocol not in PROTOCOLS:
        out.append(not_supported(f"{path}.protocol", protocol, PROTOCOLS))
    number, end = port.get("port"), port.get("endPort")
    if isinstance(number, int) and not 1 <= number <= 65535:
        out.append(invalid(f"{path}.port", number, _PORT_RANGE))
    if end is not None:
        if not isinstance(number, int):
            out.append(required(f"{path}.port", "may not be specified when `endPort` is "
                                                "specified") if number is None else
                       forbidden(f"{path}.endPort", "may not be specified when `port` is "
                                                    "non-numeric"))
        elif isinstance(end, int) and end < number:
            out.append(invalid(f"{path}.endPort", end,
                               "must be greater than or equal to `port`"))
        if isinstance(end, int) and not 1 <= end <= 65535:
            out.append(invalid(f"{path}.endPort", end, _PORT_RANGE))
    return out


class NetworkPolicyStrategy(Strategy):
    generation = GEN_SPEC

    def default(self, obj: dict[str, Any]) -> None:
        spec = obj.get("spec")
        if not isinstance(spec, dict):
            return
        for direction in ("ingress", "egress"):
            for rule in spec.get(direction) or []:
                for port in (rule or {}).get("ports") or []:
                    if isinstance(port, dict):
                        port.setdefault("protocol", "TCP")
        if not spec.get("policyTypes"):
            types = ["Ingress"]
            if spec.get("egress"):
                types.append("Egress")
            spec["policyTypes"] = types

    def validate(self, obj: dict[str, Any]) -> list[Cause]:
        out = super().validate(obj)
        spec = obj.get("spec")
        if not isinstance(spec, dict):
            return out
        out += validate_selector(spec.get("podSelector"), "spec.podSelector")
        for direction, peers_key in (("ingress", "from"), ("egress", "to")):
            for i, rule in enumerate(spec.get(direction) or []):
                path = f"spec.{direction}[{i}]"
                if not isinstance(rule, dict):
                    out.append(invalid(path, rule, "must be an object"))
                    continue
                for j, port in enumerate(rule.get("ports") or []):
                    out += _port(port, f"{path}.ports[{j}]")
                for j, peer in enumerate(rule.get(peers_key) or []):
                    out += _peer(peer, f"{path}.{peers_key}[{j}]")
        types = spec.get("policyTypes") or []
        for i, t in enumerate(types):
            if t not in POLICY_TYPES:
                out.append(not_supported(f"spec.policyTypes[{i}]", t, POLICY_TYPES))
        if len(types) > len(POLICY_TYPES):
            out.append(invalid("spec.policyTypes", types, "may not specify more than two "
                                                          "policyTypes"))
        return out
