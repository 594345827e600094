"""WP Webhooks 3.x authentication templates (API key header, Bearer, Basic) as verified per site."""

from __future__ import annotations

import base64

import pytest

from app.webhooks.signatures import (
    InvalidSignature,
    MissingSignature,
    verify_auth_templates,
    verify_wordpress_request,
)

API_KEY = {"type": "api_key", "header": "X-Api-Key", "key": "k-123456"}
BEARER = {"type": "bearer", "token": "t-abcdef"}
BASIC = {"type": "basic", "username": "forecourt", "password": "p:ss word"}
BODY = b'{"post_id": 101}'


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


@pytest.mark.parametrize(
    ("templates", "headers", "error"),
    [
        ([API_KEY], {"X-Api-Key": "k-123456"}, None),
        ([API_KEY], {"x-api-key": "k-123456"}, None),  # header names are case-insensitive
        ([API_KEY], {"X-Api-Key": "k-12345"}, InvalidSignature),
        ([API_KEY], {"X-Other": "k-123456"}, MissingSignature),
        ([BEARER], {"Authorization": "Bearer t-abcdef"}, None),
        ([BEARER], {"Authorization": "bearer t-abcdef"}, None),  # the scheme is case-insensitive
        ([BEARER], {"Authorization": "Bearer t-abcdeX"}, InvalidSignature),
        ([BEARER], {"Authorization": "Basic t-abcdef"}, MissingSignature),
        ([BEARER], {}, MissingSignature),
        ([BASIC], {"Authorization": basic("forecourt", "p:ss word")}, None),
        ([BASIC], {"Authorization": basic("forecourt", "wrong")}, InvalidSignature),
        ([BASIC], {"Authorization": "Bearer p:ss word"}, MissingSignature),
        # Several templates (rotation, or two WP Webhooks triggers set up differently): any one.
        ([BEARER, API_KEY], {"X-Api-Key": "k-123456"}, None),
        ([BEARER, API_KEY], {"X-Api-Key": "nope", "Authorization": "Bearer t-abcdef"}, None),
        ([BEARER, API_KEY], {"X-Api-Key": "nope"}, InvalidSignature),
    ],
)
def test_verify_auth_templates(templates, headers, error) -> None:
    if error is None:
        verify_auth_templates(headers, templates)
    else:
        with pytest.raises(error):
            verify_auth_templates(headers, templates)


def test_authenticated_request_is_a_wp_webhooks_delivery_keyed_by_body_digest() -> None:
    verified = verify_wordpress_request({"Authorization": "Bearer t-abcdef"}, BODY, ["whsec_eA=="],
                                        auth_templates=[BEARER])
    assert verified.family == "wp_webhooks"
    assert verified.delivery_id == verified.body_sha256  # replays are only caught by this digest


def test_a_signed_request_is_still_verified_by_its_signature() -> None:
    # A site with templates keeps accepting the companion plugin's Standard Webhooks.
    with pytest.raises(MissingSignature):
        verify_wordpress_request({"webhook-id": "msg_1"}, BODY, ["whsec_eA=="], auth_templates=[BEARER])


def test_without_templates_a_bare_bearer_is_refused() -> None:
    with pytest.raises(MissingSignature):
        verify_wordpress_request({"Authorization": "Bearer t-abcdef"}, BODY, ["whsec_eA=="])
