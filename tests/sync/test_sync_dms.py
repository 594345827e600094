"""DMS feeds end to end: Auterio ingest and Carslink feeds into the Carzle sandbox."""

from __future__ import annotations

import pytest

from app.extensions import db
from tests.conftest import ADMIN_TOKEN, DMS_KEY
from tests.support.jobs import drain

KEY = {"X-Dealer-Api-Key": DMS_KEY}
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


@pytest.fixture
def aed_site(site):
    site.options = {**site.options, "currency": "AED", "full_replace_grace_feeds": 2, "ref_scheme": "source_id"}
    db.session.commit()
    return site


def golf(vin: str = "WVWZZZE1ZNP123456", **extra) -> dict:
    return {"vin": vin, "brand": "Volkswagen", "model": "Golf", "version": "GTI", "year": 2024, "mileage": 15000,
            "cost_price": 28000, "sale_price": 34500, **extra}


def listings(carzle):
    return carzle.carzle.listings("demo-motors")


def test_auterio_vehicles_reach_the_marketplace_without_the_cost_price(app, client, aed_site, carzle):
    response = client.post("/hooks/dms/demo", json={"vehicles": [golf()]}, headers=KEY)
    assert response.status_code == 202
    drain(app)
    (listing,) = listings(carzle)
    assert listing["price"] == 34500 and listing["make"] == "Volkswagen"
    assert "28000" not in str(listing)
    car = client.get("/api/v1/sites/demo/cars/WVWZZZE1ZNP123456", headers=ADMIN).get_json()
    assert car["destinations"][0]["status"] == "synced"


@pytest.mark.parametrize(("status", "expected"), [("vendido", "sold"), ("reservado", "reserved"),
                                                  ("transito", "coming_soon")])
def test_auterio_statuses_map_to_marketplace_statuses(app, client, aed_site, carzle, status, expected):
    client.post("/hooks/dms/demo", json={"vehicles": [golf(status=status)]}, headers=KEY)
    drain(app)
    assert listings(carzle)[0]["status"] == expected


def test_auterio_baja_removes_the_listing(app, client, aed_site, carzle):
    client.post("/hooks/dms/demo", json={"vehicles": [golf()]}, headers=KEY)
    drain(app)
    client.post("/hooks/dms/demo", json={"vehicles": [golf(status="baja")]}, headers=KEY)
    drain(app)
    assert listings(carzle) == []


def carslink(mode: str, *listings_: dict) -> dict:
    return {"mode": mode, "dealer": {"partner_dealer_id": "DEALER-001"}, "listings": list(listings_)}


def car(source_id: str, **extra) -> dict:
    return {"source_id": source_id, "make": "BMW", "model": "3 Series", "year": 2021, "price": 28995,
            "mileage": 24500, "registration": "AB21 XYZ", **extra}


def test_full_replace_removes_missing_cars_only_after_the_grace(app, client, aed_site, carzle):
    client.post("/hooks/dms/demo", json=carslink("full_replace", car("A"), car("B")), headers=KEY)
    drain(app)
    assert len(listings(carzle)) == 2

    first_miss = client.post("/hooks/dms/demo", json=carslink("full_replace", car("A")), headers=KEY)
    assert first_miss.get_json()["feed"]["removal_pending"] == 1
    drain(app)
    assert len(listings(carzle)) == 2  # one broken feed does not empty the showroom

    client.post("/hooks/dms/demo", json=carslink("full_replace", car("A")), headers=KEY)
    drain(app)
    (left,) = listings(carzle)
    assert left["externalRef"].endswith("A") or left["price"] == 28995


def test_a_car_back_in_the_feed_resets_its_grace(app, client, aed_site, carzle):
    client.post("/hooks/dms/demo", json=carslink("full_replace", car("A"), car("B")), headers=KEY)
    client.post("/hooks/dms/demo", json=carslink("full_replace", car("A")), headers=KEY)
    client.post("/hooks/dms/demo", json=carslink("full_replace", car("A"), car("B")), headers=KEY)
    client.post("/hooks/dms/demo", json=carslink("full_replace", car("A")), headers=KEY)
    drain(app)
    assert len(listings(carzle)) == 2


def test_partial_updates_and_delete_flags(app, client, aed_site, carzle):
    client.post("/hooks/dms/demo", json=carslink("full_replace", car("A"), car("B")), headers=KEY)
    drain(app)
    response = client.post(
        "/hooks/dms/demo",
        json=carslink("partial", {"source_id": "A", "price": 27495}, {"source_id": "B", "delete": True}),
        headers=KEY,
    )
    assert response.get_json()["feed"]["removed"] == 1
    drain(app)
    (left,) = listings(carzle)
    assert left["price"] == 27495 and left["make"] == "BMW"
