"""The Deployment controller's decisions (``pkg/controller/deployment``) as pure functions.

``sync.plan_sync`` is the entry point: typed views in (``model``), a ``plan.Plan`` out.
"""
