"""Writing the converted objects: YAML documents (``spec.yamldump``: no anchors or aliases
anywhere, multi-line strings as ``|`` blocks) or a JSON ``List``."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from webhook.spec.yamldump import dump_documents


def dump(objects: Sequence[dict[str, Any]], output: str = "yaml") -> str:
    if output == "json":
        body = {"apiVersion": "v1", "kind": "List", "items": list(objects)}
        return json.dumps(body, indent=2, ensure_ascii=False) + "\n"
    return dump_documents(objects)
