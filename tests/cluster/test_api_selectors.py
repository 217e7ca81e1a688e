"""Label and field selectors as apimachinery parses and matches them (labels.Parse)."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as hs

from webhook.cluster.selectors import (
    SelectorError,
    parse_field_selector,
    parse_label_selector,
    selector_from_object,
)

LABELS = {"app": "web", "tier": "front", "n": "5"}


@pytest.mark.parametrize(("text", "matches"), [
    ("", True),
    ("app=web", True),
    ("app==web", True),
    ("app!=web", False),
    ("app!=db", True),
    ("missing!=x", True),  # != matches objects without the key, as upstream
    ("app in (web,db)", True),
    ("app notin (web,db)", False),
    ("missing notin (a)", True),
    ("app", True),
    ("!app", False),
    ("!missing", True),
    ("app=web,tier=back", False),
    ("app=web, tier in (front, back)", True),
    ("n>4", True),
    ("n<5", False),
    ("example.com/owner=x", False),
])
def test_label_selector_matches_like_upstream(text: str, matches: bool) -> None:
    assert parse_label_selector(text).matches(LABELS) is matches


@pytest.mark.parametrize("text", [
    "app=web,,tier=x", "app in ()", "app=a b", "-app=x", "a/b/c=x", "app=" + "x" * 64,
    "n>x",
])
def test_bad_label_selectors_are_rejected_with_the_requirement_named(text: str) -> None:
    with pytest.raises(SelectorError) as err:
        parse_label_selector(text)
    assert str(err.value)


def test_label_selector_object_and_string_form() -> None:
    sel = selector_from_object({
        "matchLabels": {"app": "web"},
        "matchExpressions": [{"key": "tier", "operator": "In", "values": ["b", "a"]},
                             {"key": "legacy", "operator": "DoesNotExist"}],
    })
    assert sel.matches({"app": "web", "tier": "a"})
    assert not sel.matches({"app": "web", "tier": "a", "legacy": "1"})
    # metav1.LabelSelectorAsSelector(...).String(): requirements sorted by key, values sorted
    assert str(sel) == "app=web,!legacy,tier in (a,b)"
    assert selector_from_object({}).matches({"anything": "x"})


def test_field_selectors_per_resource() -> None:
    pod = {"metadata": {"name": "p", "namespace": "ns"}, "spec": {"nodeName": ""},
           "status": {"phase": "Running"}}
    assert parse_field_selector("status.phase=Running", "pods").matches(pod)
    assert not parse_field_selector("status.phase!=Running", "pods").matches(pod)
    assert parse_field_selector("spec.nodeName=", "pods").matches(pod)  # unscheduled pods
    assert parse_field_selector("metadata.name==p,metadata.namespace=ns").matches(pod)
    with pytest.raises(SelectorError, match=r"field label not supported: status\.phase"):
        parse_field_selector("status.phase=Running", "configmaps")


_key = hs.from_regex(r"[a-z][a-z0-9]{0,8}", fullmatch=True)
_value = hs.from_regex(r"[a-z0-9]{1,8}", fullmatch=True)


@given(hs.dictionaries(_key, _value, max_size=4), hs.dictionaries(_key, _value, max_size=4))
def test_match_labels_string_round_trip(sel: dict[str, str], labels: dict[str, str]) -> None:
    obj = selector_from_object({"matchLabels": sel})
    reparsed = parse_label_selector(str(obj))
    assert reparsed.matches(labels) == obj.matches(labels)
    assert obj.matches(labels) == all(labels.get(k) == v for k, v in sel.items())


@given(hs.text(max_size=40))
def test_label_selector_parser_never_crashes(text: str) -> None:
    with contextlib.suppress(SelectorError):
        parse_label_selector(text)


@given(hs.text(max_size=40))
def test_field_selector_parser_never_crashes(text: str) -> None:
    with contextlib.suppress(SelectorError):
        parse_field_selector(text, "pods")
