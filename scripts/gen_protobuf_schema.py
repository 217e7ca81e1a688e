"""Regenerate ``webhook/cluster/protobuf/schema.json`` from the kubectl binary on the PATH.

kubectl carries the protobuf descriptors of every built-in API type (gzipped
``FileDescriptorProto``s, as client-go registers them). This script finds them, reads them with
canarist's own wire-format reader, keeps the messages reachable from the kinds the embedded
cluster serves, and writes their field numbers and types as JSON, one message a line:

    .venv/bin/python scripts/gen_protobuf_schema.py [--kubectl PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import zlib
from pathlib import Path
from typing import Any

from webhook.cluster.protobuf.wire import iter_fields

OUT = Path(__file__).resolve().parent.parent / "webhook/cluster/protobuf/schema.json"

# apiVersion/kind -> fully qualified message; the kinds the embedded cluster serves, the
# subresource bodies (Scale, Binding) and DeleteOptions
ROOTS = {
    "v1/Namespace": "k8s.io.api.core.v1.Namespace",
    "v1/Pod": "k8s.io.api.core.v1.Pod",
    "v1/Service": "k8s.io.api.core.v1.Service",
    "v1/ConfigMap": "k8s.io.api.core.v1.ConfigMap",
    "v1/Secret": "k8s.io.api.core.v1.Secret",
    "v1/Event": "k8s.io.api.core.v1.Event",
    "v1/ServiceAccount": "k8s.io.api.core.v1.ServiceAccount",
    "v1/Binding": "k8s.io.api.core.v1.Binding",
    "apps/v1/Deployment": "k8s.io.api.apps.v1.Deployment",
    "apps/v1/ReplicaSet": "k8s.io.api.apps.v1.ReplicaSet",
    "discovery.k8s.io/v1/EndpointSlice": "k8s.io.api.discovery.v1.EndpointSlice",
    "networking.k8s.io/v1/Ingress": "k8s.io.api.networking.v1.Ingress",
    "networking.k8s.io/v1/IngressClass": "k8s.io.api.networking.v1.IngressClass",
    "coordination.k8s.io/v1/Lease": "k8s.io.api.coordination.v1.Lease",
    "autoscaling/v2/HorizontalPodAutoscaler":
        "k8s.io.api.autoscaling.v2.HorizontalPodAutoscaler",
    "autoscaling/v1/Scale": "k8s.io.api.autoscaling.v1.Scale",
    "admissionregistration.k8s.io/v1/MutatingWebhookConfiguration":
        "k8s.io.api.admissionregistration.v1.MutatingWebhookConfiguration",
    "admissionregistration.k8s.io/v1/ValidatingWebhookConfiguration":
        "k8s.io.api.admissionregistration.v1.ValidatingWebhookConfiguration",
    "batch/v1/Job": "k8s.io.api.batch.v1.Job",
    "batch/v1/CronJob": "k8s.io.api.batch.v1.CronJob",
    "policy/v1/PodDisruptionBudget": "k8s.io.api.policy.v1.PodDisruptionBudget",
    "policy/v1/Eviction": "k8s.io.api.policy.v1.Eviction",
    "networking.k8s.io/v1/NetworkPolicy": "k8s.io.api.networking.v1.NetworkPolicy",
    "events.k8s.io/v1/Event": "k8s.io.api.events.v1.Event",
    "v1/Endpoints": "k8s.io.api.core.v1.Endpoints",
    "meta.k8s.io/v1/DeleteOptions": "k8s.io.apimachinery.pkg.apis.meta.v1.DeleteOptions",
    "rbac.authorization.k8s.io/v1/Role": "k8s.io.api.rbac.v1.Role",
    "rbac.authorization.k8s.io/v1/ClusterRole": "k8s.io.api.rbac.v1.ClusterRole",
    "rbac.authorization.k8s.io/v1/RoleBinding": "k8s.io.api.rbac.v1.RoleBinding",
    "rbac.authorization.k8s.io/v1/ClusterRoleBinding": "k8s.io.api.rbac.v1.ClusterRoleBinding",
    "authentication.k8s.io/v1/TokenRequest": "k8s.io.api.authentication.v1.TokenRequest",
    "authentication.k8s.io/v1/TokenReview": "k8s.io.api.authentication.v1.TokenReview",
    "authentication.k8s.io/v1/SelfSubjectReview":
        "k8s.io.api.authentication.v1.SelfSubjectReview",
    "authorization.k8s.io/v1/SubjectAccessReview":
        "k8s.io.api.authorization.v1.SubjectAccessReview",
    "authorization.k8s.io/v1/LocalSubjectAccessReview":
        "k8s.io.api.authorization.v1.LocalSubjectAccessReview",
    "authorization.k8s.io/v1/SelfSubjectAccessReview":
        "k8s.io.api.authorization.v1.SelfSubjectAccessReview",
    "authorization.k8s.io/v1/SelfSubjectRulesReview":
        "k8s.io.api.authorization.v1.SelfSubjectRulesReview",
}

# Go pointer fields among the scalars: client-go writes them only when set, so a zero value
# that arrives was sent on purpose (replicas: 0) and is kept; a zero of any other scalar is the
# Go zero value the encoder always writes, left out as encoding/json's omitempty would.
POINTERS = {
    "MutatingWebhook": {"timeoutSeconds"},
    "ServiceReference": {"port"},
    "DeploymentSpec": {"replicas", "revisionHistoryLimit", "progressDeadlineSeconds"},
    "ReplicaSetSpec": {"replicas"},
    "HPAScalingRules": {"stabilizationWindowSeconds"},
    "HorizontalPodAutoscalerSpec": {"minReplicas"},
    "HorizontalPodAutoscalerStatus": {"observedGeneration"},
    "MetricTarget": {"averageUtilization"},
    "MetricValueStatus": {"averageUtilization"},
    "LeaseSpec": {"leaseDurationSeconds", "leaseTransitions"},
    "ClientIPConfig": {"timeoutSeconds"},
    "ClusterTrustBundleProjection": {"optional"},
    "ConfigMap": {"immutable"},
    "Secret": {"immutable"},
    "ConfigMapEnvSource": {"optional"},
    "ConfigMapKeySelector": {"optional"},
    "ConfigMapProjection": {"optional"},
    "ConfigMapVolumeSource": {"defaultMode", "optional"},
    "SecretEnvSource": {"optional"},
    "SecretKeySelector": {"optional"},
    "SecretProjection": {"optional"},
    "SecretVolumeSource": {"defaultMode", "optional"},
    "ContainerStatus": {"started"},
    "DownwardAPIVolumeFile": {"mode"},
    "DownwardAPIVolumeSource": {"defaultMode"},
    "KeyToPath": {"mode"},
    "ProjectedVolumeSource": {"defaultMode"},
    "FCVolumeSource": {"lun"},
    "PodSecurityContext": {"runAsUser", "runAsNonRoot", "fsGroup", "runAsGroup"},
    "PodSpec": {"terminationGracePeriodSeconds", "activeDeadlineSeconds",
                "automountServiceAccountToken", "priority", "shareProcessNamespace",
                "enableServiceLinks", "setHostnameAsFQDN", "hostUsers"},
    "Probe": {"terminationGracePeriodSeconds"},
    "SecurityContext": {"privileged", "runAsUser", "runAsNonRoot", "readOnlyRootFilesystem",
                        "allowPrivilegeEscalation", "runAsGroup"},
    "ServiceAccount": {"automountServiceAccountToken"},
    "ServiceAccountTokenProjection": {"expirationSeconds"},
    "ServiceSpec": {"allocateLoadBalancerNodePorts"},
    "Toleration": {"tolerationSeconds"},
    "TopologySpreadConstraint": {"minDomains"},
    "WindowsSecurityContextOptions": {"hostProcess"},
    "EndpointConditions": {"ready", "serving", "terminating"},
    "k8s.io.api.discovery.v1.EndpointPort": {"port"},
    "ValidatingWebhook": {"timeoutSeconds"},
    "JobSpec": {"parallelism", "completions", "activeDeadlineSeconds", "backoffLimit",
                "backoffLimitPerIndex", "maxFailedIndexes", "manualSelector",
                "ttlSecondsAfterFinished", "suspend"},
    "JobStatus": {"ready", "terminating"},
    "SuccessPolicyRule": {"succeededCount"},
    "CronJobSpec": {"startingDeadlineSeconds", "suspend", "successfulJobsHistoryLimit",
                    "failedJobsHistoryLimit"},
    "NetworkPolicyPort": {"endPort"},
    "DeleteOptions": {"gracePeriodSeconds", "orphanDependents",
                      "ignoreStoreReadErrorWithClusterBreakingPotential"},
    "ObjectMeta": {"deletionGracePeriodSeconds"},
    "OwnerReference": {"controller", "blockOwnerDeletion"},
    "TokenRequestSpec": {"expirationSeconds"},
}

# The Go struct tags kubectl carries (reflection data): ``json:"NAME..." protobuf:"TYPE,N,...,
# name=PROTO..."``. They say which protobuf fields have another JSON name (go-to-protobuf took
# the Go field name: ``Webhooks`` for ``webhooks``) and which are embedded structs
# (``json:",inline"``), whose fields encoding/json prints in the parent object.
_TAG = re.compile(rb'json:"([A-Za-z0-9]*)(,[a-z,]*)?"(?: [A-Za-z]+:"[^"]*")* '
                  rb'protobuf:"[a-z0-9]+,([0-9]+),[a-z]+[^"]*?(?:,name=([A-Za-z0-9]+))?[,"]')

# FieldDescriptorProto.type -> the name used in schema.json
TYPES = {1: "double", 2: "float", 3: "int64", 4: "uint64", 5: "int32", 6: "fixed64",
         7: "fixed32", 8: "bool", 9: "string", 11: "message", 12: "bytes", 13: "uint32",
         14: "enum", 15: "sfixed32", 16: "sfixed64", 17: "sint32", 18: "sint64"}


def _text(v: int | bytes) -> str:
    assert isinstance(v, bytes)
    return v.decode()


def _field(raw: bytes) -> dict[str, Any]:
    out: dict[str, Any] = {"label": 1}
    for num, _, v in iter_fields(raw):
        if num == 1:
            out["name"] = _text(v)
        elif num == 3:
            out["number"] = v
        elif num == 4:
            out["label"] = v
        elif num == 5:
            out["type"] = TYPES[int(v)]
        elif num == 6:
            out["type_name"] = _text(v).lstrip(".")
    return out


def _messages(raw: bytes, prefix: str, into: dict[str, dict[str, Any]]) -> None:
    name, fields, nested, map_entry = "", [], [], False
    for num, _, v in iter_fields(raw):
        if num == 1:
            name = _text(v)
        elif num == 2:
            assert isinstance(v, bytes)
            fields.append(_field(v))
        elif num == 3:
            assert isinstance(v, bytes)
            nested.append(v)
        elif num == 7:
            assert isinstance(v, bytes)
            map_entry = any(n == 7 and x == 1 for n, _, x in iter_fields(v))
    full = f"{prefix}.{name}"
    into[full] = {"fields": fields, "map_entry": map_entry}
    for n in nested:
        _messages(n, full, into)


def descriptors(binary: bytes) -> dict[str, dict[str, Any]]:
    """Every message of every k8s.io descriptor in the binary, by fully qualified name."""
    messages: dict[str, dict[str, Any]] = {}
    for m in re.finditer(rb"\x1f\x8b\x08\x00\x00\x00\x00\x00", binary):
        try:
            raw = zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(binary[m.start():
                                                                           m.start() + (1 << 21)])
        except zlib.error:
            continue
        if not raw.startswith(b"\n") or b"k8s.io/" not in raw[:80]:
            continue
        package = ""
        for num, _, v in iter_fields(raw):
            if num == 2:
                package = _text(v)
        for num, _, v in iter_fields(raw):
            if num == 4:
                assert isinstance(v, bytes)
                _messages(v, package, messages)
    return messages


class Tags:
    """What the Go struct tags say about protobuf fields, keyed by (protobuf name, number)."""

    def __init__(self, binary: bytes) -> None:
        self.renamed: dict[tuple[str, int], str] = {}
        self.inline: set[tuple[str, int]] = set()
        for m in _TAG.finditer(binary):
            json_name, options = m.group(1).decode(), (m.group(2) or b"").decode()
            number = int(m.group(3))
            proto = m.group(4).decode() if m.group(4) else _go_field_before(binary, m.start())
            if not proto:
                continue
            if not json_name and "inline" in options.split(","):
                self.inline.add((proto, number))
            elif json_name and json_name != proto:
                self.renamed[(proto, number)] = json_name


def _go_field_before(binary: bytes, tag_at: int) -> str:
    """The Go field name stored just before a tag (reflect's name encoding: length byte, name,
    tag length, tag), lower-camel as go-to-protobuf names a field whose tag gives no name."""
    for size in range(1, 64):
        start = tag_at - 1 - size
        name = binary[start:tag_at - 1]
        if start > 0 and binary[start - 1] == size and re.fullmatch(rb"[A-Z][A-Za-z0-9]*", name):
            text = name.decode()
            return text[:1].lower() + text[1:]
    return ""


def _entry(owner: str, f: dict[str, Any], messages: dict[str, dict[str, Any]],
           tags: Tags) -> list[Any]:
    """[json name, type, message or map [key, value, value message], repeated, keep zero,
    inline]."""
    short = owner.rsplit(".", 1)[1]
    at = (f["name"], int(f["number"]))
    name = tags.renamed.get(at, f["name"])
    ref = f.get("type_name", "")
    if f["type"] == "message" and messages[ref]["map_entry"]:
        key, value = sorted(messages[ref]["fields"], key=lambda x: x["number"])
        return [name, "map", [key["type"], value["type"], value.get("type_name", "")],
                False, False, False]
    pointers = POINTERS.get(owner) or POINTERS.get(short, set())
    inline = f["type"] == "message" and at in tags.inline
    return [name, f["type"], ref, f["label"] == 3, name in pointers, inline]


def closure(messages: dict[str, dict[str, Any]], tags: Tags) -> dict[str, dict[str, list[Any]]]:
    out: dict[str, dict[str, list[Any]]] = {}
    todo = list(ROOTS.values())
    while todo:
        name = todo.pop()
        if name in out:
            continue
        if name not in messages:
            sys.exit(f"message {name} is not in the binary's descriptors")
        table: dict[str, list[Any]] = {}
        for f in messages[name]["fields"]:
            entry = _entry(name, f, messages, tags)
            table[str(f["number"])] = entry
            ref = entry[2][2] if entry[1] == "map" else entry[2]
            if ref and (entry[1] in ("message", "map")):
                todo.append(ref)
        out[name] = dict(sorted(table.items(), key=lambda kv: int(kv[0])))
    for short, fields in POINTERS.items():  # a stale entry here is a typo or a removed field
        tables = [t for n, t in out.items() if short in (n, n.rsplit(".", 1)[1])]
        known = {f[0] for t in tables for f in t.values()}
        if not tables or fields - known:
            sys.exit(f"POINTERS: {short}.{sorted(fields - known)} is not in the schema")
    return dict(sorted(out.items()))


def render(doc: dict[str, Any]) -> str:
    """The document as JSON with one kind and one message a line (readable diffs)."""
    def one(value: Any) -> str:
        return json.dumps(value, separators=(",", ":"))

    kinds = ",\n".join(f"  {one(k)}:{one(v)}" for k, v in doc["kinds"].items())
    messages = ",\n".join(f"  {one(k)}:{one(v)}" for k, v in doc["messages"].items())
    return (f'{{"source":{one(doc["source"])},\n"kinds":{{\n{kinds}\n}},\n'
            f'"messages":{{\n{messages}\n}}}}\n')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kubectl", default=shutil.which("kubectl") or "kubectl")
    args = parser.parse_args()
    path = os.path.realpath(args.kubectl)
    version = json.loads(subprocess.run([path, "version", "--client", "-o", "json"],
                                        capture_output=True, check=True, text=True).stdout)
    binary = Path(path).read_bytes()
    messages = descriptors(binary)
    doc = {
        "source": "descriptors in kubectl "
                  f"{version['clientVersion']['gitVersion']} (scripts/gen_protobuf_schema.py)",
        "kinds": ROOTS,
        "messages": closure(messages, Tags(binary)),
    }
    OUT.write_text(render(doc))
    print(f"{OUT.name}: {len(doc['messages'])} messages from {doc['source']}")


if __name__ == "__main__":
    main()
