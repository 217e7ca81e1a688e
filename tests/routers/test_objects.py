"""Per-owner records in canarist.io/managed-by, ownership, and the write-if-changed helper."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.routers.fixtures import UID, obj
from webhook.errors import Conflict, RouterError
from webhook.kube.protocol import JSON, ObjectRef
from webhook.routers.base import Owner
from webhook.routers.objects import (
    Record,
    Records,
    check_generated_free,
    check_route_free,
    generated_name,
    owned_by,
    store_record,
    truncate_name,
)
from webhook.routers.offline import OfflineClient
from webhook.routers.writer import sync
from webhook.spec.names import MANAGED_BY


def vs(annotation: str | None = None) -> JSON:
    out = obj("{apiVersion: networking.istio.io/v1, kind: VirtualService, metadata: {name: v}}")
    if annotation is not None:
        out["metadata"]["annotations"] = {MANAGED_BY: annotation, "user/keep": "x"}
    return out


def test_records_round_trip_per_owner_in_route_order() -> None:
    record = Record().with_route("b", ["b"]).with_route("a", ["a", "a-1"]).with_added(["x"])
    record = record.with_route("b", ["b", "b-1"])  # replaced in place
    stored = store_record(vs(), "web", record)
    stored = store_record(stored, "api", Record(annotations=("k",)))
    raw = json.loads(stored["metadata"]["annotations"][MANAGED_BY])
    assert list(raw) == ["api", "web"]
    assert raw["web"] == {"routes": {"b": ["b", "b-1"], "a": ["a", "a-1"]}, "added": ["x"]}
    again = Records.of(stored)
    assert again.get("web") == record
    assert again.get("web").route_names == ("b", "a")
    assert again.get("web").written == {"b", "b-1", "a", "a-1"}
    assert again.get("nobody") == Record()


def test_dropping_the_last_owner_removes_the_annotation_only() -> None:
    stored = store_record(vs('{"web":{}}'), "web", None)
    assert stored["metadata"]["annotations"] == {"user/keep": "x"}
    bare = store_record(vs(), "web", None)
    assert "annotations" not in bare["metadata"]


@pytest.mark.parametrize(
    ("annotation", "message"),
    [
        ("{nope", "is not valid JSON"),
        ("[1]", "must be a JSON object keyed by Deployment name"),
        ('{"web": 3}', r"\[web\]: must be a JSON object"),
        ('{"web": {"routes": ["a"]}}', r"\[web\].routes: must map route names"),
        ('{"web": {"added": "a"}}', r"\[web\].added: must be a list of strings"),
    ],
)
def test_a_damaged_record_is_a_clear_error(annotation: str, message: str) -> None:
    with pytest.raises(RouterError, match=message) as err:
        Records.of(vs(annotation))
    assert "VirtualService shop/v" in str(err.value) and MANAGED_BY in str(err.value)


def test_route_names_are_not_shared_between_deployments() -> None:
    records = Records.of(vs('{"api":{"routes":{"beta":["beta","beta-1"]}}}'))
    check_route_free(records, "web", ["gamma"], "VS")
    check_route_free(records, "api", ["beta"], "VS")
    with pytest.raises(RouterError, match="'beta-1' is already managed there for Deployment 'api'"):
        check_route_free(records, "web", ["beta-1"], "VS")


@pytest.mark.parametrize(
    ("owner", "route", "count", "user_names", "error"),
    [
        ("web", "gamma", 2, {"main"}, None),
        ("api", "beta", 2, set(), None),  # its own names
        ("web", "beta", 0, set(), "VS: rule 'beta' is already managed there for Deployment 'api'"),
        ("web", "x", 3, {"x-2"}, "VS: a rule named 'x-2' exists and canarist does not manage it"),
        ("web", "x", 0, {"x"}, "VS: a rule named 'x' exists"),  # no split: still one name
        ("web", "x", 2, {"x-2"}, None),  # x and x-1 only
    ],
)
def test_generated_names_are_free_of_other_deployments_and_the_users_own(
    owner: str, route: str, count: int, user_names: set[str], error: str | None
) -> None:
    records = Records.of(vs('{"api":{"routes":{"beta":["beta","beta-1"]}}}'))

    def check() -> None:
        check_generated_free(records, owner, route, count, set(user_names), "VS", item="rule",
                             user_item="a rule")

    if error is None:
        check()
    else:
        with pytest.raises(RouterError) as err:
            check()
        assert str(err.value).startswith(error)
        assert str(err.value).endswith("give the step's route another name")
    assert [generated_name(route, j) for j in range(3)] == [route, f"{route}-1", f"{route}-2"]


@pytest.mark.parametrize(
    ("refs", "owner", "expected"),
    [
        ([{"kind": "Deployment", "name": "web", "uid": UID}], Owner("web", UID), True),
        ([{"kind": "Deployment", "name": "web", "uid": "other"}], Owner("web", UID), False),
        ([{"kind": "Deployment", "name": "web"}], Owner("web", ""), True),
        ([{"kind": "ReplicaSet", "name": "web", "uid": UID}], Owner("web", UID), False),
        ([], Owner("web", UID), False),
    ],
)
def test_owned_by(refs: list[dict[str, Any]], owner: Owner, expected: bool) -> None:
    assert owned_by({"metadata": {"ownerReferences": refs}}, owner) is expected


def test_truncate_name_keeps_the_suffix() -> None:
    assert truncate_name("web", "-canary") == "web-canary"
    long = truncate_name("a" * 250 + "-b", "-canary")
    assert len(long) <= 253 and long.endswith("a-canary")


# --- sync ------------------------------------------------------------------------------------

CM = obj("{apiVersion: v1, kind: ConfigMap, metadata: {name: c}, data: {n: '0'}}")
REF = ObjectRef.of(CM)


def bump(current: JSON | None) -> JSON | None:
    assert current is not None
    current["data"]["n"] = str(int(current["data"]["n"]) + 1)
    return current


async def test_sync_writes_only_when_the_shape_changed() -> None:
    client = OfflineClient([CM])
    await sync(client, REF, lambda cur: cur)
    assert client.writes == []
    await sync(client, REF, bump)
    assert [verb for verb, _ in client.writes] == ["replace"]


async def test_sync_creates_and_deletes() -> None:
    client = OfflineClient()
    await sync(client, REF, lambda cur: dict(CM))
    assert client.peek(REF) is not None
    await sync(client, REF, lambda cur: None)
    assert client.peek(REF) is None
    await sync(client, REF, lambda cur: None)  # already gone: nothing to do
    assert [verb for verb, _ in client.writes] == ["create", "delete"]


async def test_sync_names_the_option_when_a_required_object_is_missing() -> None:
    with pytest.raises(RouterError, match="ConfigMap shop/c not found \\(named by opt\\)"):
        await sync(OfflineClient(), REF, bump, required="opt")


class RacingClient(OfflineClient):
    """Someone else writes the object right before each of our first ``races`` replaces."""

    def __init__(self, objects: list[JSON], races: int) -> None:
        super().__init__(objects)
        self.races = races

    async def replace(self, obj: JSON) -> JSON:
        if self.races:
            self.races -= 1
            await self.patch(ObjectRef.of(obj), {"data": {"other": str(self.races)}})
        return await super().replace(obj)


async def test_sync_rereads_and_retries_once_on_conflict() -> None:
    client = RacingClient([CM], races=1)
    await sync(client, REF, bump)
    final = client.peek(REF)
    assert final is not None
    assert final["data"] == {"n": "1", "other": "0"}  # our change on top of theirs


async def test_sync_gives_up_after_a_second_conflict_and_changes_nothing_of_its_own() -> None:
    client = RacingClient([CM], races=2)
    with pytest.raises(Conflict):
        await sync(client, REF, bump)
    final = client.peek(REF)
    assert final is not None and final["data"]["n"] == "0"


@given(
    st.one_of(
        st.text(max_size=60),
        st.recursive(
            st.none() | st.booleans() | st.integers() | st.text(max_size=5),
            lambda inner: (
                st.lists(inner, max_size=3)
                | st.dictionaries(st.text(max_size=5), inner, max_size=3)
            ),
            max_leaves=10,
        ).map(json.dumps),
    )
)
def test_any_managed_by_text_reads_as_records_or_a_router_error(text: str) -> None:
    try:
        records = Records.of(vs(text))
    except RouterError as exc:
        assert MANAGED_BY in str(exc)
    else:  # what was read writes back the same way
        again = vs()
        for owner, record in records.by_owner.items():
            again = store_record(again, owner, record)
        assert Records.of(again) == records
