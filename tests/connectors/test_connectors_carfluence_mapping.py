"""Carfluence vehicle → canonical vehicle, table-driven."""

from __future__ import annotations

from typing import Any

import pytest

from app.connectors.carfluence.mapping import to_vehicle, whole_units

DOCS = {"vin": "1HGCM82633A004352", "year": 2024, "make": "Honda", "model": "Accord",
        "price": "25999.00", "status": "active", "days_on_lot": 12}


@pytest.mark.parametrize(
    ("changes", "expected", "problems"),
    [
        ({}, {"vin": "1HGCM82633A004352", "year": 2024, "make": "Honda", "model": "Accord", "price": 25999,
              "status": "active", "currency": "USD", "title": "2024 Honda Accord"}, {}),
        ({"price": "25999.50"}, {"price": 26000}, {}),
        ({"price": "abc"}, {"price": None}, {"price": "must be a non-negative decimal"}),
        ({"status": "pending"}, {"status": "reserved"}, {}),
        ({"status": "sold"}, {"status": "sold"}, {}),
        ({"status": "in_transit"}, {"status": "coming_soon"}, {}),
        ({"status": "archived"}, {"status": "inactive"}, {"status": "unknown status 'archived'"}),
        ({"mileage": 10000}, {"kilometers": 16093}, {}),
        ({"body_style": "suv", "drivetrain": "AWD", "exterior_color": " Blue "},
         {"body_type": "suv", "drive_type": "AWD", "exterior_color": "Blue"}, {}),
        ({"photos": ["https://img/1.jpg", {"url": "https://img/2.jpg", "id": 9}, 3]},
         {"images": [{"url": "https://img/1.jpg", "id": None}, {"url": "https://img/2.jpg", "id": "9"}]}, {}),
        ({"year": "2024"}, {"year": None}, {"year": "must be an integer"}),
        ({"vin": "1hgcm82633a004352"}, {"vin": "1HGCM82633A004352", "car_ref": "1HGCM82633A004352"}, {}),
    ],
)
def test_a_carfluence_vehicle_maps_to_the_canonical_one(changes: dict, expected: dict, problems: dict) -> None:
    vehicle, found = to_vehicle({**DOCS, **changes})
    assert {k: vehicle[k] for k in expected} == expected
    assert found == problems
    assert "days_on_lot" not in vehicle  # it moves daily without the car changing


@pytest.mark.parametrize("vin", [None, "", "SHORT", "1HGCM82633A00435O"])
def test_a_vehicle_without_a_usable_vin_is_reported_not_mapped(vin: Any) -> None:
    assert to_vehicle({**DOCS, "vin": vin}) == ({}, {"vin": "must be 17 characters without I, O or Q"})


def test_the_site_currency_applies_when_carfluence_names_none() -> None:
    assert to_vehicle(DOCS, currency="AED")[0]["currency"] == "AED"


@pytest.mark.parametrize(("raw", "units"), [("1.49", 1), ("1.50", 2), (0, 0), ("-1", None), (True, None), (None, None)])
def test_prices_become_whole_units(raw: Any, units: int | None) -> None:
    assert whole_units(raw) == units
