"""Carslink's outbound mapping and preflight: Forecourt's canonical vehicle -> one listing."""

from __future__ import annotations

from typing import Any

import pytest

from app.connectors.cache import MemoryCache
from app.connectors.carslink import mapping
from app.connectors.carslink.connector import CarslinkConnector
from app.connectors.http import SimpleTransport
from app.connectors.kinds import FeedItem
from app.listings.vehicle import Image, Vehicle

PHOTOS = [Image(url=f"https://media.forecourt.test/media/{n}.webp") for n in "abcd"]


def vehicle(**changes: Any) -> Vehicle:
    values: dict[str, Any] = dict(
        source="dms", car_ref="V-001", status="active", make="BMW", model="3 Series", trim="320d M Sport",
        year=2021, price=28995, currency="GBP", kilometers=39429, registration="ab21xyz",
        vin="wbajl510x0g123456", exterior_color="Black Sapphire", body_type="Saloon", transmission="auto",
        fuel_type="diesel", condition="used", description="One owner from new with full BMW service history.",
        listing_url="https://www.smithmotors.example/vehicle/001", images=list(PHOTOS),
    )
    values.update(changes)
    return Vehicle(**values)


def connector(**options: Any) -> CarslinkConnector:
    return CarslinkConnector(base_url="https://api.carslink.test", credentials={"api_key": "cl_k"},
                             options={"dealer": {"partner_dealer_id": "D-1"}, **options},
                             transport=SimpleTransport(), cache=MemoryCache())


def test_a_complete_car_maps_to_the_seeds_example_listing() -> None:
    body, warnings = mapping.listing(vehicle())
    assert warnings == []
    assert body == {
        "source_id": "V-001", "vehicle_type": "car", "make": "BMW", "model": "3 Series", "variant": "320d M Sport",
        "year": 2021, "price": 28995, "mileage": 24500, "registration": "AB21 XYZ", "images": [p.url for p in PHOTOS],
        "fuel": "Diesel", "transmission": "Automatic", "colour": "Black Sapphire", "body_type": "Saloon",
        "description": "One owner from new with full BMW service history.", "condition": "Used",
        "listing_url": "https://www.smithmotors.example/vehicle/001", "vin": "WBAJL510X0G123456",
    }
    assert "location" not in body and "region" not in body


@pytest.mark.parametrize(
    ("changes", "key", "expected"),
    [
        ({"kilometers": 1609}, "mileage", 1000),  # km -> miles
        ({"kilometers": 0}, "mileage", 0),
        ({"registration": "A123 BCD"}, "registration", "A123BCD"),  # prefix plate
        ({"registration": "ab-21 x y z"}, "registration", "AB21 XYZ"),
        ({"vehicle_type": "motorbike", "engine_cc": 649, "body_type": None}, "vehicle_type", "motorcycle"),
        ({"vehicle_type": "motorbike", "engine_cc": 649}, "engine_size", 649),
        ({"vehicle_type": "Van"}, "vehicle_type", "van"),
        ({"vehicle_type": None}, "vehicle_type", "car"),
        ({"transmission": "DSG"}, "transmission", "Semi-Automatic"),
        ({"transmission": "cvt"}, "transmission", "CVT"),
        ({"fuel_type": "Plug-in hybrid"}, "fuel", "Plug-in Hybrid"),
        ({"fuel_type": "Bio-ethanol"}, "fuel", "Bio-Ethanol"),  # unknown fuel: sent as typed
        ({"condition": "nearly new"}, "condition", "Nearly New"),
        ({"vehicle_type": "motorcycle", "bike_type": "Naked", "body_type": None}, "bike_type", "Naked"),
        ({"vehicle_type": "motorcycle", "licence_category": "a2"}, "licence_category", "A2"),
        ({"vehicle_type": "van", "van_type": "Panel Van"}, "van_type", "Panel Van"),
        ({"vehicle_type": "van", "roof_height": "H2"}, "roof_height", "H2"),
        ({"vehicle_type": "van", "payload_kg": "1,200"}, "payload_kg", 1200),
        ({"vehicle_type": "van", "load_volume_m3": "10.5"}, "load_volume_m3", 10.5),
        ({"vehicle_type": "van", "load_length": "3.0"}, "load_length", 3),
        ({"images": PHOTOS + [PHOTOS[0], Image(url="http://insecure.test/x.jpg")]}, "images",
         [p.url for p in PHOTOS]),  # each once, HTTPS only, hero first
    ],
)
def test_fields_map_to_carslinks_vocabulary(changes: dict[str, Any], key: str, expected: Any) -> None:
    body, _ = mapping.listing(vehicle(**changes))
    assert body[key] == expected


