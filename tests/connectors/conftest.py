"""Fixtures for connector tests.

Unit tests use ``FakeTransport`` (scripted ``requests.Response`` objects, no network).
Integration tests run the Carzle sandbox over real HTTP on an ephemeral loopback port and use
``RedisCache`` on the suite's private real Redis (``redis_client`` from the top-level conftest).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
from requests.structures import CaseInsensitiveDict

from app.connectors.base import MemoryCache
from app.connectors.carzle import CarzleConnector
from app.listings.vehicle import Image, Vehicle

# ----------------------------------------------------------------------------- unit fakes

# Shaped like Carzle's GET /metadata (and the sandbox's), trimmed to what the tests need.
METADATA: dict[str, Any] = {
    "version": "test",
    "enums": {
        "status": ["active", "inactive", "sold", "coming_soon", "reserved", "draft"],
        "transmission": ["automatic", "manual"],
        "fuelType": ["petrol", "diesel", "hybrid", "plug_in_hybrid", "electric"],
        "bodyType": ["sedan", "suv", "hatchback", "coupe", "convertible", "pickup", "van",
                     "wagon", "crossover", "minivan"],
        "regionalSpecs": ["GCC", "American", "European", "Japanese"],  # the docs' spelling
        "featureCategory": ["safety", "entertainment", "comfort", "exterior"],
    },
    "makes": [
        {"name": "Toyota", "models": ["Land Cruiser", "Camry"]},
        {"name": "BMW", "models": ["3 Series", "X5"]},
        {"name": "Mercedes-Benz", "models": ["C-Class", "G-Class"]},
        {"name": "Ford", "models": ["F-150"]},
    ],
    "features": [
        {"name": "Head-up display", "category": "entertainment"},
    ],
    "fields": {
        "externalRef": {"type": "string", "maxLength": 255},
        "status": {"type": "string"},
        "make": {"type": "string", "required": True, "maxLength": 100},
        "model": {"type": "string", "required": True, "maxLength": 100},
        "year": {"type": "integer", "required": True, "minimum": 1900, "maximum": 2100},
        "trim": {"type": "string", "maxLength": 100},
        "title": {"type": "string", "required": True, "maxLength": 200},
        "description": {"type": "string", "maxLength": 20000},
        "price": {"type": "number", "required": True, "exclusiveMinimum": 0,
                  "exclusiveMaximum": 50000000},
        "kilometers": {"type": "integer", "required": True, "minimum": 0, "maximum": 2000000},
        "chassisNumber": {"type": "string", "maxLength": 50},
        "transmission": {"type": "string"},
        "fuelType": {"type": "string"},
        "bodyType": {"type": "string"},
        "regionalSpecs": {"type": "string"},
        "exteriorColor": {"type": "string", "maxLength": 50},
        "interiorColor": {"type": "string", "maxLength": 50},
        "doors": {"type": "integer", "minimum": 1, "maximum": 10},
        "seating": {"type": "integer", "minimum": 1, "maximum": 60},
        "horsepower": {"type": "string", "maxLength": 50},
        "engineCapacity": {"type": "string", "maxLength": 50},
        "features": {"type": "array"},
        "imageUrls": {"type": "array"},
        "contactId": {"type": "uuid", "nullable": True},
    },
    "limits": {"imageUrlsMax": 50, "featuresMax": 100, "externalRefMaxLength": 255},
}

CONTACTS: dict[str, Any] = {
    "data": [
        {"id": "c-1", "name": "Aisha Khan", "email": "aisha@dealer.ae"},
        {"id": "c-2", "name": "Omar Ali", "email": "omar@dealer.ae"},
    ]
}


def make_response(
    status: int = 200,
    body: Any = None,
    headers: dict[str, str] | None = None,
    url: str = "https://carzle.test/api/v1/x",
) -> requests.Response:
    response = requests.Response()
    response.status_code = status
    response._content = b"" if body is None else json.dumps(body).encode()
    response.headers = CaseInsensitiveDict(
        {"Content-Type": "application/json", **(headers or {})}
    )
    response.url = url
    return response


class FakeTransport:
    """Answers from a script of ``(method, path) -> response`` entries, in order.

    ``GET /metadata`` and ``GET /contacts`` answer with the fixtures above unless scripted.
    Every request is recorded in ``sent`` as (kind, method, path, json, params).
    """

    def __init__(self, base_url: str = "https://carzle.test/api/v1") -> None:
        self.base_url = base_url
        self.script: list[tuple[str, str, Any]] = []
        self.sent: list[dict[str, Any]] = []
        self.defaults: dict[tuple[str, str], Any] = {
            ("GET", "/metadata"): make_response(200, METADATA),
            ("GET", "/contacts"): make_response(200, CONTACTS),
        }

    def add(self, method: str, path: str, status: int = 200, body: Any = None,
            headers: dict[str, str] | None = None, *, raises: Exception | None = None) -> None:
        self.script.append((method, path, raises or make_response(status, body, headers)))

    def request(self, kind: str, method: str, url: str, **kwargs: Any) -> requests.Response:
        path = url[len(self.base_url):]
        self.sent.append({
            "kind": kind, "method": method, "path": path,
            "json": kwargs.get("json"), "params": kwargs.get("params"),
            "headers": kwargs.get("headers") or {},
        })
        for index, (m, p, answer) in enumerate(self.script):
            if m == method and p == path:
                del self.script[index]
                if isinstance(answer, Exception):
                    raise answer
                return answer
        if (method, path) in self.defaults:
            return self.defaults[(method, path)]
        raise AssertionError(f"unexpected request {method} {path}")

    def api_calls(self) -> list[tuple[str, str]]:
        """Requests other than the reference-data reads."""
        return [
            (s["method"], s["path"]) for s in self.sent
            if s["path"] not in ("/metadata", "/contacts")
        ]


@pytest.fixture
def fake_transport() -> FakeTransport:
    return FakeTransport()


@pytest.fixture
def make_carzle(fake_transport: FakeTransport) -> Callable[..., CarzleConnector]:
    cache = MemoryCache()

    def factory(**options: Any) -> CarzleConnector:
        return CarzleConnector(
            base_url=fake_transport.base_url,
            credentials={"api_key": "cz_test_secret"},
            options=options,
            transport=fake_transport,
            cache=cache,
        )

    return factory


@pytest.fixture
def carzle(make_carzle: Callable[..., CarzleConnector]) -> CarzleConnector:
    return make_carzle()


def build_vehicle(**overrides: Any) -> Vehicle:
    values: dict[str, Any] = dict(
        source="wordpress",
        car_ref="881",
        post_id="881",
        status="active",
        make="Toyota",
        model="Land Cruiser",
        year=2024,
        trim="GR Sport",
        title="2024 Toyota Land Cruiser GR Sport",
        description="One owner, full service history.",
        price=385000,
        kilometers=12000,
        vin="jtmhv05j604123456",
        stock_number="1234",
        exterior_color="Pearl White",
        interior_color="Black",
        body_type="SUV",
        transmission="Automatic",
        fuel_type="Gasoline",
        features=["Panoramic sunroof", "Adaptive cruise control"],
        images=[
            Image(url="https://dealer.example/photos/1.jpg"),
            Image(url="https://dealer.example/photos/2.jpg"),
        ],
    )
    values.update(overrides)
    return Vehicle(**values)


@pytest.fixture
def vehicle_factory() -> Callable[..., Vehicle]:
    return build_vehicle


@pytest.fixture
def response_factory() -> Callable[..., requests.Response]:
    return make_response


# ----------------------------------------------------------------------------- integration


class SandboxServer:
    """The sandbox WSGI app on an ephemeral loopback port, in a thread, plus its control API."""

    def __init__(self, wsgi_app: Any) -> None:
        from werkzeug.serving import make_server

        self.server = make_server("127.0.0.1", 0, wsgi_app, threaded=True)
        self.root = f"http://127.0.0.1:{self.server.server_port}"
        self.carzle_url = f"{self.root}/carzle/api/v1"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.http = requests.Session()
        self.http.trust_env = False  # an environment proxy must not see loopback traffic

    def control(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.http.request(method, f"{self.root}/_sandbox{path}", timeout=10, **kwargs)
        assert response.status_code < 300, response.text
        return response.json()

    def carzle_api(self, method: str, path: str, key: str, **kwargs: Any) -> requests.Response:
        """A raw Carzle call, as another client (a racing sync, the dashboard) would make."""
        return self.http.request(method, self.carzle_url + path, timeout=10,
                                 headers={"Authorization": f"Bearer {key}"}, **kwargs)

    def new_key(self, showroom: str = "forecourt-motors", scopes: list[str] | None = None) -> str:
        body: dict[str, Any] = {"showroom": showroom}
        if scopes is not None:
            body["scopes"] = scopes
        return self.control("POST", "/carzle/keys", json=body)["key"]

    def key_stats(self, key: str) -> dict[str, Any]:
        return self.control("GET", "/carzle/stats")["keys"].get(key, {})

    def listings(self, showroom: str = "forecourt-motors", *, deleted: bool = False) -> list[Any]:
        params = {"showroom": showroom, "includeDeleted": "true" if deleted else "false"}
        return self.control("GET", "/carzle/listings", params=params)["listings"]

    def close(self) -> None:
        self.server.shutdown()
        self.thread.join(timeout=5)


# Production-faithful except that image sources are not downloaded (tests have no internet);
# tests that exercise ingestion switch fetching back on.
SANDBOX_BASELINE: dict[str, Any] = {
    "fetch_images": False,
    "read_limit": 60,
    "write_limit": 30,
    "rate_window_seconds": 60.0,
    "fault_rate": 0.0,
    "latency_ms": 0.0,
    "require_https_images": True,
    "allow_private_image_hosts": False,
}


@pytest.fixture(scope="session")
def sandbox_server() -> Iterator[SandboxServer]:
    try:
        from sandbox.app import create_sandbox_app
        from sandbox.common import SandboxSettings
    except ImportError as exc:  # the sandbox is written in parallel; unit tests must still run
        pytest.skip(f"Carzle sandbox not available: {exc}")
    server = SandboxServer(create_sandbox_app(SandboxSettings()))
    yield server
    server.close()


@pytest.fixture
def sandbox(sandbox_server: SandboxServer) -> SandboxServer:
    """The shared sandbox, reset to baseline settings and empty state."""
    sandbox_server.control("POST", "/config", json=SANDBOX_BASELINE)
    sandbox_server.control("POST", "/reset")
    return sandbox_server


@pytest.fixture
def connector_redis(redis_client: Any) -> Any:
    """The suite's private, flushed Redis (never a shared server's data)."""
    return redis_client


@pytest.fixture(autouse=True)
def _fresh_parsed_metadata() -> Iterator[None]:
    """Each test sees the cache as it set it up, not a catalogue parsed by an earlier test."""
    from app.connectors.carzle import forget_parsed_metadata

    forget_parsed_metadata()
    yield
    forget_parsed_metadata()
