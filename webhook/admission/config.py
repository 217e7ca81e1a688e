"""Configuration of the webhook server, and parsing of its ``--listen`` address."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from webhook.errors import ConfigError, Problem
from webhook.policy import PolicySet

MAX_BODY = 3 * 1024 * 1024  # the API server's own request limit is 3 MiB
DEFAULT_LISTEN = "0.0.0.0:8443"


@dataclass(frozen=True)
class ServerConfig:
    cert_path: str
    key_path: str
    host: str = "0.0.0.0"
    port: int = 8443
    # After SIGTERM: keep accepting (each response closes its connection) while the endpoint
    # disappears from the Service, then stop listening; in-flight requests get shutdown_timeout.
    drain_seconds: float = 2.0
    shutdown_timeout: float = 10.0
    # How often the certificate files are checked for changes.
    reload_interval: float = 2.0
    # Longer than the API server's 90 s idle-connection timeout, so the client closes first.
    keepalive_timeout: float = 120.0
    # A connection must send a whole request head within this (nginx's client_header_timeout).
    header_timeout: float = 10.0
    # Parsed canary specs kept, counted by the size of their annotations.
    spec_cache_bytes: int = 16 * 1024 * 1024
    # Threads deciding the reviews that are not cheap (new annotations, large bodies), and the
    # time a review may take from its arrival (its YAML parse stops past it).
    review_workers: int = 2
    review_budget: float = 2.0
    # Who may change canarist.io/status (the reconciler); None: anyone (not protected).
    trusted_users: frozenset[str] | None = None
    # Cluster policies read once (--policy FILE); None: none (unless followed, server.run).
    policies: PolicySet | None = None


def parse_listen(text: str, flag: str = "--listen") -> tuple[str, int]:
    """``HOST:PORT`` (``[::1]:8443`` for IPv6) -> (host, port); ``ConfigError`` if malformed."""
    host, sep, port_text = text.rpartition(":")
    if not sep or not (port_text.isascii() and port_text.isdigit()) or int(port_text) > 65535:
        raise ConfigError([Problem(flag, f"must be HOST:PORT with a port 0-65535, got {text!r}")])
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise ConfigError([Problem(flag, f"{host!r} is not an IPv6 address")]) from None
    elif ":" in host or not host:
        raise ConfigError(
            [Problem(flag, f"must be HOST:PORT (IPv6 in brackets: [::]:8443), got {text!r}")]
        )
    return host, int(port_text)


def check_limits(config: ServerConfig) -> None:
    """``ConfigError`` naming each flag whose value cannot work."""
    problems = [
        Problem(flag, message)
        for flag, bad, message in (
            ("--header-timeout", config.header_timeout <= 0, "must be more than 0"),
            ("--review-budget", config.review_budget <= 0, "must be more than 0"),
            ("--review-workers", not 1 <= config.review_workers <= 64, "must be 1 to 64"),
            ("--spec-cache-bytes", config.spec_cache_bytes < 0, "must be 0 or more"),
            ("--trusted-user", config.trusted_users is not None
             and not all(config.trusted_users), "must not be empty"),
        )
        if bad
    ]
    if problems:
        raise ConfigError(problems)
