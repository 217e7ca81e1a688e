"""Request matches shared by header routes, mirror routes and the proxy's route table.

The syntax is Argo Rollouts' (``headerValue: {exact | prefix | regex}``). Regular expressions are
RE2's (what Envoy, and so Istio and most Gateway API implementations, accept): matched against the
**whole** value, in time linear in the value, by the same engine (``google-re2``) that validates
them at admission, so a pattern that passes admission is one the data planes accept and no value
can make a match slow. Also refused: patterns over 1024 characters, counted repetitions over
1000 (``a{4294967296}``, which RE2 would read as literal text), and patterns whose compiled RE2
program is larger than Istio lets Envoy take (32768).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

import re2

from webhook.spec.problems import (
    Problems,
    at,
    exactly_one,
    index,
    integer,
    keyed,
    mapping,
    required,
    sequence,
    show,
    string,
)

MatchKind = Literal["exact", "prefix", "regex"]
MATCH_KINDS: tuple[MatchKind, ...] = ("exact", "prefix", "regex")
MAX_REGEX_LENGTH = 1024
MAX_REPEAT = 1000  # RE2's own limit on a counted repetition
MAX_PROGRAM_SIZE = 32768  # Istio's re2.max_program_size.error_level for Envoy (Envoy's own: 100)
T = TypeVar("T")

# HTTP header field names are RFC 9110 tokens.
_TOKEN = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+\Z")
# Look-around and back-references: RE2's errors for them do not say why.
_NOT_RE2 = re.compile(r"\(\?<?[=!]|\\[1-9]|\(\?P=")
# A counted repetition {n}, {n,} or {n,m}, not escaped (linear: the pattern is short).
_REPEAT = re.compile(r"(?<!\\)\{([0-9]+)(?:,([0-9]*))?\}")


def _re2_options() -> Any:
    options = re2.Options()
    options.log_errors = False  # errors are reported to the user, not to stderr
    options.never_capture = True  # only whether it matches is wanted
    return options


_OPTIONS = _re2_options()


class InvalidRegex(ValueError):
    """A pattern RE2 refuses, or one over canarist's limits; the message says why."""


def compile_regex(pattern: str) -> Any:
    """The compiled RE2 pattern, or ``InvalidRegex``."""
    if len(pattern) > MAX_REGEX_LENGTH:
        raise InvalidRegex(f"longer than {MAX_REGEX_LENGTH} characters")
    if _NOT_RE2.search(pattern):
        raise InvalidRegex("look-around and back-references are not supported (RE2 syntax)")
    for found in _REPEAT.finditer(pattern):
        count = max(int(n) for n in found.groups() if n)
        if count > MAX_REPEAT:
            raise InvalidRegex(f"repetition count {count} is over {MAX_REPEAT}")
    try:
        compiled = re2.compile(pattern, _OPTIONS)
    except re2.error as exc:
        reason = exc.args[0] if exc.args else exc
        text = reason.decode("utf-8", "replace") if isinstance(reason, bytes) else str(reason)
        raise InvalidRegex(text[:200]) from None
    if compiled.programsize > MAX_PROGRAM_SIZE:
        raise InvalidRegex(
            f"too complex: its RE2 program size {compiled.programsize} is over "
            f"{MAX_PROGRAM_SIZE}"
        )
    return compiled


@dataclass(frozen=True)
class StringMatch:
    """One of exact, prefix or regex (full match) against a string value."""

    kind: MatchKind
    value: str
    _pattern: Any = field(default=None, compare=False, repr=False)  # RE2, for regex

    @classmethod
    def of(cls, kind: MatchKind, value: str) -> StringMatch:
        """``InvalidRegex`` for a regex RE2 (or a limit) refuses."""
        pattern = compile_regex(value) if kind == "regex" else None
        return cls(kind, value, pattern)

    def matches(self, candidate: str) -> bool:
        if self.kind == "exact":
            return candidate == self.value
        if self.kind == "prefix":
            return candidate.startswith(self.value)
        # RE2 on the UTF-8 bytes: linear in the value, whatever the pattern
        encoded = candidate.encode("utf-8", "surrogatepass")
        return self._pattern.fullmatch(encoded) is not None

    def to_dict(self) -> dict[str, str]:
        return {self.kind: self.value}


@dataclass(frozen=True)
class HeaderMatch:
    """A header (case-insensitive name) whose value satisfies a ``StringMatch``."""

    name: str
    value: StringMatch

    @property
    def key(self) -> str:
        """The header name in lowercase, as HTTP/2, Istio and the proxy compare it."""
        return self.name.lower()

    def to_dict(self) -> dict[str, Any]:
        return {"headerName": self.name, "headerValue": self.value.to_dict()}


