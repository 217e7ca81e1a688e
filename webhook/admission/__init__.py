"""The admission webhook: AdmissionReview parsing, the pure mutation, and the HTTPS server.

``review(body)`` is the whole decision (also behind ``canarist mutate``); the aiohttp server in
``webhook.admission.server`` is imported on its own so this package stays light.
"""

from webhook.admission.mutate import Decision, Outcome, decide, review
from webhook.admission.review import (
    ReviewRequest,
    ReviewResponse,
    Status,
    decode_patch,
    load_body,
    parse_review,
)

__all__ = [
    "Decision",
    "Outcome",
    "ReviewRequest",
    "ReviewResponse",
    "Status",
    "decide",
    "decode_patch",
    "load_body",
    "parse_review",
    "review",
]
