"""ServiceAccount tokens: JWTs signed by a key of the cluster (upstream pkg/serviceaccount).

Claims are upstream's: ``iss``, ``sub`` (``system:serviceaccount:<ns>:<name>``), ``aud``,
``exp``, ``iat``, ``nbf``, ``jti`` and the private ``kubernetes.io`` claim naming the
namespace, the ServiceAccount (name, uid) and the object the token is bound to (a pod or a
secret, name and uid) and, for the kubelet's projected tokens, ``warnafter``. Signed ES256
(P-256, as every key of the embedded cluster); ``kid`` is the key's SHA-256 thumbprint.
Everything here is a pure function of its inputs; lookups of what a token names happen in
``authn``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

ISSUER = "https://kubernetes.default.svc.cluster.local"
API_AUDIENCES = (ISSUER,)
LEEWAY = 60  # go-jose's DefaultLeeway, applied to exp, nbf and iat
MAX_TOKEN_BYTES = 16 * 1024
# The kubelet asks for this lifetime; the token then lives a year and only warns after it.
WARN_ONLY_EXPIRATION = 60 * 60 + 7
EXTENDED_EXPIRATION = 365 * 24 * 60 * 60
MIN_EXPIRATION = 10 * 60
MAX_EXPIRATION = 1 << 32


class TokenError(Exception):
    """The token is not one of ours, or not valid now; the message says why."""


def _b64e(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _b64d(text: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise TokenError("token contains an invalid number of segments") from exc


@dataclass(frozen=True)
class Ref:
    name: str
    uid: str


@dataclass(frozen=True)
class Claims:
    """What a token says, once its signature is checked."""

    issuer: str
    subject: str
    audiences: tuple[str, ...]
    expiry: int
    not_before: int
    issued_at: int
    jti: str
    namespace: str
    service_account: Ref
    pod: Ref | None = None
    secret: Ref | None = None

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> Claims:
        k8s = doc.get("kubernetes.io")
        if not isinstance(k8s, Mapping):
            raise TokenError("token lacks the kubernetes.io claim")
        aud = doc.get("aud")
        auds = (aud,) if isinstance(aud, str) else tuple(a for a in aud or () if
                                                         isinstance(a, str))

        def ref(key: str) -> Ref | None:
            r = k8s.get(key)
            return Ref(str(r.get("name") or ""), str(r.get("uid") or "")) if isinstance(
                r, Mapping) else None

        sa = ref("serviceaccount")
        numbers = [doc.get(k) for k in ("exp", "nbf", "iat")]
        if sa is None or not all(isinstance(n, int) and not isinstance(n, bool)
                                 for n in numbers):
            raise TokenError("token lacks the serviceaccount, exp, nbf or iat claims")
        return cls(str(doc.get("iss") or ""), str(doc.get("sub") or ""), auds,
                   int(doc["exp"]), int(doc["nbf"]), int(doc["iat"]), str(doc.get("jti") or ""),
                   str(k8s.get("namespace") or ""), sa, ref("pod"), ref("secret"))


def claims_for(namespace: str, sa: Ref, *, audiences: Iterable[str], now: int,
               expiration: int, warn_after: int = 0, pod: Ref | None = None,
               secret: Ref | None = None) -> dict[str, Any]:
    private: dict[str, Any] = {"namespace": namespace,
                               "serviceaccount": {"name": sa.name, "uid": sa.uid}}
    if pod is not None:
        private["pod"] = {"name": pod.name, "uid": pod.uid}
    if secret is not None:
        private["secret"] = {"name": secret.name, "uid": secret.uid}
    if warn_after:
        private["warnafter"] = now + warn_after
    return {"aud": list(audiences), "exp": now + expiration, "iat": now, "iss": ISSUER,
            "jti": str(uuid.uuid4()), "kubernetes.io": private, "nbf": now,
            "sub": f"system:serviceaccount:{namespace}:{sa.name}"}


def check_times(claims: Claims, now: float) -> None:
    if now > claims.expiry + LEEWAY:
        raise TokenError("service account token has expired")
    if now + LEEWAY < claims.not_before:
        raise TokenError("service account token is not valid yet")
    if now + LEEWAY < claims.issued_at:
        raise TokenError("service account token is issued in the future")


class Signer:
    """The cluster's service-account signing key."""

    def __init__(self, key: ec.EllipticCurvePrivateKey | None = None) -> None:
        self.key = key or ec.generate_private_key(ec.SECP256R1())
        der = self.key.public_key().public_bytes(serialization.Encoding.DER,
                                                 serialization.PublicFormat.SubjectPublicKeyInfo)
        self.kid = _b64e(hashlib.sha256(der).digest())

    def sign(self, claims: Mapping[str, Any]) -> str:
        header = _b64e(json.dumps({"alg": "ES256", "kid": self.kid},
                                  separators=(",", ":")).encode())
        payload = _b64e(json.dumps(claims, separators=(",", ":")).encode())
        der = self.key.sign(f"{header}.{payload}".encode(), ec.ECDSA(hashes.SHA256()))
        r, s = decode_dss_signature(der)
        return f"{header}.{payload}.{_b64e(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"

    def verify(self, token: str) -> Claims:
        """The claims of a token this key signed (times not checked: ``check_times``)."""
        if len(token) > MAX_TOKEN_BYTES:
            raise TokenError("token is too long")
        parts = token.split(".")
        if len(parts) != 3:
            raise TokenError("token contains an invalid number of segments")
        try:
            header = json.loads(_b64d(parts[0]))
        except ValueError as exc:
            raise TokenError("token header is not JSON") from exc
        if not isinstance(header, dict) or header.get("alg") != "ES256":
            raise TokenError("token is not signed with ES256")
        if header.get("kid") not in (None, self.kid):
            raise TokenError("token is signed by an unknown key")
        sig = _b64d(parts[2])
        if len(sig) != 64:
            raise TokenError("token signature is malformed")
        der = encode_dss_signature(int.from_bytes(sig[:32], "big"),
                                   int.from_bytes(sig[32:], "big"))
        try:
            self.key.public_key().verify(der, f"{parts[0]}.{parts[1]}".encode(),
                                         ec.ECDSA(hashes.SHA256()))
        except InvalidSignature as exc:
            raise TokenError("token signature is invalid") from exc
        try:
            doc = json.loads(_b64d(parts[1]))
        except ValueError as exc:
            raise TokenError("token payload is not JSON") from exc
        if not isinstance(doc, dict):
            raise TokenError("token payload is not a JSON object")
        return Claims.from_json(doc)

    def jwks(self) -> dict[str, Any]:
        """The public key as a JSON Web Key Set (``/openid/v1/jwks``)."""
        numbers = self.key.public_key().public_numbers()
        return {"keys": [{"use": "sig", "kty": "EC", "kid": self.kid, "crv": "P-256",
                          "alg": "ES256", "x": _b64e(numbers.x.to_bytes(32, "big")),
                          "y": _b64e(numbers.y.to_bytes(32, "big"))}]}
