"""Signature verification for webhooks sent by dealers' WordPress sites.

Three sender families are supported, told apart by their headers (``detect_family``):

``standard``
    Standard Webhooks (https://www.standardwebhooks.com/), used by Forecourt's own companion
    plugin. Headers ``webhook-id``, ``webhook-timestamp`` and ``webhook-signature``; the signed
    content is ``f"{id}.{timestamp}.".encode() + body`` and each signature is
    ``v1,<base64 HMAC-SHA256>``. Replays are bounded by the timestamp tolerance.
``woocommerce``
    WooCommerce's built-in webhooks: ``X-WC-Webhook-Signature`` is base64(HMAC-SHA256(secret,
    raw body)). No timestamp is signed, so replay protection rests on delivery-id dedupe.
``wp_webhooks``
    The "WP Webhooks" plugin: ``X-WP-Webhook-Signature``, same scheme as WooCommerce (the plugin
    computes ``base64_encode(hash_hmac('sha256', $body, $secret, true))``). WP Webhooks 3.x
    dropped that secret field; its "Authentication" templates add an API-key header, a Bearer
    token or Basic auth instead, configured per site (``wp_webhooks_auth``) and checked by
    ``verify_auth_templates``. Those are static credentials: a captured request can be
    replayed for as long as the credential lives, so replays are only caught by the body
    digest dedupe downstream.

Everything here is pure: no Flask, no Redis, no clock unless ``now`` is omitted. The HTTP
handlers pass the raw body bytes (never a re-serialised JSON document: one changed byte breaks
every signature) and the site's configured secrets.

Secrets (decided here because the specs are silent on mixing families):

* Standard Webhooks secrets are normally ``whsec_<base64>``; the HMAC key is the base64-decoded
  part after the prefix. A secret without the prefix is used as its UTF-8 bytes, so a site can
  paste any shared string into the companion plugin. When verifying, an unprefixed secret that
  is also valid base64 is *additionally* tried base64-decoded, because the reference Standard
  Webhooks libraries treat "whsec_" as optional and a sender using them with a prefix-stripped
  secret signs with the decoded key. Both keys derive from the same secret, so this widens
  compatibility, not access. Signing always uses the documented interpretation.
* WooCommerce / WP Webhooks secrets are always used verbatim as UTF-8 bytes, *including* a
  ``whsec_`` prefix if present: those plugins sign with exactly the string the dealer typed,
  and the dealer may well paste the Forecourt-generated ``whsec_...`` string there.
* Several secrets per site are allowed (rotation); a request is accepted when any secret
  verifies any of its signatures.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from secrets import token_bytes, token_hex
from typing import Literal

__all__ = [
    "DEFAULT_TOLERANCE",
    "InvalidSignature",
    "MissingSignature",
    "SignatureError",
    "StaleTimestamp",
    "VerifiedRequest",
    "body_digest",
    "decode_standard_secret",
    "detect_family",
    "generate_secret",
    "is_woocommerce_ping",
    "sign_body_hmac",
    "sign_standard_webhook",
    "verify_body_hmac",
    "verify_auth_templates",
    "verify_standard_webhook",
    "verify_wordpress_request",
]

Family = Literal["standard", "woocommerce", "wp_webhooks"]

DEFAULT_TOLERANCE = 300
SECRET_PREFIX = "whsec_"

# Header names, lower-cased: lookups go through ``_lower_headers``.
H_WEBHOOK_ID = "webhook-id"
H_WEBHOOK_TIMESTAMP = "webhook-timestamp"
H_WEBHOOK_SIGNATURE = "webhook-signature"
H_WC_SIGNATURE = "x-wc-webhook-signature"
H_WC_ID = "x-wc-webhook-id"
H_WC_DELIVERY_ID = "x-wc-webhook-delivery-id"
H_WC_TOPIC = "x-wc-webhook-topic"
H_WC_SOURCE = "x-wc-webhook-source"
H_WP_SIGNATURE = "x-wp-webhook-signature"
H_WP_SOURCE = "x-wp-webhook-source"

# The webhook id becomes a dedupe key downstream; an unbounded one would let a sender with a
# valid secret bloat Redis keys, and no real sender comes close to this.
_MAX_WEBHOOK_ID_LEN = 256
# Digits only: a signed "1.5" or "+1" would let the same signed content be split differently
# between id, timestamp and body. Fifteen digits also keeps int() far from CPython's
# 4300-digit conversion limit.
_TIMESTAMP_RE = re.compile(r"\d{1,15}")
_WC_PING_RE = re.compile(rb"webhook_id=\d{1,20}")


class SignatureError(Exception):
    """Base class: the request must be rejected (the handler answers 401).

    ``code`` is a stable machine-readable string for logs and JSON error bodies; ``message`` is
    for humans (safe to show the sender: it never contains secrets or expected signatures).
    """

    code = "signature_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class MissingSignature(SignatureError):
    code = "signature_missing"


class InvalidSignature(SignatureError):
    code = "signature_invalid"


class StaleTimestamp(SignatureError):
    code = "timestamp_out_of_tolerance"


@dataclass(frozen=True)
class VerifiedRequest:
    """What a handler needs to know about an authenticated WordPress request.

    ``delivery_id`` is the dedupe key: the Standard Webhooks ``webhook-id``; WooCommerce's
    ``X-WC-Webhook-Delivery-ID`` when sent; otherwise (WP Webhooks, or WooCommerce without the
    header) the SHA-256 hex digest of the raw body. The digest makes an identical re-delivery
    (plugin retry, or an attacker replaying a captured request, possibly to a different
    ``?event=`` URL) collapse onto the first one; two genuinely identical saves collapse too,
    which is harmless because they would produce the same listing.
    """

    family: Family
    delivery_id: str
    topic: str | None = None
    source: str | None = None  # X-WC-Webhook-Source / X-WP-Webhook-Source (site URL) if sent
    # Headers are not signed by WooCommerce, so a replayed body can carry a fresh
    # X-WC-Webhook-Delivery-ID; deduping on this as well closes that gap.
    body_sha256: str = ""


def _lower_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """Case-insensitive view of ``headers``; the first occurrence of a repeated name wins.

    Works for plain dicts (tests, scripts) and Werkzeug ``Headers``/``EnvironHeaders`` alike.
    """
    lowered: dict[str, str] = {}
    for name, value in headers.items():
        if not isinstance(name, str):
            continue
        if isinstance(value, bytes):
            value = value.decode("latin-1")
        if not isinstance(value, str):
            continue
        lowered.setdefault(name.lower(), value)
    return lowered


def _header(lowered: Mapping[str, str], name: str) -> str | None:
    value = lowered.get(name)
    if value is None:
        return None
    value = value.strip()
    return value or None


def _normalise_secrets(secrets: Sequence[str] | str) -> list[str]:
    # A bare string is a Sequence[str] too: iterating it would try every character as a key.
    if isinstance(secrets, str):
        secrets = [secrets]
    return [s.strip() for s in secrets if isinstance(s, str) and s.strip()]


def _b64decode(value: str) -> bytes:
    """Strict standard base64, tolerating missing padding. Raises ``ValueError``."""
    value = value.strip()
    value += "=" * (-len(value) % 4)
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError("not valid base64") from exc


def body_digest(body: bytes) -> str:
    """SHA-256 hex digest of the raw body: the delivery id for senders that don't send one."""
    return hashlib.sha256(bytes(body)).hexdigest()


