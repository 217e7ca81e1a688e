"""``none``: no traffic router. The weight is approximated by the replica ratio.

The user's own Service selects stable and canary pods alike, so the release planner chooses the
canary's replica count to make canary/(stable+canary) closest to the step's weight. This router
therefore writes nothing: every method is a no-op, and ``verify_weight`` cannot tell.
"""

from __future__ import annotations

from webhook.routers.adapter import RouterAdapter
from webhook.spec import CAPABILITIES

capabilities = CAPABILITIES["none"]


class NoneRouter(RouterAdapter):
    name = "none"
    capabilities = capabilities
