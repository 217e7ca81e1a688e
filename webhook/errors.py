"""The one error tree of canarist.

Every failure canarist reports on purpose is a ``CanaristError``. Each subclass says what kind of
input or dependency was wrong; how an error is shown (exit code, HTTP status, log line) is decided
in one place per edge: ``webhook.cli`` for the command line, the admission server for HTTP.

This module imports nothing of canarist's, so every layer (``spec`` included) may raise from it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an input: where (a field path) and what."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class CanaristError(Exception):
    """Base of every error canarist raises on purpose."""


class InvalidInput(CanaristError):
    """User input (annotations, files, flags, requests) that canarist refuses.

    Carries every problem found, each with its field path, so one round trip shows them all.
    """

    def __init__(self, problems: Iterable[Problem] | str, *, subject: str = "") -> None:
        if isinstance(problems, str):
            problems = [Problem("", problems)]
        self.problems: tuple[Problem, ...] = tuple(problems)
        self.subject = subject
        super().__init__(self.summary())

    def summary(self) -> str:
        lines = [str(p) for p in self.problems]
        head = f"{self.subject}: " if self.subject else ""
        if len(lines) == 1:
            return head + lines[0]
        return head + f"{len(lines)} problems:\n" + "\n".join(f"- {line}" for line in lines)


class SpecError(InvalidInput):
    """The canarist annotations of a Deployment are invalid."""


class PolicyError(InvalidInput):
    """A cluster policy document (``policies:``) that canarist refuses, whole."""


class BadReview(InvalidInput):
    """A request body that is not a usable AdmissionReview v1."""


class ConfigError(InvalidInput):
    """A bad command-line flag, routes file or configuration file."""


class WireFormatError(InvalidInput):
    """A Kubernetes protobuf body that does not decode into a known object."""


class TLSConfigError(CanaristError):
    """Certificates or keys that cannot be loaded or issued."""


class KubeError(CanaristError):
    """The Kubernetes API answered with an error or could not be reached."""

    def __init__(self, message: str, *, status: int = 0, reason: str = "") -> None:
        self.status = status
        self.reason = reason
        super().__init__(message)


class NotFound(KubeError):
    """404: the object does not exist."""


class Conflict(KubeError):
    """409: stale resourceVersion or the object already exists."""


class Forbidden(KubeError):
    """401/403: credentials missing or not allowed."""


class Invalid(KubeError):
    """422 (also 400, 413, 415): the API server refused the object or the request.

    ``causes`` are the fields the server named (``details.causes``), each as a ``Problem``.
    """

    def __init__(
        self, message: str, *, status: int = 0, reason: str = "", causes: Iterable[Problem] = ()
    ) -> None:
        super().__init__(message, status=status, reason=reason)
        self.causes: tuple[Problem, ...] = tuple(causes)


class Expired(KubeError):
    """410: the resourceVersion (or continue token) is older than the server keeps; list again."""


class Unavailable(KubeError):
    """429, 5xx, timeouts and transport failures: worth retrying."""


class APIStatusError(KubeError):
    """An error of the embedded cluster's API, carrying the full metav1 ``Status`` it answers with.

    ``status`` is the HTTP code, ``reason`` the Status reason (``NotFound``, ``Conflict``...),
    ``body`` the complete Status object (kind, apiVersion, message, details with causes).
    """

    def __init__(self, body: dict[str, Any]) -> None:
        code = body.get("code", 500)
        super().__init__(
            str(body.get("message", "")),
            status=code if isinstance(code, int) else 500,
            reason=str(body.get("reason", "")),
        )
        self.body = body


class RouterError(CanaristError):
    """A traffic router cannot apply the desired state (missing object, unsupported shape)."""


class MeasurementError(CanaristError):
    """A metric provider could not produce a number (unreachable, error answer, no data, NaN).

    One measurement of the analysis counts as an Error; ``consecutiveErrorLimit`` decides when
    errors in a row end the analysis. ``metric`` names the metric when known.
    """

    def __init__(self, message: str, *, metric: str = "") -> None:
        self.metric = metric
        super().__init__(message)
