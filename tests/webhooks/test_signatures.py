"""Signature verification for the three WordPress sender families."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Callable

import pytest
from werkzeug.datastructures import Headers

from app.webhooks.signatures import (
    InvalidSignature,
    MissingSignature,
    SignatureError,
    StaleTimestamp,
    VerifiedRequest,
    decode_standard_secret,
    detect_family,
    generate_secret,
    is_woocommerce_ping,
    sign_body_hmac,
    sign_standard_webhook,
    verify_body_hmac,
    verify_standard_webhook,
    verify_wordpress_request,
)

# The Standard Webhooks specification's published test vector.
VECTOR_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
VECTOR_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
VECTOR_TS = 1614265330
VECTOR_BODY = b'{"test": 2432232314}'
VECTOR_SIG = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="

NOW = 1_700_000_000
OLD = "whsec_" + base64.b64encode(b"old-secret-old-secret-24b").decode()
NEW = "whsec_" + base64.b64encode(b"new-secret-new-secret-24b").decode()
OTHER = "whsec_" + base64.b64encode(b"someone-elses-secret-123").decode()
BODY = b'{"post_id": 42, "post": {"ID": 42, "post_type": "inventory_vehicle"}}'
WC_SECRET = "wc secret with spaces & symbols"


def std_headers(
    body: bytes = BODY,
    secrets: tuple[str, ...] = (NEW,),
    *,
    webhook_id: str = "msg_1",
    ts: int = NOW,
) -> dict[str, str]:
    signatures = " ".join(sign_standard_webhook(s, webhook_id, ts, body) for s in secrets)
    return {
        "webhook-id": webhook_id,
        "webhook-timestamp": str(ts),
        "webhook-signature": signatures,
    }


def expected_b64_hmac(secret: str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


# --- Standard Webhooks -----------------------------------------------------------------------


def test_sign_reproduces_the_specification_test_vector() -> None:
    assert sign_standard_webhook(VECTOR_SECRET, VECTOR_ID, VECTOR_TS, VECTOR_BODY) == VECTOR_SIG


def test_verify_accepts_the_specification_test_vector() -> None:
    headers = {
        "webhook-id": VECTOR_ID,
        "webhook-timestamp": str(VECTOR_TS),
        "webhook-signature": VECTOR_SIG,
    }
    got = verify_standard_webhook(headers, VECTOR_BODY, [VECTOR_SECRET], now=VECTOR_TS)
    assert got == VECTOR_ID


def _drop(headers: dict[str, str], name: str) -> dict[str, str]:
    return {k: v for k, v in headers.items() if k != name}


def _set(headers: dict[str, str], **values: str) -> dict[str, str]:
    return {**headers, **{k.replace("_", "-"): v for k, v in values.items()}}


GOOD = std_headers()

STANDARD_CASES = [
    # (name, headers, body, secrets, now, expected error or None)
    ("good", GOOD, BODY, [NEW], NOW, None),
    ("good at past edge", GOOD, BODY, [NEW], NOW + 300, None),
    ("good at future edge", GOOD, BODY, [NEW], NOW - 300, None),
    ("stale", GOOD, BODY, [NEW], NOW + 301, StaleTimestamp),
    ("future", GOOD, BODY, [NEW], NOW - 301, StaleTimestamp),
    ("wrong secret", GOOD, BODY, [OTHER], NOW, InvalidSignature),
    ("tampered body", GOOD, BODY + b" ", [NEW], NOW, InvalidSignature),
    ("tampered id", _set(GOOD, webhook_id="msg_2"), BODY, [NEW], NOW, InvalidSignature),
    (
        "tampered timestamp",
        _set(GOOD, webhook_timestamp=str(NOW + 1)),
        BODY,
        [NEW],
        NOW,
        InvalidSignature,
    ),
    ("missing id", _drop(GOOD, "webhook-id"), BODY, [NEW], NOW, MissingSignature),
    ("missing ts", _drop(GOOD, "webhook-timestamp"), BODY, [NEW], NOW, MissingSignature),
    ("missing sig", _drop(GOOD, "webhook-signature"), BODY, [NEW], NOW, MissingSignature),
    ("blank sig", _set(GOOD, webhook_signature="  "), BODY, [NEW], NOW, MissingSignature),
    ("no headers", {}, BODY, [NEW], NOW, MissingSignature),
    (
        "only non-v1 entries",
        _set(GOOD, webhook_signature="v1a,AAAA v2,BBBB"),
        BODY,
        [NEW],
        NOW,
        MissingSignature,
    ),
    (
        "garbage entries next to a good one",
        _set(GOOD, webhook_signature="v1,!!! nonsense v1a,xyz " + GOOD["webhook-signature"]),
        BODY,
        [NEW],
        NOW,
        None,
    ),
    (
        "non-integer timestamp",
        _set(GOOD, webhook_timestamp="1700000000.5"),
        BODY,
        [NEW],
        NOW,
        InvalidSignature,
    ),
    (
        "absurd timestamp",
        _set(GOOD, webhook_timestamp="9" * 5000),
        BODY,
        [NEW],
        NOW,
        InvalidSignature,
    ),
    ("over-long id", _set(GOOD, webhook_id="m" * 257), BODY, [NEW], NOW, InvalidSignature),
    ("no secrets configured", GOOD, BODY, [], NOW, InvalidSignature),
    ("blank secrets only", GOOD, BODY, ["", "  "], NOW, InvalidSignature),
    ("malformed secret skipped", GOOD, BODY, ["whsec_!!!", NEW], NOW, None),
    (
        "rotation: two signatures, new secret only",
        std_headers(secrets=(OLD, NEW)),
        BODY,
        [NEW],
        NOW,
        None,
    ),
    (
        "rotation: two signatures, old secret only",
        std_headers(secrets=(OLD, NEW)),
        BODY,
        [OLD],
        NOW,
        None,
    ),
    (
        "rotation: one signature, two secrets",
        std_headers(secrets=(OLD,)),
        BODY,
        [NEW, OLD],
        NOW,
        None,
    ),
    (
        "rotation: two signatures, two secrets",
        std_headers(secrets=(OLD, NEW)),
        BODY,
        [OLD, NEW],
        NOW,
        None,
    ),
    (
        "rotation: two signatures, neither secret",
        std_headers(secrets=(OLD, NEW)),
        BODY,
        [OTHER],
        NOW,
        InvalidSignature,
    ),
]


@pytest.mark.parametrize(
    ("headers", "body", "secrets", "now", "error"),
    [case[1:] for case in STANDARD_CASES],
    ids=[case[0] for case in STANDARD_CASES],
)
def test_verify_standard_webhook(
    headers: dict[str, str],
    body: bytes,
    secrets: list[str],
    now: int,
    error: type[SignatureError] | None,
) -> None:
    if error is None:
        assert verify_standard_webhook(headers, body, secrets, now=now) == headers["webhook-id"]
    else:
        with pytest.raises(error) as info:
            verify_standard_webhook(headers, body, secrets, now=now)
        assert info.value.message
        assert str(info.value) == info.value.message


@pytest.mark.parametrize(
    "transform",
    [str.title, str.upper, lambda name: name],
    ids=["Title-Case", "UPPER", "lower"],
)
def test_standard_header_lookup_is_case_insensitive(transform: Callable[[str], str]) -> None:
    headers = {transform(k): v for k, v in GOOD.items()}
    assert verify_standard_webhook(headers, BODY, [NEW], now=NOW) == "msg_1"


def test_standard_accepts_werkzeug_headers() -> None:
    headers = Headers([("Webhook-Id", "msg_1"), *[(k.title(), v) for k, v in GOOD.items()][1:]])
    assert verify_standard_webhook(headers, BODY, [NEW], now=NOW) == "msg_1"


def test_standard_tolerance_is_a_parameter() -> None:
    verify_standard_webhook(GOOD, BODY, [NEW], now=NOW + 3000, tolerance=3600)
    with pytest.raises(StaleTimestamp):
        verify_standard_webhook(GOOD, BODY, [NEW], now=NOW + 61, tolerance=60)


def test_standard_defaults_to_the_real_clock() -> None:
    import time

    ts = int(time.time())
    assert verify_standard_webhook(std_headers(ts=ts), BODY, [NEW]) == "msg_1"
    with pytest.raises(StaleTimestamp):
        verify_standard_webhook(std_headers(ts=ts - 3600), BODY, [NEW])


def test_standard_secret_given_as_a_bare_string_is_one_secret() -> None:
    assert verify_standard_webhook(GOOD, BODY, NEW, now=NOW) == "msg_1"  # type: ignore[arg-type]


def test_raw_secret_without_prefix_is_used_as_utf8() -> None:
    raw = "plain shared secret typed by the dealer"
    headers = std_headers(secrets=(raw,))
    expected = hmac.new(raw.encode(), f"msg_1.{NOW}.".encode() + BODY, hashlib.sha256).digest()
    assert headers["webhook-signature"] == "v1," + base64.b64encode(expected).decode()
    assert verify_standard_webhook(headers, BODY, [raw], now=NOW) == "msg_1"
    # The whsec_ form of a different key must not verify it.
    with pytest.raises(InvalidSignature):
        verify_standard_webhook(headers, BODY, [NEW], now=NOW)


def test_prefix_stripped_base64_secret_still_verifies_reference_senders() -> None:
    # Reference libraries treat "whsec_" as optional; a dealer may paste the bare base64 part.
    headers = {
        "webhook-id": VECTOR_ID,
        "webhook-timestamp": str(VECTOR_TS),
        "webhook-signature": VECTOR_SIG,
    }
    bare = VECTOR_SECRET.removeprefix("whsec_")
    assert verify_standard_webhook(headers, VECTOR_BODY, [bare], now=VECTOR_TS) == VECTOR_ID


def test_generate_secret_shape_and_round_trip() -> None:
    secret = generate_secret()
    assert secret.startswith("whsec_")
    assert len(decode_standard_secret(secret)) == 24
    assert generate_secret() != secret
    headers = std_headers(secrets=(secret,))
    assert verify_standard_webhook(headers, BODY, [secret], now=NOW) == "msg_1"


@pytest.mark.parametrize("secret", ["", "   ", "whsec_", "whsec_***not base64***"])
def test_decode_standard_secret_rejects_unusable_secrets(secret: str) -> None:
    with pytest.raises(ValueError):
        decode_standard_secret(secret)


def test_error_codes() -> None:
    assert MissingSignature("x").code == "signature_missing"
    assert InvalidSignature("x").code == "signature_invalid"
    assert StaleTimestamp("x").code == "timestamp_out_of_tolerance"
    assert all(issubclass(c, SignatureError) for c in (MissingSignature, InvalidSignature, StaleTimestamp))


# --- WooCommerce / WP Webhooks body HMAC -----------------------------------------------------


def test_sign_body_hmac_matches_php_base64_encode_hash_hmac_raw() -> None:
    assert sign_body_hmac(WC_SECRET, BODY) == expected_b64_hmac(WC_SECRET, BODY)


BODY_CASES = [
    # (name, header value, body, secrets, expected error or None)
    ("good", sign_body_hmac(WC_SECRET, BODY), BODY, [WC_SECRET], None),
    ("good with whitespace", " " + sign_body_hmac(WC_SECRET, BODY) + "\n", BODY, [WC_SECRET], None),
    ("wrong secret", sign_body_hmac("other", BODY), BODY, [WC_SECRET], InvalidSignature),
    ("tampered body", sign_body_hmac(WC_SECRET, BODY), BODY + b"x", [WC_SECRET], InvalidSignature),
    ("missing", None, BODY, [WC_SECRET], MissingSignature),
    ("blank", "  ", BODY, [WC_SECRET], MissingSignature),
    ("not base64", "not*base64", BODY, [WC_SECRET], InvalidSignature),
    ("hex instead of base64", hmac.new(b"k", BODY, "sha256").hexdigest(), BODY, ["k"], InvalidSignature),
    ("no secrets", sign_body_hmac(WC_SECRET, BODY), BODY, [], InvalidSignature),
    ("rotated: old of two", sign_body_hmac("old", BODY), BODY, ["new", "old"], None),
    ("rotated: new of two", sign_body_hmac("new", BODY), BODY, ["new", "old"], None),
    ("rotated: neither", sign_body_hmac("older", BODY), BODY, ["new", "old"], InvalidSignature),
    # whsec_ secrets are keys verbatim here, never base64-decoded.
    ("whsec secret verbatim", sign_body_hmac(NEW, BODY), BODY, [NEW], None),
    (
        "whsec secret not decoded",
        base64.b64encode(hmac.new(decode_standard_secret(NEW), BODY, hashlib.sha256).digest()).decode(),
        BODY,
        [NEW],
        InvalidSignature,
    ),
    ("empty body", sign_body_hmac(WC_SECRET, b""), b"", [WC_SECRET], None),
]


@pytest.mark.parametrize(
    ("header", "body", "secrets", "error"),
    [case[1:] for case in BODY_CASES],
    ids=[case[0] for case in BODY_CASES],
)
def test_verify_body_hmac(
    header: str | None, body: bytes, secrets: list[str], error: type[SignatureError] | None
) -> None:
    if error is None:
        verify_body_hmac(header, body, secrets)
    else:
        with pytest.raises(error):
            verify_body_hmac(header, body, secrets)


PING_CASES = [
    ({"Content-Type": "application/x-www-form-urlencoded"}, b"webhook_id=12", True),
    ({"content-type": "application/x-www-form-urlencoded; charset=UTF-8"}, b"webhook_id=7", True),
    ({}, b"webhook_id=12", True),
    ({"User-Agent": "WooCommerce/8.9.1 Hookshot (WordPress/6.5.3)"}, b"webhook_id=3\r\n", True),
    ({"Content-Type": "application/json"}, b"webhook_id=12", False),
    ({"Content-Type": "application/x-www-form-urlencoded"}, b"webhook_id=12&post_id=3", False),
    ({"Content-Type": "application/x-www-form-urlencoded"}, b"webhook_id=abc", False),
    ({"Content-Type": "application/x-www-form-urlencoded"}, b"webhook_id=", False),
    ({"Content-Type": "application/json"}, b'{"webhook_id": 12}', False),
    ({}, b"", False),
    ({}, b"webhook_id=" + b"1" * 50, False),
]


@pytest.mark.parametrize(("headers", "body", "expected"), PING_CASES)
def test_is_woocommerce_ping(headers: dict[str, str], body: bytes, expected: bool) -> None:
    assert is_woocommerce_ping(headers, body) is expected


def test_woocommerce_ping_is_not_verifiable() -> None:
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    assert is_woocommerce_ping(headers, b"webhook_id=12")
    with pytest.raises(MissingSignature):
        verify_wordpress_request(headers, b"webhook_id=12", [WC_SECRET])


# --- Family detection and the combined entry point -------------------------------------------


FAMILY_CASES = [
    ({"webhook-signature": "v1,x"}, "standard"),
    ({"Webhook-Id": "msg"}, "standard"),
    ({"X-WC-Webhook-Signature": "abc"}, "woocommerce"),
    ({"x-wc-webhook-topic": "product.updated"}, "woocommerce"),
    ({"X-WP-Webhook-Signature": "abc"}, "wp_webhooks"),
    ({"x-wp-webhook-source": "https://dealer.example/"}, "wp_webhooks"),
    ({"X-WC-Webhook-Signature": "a", "webhook-signature": "v1,x"}, "standard"),
    ({"Content-Type": "application/json"}, None),
    ({}, None),
]


@pytest.mark.parametrize(("headers", "expected"), FAMILY_CASES)
def test_detect_family(headers: dict[str, str], expected: str | None) -> None:
    assert detect_family(headers) == expected


HeaderFactory = Callable[[bytes], dict[str, str]]


def wc_headers(body: bytes, secret: str = WC_SECRET, **extra: str) -> dict[str, str]:
    return {
        "X-WC-Webhook-Signature": sign_body_hmac(secret, body),
        "X-WC-Webhook-Topic": "product.updated",
        "X-WC-Webhook-Source": "https://dealer.example/",
        "X-WC-Webhook-ID": "5",
        **extra,
    }


def wp_headers(body: bytes, secret: str = WC_SECRET) -> dict[str, str]:
    return {
        "X-WP-Webhook-Signature": sign_body_hmac(secret, body),
        "X-WP-Webhook-Source": "https://dealer.example/",
    }


def test_verify_wordpress_request_standard() -> None:
    got = verify_wordpress_request(GOOD, BODY, [NEW], now=NOW)
    assert got == VerifiedRequest(family="standard", delivery_id="msg_1", body_sha256=hashlib.sha256(BODY).hexdigest())


def test_verify_wordpress_request_standard_stale_and_future() -> None:
    with pytest.raises(StaleTimestamp):
        verify_wordpress_request(GOOD, BODY, [NEW], now=NOW + 301)
    with pytest.raises(StaleTimestamp):
        verify_wordpress_request(GOOD, BODY, [NEW], now=NOW - 301)
    verify_wordpress_request(GOOD, BODY, [NEW], now=NOW + 500, tolerance=600)


def test_verify_wordpress_request_woocommerce_with_delivery_id() -> None:
    headers = wc_headers(BODY, **{"X-WC-Webhook-Delivery-ID": "d41d8cd98f00b204"})
    got = verify_wordpress_request(headers, BODY, ["old", WC_SECRET])
    assert got.family == "woocommerce"
    assert got.delivery_id == "d41d8cd98f00b204"
    assert got.topic == "product.updated"
    assert got.source == "https://dealer.example/"
    assert got.body_sha256 == hashlib.sha256(BODY).hexdigest()


def test_verify_wordpress_request_woocommerce_without_delivery_id_uses_body_digest() -> None:
    got = verify_wordpress_request(wc_headers(BODY), BODY, [WC_SECRET])
    assert got.delivery_id == hashlib.sha256(BODY).hexdigest()


def test_verify_wordpress_request_wp_webhooks() -> None:
    got = verify_wordpress_request(wp_headers(BODY), BODY, [WC_SECRET])
    assert got == VerifiedRequest(
        family="wp_webhooks",
        delivery_id=hashlib.sha256(BODY).hexdigest(),
        topic=None,
        source="https://dealer.example/",
        body_sha256=hashlib.sha256(BODY).hexdigest(),
    )


@pytest.mark.parametrize("make_headers", [wc_headers, wp_headers], ids=["woocommerce", "wp"])
def test_body_hmac_families_have_no_timestamp(make_headers: HeaderFactory) -> None:
    # Nothing time-bound is signed, so "stale" and "future" cannot be detected here; replays
    # are absorbed by delivery-id dedupe instead.
    for now in (0.0, NOW - 10**6, NOW + 10**6):
        verify_wordpress_request(make_headers(BODY), BODY, [WC_SECRET], now=now)


@pytest.mark.parametrize("make_headers", [wc_headers, wp_headers], ids=["woocommerce", "wp"])
@pytest.mark.parametrize(
    ("body", "secrets", "error"),
    [
        (BODY + b"tampered", [WC_SECRET], InvalidSignature),
        (BODY, ["wrong"], InvalidSignature),
        (BODY, [], InvalidSignature),
    ],
    ids=["tampered", "wrong-secret", "no-secret"],
)
def test_body_hmac_families_reject(
    make_headers: HeaderFactory,
    body: bytes,
    secrets: list[str],
    error: type[SignatureError],
) -> None:
    with pytest.raises(error):
        verify_wordpress_request(make_headers(BODY), body, secrets)


@pytest.mark.parametrize(
    ("headers", "family"),
    [
        ({"X-WC-Webhook-Topic": "product.updated"}, "woocommerce"),
        ({"X-WP-Webhook-Source": "https://dealer.example/"}, "wp_webhooks"),
        ({"Webhook-Id": "msg_1", "Webhook-Timestamp": str(NOW)}, "standard"),
    ],
)
def test_family_headers_without_signature_are_missing(headers: dict[str, str], family: str) -> None:
    assert detect_family(headers) == family
    with pytest.raises(MissingSignature):
        verify_wordpress_request(headers, BODY, [WC_SECRET, NEW], now=NOW)


@pytest.mark.parametrize("transform", [str.lower, str.upper, str.title], ids=["lower", "UPPER", "Title"])
def test_combined_entry_point_is_case_insensitive(transform: Callable[[str], str]) -> None:
    for headers, secrets in (
        (GOOD, [NEW]),
        (wc_headers(BODY), [WC_SECRET]),
        (wp_headers(BODY), [WC_SECRET]),
    ):
        cased = {transform(k): v for k, v in headers.items()}
        verify_wordpress_request(cased, BODY, secrets, now=NOW)
