"""``canarist.io/sticky`` for ingress-nginx: cookie session affinity, as its documentation has it.

What keeps a client on the canary in ingress-nginx (``docs/user-guide/nginx-configuration/
annotations.md`` and ``docs/examples/affinity/cookie/README.md`` of kubernetes/ingress-nginx):

- ``affinity: cookie`` turns on cookie session affinity; ``affinity-canary-behavior: sticky`` (the
  default) "will ensure that users that were served by canaries, will continue to be served by
  canaries" (``legacy``: affinity ignored for canaries);
- a canary Ingress ignores other annotations "(inherited from the corresponding main ingress)"
  except ``load-balance``, ``upstream-hash-by`` and those of session affinity, and "only paths on
  the Ingress using ``affinity`` will use session cookie affinity" — so the stable Ingress carries
  the affinity too (ingress-nginx hands the main Ingress's affinity to its canary);
- ``session-cookie-name`` names the cookie, ``session-cookie-max-age`` is "Time until the cookie
  expires, corresponds to the ``Max-Age`` cookie directive" in seconds;
- ``canary-by-cookie`` is not stickiness: it sends a request to the canary only when the cookie's
  value is ``always`` (``never``: never), and ignores any other value.

So with ``canarist.io/sticky`` the canary Ingress carries ``affinity: cookie``,
``affinity-canary-behavior: sticky``, ``session-cookie-name`` and ``session-cookie-max-age``, and
the stable Ingress gets the same three affinity annotations while the canary Ingress exists —
only those it lacks, recorded per Deployment in ``canarist.io/managed-by`` and removed with the
canary Ingress. One the user set to another value is refused rather than overwritten.
"""

from __future__ import annotations

from webhook.errors import RouterError
from webhook.kube.protocol import JSON
from webhook.routers.objects import Record, Records, annotations_of, describe, store_record
from webhook.spec import Sticky
from webhook.spec.names import STICKY
from webhook.spec.options import NGINX_PREFIX

AFFINITY = NGINX_PREFIX + "affinity"
CANARY_BEHAVIOR = NGINX_PREFIX + "affinity-canary-behavior"
COOKIE_NAME = NGINX_PREFIX + "session-cookie-name"
COOKIE_MAX_AGE = NGINX_PREFIX + "session-cookie-max-age"


def affinity(sticky: Sticky) -> dict[str, str]:
    """The session affinity annotations both Ingresses carry (values are strings)."""
    return {AFFINITY: "cookie", COOKIE_NAME: sticky.cookie, COOKIE_MAX_AGE: str(sticky.max_age)}


def canary_affinity(sticky: Sticky) -> dict[str, str]:
    return {**affinity(sticky), CANARY_BEHAVIOR: "sticky"}


def stable_with_affinity(stable: JSON, owner: str, sticky: Sticky | None) -> JSON:
    """The stable Ingress with this owner's affinity annotations (``sticky``) or without them
    (``None``); the user's own annotations are never changed."""
    record = Records.of(stable).get(owner)
    ann = annotations_of(stable)
    for key in record.annotations:
        ann.pop(key, None)
    wrote = []
    for key, value in (affinity(sticky) if sticky is not None else {}).items():
        if key not in ann:
            ann[key] = value
            wrote.append(key)
        elif ann[key] != value:
            raise RouterError(
                f"{describe(stable)} has {key}: {ann[key]!r} and {STICKY} asks for {value!r}; "
                "ingress-nginx gives a canary Ingress the session affinity of the stable one, "
                f"so make them agree (or remove the annotation from {describe(stable)})"
            )
    return store_record(stable, owner, Record(annotations=tuple(sorted(wrote))) if wrote else None)
