"""CRD ``pattern``s as upstream's API server reads them: Go's ``regexp`` (RE2 syntax).

apiextensions-apiserver refuses a CRD whose schema holds a pattern Go's ``regexp.Compile``
refuses, and validates custom resources with ``regexp.MatchString`` (a match anywhere in the
value), in time linear in the value whatever the pattern. Here google-re2, the engine Go's was
modelled on, compiles and matches (on the value's UTF-8 bytes), so no value can stall the API
server, and an invalid pattern is refused at CRD creation with upstream's message::

    spec.versions[0].schema.openAPIV3Schema.properties[foo].pattern: Invalid value: "+": must be a
    valid regular expression, but isn't: error parsing regexp: missing argument to repetition
    operator: `+`

Where RE2 (C++) and Go differ, Go's rules are applied: ``\\C`` (any byte, RE2 only) is an
invalid escape; group names are ASCII letters, digits and ``_``; groups nest at most 1000 deep;
RE2's error texts are put in Go's words. Bounds: a pattern's compiled program must fit RE2's
default 8 MiB (``pattern too large`` is Go's ``expression too large``; Go's own bound is larger,
so a few huge patterns Go takes are refused here), and compiled patterns are kept in a cache of
64 MiB counted by their program size.
"""

from __future__ import annotations

import re
from typing import Any

import re2

from webhook.spec.boundedcache import BoundedCache

MAX_NESTING = 1000  # Go's maxHeight
CACHE_BYTES = 64 * 1024 * 1024
INSTRUCTION_BYTES = 16  # what RE2 counts per instruction of a program

# RE2's error texts (the part before ": ") -> Go's regexp/syntax ErrorCode texts
_GO_CODES = {
    "no argument for repetition operator": "missing argument to repetition operator",
    "bad repetition operator": "invalid nested repetition operator",
    "invalid repetition size": "invalid repeat count",
    "missing )": "missing closing )",
    "unexpected )": "unexpected )",
    "missing ]": "missing closing ]",
    "invalid character class": "invalid character class",
    "invalid character class range": "invalid character class range",
    "invalid escape sequence": "invalid escape sequence",
    "invalid perl operator": "invalid or unsupported Perl syntax",
    "invalid named capture group": "invalid named capture",
    "invalid UTF-8": "invalid UTF-8",
}
_NAME = re.compile(r"\(\?P?<([^>]*)>")
_ASCII_WORD = re.compile(r"[A-Za-z0-9_]+\Z")


class PatternError(ValueError):
    """Go's ``*syntax.Error`` text: ``error parsing regexp: <code>: `<expr>```."""

    def __init__(self, code: str, expr: str) -> None:
        super().__init__(f"error parsing regexp: {code}: `{expr}`")


def _options() -> Any:
    options = re2.Options()
    options.log_errors = False
    options.never_capture = True  # only whether it matches is wanted
    return options


_OPTIONS = _options()
COMPILED: BoundedCache[str, Any] = BoundedCache(
    CACHE_BYTES, lambda pattern, compiled: len(pattern) + INSTRUCTION_BYTES * (
        compiled.programsize + 64), max_entry=CACHE_BYTES // 4)


def go_text(text: str) -> str:
    """``text`` as Go holds a string decoded from JSON: lone surrogates become U+FFFD."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return text


def _class_end(pattern: str, i: int) -> int:
    """The index after the character class opening at ``i`` (``[]a]``, ``[^]a]``, ``[[:alpha:]]``
    and escapes as Go reads them); the end of the pattern when it is not closed."""
    j = i + 1
    if pattern.startswith("^", j):
        j += 1
    if pattern.startswith("]", j):
        j += 1
    while j < len(pattern):
        if pattern[j] == "\\":
            if pattern.startswith("C", j + 1):
                raise PatternError("invalid escape sequence", "\\C")
            j += 2
        elif pattern.startswith("[:", j) and (close := pattern.find(":]", j + 2)) != -1:
            j = close + 2
        elif pattern[j] == "]":
            return j + 1
        else:
            j += 1
    return j


def _go_rules(pattern: str) -> None:
    """What Go refuses and RE2 takes: ``\\C``, deep nesting, non-ASCII group names."""
    depth = 0
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\":
            if pattern.startswith("C", i + 1):
                raise PatternError("invalid escape sequence", "\\C")
            if pattern.startswith("Q", i + 1):  # \Q...\E: literal text
                end = pattern.find("\\E", i + 2)
                i = len(pattern) if end == -1 else end + 2
                continue
            i += 2
            continue
        if c == "[":
            i = _class_end(pattern, i)
            continue
        if c == "(":
            depth += 1
            if depth > MAX_NESTING:
                raise PatternError("expression nests too deeply", pattern)
            named = _NAME.match(pattern, i)
            if named and not _ASCII_WORD.match(named[1]):
                raise PatternError("invalid named capture", named[0])
        elif c == ")":
            depth = max(0, depth - 1)
        i += 1


def _compile(pattern: str) -> Any:
    try:
        compiled = re2.compile(pattern, _OPTIONS)
    except re2.error as exc:
        reason = exc.args[0] if exc.args else b""
        text = reason.decode("utf-8", "replace") if isinstance(reason, bytes) else str(reason)
        if text.startswith("pattern too large"):
            raise PatternError("expression too large", pattern) from None
        if text == "trailing \\":
            raise PatternError("trailing backslash at end of expression", "") from None
        code, _, expr = text.partition(": ")
        if code == "invalid perl operator" and expr.startswith("(?<"):
            # Go reads "(?<" as a named group (a lookbehind too): with no ">" after it, the
            # rest of the pattern is the bad name
            raise PatternError("invalid named capture", pattern[pattern.index(expr):]) from None
        raise PatternError(_GO_CODES.get(code, code), expr) from None
    _go_rules(pattern)
    return compiled


def compile_pattern(pattern: str) -> Any:
    """The compiled pattern (kept for the next use), or ``PatternError`` in Go's words."""
    pattern = go_text(pattern)
    compiled = COMPILED.get(pattern)
    if compiled is None:
        compiled = _compile(pattern)
        COMPILED.put(pattern, compiled)
    return compiled


def pattern_error(pattern: str) -> str | None:
    """Why Go's ``regexp.Compile`` refuses ``pattern`` (its error text), or None."""
    try:
        compile_pattern(pattern)
    except PatternError as exc:
        return str(exc)
    return None


def matches(pattern: str, value: str) -> bool:
    """``regexp.MatchString(pattern, value)``: a match anywhere in the value. A pattern Go
    refuses matches nothing (a CRD holding one is refused when it is written)."""
    try:
        compiled = compile_pattern(pattern)
    except PatternError:
        return False
    return compiled.search(go_text(value).encode("utf-8")) is not None
