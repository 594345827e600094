"""Carzle create/update/delete decisions against a scripted transport (no network)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest
import requests

from app.connectors.base import (
    Conflict,
    FixInput,
    Reauthenticate,
    RemoteState,
    RetryAt,
    RetryLater,
    SyncOutcome,
)
from app.connectors.carzle import CarzleConnector
from app.listings.vehicle import Vehicle

MakeVehicle = Callable[..., Vehicle]
UUID = "7b0c0e0a-0000-4000-8000-000000000001"


def listing(**fields: Any) -> dict[str, Any]:
    return {"id": UUID, "externalRef": "fc_sku_1234", **fields}


def state_of(outcome: SyncOutcome) -> RemoteState:
    state = outcome.remote_state()
    assert state is not None
    return state


@pytest.fixture
def created(carzle: CarzleConnector, fake_transport: Any, vehicle_factory: MakeVehicle
            ) -> SyncOutcome:
    fake_transport.add("POST", "/listings", 201, listing(), {"X-Request-Id": "req_create"})
    outcome = carzle.upsert(vehicle_factory(), None)
    fake_transport.sent.clear()
    return outcome


def test_create_posts_the_full_payload(
    carzle: CarzleConnector, fake_transport: Any, vehicle_factory: MakeVehicle
) -> None:
    fake_transport.add("POST", "/listings", 201, listing(), {"X-Request-Id": "req_create"})
    outcome = carzle.upsert(vehicle_factory(), None)
    assert outcome.operation == "create"
    assert outcome.remote_id == UUID
    assert outcome.external_ref == "fc_sku_1234"
    assert (outcome.http_status, outcome.request_id) == (201, "req_create")
    post = fake_transport.sent[-1]
    assert post["kind"] == "write" and post["json"] == outcome.payload
    assert post["headers"]["Authorization"] == "Bearer cz_test_secret"
    assert [(c.method, c.path, c.status) for c in outcome.calls] == [
        ("GET", "/metadata", 200), ("POST", "/listings", 201)
    ]
    assert len(outcome.fingerprint or "") == 64


def test_update_patches_only_changed_fields_by_ref(
    carzle: CarzleConnector, fake_transport: Any, vehicle_factory: MakeVehicle,
    created: SyncOutcome,
) -> None:
    fake_transport.add("PATCH", "/listings/by-ref/fc_sku_1234", 200, listing(price=379000))
    outcome = carzle.upsert(vehicle_factory(price=379000, trim=None), state_of(created))
    assert outcome.operation == "update"
    # trim disappeared locally: omitted, never nulled, so Carzle keeps its value.
    assert fake_transport.sent == [
        {"kind": "write", "method": "PATCH", "path": "/listings/by-ref/fc_sku_1234",
         "json": {"price": 379000}, "params": None,
         "headers": fake_transport.sent[0]["headers"]}
    ]
    assert outcome.payload is not None and "trim" not in outcome.payload
    assert outcome.remote_id == UUID


def test_images_and_features_are_sent_whole(
    carzle: CarzleConnector, fake_transport: Any, vehicle_factory: MakeVehicle,
    created: SyncOutcome,
) -> None:
    fake_transport.add("PATCH", "/listings/by-ref/fc_sku_1234", 200, listing())
    vehicle = vehicle_factory(features=["Panoramic sunroof", "Adaptive cruise control", "ABS"])
    carzle.upsert(vehicle, state_of(created))
    body = fake_transport.sent[-1]["json"]
    assert list(body) == ["features"] and len(body["features"]) == 3


def test_unchanged_is_a_noop_with_zero_calls(
    carzle: CarzleConnector, fake_transport: Any, vehicle_factory: MakeVehicle,
    created: SyncOutcome,
) -> None:
    outcome = carzle.upsert(vehicle_factory(), state_of(created))
    assert outcome.operation == "noop"
    assert outcome.calls == [] and fake_transport.sent == []
    assert outcome.fingerprint == created.fingerprint


def test_previous_payload_argument_wins_over_state_payload(
    carzle: CarzleConnector, fake_transport: Any, vehicle_factory: MakeVehicle,
    created: SyncOutcome,
) -> None:
    state = RemoteState(UUID, "fc_sku_1234", fingerprint=None, payload=None)
    fake_transport.add("PATCH", "/listings/by-ref/fc_sku_1234", 200, listing())
    carzle.upsert(vehicle_factory(price=1), state, previous_payload=created.payload)
    assert fake_transport.sent[-1]["json"] == {"price": 1}


def test_state_without_payload_patches_everything_but_the_ref(
    carzle: CarzleConnector, fake_transport: Any, vehicle_factory: MakeVehicle
) -> None:
    fake_transport.add("PATCH", "/listings/by-ref/fc_sku_1234", 200, listing())
    outcome = carzle.upsert(vehicle_factory(), RemoteState(UUID, "fc_sku_1234"))
    body = fake_transport.sent[-1]["json"]
    assert "externalRef" not in body and body["price"] == 385000
    assert outcome.operation == "update"


def test_clearing_the_salesperson_sends_contact_null(
    make_carzle: Callable[..., CarzleConnector], fake_transport: Any, vehicle_factory: MakeVehicle
) -> None:
    carzle = make_carzle()
    fake_transport.add("POST", "/listings", 201, listing())
    first = carzle.upsert(vehicle_factory(salesperson="omar@dealer.ae"), None)
    assert first.payload is not None and first.payload["contactId"] == "c-2"
    fake_transport.add("PATCH", "/listings/by-ref/fc_sku_1234", 200, listing())
    carzle.upsert(vehicle_factory(salesperson=None), state_of(first))
    assert fake_transport.sent[-1]["json"] == {"contactId": None}


def test_conflict_on_create_becomes_a_full_patch_by_ref(
    carzle: CarzleConnector, fake_transport: Any, vehicle_factory: MakeVehicle
) -> None:
    fake_transport.add("POST", "/listings", 409, {"error": {
        "code": "conflict", "message": "exists", "existingId": UUID}})
    fake_transport.add("PATCH", "/listings/by-ref/fc_sku_1234", 200, listing())
    outcome = carzle.upsert(vehicle_factory(), None)
    assert outcome.operation == "update" and outcome.remote_id == UUID
    patch = fake_transport.sent[-1]
    assert patch["method"] == "PATCH" and "externalRef" not in patch["json"]
    assert outcome.payload is not None
    assert patch["json"] == {k: v for k, v in outcome.payload.items() if k != "externalRef"}


def test_conflict_not_about_our_ref_is_not_retried_forever(
    carzle: CarzleConnector, fake_transport: Any, vehicle_factory: MakeVehicle
) -> None:
    fake_transport.add("POST", "/listings", 409, {"error": {"message": "chassis taken"}})
    fake_transport.add("PATCH", "/listings/by-ref/fc_sku_1234", 404, {"error": {"message": "no"}})
    with pytest.raises(Conflict) as info:
        carzle.upsert(vehicle_factory(), None)
    assert [c.status for c in info.value.calls][-2:] == [409, 404]


def test_not_found_on_patch_creates_again(
    carzle: CarzleConnector, fake_transport: Any, vehicle_factory: MakeVehicle,
    created: SyncOutcome,
) -> None:
    fake_transport.add("PATCH", "/listings/by-ref/fc_sku_1234", 404, {"error": {"message": "gone"}})
    fake_transport.add("POST", "/listings", 201, {"id": "new-id", "externalRef": "fc_sku_1234"})
    outcome = carzle.upsert(vehicle_factory(price=1), state_of(created))
    assert outcome.operation == "create" and outcome.remote_id == "new-id"
    assert fake_transport.sent[-1]["json"] == outcome.payload  # the full payload, not the diff
    assert outcome.payload is not None and outcome.payload["price"] == 1


def test_changed_ref_scheme_rekeys_through_the_old_ref(
    make_carzle: Callable[..., CarzleConnector], fake_transport: Any,
    vehicle_factory: MakeVehicle, created: SyncOutcome,
) -> None:
    carzle = make_carzle(ref_scheme="post_id")
    fake_transport.add("PATCH", "/listings/by-ref/fc_sku_1234", 200, listing())
    outcome = carzle.upsert(vehicle_factory(), state_of(created))
    assert fake_transport.sent[-1]["json"] == {"externalRef": "fc_post_881"}
    assert outcome.external_ref == "fc_post_881"


def test_draft_is_never_sent(
    carzle: CarzleConnector, fake_transport: Any, vehicle_factory: MakeVehicle,
    created: SyncOutcome,
) -> None:
    skipped = carzle.upsert(vehicle_factory(status="draft"), None)
    assert skipped.operation == "skip" and fake_transport.sent == []
    fake_transport.add("PATCH", "/listings/by-ref/fc_sku_1234", 200, listing())
    hidden = carzle.upsert(vehicle_factory(status="draft"), state_of(created))
    assert fake_transport.sent[-1]["json"] == {"status": "inactive"}
    assert "draft sent to Carzle as inactive" in hidden.warnings


def test_no_status_is_a_skip(carzle: CarzleConnector, vehicle_factory: MakeVehicle) -> None:
    assert carzle.upsert(vehicle_factory(status=None), None).operation == "skip"


# ----------------------------------------------------------------------------- delete


def test_delete_by_id(carzle: CarzleConnector, fake_transport: Any, created: SyncOutcome) -> None:
    fake_transport.add("DELETE", f"/listings/{UUID}", 200, listing(deletedAt="now"))
    outcome = carzle.delete("ignored", state_of(created))
    assert outcome.operation == "delete" and outcome.remote_state() is None
    assert fake_transport.api_calls() == [("DELETE", f"/listings/{UUID}")]


def test_delete_with_only_a_ref_looks_the_id_up(
    carzle: CarzleConnector, fake_transport: Any, vehicle_factory: MakeVehicle
) -> None:
    fake_transport.add("GET", "/listings/by-ref/fc_sku_1234", 200, listing())
    fake_transport.add("DELETE", f"/listings/{UUID}", 200, listing())
    outcome = carzle.delete(vehicle_factory(), None)
    assert fake_transport.api_calls() == [
        ("GET", "/listings/by-ref/fc_sku_1234"), ("DELETE", f"/listings/{UUID}")
    ]
    assert outcome.remote_id == UUID


def test_deleted_status_deletes(
    carzle: CarzleConnector, fake_transport: Any, vehicle_factory: MakeVehicle,
    created: SyncOutcome,
) -> None:
    fake_transport.add("DELETE", f"/listings/{UUID}", 200, listing())
    assert carzle.upsert(vehicle_factory(status="deleted"), state_of(created)).operation == "delete"


def test_delete_of_a_gone_listing_is_done(
    carzle: CarzleConnector, fake_transport: Any, created: SyncOutcome
) -> None:
    fake_transport.add("DELETE", f"/listings/{UUID}", 404, {"error": {"message": "gone"}})
    fake_transport.add("GET", "/listings/by-ref/fc_sku_1234", 404, {"error": {"message": "gone"}})
    outcome = carzle.delete(None, state_of(created))
    assert outcome.operation == "delete"
    assert outcome.warnings == ["listing was already gone on Carzle"]


def test_delete_with_a_stale_id_deletes_the_listing_holding_our_ref(
    carzle: CarzleConnector, fake_transport: Any, created: SyncOutcome
) -> None:
    fake_transport.add("DELETE", f"/listings/{UUID}", 404, {"error": {"message": "gone"}})
    fake_transport.add("GET", "/listings/by-ref/fc_sku_1234", 200, {"id": "other"})
    fake_transport.add("DELETE", "/listings/other", 200, {"id": "other"})
    outcome = carzle.delete(None, state_of(created))
    assert outcome.remote_id == "other" and outcome.warnings == []


def test_delete_without_anything_to_go_on_is_a_skip(
    carzle: CarzleConnector, fake_transport: Any, vehicle_factory: MakeVehicle
) -> None:
    outcome = carzle.delete(vehicle_factory(stock_number=None), None)
    assert outcome.operation == "skip" and fake_transport.sent == []


# ----------------------------------------------------------------------------- errors


def test_rate_limit_raises_retry_at_with_the_calls(
    carzle: CarzleConnector, fake_transport: Any, vehicle_factory: MakeVehicle
) -> None:
    fake_transport.add("POST", "/listings", 429, {"error": {"message": "slow down"}},
                       {"X-RateLimit-Reset": "1900000000"})
    with pytest.raises(RetryAt) as info:
        carzle.upsert(vehicle_factory(), None)
    assert info.value.at == 1900000000.0
    assert info.value.calls[-1].status == 429


def test_field_errors_surface_as_fix_input(
    carzle: CarzleConnector, fake_transport: Any, vehicle_factory: MakeVehicle
) -> None:
    fields = {"imageUrls.1": "Source download failed: HTTP 404"}
    fake_transport.add("POST", "/listings", 422, {"error": {
        "code": "validation_failed", "message": "One or more fields are invalid.",
        "fields": fields, "requestId": "req_x"}})
    with pytest.raises(FixInput) as info:
        carzle.upsert(vehicle_factory(), None)
    assert info.value.fields == fields and info.value.request_id == "req_x"


def test_timeouts_are_retry_later(
    carzle: CarzleConnector, fake_transport: Any, vehicle_factory: MakeVehicle
) -> None:
    fake_transport.add("POST", "/listings", raises=RetryLater("timed out"))
    with pytest.raises(RetryLater) as info:
        carzle.upsert(vehicle_factory(), None)
    assert info.value.calls[-1].status is None


def test_raw_requests_errors_from_a_custom_transport_are_retry_later(
    carzle: CarzleConnector, fake_transport: Any, vehicle_factory: MakeVehicle
) -> None:
    fake_transport.add("POST", "/listings", raises=requests.ConnectionError("reset"))
    with pytest.raises(RetryLater):
        carzle.upsert(vehicle_factory(), None)


def test_check_credentials(carzle: CarzleConnector, fake_transport: Any) -> None:
    fake_transport.add("GET", "/me", 200, {"showroom": {"name": "Demo"}})
    assert carzle.check_credentials() == {"showroom": {"name": "Demo"}}
    fake_transport.add("GET", "/me", 401, {"error": {"message": "Invalid API key."}})
    with pytest.raises(Reauthenticate):
        carzle.check_credentials()


# ----------------------------------------------------------------------------- list, adopt


def test_list_remote_paginates(carzle: CarzleConnector, fake_transport: Any) -> None:
    page1 = [{"id": str(i)} for i in range(100)]
    page2 = [{"id": "100"}, {"id": "101"}]
    fake_transport.add("GET", "/listings", 200,
                       {"listings": page1, "pagination": {"total": 102, "limit": 100, "offset": 0}})
    fake_transport.add("GET", "/listings", 200,
                       {"listings": page2, "pagination": {"total": 102, "limit": 100, "offset": 100}})
    items = list(carzle.list_remote(datetime(2026, 4, 1)))
    assert [i["id"] for i in items] == [str(i) for i in range(102)]
    params = [s["params"] for s in fake_transport.sent]
    assert params == [
        {"limit": 100, "offset": 0, "updatedSince": "2026-04-01T00:00:00Z"},
        {"limit": 100, "offset": 100, "updatedSince": "2026-04-01T00:00:00Z"},
    ]


def test_adopt_matches_by_vin_then_title_year_price(
    carzle: CarzleConnector, vehicle_factory: MakeVehicle
) -> None:
    remote = [
        {"id": "r-vin", "externalRef": "", "chassisNumber": "wba 123", "title": "x"},
        {"id": "r-title", "externalRef": "", "title": "2021  BMW X5", "year": 2021,
         "price": 200000},
        {"id": "r-owned", "externalRef": "fc_sku_9", "chassisNumber": "WBA999"},
        {"id": "r-dup1", "externalRef": "", "title": "Twin", "year": 2020, "price": 1},
        {"id": "r-dup2", "externalRef": "", "title": "Twin", "year": 2020, "price": 1},
    ]
    cars = [
        vehicle_factory(car_ref="1", stock_number="A1", vin="WBA123"),
        vehicle_factory(car_ref="2", stock_number="A2", vin=None, title="2021 bmw x5",
                        year=2021, price=200000),
        vehicle_factory(car_ref="3", stock_number="A3", vin="WBA999"),
        vehicle_factory(car_ref="4", stock_number="A4", vin=None, title="Twin", year=2020,
                        price=1),
        vehicle_factory(car_ref="5", stock_number=None, vin="NOREF"),
    ]
    matches = carzle.adopt(cars, remote)
    assert [(m.remote_id, m.external_ref, m.car_ref, m.matched_by) for m in matches] == [
        ("r-vin", "fc_sku_A1", "1", "vin"),
        ("r-title", "fc_sku_A2", "2", "title_year_price"),
    ]


def test_claim_sets_the_external_ref_by_uuid(carzle: CarzleConnector, fake_transport: Any) -> None:
    fake_transport.add("PATCH", "/listings/r-1", 200, {"id": "r-1", "externalRef": "fc_sku_A1"})
    outcome = carzle.claim("r-1", "fc_sku_A1")
    assert fake_transport.sent[-1]["json"] == {"externalRef": "fc_sku_A1"}
    assert (outcome.remote_id, outcome.external_ref, outcome.payload) == (
        "r-1", "fc_sku_A1", {"externalRef": "fc_sku_A1"}
    )
    fake_transport.add("PATCH", "/listings/r-2", 409, {"error": {"message": "taken"}})
    with pytest.raises(FixInput) as info:
        carzle.claim("r-2", "fc_sku_A1")
    assert "externalRef" in info.value.fields


def test_each_call_carries_carzles_own_operation_name(
    carzle: CarzleConnector, fake_transport: Any, vehicle_factory: MakeVehicle
) -> None:
    fake_transport.add("POST", "/listings", 409, {"error": {"message": "exists", "existingId": UUID}})
    fake_transport.add("PATCH", "/listings/by-ref/fc_sku_1234", 200, listing())
    raced = carzle.upsert(vehicle_factory(), None)
    assert [(c.method, c.operation) for c in raced.calls] == [
        ("GET", "read"), ("POST", "create"), ("PATCH", "update"),
    ]
    fake_transport.add("GET", "/listings/by-ref/fc_sku_1234", 200, listing())
    fake_transport.add("DELETE", f"/listings/{UUID}", 200, listing())
    removed = carzle.delete(vehicle_factory(), None)
    assert [(c.method, c.operation) for c in removed.calls] == [("GET", "read"), ("DELETE", "delete")]
