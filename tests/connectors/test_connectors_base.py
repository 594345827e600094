from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
import requests
from requests.adapters import BaseAdapter

from app.connectors import available, get_connector_class
from app.connectors.base import (
    Call,
    Conflict,
    Connector,
    ConnectorError,
    FixInput,
    MemoryCache,
    NotFound,
    Reauthenticate,
    RedisCache,
    RetryAt,
    RetryLater,
    SimpleTransport,
    SyncOutcome,
    diff_payload,
    fingerprint,
    register,
)
from app.connectors.carzle import CarzleConnector

# ----------------------------------------------------------------------------- fingerprint


def test_fingerprint_ignores_key_order_and_sees_every_change() -> None:
    a = {"price": 1, "make": "BMW", "imageUrls": [{"url": "u1", "isHero": True}]}
    b = {"imageUrls": [{"isHero": True, "url": "u1"}], "make": "BMW", "price": 1}
    assert fingerprint(a) == fingerprint(b)
    assert len(fingerprint(a)) == 64
    assert fingerprint(a) != fingerprint({**a, "price": 2})
    assert fingerprint({"x": [1, 2]}) != fingerprint({"x": [2, 1]})  # order of images matters


# ----------------------------------------------------------------------------- diff

IMAGES = [{"url": "https://a/1.jpg", "isHero": True}, {"url": "https://a/2.jpg"}]


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ({"price": 1, "make": "BMW"}, {"price": 1, "make": "BMW"}, {}),
        ({"price": 1, "make": "BMW"}, {"price": 2, "make": "BMW"}, {"price": 2}),
        ({"price": 1}, {"price": 1, "trim": "M Sport"}, {"trim": "M Sport"}),
        # Absent now: omitted, never nulled (the remote may hold an enriched value) ...
        ({"price": 1, "trim": "M Sport"}, {"price": 1}, {}),
        # ... except contactId, where null is how Carzle clears an assignment.
        ({"contactId": "c-1", "price": 1}, {"price": 1}, {"contactId": None}),
        ({"contactId": "c-1"}, {"contactId": "c-2"}, {"contactId": "c-2"}),
        # Lists are compared and sent whole.
        ({"imageUrls": IMAGES}, {"imageUrls": IMAGES[:1]}, {"imageUrls": IMAGES[:1]}),
        ({"imageUrls": IMAGES}, {"imageUrls": list(reversed(IMAGES))},
         {"imageUrls": list(reversed(IMAGES))}),
        ({"features": [{"name": "ABS", "category": "safety"}]},
         {"features": [{"category": "safety", "name": "ABS"}]}, {}),
        # Type changes count even when Python calls them equal.
        ({"flag": 1}, {"flag": True}, {"flag": True}),
    ],
)
def test_diff_payload(old: dict[str, Any], new: dict[str, Any], expected: dict[str, Any]) -> None:
    assert diff_payload(old, new) == expected


def test_diff_payload_clear_with_null_is_configurable() -> None:
    assert diff_payload({"a": 1, "b": 2}, {}, clear_with_null=("b",)) == {"b": None}


# ----------------------------------------------------------------------------- classify


class Dummy(Connector):
    slug = "dummy-test"
    display_name = "Dummy"


@pytest.fixture
def dummy() -> Dummy:
    return Dummy(base_url="https://x.test", credentials={}, options={},
                 transport=SimpleTransport(), cache=MemoryCache())


def envelope(code: str = "x", message: str = "msg", fields: dict[str, str] | None = None,
             **extra: Any) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "fields": fields or {},
                      "requestId": "req_body", **extra}}


@pytest.mark.parametrize(
    ("status", "exc_type"),
    [
        (400, FixInput),
        (401, Reauthenticate),
        (403, Reauthenticate),
        (404, NotFound),
        (405, ConnectorError),
        (408, RetryLater),
        (409, Conflict),
        (413, ConnectorError),
        (422, FixInput),
        (429, RetryAt),
        (500, RetryLater),
        (502, RetryLater),
        (503, RetryLater),
        (504, RetryLater),
    ],
)
def test_classify_maps_status_to_what_the_caller_must_do(
    dummy: Dummy, response_factory: Callable[..., requests.Response], status: int,
    exc_type: type[ConnectorError],
) -> None:
    response = response_factory(status, envelope(fields={"price": "too high"}),
                                {"X-Request-Id": "req_header"})
    with pytest.raises(ConnectorError) as info:
        dummy.classify(response)
    assert type(info.value) is exc_type
    assert info.value.status == status
    assert info.value.request_id == "req_header"
    assert "msg" in info.value.message


