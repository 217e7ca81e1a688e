"""Authentication and authorization of the embedded cluster.

- ``user``: who makes a request (``UserInfo``);
- ``rbac``: rbac.authorization.k8s.io/v1 as upstream's RBAC authorizer reads it (pure);
- ``authorizer``: RBAC over the store, behind the ``system:masters`` shortcut;
- ``tokens``/``authn``: ServiceAccount JWTs (TokenRequest) and bearer-token authentication;
- ``impersonation``, ``requestinfo``, ``filter``: the HTTP request path (authn, impersonation,
  authz), which in-process callers of ``ClusterAPI`` never take;
- ``reviews``/``tokenrequest``: the create-only review resources and ``serviceaccounts/token``;
- ``accounts``: default ServiceAccounts, ``kube-root-ca.crt``, ClusterRole aggregation and
  the ServiceAccount admission plugin;
- ``install``: wires all of it into a ``ClusterAPI``.
"""
