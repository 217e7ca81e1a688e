"""The in-memory ObjectClient answers like an API server where routers depend on it."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.routers.fixtures import obj
from webhook.errors import Conflict, Invalid, NotFound
from webhook.kube.protocol import ObjectRef
from webhook.routers.offline import OfflineClient, merge_patch, parse_selector

CM = obj("{apiVersion: v1, kind: ConfigMap, metadata: {name: a, labels: {app: web}}, data: {k: v}}")
REF = ObjectRef.of(CM)


async def test_create_stamps_server_fields_and_refuses_a_second_create() -> None:
    client = OfflineClient(clock=lambda: "2026-01-01T00:00:00Z")
    created = await client.create(CM)
    meta = created["metadata"]
    assert meta["resourceVersion"] and meta["uid"]
    assert meta["creationTimestamp"] == "2026-01-01T00:00:00Z"
    with pytest.raises(Conflict):
        await client.create(CM)
    assert await client.get(REF) == created


async def test_replace_with_a_stale_resource_version_conflicts_and_changes_nothing() -> None:
    client = OfflineClient([CM])
    first = await client.get(REF)
    assert first is not None
    first["data"] = {"k": "first"}
    await client.replace(first)
    stale = dict(first, data={"k": "stale"})
    stale["metadata"] = dict(first["metadata"], resourceVersion="1")
    with pytest.raises(Conflict):
        await client.replace(stale)
    now = await client.get(REF)
    assert now is not None and now["data"] == {"k": "first"}


async def test_replace_keeps_uid_and_bumps_generation_on_spec_changes_only() -> None:
    client = OfflineClient(
        [obj("{apiVersion: v1, kind: Service, metadata: {name: s}, spec: {a: 1}}")]
    )
    ref = ObjectRef("v1", "Service", "shop", "s")
    current = await client.get(ref)
    assert current is not None
    uid = current["metadata"]["uid"]
    current["metadata"]["labels"] = {"x": "y"}
    after_labels = await client.replace(current)
    assert after_labels["metadata"]["generation"] == 1
    after_labels["spec"] = {"a": 2}
    after_spec = await client.replace(after_labels)
    assert after_spec["metadata"]["generation"] == 2
    assert after_spec["metadata"]["uid"] == uid


async def test_missing_objects() -> None:
    client = OfflineClient()
    assert await client.get(REF) is None
    with pytest.raises(NotFound):
        await client.replace(CM)
    with pytest.raises(NotFound):
        await client.patch(REF, {"data": {}})
    assert await client.delete(REF) is False


async def test_versions_of_one_group_address_the_same_object() -> None:
    vs = obj("{apiVersion: networking.istio.io/v1beta1, kind: VirtualService, metadata: {name: v}}")
    client = OfflineClient([vs])
    got = await client.get(ObjectRef("networking.istio.io/v1", "VirtualService", "shop", "v"))
    assert got is not None and got["apiVersion"] == "networking.istio.io/v1"


async def test_patches() -> None:
    client = OfflineClient([CM])
    merged = await client.patch(REF, {"data": {"k": None, "n": "1"}})
    assert merged["data"] == {"n": "1"}
    patched = await client.patch(
        REF, [{"op": "add", "path": "/data/m", "value": "2"}], patch_type="json"
    )
    assert patched["data"] == {"n": "1", "m": "2"}
    with pytest.raises(Invalid):
        await client.patch(REF, [{"op": "remove", "path": "/data/absent"}], patch_type="json")


async def test_journal_changed_and_deleted() -> None:
    other = obj("{apiVersion: v1, kind: ConfigMap, metadata: {name: b}}")
    client = OfflineClient([CM, other])
    assert client.changed() == [] and client.writes == []
    await client.patch(REF, {"data": {"k": "w"}})
    await client.delete(ObjectRef.of(other))
    assert [c["metadata"]["name"] for c in client.changed()] == ["a"]
    assert [r.name for r in client.deleted()] == ["b"]
    assert [verb for verb, _ in client.writes] == ["patch", "delete"]


async def test_list_filters_by_kind_namespace_and_labels() -> None:
    elsewhere = obj("{apiVersion: v1, kind: ConfigMap, metadata: {name: c, namespace: other}}")
    client = OfflineClient([CM, elsewhere])
    everywhere = await client.list("v1", "ConfigMap", "")  # by namespace, then name
    assert [o["metadata"]["name"] for o in everywhere] == ["c", "a"]
    assert len(await client.list("v1", "ConfigMap", "shop", label_selector="app=web")) == 1
    assert await client.list("v1", "ConfigMap", "shop", label_selector="app!=web") == []
    assert await client.list("v1", "Secret", "shop") == []


@pytest.mark.parametrize(
    ("selector", "labels", "expected"),
    [
        ("", {}, True),
        ("a=b", {"a": "b"}, True),
        ("a==b", {"a": "c"}, False),
        ("a!=b", {}, True),
        ("a", {"a": ""}, True),
        ("!a", {"a": "x"}, False),
        ("a in (x, y),b", {"a": "y", "b": "1"}, True),
        ("a notin (x)", {"a": "x"}, False),
        ("canarist.io/route-table", {"canarist.io/route-table": "true"}, True),
    ],
)
def test_selectors(selector: str, labels: dict[str, str], expected: bool) -> None:
    assert parse_selector(selector)(labels) is expected


@pytest.mark.parametrize("selector", ["=b", "a b", "!"])
def test_bad_selectors_are_refused(selector: str) -> None:
    with pytest.raises(Invalid, match="label selector"):
        parse_selector(selector)


def test_merge_patch_rfc7386_examples() -> None:
    assert merge_patch({"a": "b"}, {"a": "c"}) == {"a": "c"}
    assert merge_patch({"a": "b"}, {"b": "c"}) == {"a": "b", "b": "c"}
    assert merge_patch({"a": "b"}, {"a": None}) == {}
    assert merge_patch({"a": [{"b": "c"}]}, {"a": [1]}) == {"a": [1]}
    assert merge_patch({"e": None}, {"a": 1}) == {"e": None, "a": 1}
    assert merge_patch([1, 2], {"a": "b", "c": None}) == {"a": "b"}


@given(
    st.text(alphabet="ab=!,() in", max_size=20),
    st.dictionaries(st.sampled_from("ab"), st.sampled_from(["", "a", "b"])),
)
def test_any_selector_text_is_a_predicate_or_a_clear_refusal(
    text: str, labels: dict[str, str]
) -> None:
    try:
        match = parse_selector(text)
    except Invalid as exc:
        assert "label selector" in str(exc)
    else:
        assert match(labels) in (True, False)
