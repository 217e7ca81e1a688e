"""How a review ends: the ``Decision`` (the response, its outcome for metrics and logs, a short
reason), and the two ways to make one without a patch (``deny``, ``allow``)."""

from __future__ import annotations

from dataclasses import dataclass

from webhook.admission.review import ReviewRequest, ReviewResponse, Status


class Outcome:
    """How a review ended, as counted in the metrics and logs."""

    ALLOWED = "allowed"  # allowed, nothing changed
    MUTATED = "mutated"  # allowed with a patch
    DENIED = "denied"  # refused: invalid canary annotations, a policy's rule


@dataclass(frozen=True)
class Decision:
    response: ReviewResponse
    outcome: str
    reason: str  # a short word for logs: "create", "canary", "revert", "adopt", ...


_REASONS = {422: "Invalid", 500: "InternalError", 503: "ServiceUnavailable"}


def deny(req: ReviewRequest, message: str, code: int = 422) -> Decision:
    status = Status(code=code, reason=_REASONS.get(code, "Invalid"), message=message)
    return Decision(ReviewResponse(req.uid, allowed=False, status=status), Outcome.DENIED, "")


def allow(req: ReviewRequest, reason: str, warnings: tuple[str, ...] = ()) -> Decision:
    return Decision(ReviewResponse(req.uid, warnings=warnings), Outcome.ALLOWED, reason)
