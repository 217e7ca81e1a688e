"""The web dashboard (``canarist dashboard``): every release at a glance, live, with actions.

One shared cache (``cache``: informers over Deployments, ReplicaSets, Pods and Events) serves
every browser; pages get updates as server-sent events (``stream``) and fall back to polling
the JSON API (``api``). What a page shows is computed by pure functions (``summary`` for the
list, ``detail`` for one release, ``permitted`` for the actions); ``access`` decides what a
user may see with ``--auth token``; ``rates`` reads canarist proxy's request and error rates;
``app`` builds the aiohttp application and its security rules; ``serve`` runs it. The page
itself is static files in ``static/`` (no framework, no CDN), shipped in the package.

Imports only ``webhook.kube`` and ``webhook.spec`` of canarist (``docs/dashboard.md``).
"""