def test_classify_2xx_is_silent(dummy: Dummy, response_factory: Callable[..., Any]) -> None:
    assert dummy.classify(response_factory(200, {})) is None
    assert dummy.classify(response_factory(204)) is None


def test_fix_input_carries_field_errors_and_request_id_from_body(
    dummy: Dummy, response_factory: Callable[..., requests.Response]
) -> None:
    fields = {"price": "must be less than 50000000", "imageUrls.0": "Source download failed"}
    with pytest.raises(FixInput) as info:
        dummy.classify(response_factory(422, envelope("validation_failed", fields=fields)))
    assert info.value.fields == fields
    assert info.value.request_id == "req_body"
    assert info.value.code == "validation_failed"
    assert info.value.to_dict()["fields"] == fields


def test_conflict_keeps_error_details(dummy: Dummy, response_factory: Callable[..., Any]) -> None:
    with pytest.raises(Conflict) as info:
        dummy.classify(response_factory(409, envelope("conflict", existingId="abc")))
    assert info.value.details["existingId"] == "abc"


def test_classify_tolerates_non_json_errors(dummy: Dummy) -> None:
    response = requests.Response()
    response.status_code = 502
    response._content = b"<html>Bad gateway</html>"
    with pytest.raises(RetryLater) as info:
        dummy.classify(response)
    assert "HTTP 502" in info.value.message


@pytest.mark.parametrize(
    ("headers", "expected_offset"),
    [
        ({"X-RateLimit-Reset": "{epoch}"}, 42.0),  # epoch seconds
        ({"X-RateLimit-Reset": "{epoch_ms}"}, 42.0),  # epoch milliseconds
        ({"X-RateLimit-Reset": "17"}, 17.0),  # seconds from now
        ({"X-RateLimit-Reset": "0"}, 0.0),
        ({"Retry-After": "9"}, 9.0),
        ({"X-RateLimit-Reset": "soon", "Retry-After": "5"}, 5.0),
        ({}, 60.0),  # a full rate window
    ],
)
def test_retry_at_reads_reset_as_epoch_or_delta(
    dummy: Dummy, response_factory: Callable[..., requests.Response],
    headers: dict[str, str], expected_offset: float,
) -> None:
    now = time.time()
    rendered = {
        k: v.format(epoch=int(now + 42), epoch_ms=int((now + 42) * 1000)) for k, v in headers.items()
    }
    with pytest.raises(RetryAt) as info:
        dummy.classify(response_factory(429, envelope("rate_limited"), rendered))
    assert info.value.at == pytest.approx(now + expected_offset, abs=1.5)
    assert info.value.to_dict()["at"] == info.value.at


def test_retry_later_uses_retry_after_as_delay(
    dummy: Dummy, response_factory: Callable[..., requests.Response]
) -> None:
    with pytest.raises(RetryLater) as info:
        dummy.classify(response_factory(503, envelope(), {"Retry-After": "30"}))
    assert info.value.delay == 30.0
    with pytest.raises(RetryLater) as info:
        dummy.classify(response_factory(500, envelope()))
    assert info.value.delay is None  # the engine's backoff decides


# ----------------------------------------------------------------------------- transport


class RaisingAdapter(BaseAdapter):
    def __init__(self, exc: Exception) -> None:
        super().__init__()
        self.exc = exc
        self.kwargs: dict[str, Any] = {}

    def send(self, request: Any, **kwargs: Any) -> Any:
        self.kwargs = kwargs
        raise self.exc

    def close(self) -> None:
        pass


@pytest.mark.parametrize(
    "exc",
    [requests.ConnectTimeout("slow"), requests.ReadTimeout("slow"), requests.ConnectionError("no")],
)
def test_simple_transport_turns_network_failures_into_retry_later(exc: Exception) -> None:
    session = requests.Session()
    adapter = RaisingAdapter(exc)
    session.mount("https://", adapter)
    with pytest.raises(RetryLater):
        SimpleTransport(session).request("read", "GET", "https://x.test/me")
    assert adapter.kwargs["timeout"] == (3.05, 10)


def test_request_records_calls_even_when_the_transport_fails(dummy: Dummy) -> None:
    session = requests.Session()
    session.mount("https://", RaisingAdapter(requests.ReadTimeout("slow")))
    dummy.transport = SimpleTransport(session)
    with pytest.raises(RetryLater) as info, dummy.operation():
        dummy.request("read", "GET", "/me")
    assert [(c.method, c.path, c.status) for c in info.value.calls] == [("GET", "/me", None)]


# ----------------------------------------------------------------------------- cache, registry


