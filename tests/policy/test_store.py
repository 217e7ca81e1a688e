"""The set in force: a valid document replaces it, an invalid one is refused whole."""

from __future__ import annotations

from tests.policy.helpers import document
from webhook.policy import PolicyStore


def valid(store: PolicyStore) -> bool:
    return store.valid


def test_an_invalid_document_keeps_the_last_good_one() -> None:
    store = PolicyStore()
    changes: list[tuple[int, int]] = []
    store.on_change(lambda old, new: changes.append((len(old), len(new))))
    first = store.load(document({"name": "a", "namespaces": ["x"], "adopt": True}), "cm")
    assert first.accepted and first.changed and store.synced
    assert valid(store)
    assert store.match("x", {}) is not None
    bad = store.load(document({"name": "a", "namespaces": ["x"], "adopt": "maybe"}), "cm")
    assert not bad.accepted and bad.error is not None and not valid(store)
    assert bad.error.problems[0].path == "policies[0].adopt"
    assert bad.digest == first.digest  # still in force
    assert store.match("x", {}) is not None
    assert store.loads == {"accepted": 1, "refused": 1}
    again = store.load(document({"name": "a", "namespaces": ["x"], "adopt": True}), "cm")
    assert again.accepted and not again.changed and valid(store)
    gone = store.load(None, "cm")
    assert gone.accepted and gone.changed and store.match("x", {}) is None
    assert changes == [(0, 1), (1, 0)]


def test_namespace_labels_feed_label_selectors() -> None:
    store = PolicyStore()
    store.load(document({"name": "prod", "namespaceSelector": {"matchLabels": {"env": "prod"}}}),
               "file")
    seen: list[str] = []
    store.on_namespace(seen.append)
    assert store.match("shop", {}) is None
    store.set_namespace("shop", {"env": "prod"})
    assert store.match("shop", {}) is not None
    store.set_namespace("shop", {"env": "prod"})  # unchanged: no call
    store.set_namespace("shop", None)
    assert store.match("shop", {}) is None
    assert seen == ["shop", "shop"]