@dataclass(frozen=True)
class MirrorMatch:
    """One ``setMirrorRoute`` match: every field present must match (AND)."""

    method: StringMatch | None = None
    path: StringMatch | None = None
    headers: tuple[HeaderMatch, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.method is not None:
            out["method"] = self.method.to_dict()
        if self.path is not None:
            out["path"] = self.path.to_dict()
        if self.headers:
            out["headers"] = {h.name: h.value.to_dict() for h in self.headers}
        return out


def parse_string_match(raw: Any, path: str, problems: Problems) -> StringMatch | None:
    """Parse ``{exact: v}``, ``{prefix: v}`` or ``{regex: v}``: exactly one, a string."""
    m = keyed(raw, MATCH_KINDS, path, problems)
    if m is None:
        return None
    kind = exactly_one(m, MATCH_KINDS, path, problems)
    if kind is None:
        return None
    value = string(m[kind], at(path, kind), problems, nonempty=kind != "prefix")
    if value is None:
        return None
    if kind == "regex":
        return _regex(value, at(path, kind), problems)
    return StringMatch.of(kind, value)


def _regex(value: str, path: str, problems: Problems) -> StringMatch | None:
    try:
        return StringMatch.of("regex", value)
    except InvalidRegex as exc:
        problems.add(path, f"invalid regular expression {show(value)}: {exc}")
        return None


def parse_header_name(raw: Any, path: str, problems: Problems) -> str | None:
    name = string(raw, path, problems)
    if name is not None and not _TOKEN.match(name):
        problems.add(path, f"invalid HTTP header name {show(name)}")
        return None
    return name


def parse_header_match(raw: Any, path: str, problems: Problems) -> HeaderMatch | None:
    """Parse ``{headerName: X-Canary, headerValue: {exact: "1"}}``."""
    m = keyed(raw, ("headerName", "headerValue"), path, problems)
    if m is None:
        return None
    if not required(m, ("headerName", "headerValue"), path, problems):
        return None
    name = parse_header_name(m["headerName"], at(path, "headerName"), problems)
    value = parse_string_match(m["headerValue"], at(path, "headerValue"), problems)
    if name is None or value is None:
        return None
    return HeaderMatch(name, value)


def parse_header_matches(raw: Any, path: str, problems: Problems) -> tuple[HeaderMatch, ...]:
    """Parse a non-empty list of header matches (all must match: AND)."""
    return _nonempty(raw, path, problems, parse_header_match)


def parse_mirror_match(raw: Any, path: str, problems: Problems) -> MirrorMatch | None:
    """Parse ``{method: {exact: GET}, path: {prefix: /}, headers: {x-foo: {exact: bar}}}``."""
    m = keyed(raw, ("method", "path", "headers"), path, problems)
    if m is None:
        return None
    before = len(problems)
    method = (
        parse_string_match(m["method"], at(path, "method"), problems) if "method" in m else None
    )
    url = parse_string_match(m["path"], at(path, "path"), problems) if "path" in m else None
    headers: list[HeaderMatch] = []
    if "headers" in m:
        hpath = at(path, "headers")
        hmap = mapping(m["headers"], hpath, problems)
        for name, value in (hmap or {}).items():
            hname = parse_header_name(name, hpath, problems)
            hvalue = parse_string_match(value, at(hpath, name), problems)
            if hname is not None and hvalue is not None:
                headers.append(HeaderMatch(hname, hvalue))
    if len(problems) != before:
        return None
    return MirrorMatch(method, url, tuple(headers))


def parse_mirror_matches(raw: Any, path: str, problems: Problems) -> tuple[MirrorMatch, ...]:
    """Parse a non-empty list of mirror matches (any may match: OR)."""
    return _nonempty(raw, path, problems, parse_mirror_match)


def parse_mirror_fields(
    m: Mapping[str, Any], path: str, problems: Problems
) -> tuple[int, tuple[MirrorMatch, ...]] | None:
    """``percentage`` (0-100, default 100) and ``match`` (default none) of a mirror route, or
    ``None`` when either is invalid."""
    before = len(problems)
    pct = integer(m.get("percentage", 100), at(path, "percentage"), problems, low=0, high=100)
    match = parse_mirror_matches(m["match"], at(path, "match"), problems) if "match" in m else ()
    if pct is None or len(problems) != before:
        return None
    return pct, match


def _nonempty(
    raw: Any, path: str, problems: Problems, parse: Callable[[Any, str, Problems], T | None]
) -> tuple[T, ...]:
    """The items of a list of matches that parse; an empty list is a problem."""
    items = sequence(raw, path, problems)
    if items is None:
        return ()
    if not items:
        problems.add(path, "must not be empty (omit match to remove the route)")
        return ()
    parsed = [parse(item, index(path, i), problems) for i, item in enumerate(items)]
    return tuple(p for p in parsed if p is not None)


def header_matches_request(matches: tuple[HeaderMatch, ...], headers: Mapping[str, str]) -> bool:
    """True when every match holds; ``headers`` must be keyed by lowercase names."""
    for match in matches:
        value = headers.get(match.key)
        if value is None or not match.value.matches(value):
            return False
    return True
