"""The syntax of label keys and values, as apimachinery validates them.

Used by the embedded API server (every object's labels, selectors) and by cluster policies
(their label selectors), so both say the same thing about the same key.
"""

from __future__ import annotations

import re

# ``$`` as apimachinery's Go regexps mean it: the end of the text (no trailing newline).
_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]\Z")
_DNS1123_SUBDOMAIN = re.compile(
    r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\Z"
)
_DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?\Z")


def label_key_problem(key: str) -> str | None:
    """Why ``key`` is not a valid qualified label key (``[prefix/]name``), or None."""
    prefix, slash, name = key.rpartition("/")
    if slash and (not prefix or len(prefix) > 253 or not _DNS1123_SUBDOMAIN.match(prefix)):
        return "prefix part must be a lowercase RFC 1123 subdomain"
    if not name:
        return "name part must be non-empty"
    if len(name) > 63:
        return "name part must be no more than 63 characters"
    if not _NAME.match(name):
        return (
            "name part must consist of alphanumeric characters, '-', '_' or '.', and must "
            "start and end with an alphanumeric character"
        )
    return None


def label_value_problem(value: str) -> str | None:
    if value == "":
        return None
    if len(value) > 63:
        return "must be no more than 63 characters"
    if not _NAME.match(value):
        return (
            "a valid label must be an empty string or consist of alphanumeric characters, "
            "'-', '_' or '.', and must start and end with an alphanumeric character"
        )
    return None


def namespace_name_problem(name: str) -> str | None:
    """Why ``name`` is not a valid namespace name (an RFC 1123 label), or None."""
    if len(name) > 63:
        return "must be no more than 63 characters"
    if not _DNS1123_LABEL.match(name):
        return (
            "must consist of lowercase alphanumeric characters or '-', and must start and end "
            "with an alphanumeric character (an RFC 1123 label)"
        )
    return None