# --- Standard Webhooks -----------------------------------------------------------------------


def decode_standard_secret(secret: str) -> bytes:
    """The HMAC key for a Standard Webhooks secret.

    ``whsec_<base64>`` decodes to its bytes; anything else is taken as UTF-8 text. Raises
    ``ValueError`` for an empty secret or a ``whsec_`` secret whose payload is not base64.
    """
    secret = secret.strip()
    if not secret:
        raise ValueError("empty secret")
    if secret.startswith(SECRET_PREFIX):
        key = _b64decode(secret[len(SECRET_PREFIX) :])
        if not key:
            raise ValueError("empty secret")
        return key
    return secret.encode("utf-8")


def _verification_keys(secret: str) -> list[bytes]:
    """Every HMAC key a configured Standard Webhooks secret may have been used as."""
    try:
        keys = [decode_standard_secret(secret)]
    except ValueError:
        # A malformed configured secret can never verify anything; the other secrets of a
        # rotation pair must still work, so it is skipped rather than fatal.
        return []
    if not secret.startswith(SECRET_PREFIX):
        try:
            decoded = _b64decode(secret)
        except ValueError:
            decoded = b""
        # Short decodes are coincidences of ordinary passwords, not base64 keys.
        if len(decoded) >= 16:
            keys.append(decoded)
    return keys