def test_over_budget_refusal_by_the_transport_is_not_a_call(dummy: Dummy) -> None:
    class OverBudget:
        def request(self, kind: str, method: str, url: str, **kwargs: Any) -> requests.Response:
            raise RetryAt("budget spent", at=123.0)

    dummy.transport = OverBudget()
    with pytest.raises(RetryAt) as info, dummy.operation():
        dummy.request("write", "POST", "/listings", json_body={})
    assert info.value.calls == [] and info.value.at == 123.0


def test_redis_cache_round_trip_with_ttl(connector_redis: Any) -> None:
    cache = RedisCache(connector_redis, prefix="t:")
    assert cache.get_json("k") is None
    cache.set_json("k", {"a": [1, "é"]}, ttl=30)
    assert cache.get_json("k") == {"a": [1, "é"]}
    assert 0 < connector_redis.ttl("t:k") <= 30
    connector_redis.set("t:bad", b"not json")
    assert cache.get_json("bad") is None


def test_redis_cache_degrades_to_a_miss_when_redis_is_down() -> None:
    import redis

    class Down:
        def get(self, *args: Any, **kwargs: Any) -> Any:
            raise redis.ConnectionError("Connection refused")

        set = get

    cache = RedisCache(Down())
    cache.set_json("k", 1, ttl=5)  # no exception
    assert cache.get_json("k") is None


def test_memory_cache_expires() -> None:
    clock = [100.0]
    cache = MemoryCache(clock=lambda: clock[0])
    cache.set_json("k", {"a": [1]}, ttl=10)
    assert cache.get_json("k") == {"a": [1]}
    clock[0] = 111.0
    assert cache.get_json("k") is None


def test_registry() -> None:
    assert "carzle" in available()
    assert get_connector_class("carzle") is CarzleConnector
    with pytest.raises(KeyError):
        get_connector_class("nope")
    register(CarzleConnector)  # re-registering the same class (module reload) is fine

    class Impostor(Connector):
        slug = "carzle"

    with pytest.raises(ValueError):
        register(Impostor)


def test_missing_credentials_ask_for_reauthentication() -> None:
    with pytest.raises(Reauthenticate) as info:
        CarzleConnector(base_url="https://x.test", credentials={}, options={},
                        transport=SimpleTransport(), cache=MemoryCache())
    assert info.value.fields == {"api_key": "required"}


def test_sync_outcome_serialises_calls() -> None:
    outcome = SyncOutcome("create", calls=[Call("POST", "/listings", 201, 12, "req_1", "create")])
    assert outcome.to_dict()["calls"] == [["POST", "/listings", 201, 12, "req_1", "create"]]
    assert outcome.remote_state() is not None
    assert SyncOutcome("delete").remote_state() is None


def test_connectors_never_import_flask_or_the_layers_above_nor_probe() -> None:
    import ast
    from pathlib import Path

    import app.connectors as package

    forbidden = ("flask", "werkzeug", "workers", "app.sync", "app.webhooks", "app.api")
    paths = list(Path(package.__file__).parent.rglob("*.py"))
    assert any(p.parent.name == "carzle" for p in paths)  # the walk reaches subpackages
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text())):
            names = (
                [a.name for a in node.names] if isinstance(node, ast.Import)
                else [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            )
            assert not any(n == f or n.startswith(f + ".") for n in names for f in forbidden), path
            probing = isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and (
                node.func.id in ("getattr", "hasattr")
            )
            assert not probing, f"getattr probing in {path}"


@pytest.mark.parametrize(
    ("min_images", "https_only", "urls", "ok"),
    [
        (0, False, [], True),
        (4, True, [f"https://x.example/{n}.jpg" for n in range(4)], True),
        (4, True, [f"https://x.example/{n}.jpg" for n in range(3)] + ["http://x.example/4.jpg"], False),
        (4, False, [f"http://x.example/{n}.jpg" for n in range(4)], True),
        (1, False, [], False),
    ],
)
def test_marketplace_photo_rules_are_checked_before_sending(min_images, https_only, urls, ok):
    from app.connectors.base import Connector, FixInput, MemoryCache, SimpleTransport
    from app.listings.vehicle import Image, Vehicle

    class Strict(Connector):
        slug = "strict-test"

    Strict.min_images, Strict.https_images_only = min_images, https_only
    connector = Strict(base_url="https://m.example", credentials={}, transport=SimpleTransport(), cache=MemoryCache())
    vehicle = Vehicle(source="wordpress", car_ref="1", images=[Image(url=u) for u in urls])
    if ok:
        connector.check_images(vehicle)
    else:
        with pytest.raises(FixInput) as caught:
            connector.check_images(vehicle)
        assert "images" in caught.value.fields
