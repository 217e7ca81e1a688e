"""The webhook's certificates: issuing, renewal decisions and storage, hot reload while serving.

- ``issue``: pure issuing with ``cryptography`` (CA, serving pair with the Service's SANs,
  ``caBundle``).
- ``renewal``: when to rotate (pure ``plan``: serving pairs at 2/3 of their life, CAs staged in
  the bundle before they sign), the ``CertStore`` interface a Secret implements in
  ``webhook.kube``, and ``ensure`` (load, decide, issue, compare-and-swap save).
- ``reload``: a server ``SSLContext`` that follows certificate files as they change.
- ``files``: ``canarist certs generate``.

No Kubernetes code lives here.
"""

from webhook.tls.issue import KeyPair, Names, ca_bundle, issue_ca, issue_serving, service_names
from webhook.tls.reload import ReloadingContext, server_context
from webhook.tls.renewal import (
    Action,
    CertStore,
    Lifetimes,
    MemoryStore,
    Plan,
    Stored,
    bundle_for,
    carry_out,
    ensure,
    fingerprints,
    next_check,
    plan,
    renew_at,
)

__all__ = [
    "Action",
    "CertStore",
    "KeyPair",
    "Lifetimes",
    "MemoryStore",
    "Names",
    "Plan",
    "ReloadingContext",
    "Stored",
    "bundle_for",
    "ca_bundle",
    "carry_out",
    "ensure",
    "fingerprints",
    "issue_ca",
    "issue_serving",
    "next_check",
    "plan",
    "renew_at",
    "server_context",
    "service_names",
]
