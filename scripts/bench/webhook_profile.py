"""The webhook benchmark's in-process profile: the CPU of each piece of one review.

Run by ``scripts/bench/webhook.py`` after the servers have been measured; each figure is the best
of a few ``timeit`` repeats in this process (hot caches).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable

STATUS_KEY = "canarist.io/status"


def breakdown(body: bytes, repeat: int = 5, number: int = 1000) -> dict[str, float]:
    """CPU microseconds of the pieces of one review, in this process (hot caches): a profile.

    The server's own figure is larger (colder caches, the load generator on the other CPU); the
    pieces say where a review's time goes, and what orjson and libyaml save.
    """
    import io
    import logging
    import timeit

    from webhook.admission import jsoncodec, parse_review, review
    from webhook.admission.jsonlog import configure
    from webhook.admission.mutate import decide
    from webhook.admission.server import _log_review
    from webhook.admission.speccache import parse as _parse
    from webhook.spec import yamltext
    from webhook.spec.hashing import canonical_form, form_hash
    from webhook.spec.status import ReleaseStatus

    raw = json.loads(body)
    parsed = parse_review(raw)
    obj = raw["request"]["object"]
    template = obj["spec"]["template"]
    form = canonical_form(template)
    annotations = obj["metadata"]["annotations"]
    status_text = annotations[STATUS_KEY]
    spec_annotations = {
        k: v for k, v in annotations.items() if k.startswith("canarist.io/") and k != STATUS_KEY
    }
    decision = decide(parsed)
    orjson_module = jsoncodec._orjson

    def end_to_end() -> bytes:
        return review(body).response.to_json()

    def without_orjson() -> bytes:
        jsoncodec._orjson = None
        try:
            return end_to_end()
        finally:
            jsoncodec._orjson = orjson_module

    def spec_without_libyaml() -> object:
        yamltext.use_libyaml = False
        try:
            return _parse("web", spec_annotations)
        finally:
            yamltext.use_libyaml = True

    pieces: dict[str, Callable[[], object]] = {
        "decode_body": lambda: jsoncodec.loads(body),
        "decode_body_json_module": lambda: jsoncodec.std_loads(body),
        "parse_review_envelope": lambda: parse_review(raw),
        "canonical_form_one_template": lambda: canonical_form(template),
        "hash_of_a_form": lambda: form_hash(form),
        "status_annotation_read_and_write": lambda: ReleaseStatus.from_json(status_text).to_json(),
        "decide_all_rules": lambda: decide(parsed),
        "encode_response": decision.response.to_json,
        "review_end_to_end": end_to_end,
        "review_end_to_end_without_orjson": without_orjson,
        "log_line_of_a_changed_object": lambda: _log_review(decision, 0.0004, 10.0),
        "spec_parse_cache_miss": lambda: _parse("web", spec_annotations),
        "spec_parse_cache_miss_without_libyaml": spec_without_libyaml,
    }
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    configure("info", io.StringIO())
    out = {}
    try:
        for name, fn in pieces.items():
            count = number // 10 if name.startswith("spec_parse") else number
            runs = timeit.repeat(fn, repeat=repeat, number=count, timer=time.process_time)
            out[name] = round(min(runs) / count * 1e6, 1)
    finally:
        for handler in list(root.handlers):
            root.removeHandler(handler)
        for handler in saved[0]:
            root.addHandler(handler)
        root.setLevel(saved[1])
    return out


def codecs() -> dict[str, str]:
    """Which optional accelerators the servers and the breakdown use."""
    from webhook.admission import jsoncodec
    from webhook.spec import boundedyaml

    orjson_module = jsoncodec._orjson
    return {
        "json": f"orjson {orjson_module.__version__}" if orjson_module else "json module",
        "yaml": "libyaml where it agrees with PyYAML"
        if boundedyaml.libyaml_available()
        else "PyYAML",
    }
