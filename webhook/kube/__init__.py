"""The only code that talks to the Kubernetes API server.

Objects are plain JSON dicts as the API serves them (no typed models in loops); every failure is
a ``webhook.errors.KubeError`` subclass, mapped once in ``statuses``.

What to use:

- connect (``--kubeconfig``/``--context``/``-n``, ``$KUBECONFIG``, in-cluster):
  ``client.connect(ClientOptions(...))`` gives a ``KubeClient`` (async), ``connect_sync`` a
  ``SyncClient``;
- get/list/create/replace/patch/delete (``protocol.ObjectClient``): ``KubeClient``; status
  writes with ``patch(..., subresource="status")`` or ``replace(..., subresource="status")``;
- a cache of one kind kept current by list + watch, with handlers and indexes:
  ``informer.Informer`` (``start_all``/``stop_all``, ``add_index("owner", owner_uids)``);
- a work queue keyed by Deployment with requeue-after and per-key backoff:
  ``workqueue.WorkQueue``;
- Kubernetes Events that cannot flood the API: ``events.EventRecorder.record(obj, type,
  reason, message)``;
- one active reconciler among replicas: ``leader.LeaderElector(...).run(lead)``;
- the webhook's certificates in a Secret, the caBundle and files: ``certs.ensure_certs``
  (``canarist certs ensure``);
- the CLI controls (``status``, ``list``, ``promote``...): ``controls`` (I/O; ``request_action``
  is also what the dashboard calls) and ``display`` (pure);
- acting as a user with their own bearer token, and asking "may I?"
  (``SelfSubjectAccessReview``): ``users``.

Layers, bottom up: ``config`` (where and who) -> ``rest`` (HTTP through the official client's
REST layer; rate limit and backoff in ``limits``, errors in ``statuses``) -> ``resources`` (kind
to path, discovery) -> ``client`` (``SyncClient``; ``KubeClient`` runs it on a bounded thread
pool) -> ``watch`` (streams read in their own threads) -> ``informer``, ``events``, ``leader``,
``certs``, ``controls``.
"""
