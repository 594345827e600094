"""Every body a sender can post gets a clear answer: 4xx with the error envelope, never a 5xx,
and nothing that cannot be encoded is queued for a job."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.sync.debounce import DUE, events_key
from app.webhooks.body import MAX_DEPTH, parse_json
from tests.conftest import DMS_KEY
from tests.support.wordpress import encode, inventory_presser_post, standard_headers

WP = "/hooks/wordpress/demo"
DMS = "/hooks/dms/demo"
POST = json.dumps(inventory_presser_post(101))

MALFORMED = [
    ("deep arrays", b"[" * 1000 + b"]" * 1000, "too_deep"),
    ("deep objects in 2 KB", (b'{"a":' * 400) + b"1" + b"}" * 400, "too_deep"),
    ("deep, unterminated", b"[" * 100_000, "too_deep"),
    ("UTF-16 with BOM", POST.encode("utf-16"), "unsupported_encoding"),
    ("UTF-16-LE without BOM", POST.encode("utf-16-le"), "unsupported_encoding"),
    ("UTF-16-BE without BOM", POST.encode("utf-16-be"), "unsupported_encoding"),
    ("UTF-32 with BOM", POST.encode("utf-32"), "unsupported_encoding"),
    ("UTF-32-LE without BOM", POST.encode("utf-32-le"), "unsupported_encoding"),
    ("UTF-8 with BOM", POST.encode("utf-8-sig"), "unsupported_encoding"),
    ("UTF-8-encoded surrogate", POST.replace('"ID"', '"I\ud800D"').encode("utf-8", "surrogatepass"),
     "unsupported_encoding"),
    ("Latin-1", '{"post_id": 5, "t": "Caméra"}'.encode("latin-1"), "unsupported_encoding"),
    ("lone high surrogate escape", b'{"post_id": 5, "post": {"post_title": "Cam\\ud800ry"}}', "invalid_text"),
    ("lone low surrogate escape", b'{"post_id": 5, "t": ["\\udc00"]}', "invalid_text"),
    ("surrogate escape in a key", b'{"\\ud800": 1, "post_id": 5}', "invalid_text"),
    ("NaN", b'{"post_id": NaN}', "invalid_json"),
    ("truncated", POST[:-3].encode(), "invalid_json"),
    ("empty", b"", "invalid_json"),
]


@pytest.mark.parametrize(("name", "body", "code"), MALFORMED, ids=[m[0] for m in MALFORMED])
def test_malformed_wordpress_bodies_are_400_and_nothing_is_queued(client, site, redis_client, name, body, code):
    response = client.post(WP, data=body, headers=standard_headers(body))
    assert response.status_code == 400, (name, response.get_data()[:200])
    error = response.get_json()["error"]
    assert error["code"] == code and error["message"] and error["requestId"]
    assert redis_client.zcard(DUE) == 0


@pytest.mark.parametrize(("name", "body", "code"), MALFORMED, ids=[m[0] for m in MALFORMED])
def test_malformed_dms_bodies_are_400(client, site, redis_client, name, body, code):
    response = client.post(DMS, data=body, headers={"X-Dealer-Api-Key": DMS_KEY})
    assert response.status_code == 400, (name, response.get_data()[:200])
    assert response.get_json()["error"]["code"] == code
    assert redis_client.zcard(DUE) == 0


def test_a_paired_surrogate_escape_is_an_emoji_and_accepted(client, site, redis_client):
    body = POST.replace("GR Sport", "GR Sport \\ud83d\\ude97").encode()
    response = client.post(WP, data=body, headers=standard_headers(body))
    assert response.status_code == 202, response.get_json()
    [doc] = [json.loads(x) for x in redis_client.lrange(events_key("demo", "101"), 0, -1)]
    assert doc["post"]["title"].endswith("\U0001f697")


def test_nesting_at_the_limit_parses():
    data, _ = parse_json(b"[" * MAX_DEPTH + b"]" * MAX_DEPTH)
    assert isinstance(data, list)


def test_brackets_inside_strings_do_not_count_as_nesting():
    data, _ = parse_json(json.dumps({"t": "[" * 500 + '\\"{' * 100}).encode())
    assert data["t"].startswith("[[[")


# Any JSON value (bounded), any text (surrogates included), and raw bytes.
_text = st.text(st.characters(codec=None), max_size=20)
_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | _text,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(_text, children, max_size=4),
    max_leaves=30,
)


def _post_with(title: object, extra: object) -> dict:
    post = inventory_presser_post(101)
    post["post"]["post_title"] = title
    post["extra"] = extra
    return post


def _encode_any(payload: object) -> bytes:
    return json.dumps(payload).encode()  # ensure_ascii: lone surrogates become \udXXX escapes


def _assert_clear_answer(response, redis_client) -> None:
    assert response.status_code < 500, response.get_data()[:300]
    if response.status_code >= 400:
        error = response.get_json()["error"]
        assert error["code"] and error["message"]
    for raw in redis_client.lrange(events_key("demo", "101"), 0, -1):
        doc = json.loads(raw)
        json.dumps(doc, ensure_ascii=False).encode("utf-8")  # a job can always encode what it gets


HYPOTHESIS = settings(max_examples=150, deadline=None,
                      suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@HYPOTHESIS
@given(title=_json, extra=_json)
def test_any_signed_wordpress_post_gets_a_clear_answer(client, site, redis_client, title, extra):
    body = _encode_any(_post_with(title, extra))
    _assert_clear_answer(client.post(WP, data=body, headers=standard_headers(body)), redis_client)


@HYPOTHESIS
@given(body=st.binary(max_size=300) | _json.map(_encode_any))
def test_any_signed_bytes_get_a_clear_answer(client, site, redis_client, body):
    _assert_clear_answer(client.post(WP, data=body, headers=standard_headers(body)), redis_client)
    _assert_clear_answer(client.post(DMS, data=body, headers={"X-Dealer-Api-Key": DMS_KEY}), redis_client)


@HYPOTHESIS
@given(vehicle=st.dictionaries(st.sampled_from(["vin", "make", "model", "year", "price", "mileage", "images",
                                                 "title", "description"]), _json, max_size=9))
def test_any_dms_vehicle_gets_a_clear_answer(client, site, redis_client, vehicle):
    body = _encode_any({"vehicles": [vehicle]})
    _assert_clear_answer(client.post(DMS, data=body, headers={"X-Dealer-Api-Key": DMS_KEY}), redis_client)


def test_encode_helper_matches_the_endpoint_tests():
    assert _encode_any({"a": 1}) == encode({"a": 1})
