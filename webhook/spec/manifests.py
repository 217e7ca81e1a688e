"""Reading manifests (files of Kubernetes objects) for ``validate``, ``render`` and ``convert``.

A manifest is read as ``kubectl`` reads it: YAML 1.1 or JSON, several documents, ``List`` kinds
flattened, empty documents skipped. The YAML is ``boundedyaml``'s, with the caller's limits
(``boundedyaml.DOCUMENT`` by default; ``convert`` refuses aliases with ``MANIFEST``), so values
are what JSON can carry; an input may hold at most ``MAX_BYTES``, and the inputs at most
``MAX_OBJECTS`` objects. Every object must be a mapping with ``apiVersion``, ``kind`` and
``metadata.name``, and string labels and annotations, as the API server requires.

Each error names the input, the object (``web.yaml[2]``, 0-based, counting objects) and its
line: ``web.yaml[1] (line 9).metadata.name: is required (a string)``, or for the YAML itself
``web.yaml[1].data.b: YAML aliases are not allowed (*a): write the value out at line 12,
column 6``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from webhook.errors import InvalidInput, Problem
from webhook.spec import boundedyaml

MAX_BYTES = 4 * 1024 * 1024
MAX_OBJECTS = 1000


@dataclass(frozen=True)
class Source:
    """One input: its name (a file name, or ``-`` for stdin) and its text."""

    name: str
    text: str


@dataclass(frozen=True)
class Manifest:
    """One object of the input, with where it came from."""

    source: str
    index: int  # 0-based among the input's objects
    line: int  # 1-based line where its document starts
    obj: dict[str, Any]

    @property
    def where(self) -> str:
        return f"{self.source}[{self.index}]"


def read_manifests(
    sources: Sequence[Source], limits: boundedyaml.Limits = boundedyaml.DOCUMENT
) -> list[Manifest]:
    """Every object of the inputs, in order; ``InvalidInput`` with the place of the first
    document that does not parse or is not an object Kubernetes would take."""
    out: list[Manifest] = []
    for source in sources:
        index = 0
        for doc in _documents(source, limits):
            for obj in _items(doc.value):
                check_object(obj, f"{source.name}[{index}]", doc.line)
                out.append(Manifest(source.name, index, doc.line, obj))
                index += 1
                if len(out) > MAX_OBJECTS:
                    raise InvalidInput(
                        [Problem("", f"the inputs hold more than {MAX_OBJECTS} objects")]
                    )
    return out


def _documents(source: Source, limits: boundedyaml.Limits) -> list[boundedyaml.Document]:
    if len(source.text) > MAX_BYTES or len(
            source.text.encode("utf-8", "surrogatepass")) > MAX_BYTES:
        raise InvalidInput([Problem(source.name, f"is larger than {MAX_BYTES} bytes")])
    try:
        return boundedyaml.documents(source.text, limits)
    except boundedyaml.DocumentError as exc:
        where, message = boundedyaml.describe(exc)
        raise InvalidInput([Problem(f"{source.name}[{exc.index}]{where}", f"YAML {message}")]
                           ) from None


def _items(value: Any) -> list[Any]:
    """A ``List`` kind's items (``v1 List``, ``DeploymentList``...), else the value itself."""
    if isinstance(value, dict) and isinstance(value.get("items"), list):
        kind = value.get("kind")
        if isinstance(kind, str) and kind.endswith("List"):
            return list(value["items"])
    return [value]


def check_object(obj: Any, where: str, line: int) -> None:
    """``InvalidInput`` listing what ``obj`` lacks to be an object the API server takes."""
    at = f"{where} (line {line})"
    if not isinstance(obj, dict):
        raise InvalidInput([Problem(at, "must be an object (a YAML mapping)")])
    if obj.get("kind") == "Kustomization":
        raise InvalidInput([Problem(at, "is a Kustomization, not a manifest: give canarist what "
                                    "it builds (kubectl kustomize DIR | canarist ... -f -)")])
    problems = []
    for key in ("apiVersion", "kind"):
        if not isinstance(obj.get(key), str) or not obj.get(key):
            problems.append(Problem(f"{at}.{key}", "is required (a string)"))
    meta = obj.get("metadata")
    if not isinstance(meta, dict):
        problems.append(Problem(f"{at}.metadata", "is required (a mapping)"))
    else:
        problems.extend(_metadata_problems(meta, f"{at}.metadata"))
    if problems:
        raise InvalidInput(problems)


def _metadata_problems(meta: dict[str, Any], at: str) -> list[Problem]:
    problems = []
    if not isinstance(meta.get("name"), str) or not meta.get("name"):
        problems.append(Problem(f"{at}.name", "is required (a string)"))
    if "namespace" in meta and not isinstance(meta["namespace"], str):
        problems.append(Problem(f"{at}.namespace", "must be a string"))
    for key in ("labels", "annotations"):
        value = meta.get(key)
        if value is None:
            continue
        if not isinstance(value, dict):
            problems.append(Problem(f"{at}.{key}", "must be a mapping"))
            continue
        for k, v in value.items():
            if not isinstance(v, str):
                problems.append(Problem(f"{at}.{key}.{k}",
                                        f"must be a string, got {type(v).__name__}"))
    return problems
