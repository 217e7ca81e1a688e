"""``$(VAR)`` references in env values, commands and args, as the kubelet expands them
(third_party/forked/golang/expansion).

- ``$(NAME)`` becomes the value of ``NAME`` when a mapping knows it, and stays ``$(NAME)``
  verbatim when none does;
- ``$$`` is an escaped ``$``: ``$$(NAME)`` gives the literal ``$(NAME)``;
- a ``$`` followed by anything else, an unterminated ``$(``, and a ``$`` at the very end are
  kept as written.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

Mapping_ = Callable[[str], str]


def mapping_for(*contexts: Mapping[str, str]) -> Mapping_:
    """Look a name up in each context in turn; an unknown name maps back to ``$(name)``."""

    def look(name: str) -> str:
        for ctx in contexts:
            if name in ctx:
                return ctx[name]
        return f"$({name})"

    return look


def _read_name(rest: str) -> tuple[str, bool, int]:
    """After a ``$``: (text, is a variable, characters consumed)."""
    if rest[0] == "$":
        return "$", False, 1
    if rest[0] == "(":
        close = rest.find(")", 1)
        if close >= 0:
            return rest[1:close], True, close + 1
        return "$(", False, 1
    return "$" + rest[0], False, 1


def expand(text: str, mapping: Mapping_) -> str:
    out: list[str] = []
    checkpoint = 0
    cursor = 0
    while cursor < len(text):
        if text[cursor] == "$" and cursor + 1 < len(text):
            out.append(text[checkpoint:cursor])
            read, is_var, advance = _read_name(text[cursor + 1:])
            out.append(mapping(read) if is_var else read)
            cursor += advance
            checkpoint = cursor + 1
        cursor += 1
    out.append(text[checkpoint:])
    return "".join(out)
