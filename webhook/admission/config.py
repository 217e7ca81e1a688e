"""Configuration of the webhook server, and parsing of its ``--listen`` address."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from webhook.errors import ConfigError, Problem

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
