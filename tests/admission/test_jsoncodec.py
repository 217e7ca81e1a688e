"""The review's JSON codec: orjson, when installed, gives exactly what the standard library gives.

Decoding: the same values (types included) for any body, and the same error for any bad one.
Encoding: the same bytes for every response, golden ones included. And the pod-template hash does
not depend on which decoder read the template.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.admission.conftest import GOLDEN
from tests.admission.sameness import same
from tests.admission.test_golden import STEMS
from webhook.admission import jsoncodec, load_body, review
from webhook.errors import BadReview
from webhook.spec.hashing import HASH_LABEL, template_hash

orjson = pytest.importorskip("orjson")

SETTINGS = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.fixture(params=["orjson", "json"])
def codec(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Run the test with orjson, then with the standard library only."""
    if request.param == "json":
        monkeypatch.setattr(jsoncodec, "_orjson", None)
    yield request.param


text = st.text(max_size=12) | st.sampled_from(["", "\x00\x1f\x7f", "é€😀", "\u2028\ufeff", '"\\/'])
scalars = (
    st.none()
    | st.booleans()
    | st.integers()  # beyond 64 bits too: orjson refuses those, json takes them
    | st.floats()  # NaN and infinities too: refused on both paths
    | text
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(text, inner, max_size=4),
    max_leaves=25,
)


def outcome(body: bytes) -> tuple[str, Any]:
    try:
        return "ok", jsoncodec.loads(body)
    except jsoncodec.NotJSON as exc:
        return "NotJSON", exc.message
    except json.JSONDecodeError as exc:
        return "JSONDecodeError", (exc.msg, exc.lineno, exc.colno)
    except UnicodeDecodeError as exc:
        return "UnicodeDecodeError", (exc.reason, exc.start)
    except RecursionError:
        return "RecursionError", None


def both(body: bytes, monkeypatch: pytest.MonkeyPatch) -> tuple[tuple[str, Any], tuple[str, Any]]:
    fast = outcome(body)
    with monkeypatch.context() as m:
        m.setattr(jsoncodec, "_orjson", None)
        slow = outcome(body)
    return fast, slow


def assert_same_outcome(body: bytes, monkeypatch: pytest.MonkeyPatch) -> None:
    fast, slow = both(body, monkeypatch)
    assert fast[0] == slow[0], (body, fast, slow)
    assert same(fast[1], slow[1]), (body, fast, slow)


@SETTINGS
@given(values, st.booleans(), st.booleans())
def test_any_json_value_decodes_the_same_either_way(
    value: Any, ascii_only: bool, spaced: bool
) -> None:
    with pytest.MonkeyPatch.context() as monkeypatch:
        separators = (", ", ": ") if spaced else (",", ":")
        body = json.dumps(value, ensure_ascii=ascii_only, separators=separators)
        assert_same_outcome(body.encode("utf-8", "surrogatepass"), monkeypatch)


@SETTINGS
@given(st.binary(max_size=60) | st.from_regex(rb'\A[\[\]{}",:0-9.eE+\- tnrufalsNI\\]*\Z'))
def test_any_bytes_decode_or_fail_the_same_either_way(body: bytes) -> None:
    with pytest.MonkeyPatch.context() as monkeypatch:
        assert_same_outcome(body, monkeypatch)


@pytest.mark.parametrize(
    "body",
    [
        b'{"a": 1, "a": 2}',  # duplicate keys: the last one wins
        b'{"big": 123456789012345678901234567890, "neg": -18446744073709551617}',
        b'{"u64": 18446744073709551615, "i64": -9223372036854775808}',
        b"[1.0, -0.0, 1e308, 1e-320, 5e-324, 1E400, 0.1, 123456789.123456789]",
        b'"\\ud83d\\ude00 \\u00e9 \\u0000"',  # an escaped surrogate pair is one character
        b"\xef\xbb\xbf{}",  # a byte order mark
        b"[" * 3000 + b"]" * 3000,  # deeper than either decoder goes
        b'{"a": "line\nbreak"}',  # a raw control character in a string
        b"  {} ",
        b"{} x",
        b"",
    ],
)
def test_edge_cases_decode_or_fail_the_same_either_way(
    body: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert_same_outcome(body, monkeypatch)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'{"a": NaN}', "body is not JSON: NaN is not a JSON value"),
        (b'{"a": [Infinity]}', "body is not JSON: Infinity is not a JSON value"),
        (b'{"a": -Infinity}', "body is not JSON: -Infinity is not a JSON value"),
        (
            b'{"a": "\\ud800"}',
            "body is not JSON: a \\u escape encodes half of a surrogate pair (not text)",
        ),
        (
            b'{"\\uDFFFx": 1}',
            "body is not JSON: a \\u escape encodes half of a surrogate pair (not text)",
        ),
    ],
)
def test_what_is_not_json_is_refused_with_a_reason(codec: str, body: bytes, message: str) -> None:
    with pytest.raises(BadReview) as caught:
        load_body(body)
    assert str(caught.value) == f"bad AdmissionReview: {message}"


