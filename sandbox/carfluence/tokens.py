"""RS256 JSON Web Tokens, as Carfluence's login issues them (FusionAuth-style claims).

Signed with ``cryptography`` directly: RS256 is one PKCS#1 v1.5 signature over two Base64url
segments, and PyJWT is not installed, so a dependency used only by the sandbox is not worth it.
"""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

ISSUER = "https://auth.carfluence.sandbox"
AUDIENCE = "carfluence-api"


class TokenInvalid(ValueError):
    """Not a token this issuer signed, or malformed."""


class TokenExpired(ValueError):
    """Signed by us, but past ``exp``."""


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class TokenIssuer:
    """One RSA key pair per process; ``sign`` and ``verify`` take the caller's clock time."""

    _shared_key: rsa.RSAPrivateKey | None = None

    def __init__(self) -> None:
        # Generating a 2048-bit key costs ~0.1 s; share it between sandbox instances in a process.
        if TokenIssuer._shared_key is None:
            TokenIssuer._shared_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self._key = TokenIssuer._shared_key
        public_der = self._key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        self.kid = hashlib.sha256(public_der).hexdigest()[:16]

    def sign(self, claims: dict[str, Any]) -> str:
        header = {"alg": "RS256", "typ": "JWT", "kid": self.kid}
        signing_input = ".".join(_b64url(json.dumps(p, separators=(",", ":")).encode()) for p in (header, claims))
        signature = self._key.sign(signing_input.encode("ascii"), padding.PKCS1v15(), hashes.SHA256())
        return f"{signing_input}.{_b64url(signature)}"

    def verify(self, token: str, now: float) -> dict[str, Any]:
        """The claims of a valid token; ``TokenExpired`` or ``TokenInvalid`` otherwise."""
        parts = token.split(".")
        if len(parts) != 3:
            raise TokenInvalid("not a JWT")
        try:
            header = json.loads(_unb64url(parts[0]))
            claims = json.loads(_unb64url(parts[1]))
            signature = _unb64url(parts[2])
        except ValueError as exc:
            raise TokenInvalid("malformed JWT") from exc
        if not isinstance(header, dict) or header.get("alg") != "RS256" or header.get("kid") != self.kid:
            raise TokenInvalid("unsupported algorithm or unknown key id")
        try:
            self._key.public_key().verify(
                signature, f"{parts[0]}.{parts[1]}".encode("ascii"), padding.PKCS1v15(), hashes.SHA256()
            )
        except InvalidSignature as exc:
            raise TokenInvalid("bad signature") from exc
        if not isinstance(claims, dict) or claims.get("iss") != ISSUER or claims.get("aud") != AUDIENCE:
            raise TokenInvalid("wrong issuer or audience")
        exp = claims.get("exp")
        if not isinstance(exp, (int, float)) or now >= exp:
            raise TokenExpired("token has expired")
        return claims

    def jwks(self) -> dict[str, Any]:
        numbers = self._key.public_key().public_numbers()

        def b64int(value: int) -> str:
            return _b64url(value.to_bytes((value.bit_length() + 7) // 8, "big"))

        key = {
            "kty": "RSA",
            "use": "sig",
            "alg": "RS256",
            "kid": self.kid,
            "n": b64int(numbers.n),
            "e": b64int(numbers.e),
        }
        return {"keys": [key]}
