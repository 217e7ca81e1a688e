"""Builders shared by the router tests: targets parsed from real annotations, user objects."""

from __future__ import annotations

from typing import Any

import yaml

from webhook.routers.base import Owner, ReleaseTarget
from webhook.routers.offline import OfflineClient
from webhook.spec import parse_canary_spec

NS = "shop"
UID = "0b7c3a52-5f0e-4d7e-9d0c-2f7e1f0c9a11"


def target(
    annotations: dict[str, str],
    *,
    name: str = "web",
    uid: str = UID,
    stable: str = "web",
    canary: str = "web-canary",
) -> ReleaseTarget:
    """A release target from the Deployment's canarist annotations, parsed as admission does."""
    spec = parse_canary_spec(annotations, deployment=name).spec
    return ReleaseTarget(NS, Owner(name, uid), stable, canary, spec)


def obj(text: str) -> dict[str, Any]:
    """An object from YAML, in namespace ``shop`` unless it says otherwise."""
    data: dict[str, Any] = yaml.safe_load(text)
    data.setdefault("metadata", {}).setdefault("namespace", NS)
    return data


def service(name: str, port: int = 80) -> dict[str, Any]:
    return obj(
        f"""
        apiVersion: v1
        kind: Service
        metadata: {{name: {name}}}
        spec:
          selector: {{app: web}}
          ports: [{{name: http, port: {port}, targetPort: 8080}}]
        """
    )


def client_with(*objects: dict[str, Any]) -> OfflineClient:
    return OfflineClient([service("web"), service("web-canary"), *objects])