def test_half_a_surrogate_pair_in_a_review_is_a_bad_request_not_an_error(codec: str) -> None:
    """It used to reach the response, which no UTF-8 could encode: a 500."""
    body = (GOLDEN / "01-create-stamps-hash.request.json").read_text()
    body = body.replace('"name": "web"', '"name": "web\\ud800"', 1)
    assert "\\ud800" in body
    with pytest.raises(BadReview, match="half of a surrogate pair"):
        review(body.encode())


response_text = st.text(max_size=20) | st.sampled_from(["\x00\x08\x0c\x1b\x7f", "é€😀\u2028"])
response_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1) | response_text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(response_text, inner, max_size=4),
    max_leaves=25,
)


@SETTINGS
@given(response_values)
def test_response_values_encode_to_the_same_bytes_either_way(value: Any) -> None:
    reference = json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()
    assert orjson.dumps(value) == reference
    assert jsoncodec.std_dumps(value) == reference


@pytest.mark.parametrize("stem", STEMS)
def test_golden_responses_are_the_same_bytes_either_way(codec: str, stem: str) -> None:
    response = review((GOLDEN / f"{stem}.request.json").read_bytes()).response
    reference = json.dumps(response.to_dict(), separators=(",", ":"), ensure_ascii=False).encode()
    assert response.to_json() == reference
    assert json.loads(response.to_json()) == json.loads(
        (GOLDEN / f"{stem}.response.json").read_text()
    )


@pytest.mark.parametrize("stem", STEMS)
def test_template_hash_does_not_depend_on_the_decoder(stem: str) -> None:
    body = (GOLDEN / f"{stem}.request.json").read_bytes()
    fast = jsoncodec.loads(body)["request"]
    slow = jsoncodec.std_loads(body)["request"]
    for key in ("object", "oldObject"):
        template = ((fast.get(key) or {}).get("spec") or {}).get("template")
        reference = ((slow.get(key) or {}).get("spec") or {}).get("template")
        assert template_hash(template) == template_hash(reference)


@SETTINGS
@given(st.dictionaries(text, values, max_size=5))
def test_template_hash_of_any_template_does_not_depend_on_the_decoder(template: Any) -> None:
    try:
        body = json.dumps(template, allow_nan=False).encode()
    except ValueError:  # NaN or infinity: not JSON, refused before hashing
        return
    assert template_hash(jsoncodec.loads(body)) == template_hash(jsoncodec.std_loads(body))


def reference_hash(template: dict[str, Any]) -> str:
    """The definition in ``webhook.spec.hashing``'s docstring, written out plainly."""

    def normalise(value: Any) -> Any:
        if isinstance(value, dict):
            kept = {k: normalise(v) for k, v in value.items()}
            kept = {k: v for k, v in kept.items() if v is not None}
            return kept or None
        if isinstance(value, list):
            return [normalise(v) for v in value] or None
        return value

    copy = json.loads(json.dumps(template))
    labels = (copy.get("metadata") or {}).get("labels") or {}
    labels.pop(HASH_LABEL, None)
    if isinstance(copy.get("metadata"), dict) and isinstance(copy["metadata"].get("labels"), dict):
        copy["metadata"]["labels"] = labels
    text = json.dumps(
        normalise(copy) or {}, sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )
    number = int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest(), "big")
    digits = []
    for _ in range(10):
        number, rem = divmod(number, 27)
        digits.append("bcdfghjklmnpqrstvwxz2456789"[rem])
    return "".join(digits)


@pytest.mark.parametrize("stem", STEMS)
def test_template_hash_follows_its_documented_definition(stem: str) -> None:
    request = json.loads((GOLDEN / f"{stem}.request.json").read_bytes())["request"]
    for key in ("object", "oldObject"):
        template = ((request.get(key) or {}).get("spec") or {}).get("template")
        if isinstance(template, dict):
            assert template_hash(template) == reference_hash(template)


@SETTINGS
@given(
    st.fixed_dictionaries(
        {"metadata": st.fixed_dictionaries({"labels": st.dictionaries(text, text, max_size=3)})},
        optional={"spec": values, "x": values},
    )
)
def test_template_hash_of_any_template_follows_its_documented_definition(template: Any) -> None:
    try:
        json.dumps(template, allow_nan=False)
    except ValueError:  # NaN or infinity: not JSON, refused before hashing
        return
    if len(template["metadata"]["labels"]) % 2:
        template["metadata"]["labels"][HASH_LABEL] = "stamped"
    assert template_hash(template) == reference_hash(template)
