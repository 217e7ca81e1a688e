"""Rewrite the golden AdmissionReview files from the case table: ``python -m
tests.admission.make_golden``. Review the diff before committing it: the golden files are the
contract the API server and the reconciler rely on.

Per case ``NN-name``: ``.request.json`` (what the API server sends), ``.response.json`` (exactly
what the webhook answers) and ``.patch.json`` (the response's patch, decoded, for reading).
"""

from __future__ import annotations

import json
from pathlib import Path

from tests.admission.cases import CASES
from webhook.admission import decode_patch, review

GOLDEN = Path(__file__).resolve().parent.parent / "data" / "reviews"


def dump(value: object) -> str:
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def main() -> None:
    GOLDEN.mkdir(parents=True, exist_ok=True)
    for old in GOLDEN.glob("*.json"):
        old.unlink()
    for i, case in enumerate(CASES, start=1):
        stem = GOLDEN / f"{i:02d}-{case.name}"
        response = review(json.dumps(case.request)).response.to_dict()
        Path(f"{stem}.request.json").write_text(dump(case.request))
        Path(f"{stem}.response.json").write_text(dump(response))
        Path(f"{stem}.patch.json").write_text(dump(decode_patch(response)))
    print(f"wrote {len(CASES)} cases to {GOLDEN}")


if __name__ == "__main__":
    main()
