"""The table of admission cases behind the golden files in ``tests/data/reviews/``.

Each case is a request and what must hold once the returned patch is applied to the object —
the rules of DESIGN §2, written independently of the golden responses (which pin the exact
bytes). ``python -m tests.admission.make_golden`` rewrites the golden files from this table.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from tests.admission.builders import deployment, hash_of, review, with_image
from webhook.spec.names import ENABLED_LABEL, HASH_LABEL, STATUS

D1 = deployment()
D2 = with_image(D1, "registry.example.com/shop/web:1.5.0")
D3 = with_image(D1, "registry.example.com/shop/web:1.6.0")
H1, H2, H3 = hash_of(D1), hash_of(D2), hash_of(D3)
UNSET = object()


@dataclass(frozen=True)
class Expect:
    allowed: bool = True
    patched: bool = False
    label: Any = UNSET  # hash label in the patched template (None: absent)
    paused: Any = UNSET  # spec.paused after the patch (None: absent)
    status: dict[str, Any] | None = None  # keys that must be in the patched status annotation
    status_absent: tuple[str, ...] = ()  # keys that must not be in it
    warning: str = ""  # a substring of one warning
    denied: tuple[str, ...] = ()  # substrings of the denial message


@dataclass(frozen=True)
class Case:
    name: str
    request: dict[str, Any]
    expect: Expect = field(default_factory=Expect)
    about: str = ""


def _stamped(obj: dict[str, Any], value: str | None) -> dict[str, Any]:
    out = copy.deepcopy(obj)
    labels = out["spec"]["template"]["metadata"]["labels"]
    if value is None:
        labels.pop(HASH_LABEL, None)
    else:
        labels[HASH_LABEL] = value
    return out


def _with(obj: dict[str, Any], **spec: Any) -> dict[str, Any]:
    out = copy.deepcopy(obj)
    out["spec"].update(spec)
    return out


def _status(**fields: Any) -> dict[str, Any]:
    return {"step": 0, "steps": 5, "weight": 0, **fields}


def _set_status(obj: dict[str, Any], status: dict[str, Any] | None) -> dict[str, Any]:
    import json

    out = copy.deepcopy(obj)
    ann = out["metadata"].setdefault("annotations", {})
    if status is None:
        ann.pop(STATUS, None)
    else:
        ann[STATUS] = json.dumps(status, sort_keys=True, separators=(",", ":"))
    return out


def _unlabelled(obj: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(obj)
    out["metadata"]["labels"].pop(ENABLED_LABEL)
    return out


HEALTHY = _status(phase="Healthy", stableHash=H1, canaryHash=H1, message="released")
IN_RELEASE = _status(
    phase="Paused",
    stableHash=H1,
    canaryHash=H2,
    step=2,
    weight=10,
    message="paused at step 2",
    startedAt="2026-11-20T10:00:00Z",
    stepStartedAt="2026-11-20T10:05:00Z",
)
S1 = _set_status(_stamped(D1, H1), HEALTHY)  # released, healthy, running H1
R1 = _set_status(_with(_stamped(D2, H2), paused=True), IN_RELEASE)  # H2 held as canary over H1
BAD_ANNOTATIONS = {
    "canarist.io/steps": "- setWeight: 150\n- setHeaderRoute: {name: beta}\n",
    "canarist.io/trafic-router": "proxy",
}


def _create_cases() -> list[Case]:
    no_labels = copy.deepcopy(D1)
    del no_labels["spec"]["template"]["metadata"]["labels"]
    no_meta = copy.deepcopy(D1)
    del no_meta["spec"]["template"]["metadata"]
    generated = deployment(annotations=BAD_ANNOTATIONS)
    del generated["metadata"]["name"]
    generated["metadata"]["generateName"] = "web-"
    return [
        Case("create-stamps-hash", review("CREATE", D1), Expect(patched=True, label=H1)),
        Case(
            "create-adds-labels-map",
            review("CREATE", no_labels),
            Expect(patched=True, label=hash_of(no_labels)),
            "template metadata without labels: the whole labels map is added",
        ),
        Case(
            "create-adds-metadata-map",
            review("CREATE", no_meta),
            Expect(patched=True, label=hash_of(no_meta)),
        ),
        Case(
            "create-already-stamped",
            review("CREATE", _stamped(D1, H1)),
            Expect(label=H1),
            "reinvocation: the label is already right, nothing to patch",
        ),
        Case(
            "create-invalid-annotations",
            review("CREATE", deployment(annotations=BAD_ANNOTATIONS)),
            Expect(
                allowed=False,
                denied=(
                    "Deployment web: 3 problems",
                    "canarist.io/steps[0].setWeight",
                    "canarist.io/steps[1].setHeaderRoute",
                    "did you mean",
                ),
            ),
        ),
        Case(
            "create-generate-name",
            review("CREATE", generated, name=""),
            Expect(allowed=False, denied=("Deployment web-:",)),
            "no name yet: errors name the Deployment by its generateName",
        ),
    ]


def _ignored_cases() -> list[Case]:
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "web", "labels": {ENABLED_LABEL: "true"}},
        "spec": {"selector": {"app": "web"}},
    }
    return [
        Case("ignore-not-opted-in", review("CREATE", deployment(enabled=False))),
        Case(
            "ignore-other-kind",
            review("CREATE", service, kind=("", "v1", "Service"), resource="services"),
        ),
        Case(
            "ignore-status-subresource",
            review("UPDATE", _with(S1, replicas=9), S1, sub_resource="status"),
        ),
        Case("ignore-delete", review("DELETE", None, S1)),
        Case(
            "ignore-connect",
            review(
                "CONNECT",
                {"kind": "PodExecOptions", "apiVersion": "v1", "command": ["sh"]},
                kind=("", "v1", "PodExecOptions"),
                resource="pods",
                sub_resource="exec",
                name="web-1",
            ),
        ),
        Case(
            "ignore-label-removed",
            review("UPDATE", _unlabelled(with_image(S1, "x:2")), S1),
            Expect(label=H1),
            "opt-out: untouched, the reconciler reacts",
        ),
    ]


def _unchanged_cases() -> list[Case]:
    stale = _set_status(_unlabelled(D1), _status(phase="Healthy", stableHash=H3, canaryHash=H3))
    return [
        Case(
            "update-adopt",
            review("UPDATE", D1, _unlabelled(D1)),
            Expect(label=None, warning="adopted"),
            "label just added, template unchanged: stamping would restart every pod",
        ),
        Case(
            "update-adopt-with-change",
            review("UPDATE", _set_status(D2, None), _set_status(stale, None)),
            Expect(
                patched=True,
                label=H2,
                paused=True,
                status={"stableHash": H1, "canaryHash": H2, "phase": "Progressing"},
            ),
            "label added together with a template change: released against the running one",
        ),
        Case(
            "update-unchanged",
            review("UPDATE", _with(S1, replicas=6), S1),
            Expect(label=H1),
            "scale through the main resource: same template, no patch",
        ),
        Case(
            "update-restore-hash-label",
            review("UPDATE", _stamped(S1, None), S1),
            Expect(patched=True, label=H1),
            "the apply dropped the hash label: put it back, else every pod restarts",
        ),
        Case(
            "update-repause",
            review("UPDATE", _with(R1, paused=False), R1),
            Expect(patched=True, paused=True, warning="stays paused"),
        ),
        Case(
            "update-promoting-unpause",
            review(
                "UPDATE",
                _set_status(_with(R1, paused=False), {**IN_RELEASE, "phase": "Promoting"}),
                R1,
            ),
            Expect(paused=False),
            "the reconciler unpauses at promotion, writing phase Promoting in the same update",
        ),
        Case(
            "update-restore-status",
            review("UPDATE", _set_status(S1, None), S1),
            Expect(patched=True, status=HEALTHY),
        ),
        Case(
            "update-restore-status-and-repause",
            review("UPDATE", _set_status(_with(R1, paused=False), None), R1),
            Expect(patched=True, paused=True, status=IN_RELEASE, warning="stays paused"),
        ),
        Case(
            "update-status-only",
            review("UPDATE", _set_status(R1, {**IN_RELEASE, "step": 3, "weight": 50}), R1),
            Expect(paused=True, status={"step": 3, "weight": 50}),
            "the reconciler's own write passes unchanged",
        ),
    ]


def _changed_cases() -> list[Case]:
    bare = copy.deepcopy(_stamped(D1, H1))
    del bare["metadata"]["annotations"]
    held = {
        "stableHash": H1,
        "canaryHash": H2,
        "phase": "Progressing",
        "step": 0,
        "steps": 5,
        "message": "held for canary steps",
    }
    warned = deployment(
        annotations={
            "canarist.io/traffic-router": "proxy",
            "canarist.io/proxy-hosts": "web.example.com",
            "canarist.io/istio-virtual-service": "web",
        }
    )
    return [
        Case(
            "update-new-canary",
            review(
                "UPDATE",
                with_image(S1, D2["spec"]["template"]["spec"]["containers"][0]["image"]),
                S1,
            ),
            Expect(
                patched=True,
                label=H2,
                paused=True,
                status=held,
                warning=f"held for canary steps (stable {H1}, canary {H2})",
            ),
        ),
        Case(
            "update-new-canary-adds-annotations-map",
            review("UPDATE", _stamped(D2, H1) | {"metadata": bare["metadata"]}, bare),
            Expect(patched=True, label=H2, paused=True, status={**held, "steps": 4}),
            "no annotations at all: the default steps, the whole annotations map is added",
        ),
        Case(
            "update-new-canary-mid-release",
            review(
                "UPDATE",
                with_image(R1, D3["spec"]["template"]["spec"]["containers"][0]["image"]),
                R1,
            ),
            Expect(
                patched=True,
                label=H3,
                paused=True,
                status={**held, "canaryHash": H3, "weight": 10},
                status_absent=("startedAt", "stepStartedAt", "abortedAt"),
            ),
            "restart from step 0; the weight applied stays until the reconciler zeroes it",
        ),
        Case(
            "update-revert-to-stable",
            review(
                "UPDATE",
                with_image(R1, D1["spec"]["template"]["spec"]["containers"][0]["image"]),
                R1,
            ),
            Expect(
                patched=True,
                label=H1,
                paused=False,
                status={"stableHash": H1, "canaryHash": H1, "phase": "Progressing", "weight": 10},
                warning="returned to the stable revision",
            ),
        ),
        Case(
            "update-dry-run",
            review(
                "UPDATE", with_image(S1, "registry.example.com/shop/web:1.5.0"), S1, dry_run=True
            ),
            Expect(patched=True, label=H2, paused=True, status=held),
            "sideEffects None: a dry run gets the same answer",
        ),
        Case(
            "update-invalid-annotations",
            review("UPDATE", deployment(annotations=BAD_ANNOTATIONS), S1),
            Expect(allowed=False, denied=("3 problems",)),
        ),
        Case(
            "update-spec-warnings",
            review("UPDATE", with_image(_stamped(warned, H1), "x:2"), _stamped(warned, H1)),
            Expect(
                patched=True,
                paused=True,
                warning='canarist.io/istio-virtual-service is ignored: traffic router "istio"',
            ),
        ),
    ]


CASES: tuple[Case, ...] = (
    *_create_cases(),
    *_ignored_cases(),
    *_unchanged_cases(),
    *_changed_cases(),
)
