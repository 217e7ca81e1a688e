"""Which watch events wake a Deployment (the loop's filters), case by case."""

from __future__ import annotations

import pytest

from webhook.kube.protocol import JSON
from webhook.release.relevance import active, counts, released, same_but_status, selector_pairs
from webhook.spec import Phase, ReleaseStatus


def deployment(status: ReleaseStatus | None = None, *, label: bool = True) -> JSON:
    annotations = {"canarist.io/status": status.to_json()} if status else {}
    labels = {"canarist.io/enabled": "true"} if label else {}
    return {
        "metadata": {"name": "web", "labels": labels, "annotations": annotations},
        "spec": {"replicas": 2},
        "status": {"availableReplicas": 2},
    }


@pytest.mark.parametrize(
    ("status", "want"),
    [
        (None, False),
        (ReleaseStatus(phase=Phase.HEALTHY, stable_hash="a", canary_hash="a"), False),
        (ReleaseStatus(phase=Phase.HEALTHY, stable_hash="a", canary_hash="b"), True),
        (ReleaseStatus(phase=Phase.PROMOTING, stable_hash="a", canary_hash="a"), True),
        (ReleaseStatus(phase=Phase.HEALTHY, stable_hash="a", canary_hash="a", weight=20), True),
        (
            ReleaseStatus(
                phase=Phase.HEALTHY,
                stable_hash="a",
                canary_hash="a",
                extra={"scaleDownAt": "2026-01-01T00:00:00Z"},
            ),
            True,
        ),
    ],
)
def test_active(status: ReleaseStatus | None, want: bool) -> None:
    assert active(deployment(status)) is want


def test_released_and_status_only_changes() -> None:
    assert released(deployment())
    assert not released(deployment(label=False))
    assert released(deployment(ReleaseStatus(phase=Phase.HEALTHY), label=False))
    a, b = deployment(), deployment()
    b["status"] = {"availableReplicas": 1, "observedGeneration": 7}
    assert same_but_status(a, b)
    b["spec"] = {"replicas": 3}
    assert not same_but_status(a, b)


def test_replica_set_counts_and_service_index() -> None:
    rs = {
        "spec": {"replicas": 2},
        "status": {"replicas": 2, "availableReplicas": 1, "observedGeneration": 3},
    }
    other = {
        "spec": {"replicas": 2},
        "status": {"replicas": 2, "availableReplicas": 1, "observedGeneration": 4},
    }
    assert counts(rs) == counts(other)
    svc = {
        "metadata": {"namespace": "shop"},
        "spec": {"selector": {"app": "web", "rollouts-pod-template-hash": "x"}},
    }
    assert selector_pairs(svc) == ["shop/app=web"]