def _standard_digest(key: bytes, webhook_id: str, timestamp: int, body: bytes) -> bytes:
    signed = f"{webhook_id}.{timestamp}.".encode() + bytes(body)
    return hmac.new(key, signed, hashlib.sha256).digest()


def sign_standard_webhook(secret: str, webhook_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` header value (``v1,<base64>``) for one secret."""
    digest = _standard_digest(decode_standard_secret(secret), webhook_id, int(timestamp), body)
    return "v1," + base64.b64encode(digest).decode("ascii")


def standard_webhook_headers(
    secret: str, body: bytes, *, webhook_id: str | None = None, timestamp: int | None = None
) -> dict[str, str]:
    """The headers a Standard Webhooks sender adds (used by the signing script, tests, benchmarks)."""
    webhook_id = webhook_id or f"msg_{token_hex(16)}"
    timestamp = int(time.time()) if timestamp is None else timestamp
    return {
        "Content-Type": "application/json",
        "webhook-id": webhook_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign_standard_webhook(secret, webhook_id, timestamp, body),
    }


def generate_secret() -> str:
    """A new Standard Webhooks secret: ``whsec_`` + base64 of 24 random bytes."""
    return SECRET_PREFIX + base64.b64encode(token_bytes(24)).decode("ascii")


def _parse_v1_signatures(header_value: str) -> list[bytes]:
    candidates = []
    for entry in header_value.split():
        version, sep, encoded = entry.partition(",")
        # Other versions (e.g. v1a, asymmetric) are legitimately present alongside v1 entries.
        if not sep or version != "v1":
            continue
        try:
            candidates.append(_b64decode(encoded))
        except ValueError:
            continue
    return candidates


def verify_standard_webhook(
    headers: Mapping[str, str],
    body: bytes,
    secrets: Sequence[str],
    *,
    tolerance: int = DEFAULT_TOLERANCE,
    now: float | None = None,
) -> str:
    """Verify a Standard Webhooks request and return its ``webhook-id``.

    Raises ``MissingSignature`` when a required header is absent or there is no ``v1``
    signature, ``StaleTimestamp`` when the timestamp is more than ``tolerance`` seconds away
    from ``now`` (either direction), and ``InvalidSignature`` otherwise. The timestamp is
    checked first, like the reference implementations: it is cheap and a replay of a captured
    genuine request is reported as what it is.
    """
    h = _lower_headers(headers)
    webhook_id = _header(h, H_WEBHOOK_ID)
    raw_ts = _header(h, H_WEBHOOK_TIMESTAMP)
    sig_header = _header(h, H_WEBHOOK_SIGNATURE)
    if webhook_id is None or raw_ts is None or sig_header is None:
        missing = [
            name
            for name, value in (
                (H_WEBHOOK_ID, webhook_id),
                (H_WEBHOOK_TIMESTAMP, raw_ts),
                (H_WEBHOOK_SIGNATURE, sig_header),
            )
            if value is None
        ]
        raise MissingSignature("missing header(s): " + ", ".join(missing))

    if len(webhook_id) > _MAX_WEBHOOK_ID_LEN:
        raise InvalidSignature(f"webhook-id longer than {_MAX_WEBHOOK_ID_LEN} characters")
    if not _TIMESTAMP_RE.fullmatch(raw_ts):
        raise InvalidSignature("webhook-timestamp must be integer unix seconds")
    timestamp = int(raw_ts)
    current = time.time() if now is None else now
    if current - timestamp > tolerance:
        raise StaleTimestamp(f"webhook-timestamp is more than {tolerance}s in the past")
    if timestamp - current > tolerance:
        raise StaleTimestamp(f"webhook-timestamp is more than {tolerance}s in the future")

    candidates = _parse_v1_signatures(sig_header)
    if not candidates:
        raise MissingSignature("webhook-signature has no v1 signature")

    keys: list[bytes] = []
    for secret in _normalise_secrets(secrets):
        keys.extend(_verification_keys(secret))
    if not keys:
        raise InvalidSignature("no usable signing secret is configured for this site")

    # Every (secret, signature) pair is compared, with no early exit, so response time says
    # nothing about which secret or which entry matched.
    matched = False
    for key in keys:
        expected = _standard_digest(key, webhook_id, timestamp, body)
        for candidate in candidates:
            matched |= hmac.compare_digest(expected, candidate)
    if not matched:
        raise InvalidSignature("no signature matches any configured secret")
    return webhook_id


# --- WooCommerce / WP Webhooks ---------------------------------------------------------------


def sign_body_hmac(secret: str, body: bytes) -> str:
    """base64(HMAC-SHA256(secret as UTF-8, raw body)), as WooCommerce and WP Webhooks send."""
    digest = hmac.new(secret.encode("utf-8"), bytes(body), hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def verify_body_hmac(signature_header_value: str | None, body: bytes, secrets: Sequence[str]) -> None:
    """Verify a WooCommerce / WP Webhooks body signature against any of ``secrets``.

    Secrets are used verbatim (a ``whsec_`` prefix is part of the key; see the module doc).
    Raises ``MissingSignature`` for an absent/blank header, ``InvalidSignature`` otherwise.
    """
    if signature_header_value is None or not signature_header_value.strip():
        raise MissingSignature("missing body signature header")
    try:
        provided = _b64decode(signature_header_value)
    except ValueError:
        raise InvalidSignature("signature header is not base64") from None
    keys = _normalise_secrets(secrets)
    if not keys:
        raise InvalidSignature("no usable signing secret is configured for this site")
    matched = False
    for secret in keys:
        expected = hmac.new(secret.encode("utf-8"), bytes(body), hashlib.sha256).digest()
        matched |= hmac.compare_digest(expected, provided)
    if not matched:
        raise InvalidSignature("signature does not match any configured secret")


def is_woocommerce_ping(headers: Mapping[str, str], body: bytes) -> bool:
    """True for the ping WooCommerce sends when a webhook is created or re-activated.

    The ping is ``webhook_id=<N>`` as a form body, sent without any X-WC-Webhook-* header or
    signature, so it cannot be verified. Handlers should answer it 200 *before* verifying and
    do nothing else: WooCommerce marks a webhook as failing when its ping is refused, and the
    ping carries no data that could change a listing. Matching is exact (the whole body), so a
    body with anything else in it is never treated as a ping.
    """
    h = _lower_headers(headers)
    content_type = (_header(h, "content-type") or "").split(";", 1)[0].strip().lower()
    # WordPress posts a string body without an explicit type; cURL then labels it form data.
    if content_type not in ("", "application/x-www-form-urlencoded"):
        return False
    return _WC_PING_RE.fullmatch(bytes(body).strip()) is not None


# --- WP Webhooks authentication templates ----------------------------------------------------

AUTH_TYPES = ("api_key", "bearer", "basic")


def _expected_auth(template: Mapping[str, str]) -> tuple[str, str | None, str]:
    """(lower-case header name, auth scheme or None, expected credential) for one template."""
    kind = template.get("type")
    if kind == "api_key":
        return str(template["header"]).lower(), None, str(template["key"])
    if kind == "bearer":
        return "authorization", "bearer", str(template["token"])
    if kind == "basic":
        pair = f"{template['username']}:{template['password']}".encode()
        return "authorization", "basic", base64.b64encode(pair).decode("ascii")
    raise ValueError(f"unknown authentication template type {kind!r}")


def verify_auth_templates(headers: Mapping[str, str], templates: Sequence[Mapping[str, str]]) -> None:
    """Accept a request that carries the credential of any of the site's templates.

    Every template is compared, with no early exit, so timing says nothing about which one
    (or which prefix of a credential) matched. The auth scheme is case-insensitive (RFC 9110).
    Raises ``MissingSignature`` when none of the templates' headers is present and
    ``InvalidSignature`` when one is present but nothing matches.
    """
    h = _lower_headers(headers)
    presented = matched = False
    for template in templates:
        name, scheme, expected = _expected_auth(template)
        value = _header(h, name)
        if value is None:
            continue
        if scheme is not None:
            given_scheme, _, value = value.partition(" ")
            if given_scheme.lower() != scheme:
                continue
            value = value.strip()
        presented = True
        matched |= hmac.compare_digest(value.encode("utf-8"), expected.encode("utf-8"))
    if not presented:
        # The configured header name is not echoed: an unauthenticated caller learns nothing.
        raise MissingSignature("no webhook signature or authentication header")
    if not matched:
        raise InvalidSignature("the authentication credential does not match this site's")


# --- Dispatch --------------------------------------------------------------------------------


def detect_family(headers: Mapping[str, str]) -> Family | None:
    """Which sender family the headers belong to, or None.

    Any family-specific header counts (not just the signature), so an unsigned request that
    looks like WooCommerce is routed to WooCommerce verification and fails there as
    ``signature_missing`` instead of being mistaken for another family. Standard Webhooks wins
    when headers of several families are present, because only it binds a timestamp.
    """
    h = _lower_headers(headers)
    if any(name in h for name in (H_WEBHOOK_SIGNATURE, H_WEBHOOK_ID, H_WEBHOOK_TIMESTAMP)):
        return "standard"
    if any(name.startswith("x-wc-webhook-") for name in h):
        return "woocommerce"
    if any(name.startswith("x-wp-webhook-") for name in h):
        return "wp_webhooks"
    return None


def verify_wordpress_request(
    headers: Mapping[str, str],
    body: bytes,
    secrets: Sequence[str],
    *,
    tolerance: int = DEFAULT_TOLERANCE,
    now: float | None = None,
    auth_templates: Sequence[Mapping[str, str]] = (),
) -> VerifiedRequest:
    """Detect the family, verify the signature and return the delivery metadata.

    A request with no Standard Webhooks, WooCommerce or WP Webhooks *signature* is checked
    against ``auth_templates`` (WP Webhooks 3.x API key / Bearer / Basic) when the site has
    any. Raises ``MissingSignature`` when no family's headers are present. A WooCommerce ping
    is unsigned and fails here: check ``is_woocommerce_ping`` first.
    """
    h = _lower_headers(headers)
    family = detect_family(h)
    if auth_templates and family in (None, "wp_webhooks") and _header(h, H_WP_SIGNATURE) is None:
        verify_auth_templates(h, auth_templates)
        digest = body_digest(body)
        return VerifiedRequest(family="wp_webhooks", delivery_id=digest, source=_header(h, H_WP_SOURCE),
                               body_sha256=digest)
    if family is None:
        raise MissingSignature(
            "no webhook signature headers (expected webhook-signature, "
            "X-WC-Webhook-Signature or X-WP-Webhook-Signature)"
        )
    if family == "standard":
        webhook_id = verify_standard_webhook(h, body, secrets, tolerance=tolerance, now=now)
        return VerifiedRequest(family=family, delivery_id=webhook_id, body_sha256=body_digest(body))
    if family == "woocommerce":
        verify_body_hmac(_header(h, H_WC_SIGNATURE), body, secrets)
        digest = body_digest(body)
        delivery_id = _header(h, H_WC_DELIVERY_ID)
        if delivery_id is not None and len(delivery_id) > _MAX_WEBHOOK_ID_LEN:
            delivery_id = None
        return VerifiedRequest(
            family=family,
            delivery_id=delivery_id or digest,
            topic=_header(h, H_WC_TOPIC),
            source=_header(h, H_WC_SOURCE),
            body_sha256=digest,
        )
    verify_body_hmac(_header(h, H_WP_SIGNATURE), body, secrets)
    digest = body_digest(body)
    return VerifiedRequest(family=family, delivery_id=digest, source=_header(h, H_WP_SOURCE), body_sha256=digest)