@pytest.mark.parametrize(
    ("changes", "left_out", "warning"),
    [
        ({"transmission": "9-speed sequential"}, "transmission", "transmission"),
        ({"listing_url": "http://www.smithmotors.example/v/1"}, "listing_url", "listing_url is not HTTPS"),
        ({"vin": "WBAJL510X0G12345O"}, "vin", "vin is not 17 characters"),
        ({"registration": "NOT A PLATE 123"}, "registration", None),
        ({"vehicle_type": "motorcycle", "licence_category": "B"}, "licence_category", "licence_category"),
        ({"vehicle_type": "van", "payload_kg": "about a tonne"}, "payload_kg", "payload_kg"),
        ({"vehicle_type": "car", "payload_kg": "1000"}, "payload_kg", None),  # van fields on vans only
    ],
)
def test_values_carslink_would_skip_on_are_left_out(
    changes: dict[str, Any], left_out: str, warning: str | None
) -> None:
    body, warnings = mapping.listing(vehicle(**changes))
    assert left_out not in body
    assert (warning is None and warnings == []) or any(warning in w for w in warnings)


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({}, None),
        ({"images": PHOTOS[:2]}, "minimum 4 image URLs required (received 2)"),
        ({"images": [Image(url="http://media.test/1.webp")] * 4}, "minimum 4 image URLs required (received 0)"),
        ({"price": 0}, "price must be numeric and > 0"),
        ({"price": None}, "price is required"),
        ({"currency": "AED"}, "price must be in GBP (this car is priced in AED)"),
        ({"registration": None}, "registration is required"),
        ({"registration": "NOT A PLATE 123"}, "registration must be a UK Vehicle Registration Mark (VRM)"),
        ({"body_type": None}, "body_type is required for cars"),
        ({"body_type": None, "vehicle_type": "van"}, "body_type is required for vans"),
        ({"body_type": None, "vehicle_type": "motorcycle"}, None),
        ({"make": None}, "make is required"),
        ({"year": None}, "year is required"),
        ({"kilometers": None}, "mileage is required"),
    ],
)
def test_preflight_gives_carslinks_own_reason(changes: dict[str, Any], reason: str | None) -> None:
    outcome = connector().preflight(FeedItem("V-001", vehicle(**changes)))
    assert (outcome.reason if outcome else None) == reason
    if outcome:
        assert outcome.status == "skipped" and list(outcome.fields.values()) == [reason]


def test_removals_and_full_feeds_have_carslinks_shape() -> None:
    sink = connector()
    items = [FeedItem("V-001", vehicle()), FeedItem("V-002", None, removed=True)]
    partial = sink.feed(items, full=False)
    assert partial["mode"] == "partial" and partial["dealer"] == {"partner_dealer_id": "D-1"}
    assert partial["listings"][1] == {"source_id": "V-002", "delete": True}
    full = sink.feed(items, full=True)
    assert full["mode"] == "full_replace" and [x["source_id"] for x in full["listings"]] == ["V-001"]


@pytest.mark.parametrize("dealer", [None, {}, {"name": "Smith Motors"}, {"partner_dealer_id": "  "}])
def test_a_destination_without_a_partner_dealer_id_is_refused(dealer: Any) -> None:
    problems = CarslinkConnector.validate_options({"dealer": dealer} if dealer is not None else {})
    assert list(problems) == ["dealer.partner_dealer_id"]
