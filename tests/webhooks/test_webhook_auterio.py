"""A DMS written for Auterio posting to Forecourt gets Auterio's answers: its success body,
400 "Invalid payload or no valid vehicles" with the errors, and its two 401 messages."""

from __future__ import annotations

import pytest

from app.sync.debounce import DUE
from tests.conftest import DMS_KEY

INVALID = "Invalid payload or no valid vehicles"
KEY = {"Authorization": f"Bearer {DMS_KEY}"}
PATHS = ["/hooks/dms/demo", "/hooks/dms/demo/api/vehicles/ingest"]  # the second: Auterio's own path


def golf(vin: str | None = "WVWZZZE1ZNP123456", **changes) -> dict:
    record = {"vin": vin, "brand": "Volkswagen", "model": "Golf", "year": 2024, "sale_price": 34500, **changes}
    return {k: v for k, v in record.items() if v is not None}


@pytest.mark.parametrize("path", PATHS)
def test_a_good_batch_gets_auterios_success_body(client, site, redis_client, path):
    response = client.post(path, json={"vehicles": [golf(), golf("WBA11AA00PCJ12345"), golf(None)]}, headers=KEY)
    assert response.status_code == 202
    body = response.get_json()
    assert {k: body[k] for k in ("success", "imported", "skipped", "source")} == {
        "success": True, "imported": 2, "skipped": 1, "source": "Demo Motors"}
    assert body["errors"] == [{"index": 2, "vin": None, "error": body["errors"][0]["error"]}]
    assert "vin" in body["errors"][0]["error"]
    assert redis_client.zcard(DUE) == 2


@pytest.mark.parametrize("path", PATHS)
def test_an_all_invalid_batch_is_400_with_the_errors_and_queues_nothing(client, site, redis_client, path):
    vehicles = [golf(None), golf("WVWZZZE1ZNP000001", brand=""), golf("WVWZZZE1ZNP000002", year=1700)]
    response = client.post(path, json={"vehicles": vehicles}, headers=KEY)
    assert response.status_code == 400
    body = response.get_json()
    assert (body["success"], body["imported"], body["skipped"]) == (False, 0, 3)
    assert [e["index"] for e in body["errors"]] == [0, 1, 2]
    assert [e["vin"] for e in body["errors"]] == [None, "WVWZZZE1ZNP000001", "WVWZZZE1ZNP000002"]
    assert all(e["error"] for e in body["errors"])
    assert body["error"]["code"] == "no_valid_vehicles"
    assert body["error"]["message"] == INVALID
    assert set(body["error"]["fields"]) == {"vehicles.0", "vehicles.1", "vehicles.2"}
    assert redis_client.zcard(DUE) == 0


@pytest.mark.parametrize(("payload", "problem"), [
    ({"vehicles": []}, "vehicles"),
    ({"vehicles": [golf(f"WVWZZZE1ZNP{n:06d}") for n in range(1001)]}, "1,000"),
    ({"vehicles": "all of them"}, "vehicles"),
])
def test_a_refused_payload_is_400_with_auterios_message(client, site, payload, problem):
    response = client.post("/hooks/dms/demo", json=payload, headers=KEY)
    assert response.status_code == 400
    body = response.get_json()
    assert body["success"] is False
    assert body["error"]["message"] == INVALID
    assert problem in body["errors"][0]["error"]


def test_a_body_that_is_not_json_on_auterios_path_is_400(client, site):
    response = client.post(PATHS[1], data=b"{not json", headers={**KEY, "Content-Type": "application/json"})
    assert response.status_code == 400
    assert response.get_json()["error"]["message"] == INVALID


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize(("headers", "message"), [
    ({}, "Missing or invalid Authorization header"),
    ({"Authorization": "Bearer "}, "Missing or invalid Authorization header"),
    ({"Authorization": f"Basic {DMS_KEY}"}, "Missing or invalid Authorization header"),
    ({"Authorization": "Bearer au_wrong"}, "API key is invalid or inactive"),
    ({"X-Dealer-Api-Key": "wrong"}, "API key is invalid or inactive"),
])
def test_auterios_two_401_messages(client, site, redis_client, path, headers, message):
    response = client.post(path, json={"vehicles": [golf()]}, headers=headers)
    assert response.status_code == 401
    body = response.get_json()
    assert body["success"] is False
    assert body["error"]["message"] == message
    assert redis_client.zcard(DUE) == 0


def test_a_carslink_feed_keeps_carslinks_shape(client, site):
    feed = {"mode": "partial", "dealer": {"partner_dealer_id": "D1"},
            "listings": [{"source_id": "S1", "make": "Ford", "model": "Focus", "year": 2020, "price": 9000}]}
    response = client.post("/hooks/dms/demo", json=feed, headers=KEY)
    assert response.status_code == 202
    assert response.get_json()["status"] == "accepted" and "feed" in response.get_json()
    unauthorized = client.post("/hooks/dms/demo", json=feed, headers={"Authorization": "Bearer wrong"})
    assert unauthorized.status_code == 401 and "success" not in unauthorized.get_json()
