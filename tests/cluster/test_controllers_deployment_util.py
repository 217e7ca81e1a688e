"""pod-template-hash, fenceposts, revisions and annotations of the Deployment controller.

Each case cites the upstream function (pkg/controller/deployment/util, pkg/controller) whose
behaviour it pins down.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from webhook.cluster.controllers.deployment import util
from webhook.cluster.controllers.deployment.model import (
    Deployment,
    ReplicaSet,
    parse_deployment,
)
from webhook.cluster.controllers.hashing import (
    SAFE_ALPHABET,
    compute_hash,
    equal_ignore_hash,
    fnv1a_32,
    safe_encode,
)

TEMPLATE: dict[str, Any] = {
    "metadata": {"labels": {"app": "web"}},
    "spec": {"containers": [{"name": "web", "image": "demo:1"}]},
}


def deployment(**kw: Any) -> Deployment:
    base: dict[str, Any] = {"namespace": "ns", "name": "web", "uid": "d-uid", "generation": 1,
                            "replicas": 10, "selector": {"matchLabels": {"app": "web"}},
                            "template": TEMPLATE}
    base.update(kw)
    return Deployment(**base)


def rs(name: str, **kw: Any) -> ReplicaSet:
    base: dict[str, Any] = {"name": name, "uid": f"uid-{name}", "created": "2024-01-01T00:00:00Z",
                            "replicas": 0, "template": TEMPLATE}
    base.update(kw)
    return ReplicaSet(**base)


# --- hashing -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("data", "expected"), [
    (b"", 0x811C9DC5),
    (b"a", 0xE40C292C),
    (b"foobar", 0xBF9CF968),
])
def test_fnv1a_32_matches_the_reference_vectors_used_by_hash_fnv(data: bytes, expected: int):
    assert fnv1a_32(data) == expected


def test_safe_encode_string_maps_each_decimal_digit_like_apimachinery_rand():
    # rand.SafeEncodeString: byte b -> alphanums[b % 27]; digits '0'..'9' are bytes 48..57.
    assert safe_encode("0123456789") == "456789bcdf"


def test_compute_hash_uses_only_the_safe_alphabet_and_the_collision_count_changes_it():
    plain = compute_hash(TEMPLATE)
    assert set(plain) <= set(SAFE_ALPHABET)
    assert 6 <= len(plain) <= 10
    assert compute_hash(TEMPLATE, 0) != plain  # a non-nil collisionCount is hashed in
    assert compute_hash(TEMPLATE, 1) != compute_hash(TEMPLATE, 0)
    assert compute_hash(TEMPLATE, 1) == compute_hash(copy.deepcopy(TEMPLATE), 1)


def test_compute_hash_changes_with_the_image():
    other = copy.deepcopy(TEMPLATE)
    other["spec"]["containers"][0]["image"] = "demo:2"
    assert compute_hash(other) != compute_hash(TEMPLATE)


_labels = st.dictionaries(st.text("abc", min_size=1, max_size=3), st.text("xyz", max_size=3),
                          max_size=3)


@given(labels=_labels, hash_value=st.text("bcd456", min_size=1, max_size=10))
def test_equal_ignore_hash_ignores_only_the_pod_template_hash_label(labels, hash_value):
    a: dict[str, Any] = {"metadata": {"labels": dict(labels)},
                         "spec": {"containers": [{"name": "c"}]}}
    b = copy.deepcopy(a)
    b["metadata"]["labels"]["pod-template-hash"] = hash_value
    assert equal_ignore_hash(a, b)
    c = copy.deepcopy(b)
    c["metadata"]["labels"]["extra"] = "1"
    assert not equal_ignore_hash(a, c)


@given(labels=_labels)
def test_hash_and_equality_treat_nil_and_empty_alike_like_semantic_deepequal(labels):
    a: dict[str, Any] = {"metadata": {"labels": dict(labels)},
                         "spec": {"containers": [{"name": "c"}]}}
    b = copy.deepcopy(a)
    b["metadata"]["annotations"] = {}
    b["metadata"]["creationTimestamp"] = None
    b["spec"]["volumes"] = []
    assert equal_ignore_hash(a, b)
    assert compute_hash(a) == compute_hash(b)


# --- fenceposts --------------------------------------------------------------------------------


@pytest.mark.parametrize(("replicas", "surge", "unavail", "expected"), [
    (10, "25%", "25%", (3, 2)),   # surge rounds up, unavailable rounds down
    (1, "25%", "25%", (1, 0)),
    (3, 0, 0, (0, 1)),            # both zero -> maxUnavailable 1
    (4, 1, "0%", (1, 0)),
    (10, "0%", "10%", (0, 1)),
    (0, "25%", "25%", (0, 1)),   # resolves to 1; MaxUnavailable() turns it into 0
])
def test_resolve_fenceposts(replicas, surge, unavail, expected):
    d = deployment(replicas=replicas, max_surge=surge, max_unavailable=unavail)
    assert util.resolve_fenceposts(d) == expected


@pytest.mark.parametrize(("d", "expected"), [
    (deployment(replicas=2, max_surge=0, max_unavailable=5), 2),       # capped at replicas
    (deployment(replicas=0, max_unavailable=3), 0),                    # no replicas
    (deployment(replicas=5, strategy_type="Recreate", max_unavailable=3), 0),
    (deployment(replicas=5, max_unavailable="40%"), 2),
])
def test_max_unavailable(d, expected):
    assert util.max_unavailable(d) == expected


def test_max_surge_is_zero_for_recreate():
    assert util.max_surge(deployment(strategy_type="Recreate", max_surge=4)) == 0


def test_a_non_percentage_string_is_refused():
    with pytest.raises(ValueError, match="not a percentage"):
        util.scaled_value("3", 10, round_up=True)


# --- defaults ----------------------------------------------------------------------------------


def test_parse_deployment_applies_apps_v1_defaults():
    d = parse_deployment({"metadata": {"name": "web", "namespace": "ns", "uid": "u",
                                       "generation": 2},
                          "spec": {"selector": {"matchLabels": {"app": "web"}},
                                   "template": TEMPLATE}})
    assert (d.replicas, d.strategy_type, d.max_surge, d.max_unavailable) == (
        1, "RollingUpdate", "25%", "25%")
    assert (d.revision_history_limit, d.progress_deadline_seconds, d.paused) == (10, 600, False)


# --- revisions and annotations -----------------------------------------------------------------


def test_new_replica_set_annotations_copy_the_deployment_annotations_except_the_skipped_ones():
    d = deployment(annotations={
        "team": "a", util.LAST_APPLIED: "{}", util.REVISION: "7",
        util.DESIRED_REPLICAS: "99", "deprecated.deployment.rollback.to": "1"})
    ann, changed = util.new_rs_annotations(d, {}, 3, exists=False)
    assert changed
    assert ann == {"team": "a", util.REVISION: "3", util.DESIRED_REPLICAS: "10",
                   util.MAX_REPLICAS: "13"}


def test_copied_annotations_are_never_removed_from_the_replica_set():
    d = deployment(annotations={})
    ann, changed = util.new_rs_annotations(d, {"old": "x", util.REVISION: "2"}, 2, exists=True)
    assert ann == {"old": "x", util.REVISION: "2"}
    assert not changed


def test_rolling_back_to_an_old_template_renumbers_it_and_keeps_the_revision_history():
    d = deployment()
    ann, changed = util.new_rs_annotations(
        d, {util.REVISION: "2", util.REVISION_HISTORY: "1"}, 5, exists=True)
    assert changed
    assert ann[util.REVISION] == "5"
    assert ann[util.REVISION_HISTORY] == "1,2"


def test_revision_history_is_capped_at_2000_characters_dropping_the_oldest():
    history = ",".join(str(n) for n in range(1000, 1400))  # 400 x 4 chars + commas = 1999
    ann, _ = util.new_rs_annotations(
        deployment(), {util.REVISION: "2000", util.REVISION_HISTORY: history}, 2001, exists=True)
    kept = ann[util.REVISION_HISTORY].split(",")
    assert kept[-1] == "2000"
    assert kept[0] == "1001"
    assert len(ann[util.REVISION_HISTORY]) <= util.MAX_REV_HISTORY_CHARS


@pytest.mark.parametrize(("revisions", "expected"), [
    ([], 0),
    (["1", "3", "2"], 3),
    (["1", "x", "4"], 4),   # unparsable revisions are skipped (MaxRevision)
    ([None, "2"], 2),       # no annotation counts as 0
])
def test_max_revision(revisions, expected):
    rss = [rs(f"r{i}", annotations={} if r is None else {util.REVISION: r})
           for i, r in enumerate(revisions)]
    assert util.max_revision(rss) == expected


# --- orderings ---------------------------------------------------------------------------------


def test_replica_set_orderings_break_ties_by_creation_then_name():
    a = rs("a", replicas=3, created="2024-01-01T00:00:01Z")
    b = rs("b", replicas=3, created="2024-01-01T00:00:02Z")
    c = rs("c", replicas=5, created="2024-01-01T00:00:03Z")
    d = rs("d", replicas=3, created="2024-01-01T00:00:01Z")
    assert [x.name for x in util.by_creation([c, b, d, a])] == ["a", "d", "b", "c"]
    assert [x.name for x in util.by_size_newer([a, b, c, d])] == ["c", "b", "d", "a"]
    assert [x.name for x in util.by_size_older([a, b, c, d])] == ["c", "a", "d", "b"]
