"""The Carzle connector over real HTTP against the Carzle sandbox, with RedisCache on Redis."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
import requests

from app.connectors.base import (
    FixInput,
    Reauthenticate,
    RedisCache,
    RemoteState,
    RetryAt,
    SimpleTransport,
    SyncOutcome,
)
from app.connectors.carzle import CarzleConnector
from app.listings.vehicle import Image, Vehicle

MakeVehicle = Callable[..., Vehicle]


class RecordingTransport(SimpleTransport):
    """SimpleTransport that remembers what it sent, so tests can see PATCH bodies."""

    def __init__(self) -> None:
        session = requests.Session()
        session.trust_env = False
        super().__init__(session)
        self.sent: list[tuple[str, str, Any]] = []

    def request(self, kind: Any, method: str, url: str, **kwargs: Any) -> requests.Response:
        self.sent.append((method, url.split("/api/v1", 1)[1], kwargs.get("json")))
        return super().request(kind, method, url, **kwargs)


@pytest.fixture
def key(sandbox: Any) -> str:
    return sandbox.new_key()


@pytest.fixture
def cache(connector_redis: Any) -> RedisCache:
    return RedisCache(connector_redis, prefix="forecourt:test:cache:")


@pytest.fixture
def connect(sandbox: Any, key: str, cache: RedisCache) -> Callable[..., CarzleConnector]:
    """A new connector per call, as each sync job builds one; all share the Redis cache."""

    def factory(api_key: str | None = None, **options: Any) -> CarzleConnector:
        return CarzleConnector(
            base_url=sandbox.carzle_url,
            credentials={"api_key": api_key or key},
            options=options,
            transport=RecordingTransport(),
            cache=cache,
        )

    return factory


def state_of(outcome: SyncOutcome) -> RemoteState:
    state = outcome.remote_state()
    assert state is not None
    return state


def only(listings: list[dict[str, Any]]) -> dict[str, Any]:
    assert len(listings) == 1, listings
    return listings[0]


def test_create_then_patch_only_changes_then_noop(
    sandbox: Any, key: str, connect: Callable[..., CarzleConnector], vehicle_factory: MakeVehicle
) -> None:
    carzle = connect(regional_specs="GCC")
    created = carzle.upsert(vehicle_factory(), None)
    assert created.operation == "create" and created.http_status == 201
    assert created.request_id and created.request_id.startswith("req_")
    listing = only(sandbox.listings())
    assert listing["id"] == created.remote_id
    assert listing["externalRef"] == "fc_sku_1234"
    assert (listing["transmission"], listing["fuelType"]) == ("automatic", "petrol")
    # Sent in whatever spelling Carzle's metadata uses for the enum.
    assert listing["regionalSpecs"] in carzle.metadata().allowed("regionalSpecs")
    assert listing["regionalSpecs"].casefold() == "gcc"
    assert listing["imageUrls"][0]["isHero"] is True
    # We sent no horsepower: Carzle's create-time enrichment filled it.
    assert "horsepower" in listing["enrichedFields"]
    enriched_hp = listing["horsepower"]

    carzle = connect(regional_specs="GCC")
    transport = carzle.transport
    assert isinstance(transport, RecordingTransport)
    updated = carzle.upsert(vehicle_factory(price=379000), state_of(created))
    assert updated.operation == "update" and updated.remote_id == created.remote_id
    assert transport.sent == [("PATCH", "/listings/by-ref/fc_sku_1234", {"price": 379000})]
    listing = only(sandbox.listings())
    assert listing["price"] == 379000
    assert listing["horsepower"] == enriched_hp  # a PATCH never clobbers enrichment

    before = sandbox.key_stats(key)["total"]
    carzle = connect(regional_specs="GCC")
    noop = carzle.upsert(vehicle_factory(price=379000), state_of(updated))
    assert noop.operation == "noop" and noop.calls == []
    assert sandbox.key_stats(key)["total"] == before  # zero HTTP calls


def test_metadata_is_fetched_once_across_many_syncs(
    sandbox: Any, key: str, connect: Callable[..., CarzleConnector], vehicle_factory: MakeVehicle
) -> None:
    state: RemoteState | None = None
    for price in (100000, 100001, 100002, 100003):
        state = state_of(connect().upsert(vehicle_factory(price=price), state))
    other = vehicle_factory(stock_number="B-2", vin="WBA00000000000002")
    connect().upsert(other, None)
    stats = sandbox.key_stats(key)
    assert stats["metadataCalls"] == 1
    assert stats["posts"] == 2 and stats["patches"] == 3


def test_conflict_on_create_patches_by_ref(
    sandbox: Any, key: str, connect: Callable[..., CarzleConnector], vehicle_factory: MakeVehicle
) -> None:
    carzle = connect()
    # The racing sync got there first.
    first_payload, _ = carzle.build_payload(vehicle_factory(price=1000), creating=True)
    first = sandbox.carzle_api("POST", "/listings", key, json=first_payload).json()

    outcome = carzle.upsert(vehicle_factory(price=2000), None)
    assert outcome.operation == "update" and outcome.remote_id == first["id"]
    assert [(c.method, c.status) for c in outcome.calls][-2:] == [("POST", 409), ("PATCH", 200)]
    assert only(sandbox.listings())["price"] == 2000


def test_not_found_on_patch_creates_again(
    sandbox: Any, connect: Callable[..., CarzleConnector], vehicle_factory: MakeVehicle
) -> None:
    created = connect().upsert(vehicle_factory(), None)
    sandbox.control("DELETE", f"/carzle/listings/{created.remote_id}")  # dashboard delete

    outcome = connect().upsert(vehicle_factory(price=1234), state_of(created))
    assert outcome.operation == "create" and outcome.remote_id != created.remote_id
    assert [(c.method, c.status) for c in outcome.calls] == [("PATCH", 404), ("POST", 201)]
    listing = only(sandbox.listings())
    assert (listing["id"], listing["price"]) == (outcome.remote_id, 1234)


def test_delete_and_delete_again(
    sandbox: Any, connect: Callable[..., CarzleConnector], vehicle_factory: MakeVehicle
) -> None:
    created = connect().upsert(vehicle_factory(), None)
    deleted = connect().delete(vehicle_factory(), state_of(created))
    assert deleted.operation == "delete" and deleted.warnings == []
    assert sandbox.listings() == []
    assert only(sandbox.listings(deleted=True))["deletedAt"] is not None

    again = connect().delete(vehicle_factory(), state_of(created))
    assert again.operation == "delete"
    assert again.warnings == ["listing was already gone on Carzle"]


def test_delete_knowing_only_the_vehicle(
    sandbox: Any, connect: Callable[..., CarzleConnector], vehicle_factory: MakeVehicle
) -> None:
    created = connect().upsert(vehicle_factory(), None)
    outcome = connect().delete(vehicle_factory(), None)
    assert outcome.remote_id == created.remote_id
    assert [c.method for c in outcome.calls] == ["GET", "DELETE"]
    assert sandbox.listings() == []


def test_image_failure_surfaces_field_errors(
    sandbox: Any, connect: Callable[..., CarzleConnector], vehicle_factory: MakeVehicle
) -> None:
    sandbox.control("POST", "/config", json={"fetch_images": True})
    vehicle = vehicle_factory(images=[Image(url="https://images.invalid/1.jpg")])
    with pytest.raises(FixInput) as info:
        connect().upsert(vehicle, None)
    assert list(info.value.fields) == ["imageUrls.0"]
    assert info.value.fields["imageUrls.0"].startswith("Source download failed")
    assert info.value.status == 422 and info.value.request_id
    assert sandbox.listings() == []  # no listing when any image fails


def test_contact_assignment_and_clearing(
    sandbox: Any, connect: Callable[..., CarzleConnector], vehicle_factory: MakeVehicle
) -> None:
    options = {"contacts": {"omar@forecourt.test": "Omar Haddad"}}
    created = connect(**options).upsert(vehicle_factory(salesperson="omar@forecourt.test"), None)
    contact_id = only(sandbox.listings())["contactId"]
    assert contact_id and created.payload and created.payload["contactId"] == contact_id

    cleared = connect(**options).upsert(vehicle_factory(salesperson=None), state_of(created))
    assert cleared.operation == "update"
    assert only(sandbox.listings())["contactId"] is None


def test_revoked_key_asks_for_reauthentication(
    sandbox: Any, key: str, connect: Callable[..., CarzleConnector], vehicle_factory: MakeVehicle
) -> None:
    assert connect().check_credentials()["showroom"]["name"]
    sandbox.control("DELETE", f"/carzle/keys/{key}")
    with pytest.raises(Reauthenticate) as info:
        connect().check_credentials()
    assert info.value.status == 401
    with pytest.raises(Reauthenticate):
        connect().upsert(vehicle_factory(), None)


def test_missing_scope_asks_for_reauthentication(
    sandbox: Any, connect: Callable[..., CarzleConnector], vehicle_factory: MakeVehicle
) -> None:
    no_delete = sandbox.new_key(scopes=["listings:read", "listings:write"])
    created = connect(no_delete).upsert(vehicle_factory(), None)
    with pytest.raises(Reauthenticate) as info:
        connect(no_delete).delete(vehicle_factory(), state_of(created))
    assert info.value.status == 403


def test_rate_limit_raises_retry_at_the_reset(
    sandbox: Any, connect: Callable[..., CarzleConnector]
) -> None:
    sandbox.control("POST", "/config", json={"read_limit": 2})
    carzle = connect()
    carzle.check_credentials()
    carzle.check_credentials()
    with pytest.raises(RetryAt) as info:
        carzle.check_credentials()
    assert info.value.status == 429
    assert time.time() < info.value.at <= time.time() + 61


def test_list_remote_paginates_and_filters(
    sandbox: Any, connect: Callable[..., CarzleConnector]
) -> None:
    def seed(i: int, updated: str) -> None:
        sandbox.control("POST", "/carzle/listings", json={
            "showroom": "forecourt-motors", "make": "Toyota", "model": "Camry", "year": 2020,
            "title": f"Camry {i}", "price": 50000 + i, "kilometers": 1000,
            "externalRef": f"fc_sku_{i}", "updatedAt": updated,
        })

    for i in range(103):
        seed(i, "2026-01-01T00:00:00Z")
    for i in range(103, 106):
        seed(i, "2026-03-01T00:00:00Z")
    carzle = connect()
    everything = list(carzle.list_remote(None))
    assert len(everything) == 106 and len({r["id"] for r in everything}) == 106
    recent = list(carzle.list_remote(datetime(2026, 2, 1, tzinfo=UTC)))
    assert sorted(r["title"] for r in recent) == ["Camry 103", "Camry 104", "Camry 105"]


def test_adopt_claim_then_sync_by_ref(
    sandbox: Any, connect: Callable[..., CarzleConnector], vehicle_factory: MakeVehicle
) -> None:
    dashboard = {"showroom": "forecourt-motors", "make": "Toyota", "model": "Land Cruiser",
                 "year": 2024, "kilometers": 12000}
    by_vin = sandbox.control("POST", "/carzle/listings", json={
        **dashboard, "title": "LC from the dashboard", "price": 1,
        "chassisNumber": "JTMHV05J604123456"})
    by_title = sandbox.control("POST", "/carzle/listings", json={
        **dashboard, "title": "2023 Toyota Camry", "year": 2023, "price": 90000})
    cars = [
        vehicle_factory(),  # VIN JTMHV05J604123456, stock 1234
        vehicle_factory(car_ref="2", stock_number="C-9", vin=None, model="Camry",
                        title="2023 Toyota Camry", year=2023, price=90000),
    ]
    carzle = connect()
    matches = carzle.adopt(cars)
    assert {(m.remote_id, m.external_ref, m.matched_by) for m in matches} == {
        (by_vin["id"], "fc_sku_1234", "vin"),
        (by_title["id"], "fc_sku_C-9", "title_year_price"),
    }
    claims = {m.car_ref: carzle.claim(m.remote_id, m.external_ref) for m in matches}

    # From here on the usual sync takes over by ref, sending the car's full data once.
    outcome = connect().upsert(cars[0], state_of(claims[cars[0].car_ref]))
    assert outcome.operation == "update" and outcome.remote_id == by_vin["id"]
    listing = next(r for r in sandbox.listings() if r["id"] == by_vin["id"])
    assert (listing["externalRef"], listing["price"]) == ("fc_sku_1234", 385000)
    assert len(sandbox.listings()) == 2  # adopted, not duplicated
