"""ingress-nginx's documented rules for canaries and cookie affinity, as checks on the Ingresses
canarist writes.

Origin of every quoted rule: kubernetes/ingress-nginx at commit
dbb11b92ddb77bee9c35e462479129354c84f939 (2026-03-20):
``docs/user-guide/nginx-configuration/annotations.md`` (ANNOTATIONS) and
``docs/examples/affinity/cookie/README.md`` (AFFINITY_EXAMPLE).
"""

from __future__ import annotations

from typing import Any

P = "nginx.ingress.kubernetes.io/"

RULES = {
    # ANNOTATIONS, the tip at the top
    "strings": "Annotation keys and values can only be strings. Other types, such as boolean or "
    'numeric values must be quoted, i.e. "true", "false", "100".',
    # ANNOTATIONS, section Canary
    "canary": 'The following annotations to configure canary can be enabled after '
    '`nginx.ingress.kubernetes.io/canary: "true"` is set',
    "by-cookie": "When the cookie value is set to `always`, it will be routed to the canary. When "
    "the cookie is set to `never`, it will never be routed to the canary. For any other value, "
    "the cookie will be ignored and the request compared against the other canary rules by "
    "precedence.",
    "weight-0": "A weight of 0 implies that no requests will be sent to the service in the "
    "Canary ingress by this canary rule.",
    "inherited": "when you mark an ingress as canary, then all the other non-canary annotations "
    "will be ignored (inherited from the corresponding main ingress) except "
    "`nginx.ingress.kubernetes.io/load-balance`, `nginx.ingress.kubernetes.io/upstream-hash-by`, "
    "and annotations related to session affinity.",
    # ANNOTATIONS, section Session Affinity
    "affinity": "The annotation `nginx.ingress.kubernetes.io/affinity` enables and sets the "
    "affinity type in all Upstreams of an Ingress. [...] The only affinity type available for "
    "NGINX is `cookie`.",
    "canary-behavior": "Setting this to `sticky` (default) will ensure that users that were "
    "served by canaries, will continue to be served by canaries. Setting this to `legacy` will "
    "restore original canary behavior, when session affinity was ignored.",
    "same-host": "If more than one Ingress is defined for a host and at least one Ingress uses "
    "`nginx.ingress.kubernetes.io/affinity: cookie`, then only paths on the Ingress using "
    "`nginx.ingress.kubernetes.io/affinity` will use session cookie affinity.",
    # AFFINITY_EXAMPLE, the annotation table
    "max-age": "nginx.ingress.kubernetes.io/session-cookie-max-age | Time until the cookie "
    "expires, corresponds to the `Max-Age` cookie directive | number of seconds",
}
AFFINITY_KEYS = ("affinity", "affinity-mode", "affinity-canary-behavior", "session-cookie-")


def _ann(ingress: dict[str, Any]) -> dict[str, Any]:
    return dict((ingress.get("metadata") or {}).get("annotations") or {})


def check(stable: dict[str, Any], canary: dict[str, Any], *, cookie: str, max_age: int) -> None:
    """``canary`` keeps a client on the canary by ``cookie`` for ``max_age`` seconds, by the
    rules above (an AssertionError quotes the rule broken)."""
    s, c = _ann(stable), _ann(canary)
    for key, value in [*s.items(), *c.items()]:
        assert isinstance(key, str) and isinstance(value, str), RULES["strings"]
    assert c.get(P + "canary") == "true", RULES["canary"]
    by_cookie = c.get(P + "canary-by-cookie")
    assert by_cookie in (None, "always", "never") or by_cookie != cookie, RULES["by-cookie"]
    # the canary honours its session affinity annotations, and keeps canary users on it
    assert c.get(P + "affinity") == "cookie", RULES["inherited"] + " " + RULES["affinity"]
    assert c.get(P + "affinity-canary-behavior", "sticky") == "sticky", RULES["canary-behavior"]
    # the stable Ingress uses the same cookie affinity, or its paths would not be sticky at all
    for ann in (s, c):
        assert ann.get(P + "affinity") == "cookie", RULES["same-host"]
        assert ann.get(P + "session-cookie-name") == cookie, RULES["same-host"]
        age = ann.get(P + "session-cookie-max-age")
        assert age is not None and age.isdigit() and int(age) == max_age, RULES["max-age"]
    others = {k for k in c if k.startswith(P) and k.removeprefix(P).startswith(AFFINITY_KEYS)}
    assert {k: c[k] for k in others if not k.endswith("canary-behavior")} == {
        k: s[k] for k in others if not k.endswith("canary-behavior")
    }, RULES["inherited"]
