"""The pod-template hash: deterministic, content-only, short, Kubernetes' name alphabet."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from webhook.spec.hashing import ALPHABET, HASH_LABEL, is_hash, template_hash

TEMPLATE: dict[str, Any] = {
    "metadata": {"labels": {"app": "web", "tier": "front"}, "annotations": {"a": "b"}},
    "spec": {
        "containers": [
            {
                "name": "web",
                "image": "web:1.0",
                "ports": [{"containerPort": 8080}],
                "env": [{"name": "A", "value": "1"}],
            }
        ]
    },
}


def test_golden_value_is_stable_across_releases() -> None:
    # Changing this value restarts every canary-enabled Deployment's release on upgrade:
    # only ever change it together with a migration.
    assert template_hash(TEMPLATE) == "84pk8855gq"
    assert template_hash(json.loads(json.dumps(TEMPLATE))) == "84pk8855gq"
    assert is_hash(template_hash(TEMPLATE))


def test_key_order_does_not_matter() -> None:
    reordered = {
        "spec": {"containers": [dict(reversed(list(TEMPLATE["spec"]["containers"][0].items())))]},
        "metadata": {"annotations": {"a": "b"}, "labels": {"tier": "front", "app": "web"}},
    }
    assert template_hash(reordered) == template_hash(TEMPLATE)


def test_the_hash_label_itself_is_ignored() -> None:
    stamped = json.loads(json.dumps(TEMPLATE))
    stamped["metadata"]["labels"][HASH_LABEL] = "whatever"
    assert template_hash(stamped) == template_hash(TEMPLATE)


def test_nulls_and_empty_maps_the_api_server_adds_are_ignored() -> None:
    defaulted = json.loads(json.dumps(TEMPLATE))
    defaulted["metadata"]["creationTimestamp"] = None
    defaulted["spec"]["containers"][0]["resources"] = {}
    defaulted["spec"]["volumes"] = []
    assert template_hash(defaulted) == template_hash(TEMPLATE)


def test_any_content_change_changes_the_hash() -> None:
    changed = json.loads(json.dumps(TEMPLATE))
    changed["spec"]["containers"][0]["image"] = "web:1.1"
    assert template_hash(changed) != template_hash(TEMPLATE)
    relabelled = json.loads(json.dumps(TEMPLATE))
    relabelled["metadata"]["labels"]["tier"] = "back"
    assert template_hash(relabelled) != template_hash(TEMPLATE)


def test_independent_of_the_hash_seed() -> None:
    code = (
        "import json,sys; from webhook.spec.hashing import template_hash; "
        "print(template_hash(json.loads(sys.argv[1])))"
    )
    outputs = set()
    for seed in ("1", "2", "random"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        out = subprocess.run(
            [sys.executable, "-c", code, json.dumps(TEMPLATE)],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        outputs.add(out.stdout.strip())
    assert outputs == {template_hash(TEMPLATE)}


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children, max_size=3)
    ),
    max_leaves=20,
)


@given(st.dictionaries(st.text(max_size=6), json_values, max_size=4))
def test_always_ten_chars_of_the_alphabet(template: dict[str, object]) -> None:
    digest = template_hash(template)
    assert len(digest) == 10
    assert set(digest) <= set(ALPHABET)


def test_empty_or_missing_template_hashes() -> None:
    assert template_hash(None) == template_hash({})
