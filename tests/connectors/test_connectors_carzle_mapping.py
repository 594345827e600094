"""Carzle payload mapping: pure functions and build_payload against a faked GET /metadata."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from app.connectors.base import FixInput, MemoryCache, RetryLater
from app.connectors.carzle import CarzleConnector, forget_parsed_metadata, map_enum
from app.listings.vehicle import LISTING_STATUSES, Image, Vehicle

MakeCarzle = Callable[..., CarzleConnector]
MakeVehicle = Callable[..., Vehicle]

SANDBOX_ENUMS = {
    "transmission": ["automatic", "manual"],
    "fuelType": ["petrol", "diesel", "hybrid", "plug_in_hybrid", "electric"],
    "bodyType": ["sedan", "suv", "hatchback", "coupe", "convertible", "pickup", "van", "wagon",
                 "crossover", "minivan"],
    "regionalSpecs": ["gcc", "american", "european", "japanese"],
}


@pytest.mark.parametrize(
    ("field", "raw", "expected"),
    [
        ("transmission", "Automatic", "automatic"),
        ("transmission", "Auto", "automatic"),
        ("transmission", "automático", "automatic"),
        ("transmission", "AUTOMATIC", "automatic"),
        ("transmission", "8-speed Automatic", "automatic"),
        ("transmission", "Manual", "manual"),
        ("transmission", "manual", "manual"),
        ("transmission", "Tiptronic-ish", None),
        ("transmission", "CVT", None),  # no such Carzle value: omitted, not guessed
        ("fuelType", "Diesel", "diesel"),
        ("fuelType", "gasóleo", "diesel"),
        ("fuelType", "Petrol", "petrol"),
        ("fuelType", "Gasoline", "petrol"),
        ("fuelType", "gasolina", "petrol"),
        ("fuelType", "Plug-in Hybrid", "plug_in_hybrid"),
        ("fuelType", "PHEV", "plug_in_hybrid"),
        ("fuelType", "Petrol Hybrid", "hybrid"),
        ("fuelType", "EV", "electric"),
        ("fuelType", "Coal", None),
        ("bodyType", "Saloon", "sedan"),
        ("bodyType", "Estate", "wagon"),
        ("bodyType", "SUV", "suv"),
        ("bodyType", "4x4", "suv"),
        ("bodyType", "Hatch", "hatchback"),
        ("bodyType", "Crossover", "crossover"),  # the enum's own value beats the synonym
        ("bodyType", "Cabriolet", "convertible"),
        ("bodyType", "Pick-up", "pickup"),
        ("bodyType", "MPV", "minivan"),
        ("regionalSpecs", "GCC", "gcc"),
        ("regionalSpecs", "GCC Specs", "gcc"),
        ("regionalSpecs", "US", "american"),
        ("regionalSpecs", "Euro", "european"),
        ("regionalSpecs", "Martian", None),
        ("transmission", "", None),
    ],
)
def test_map_enum_against_carzle_values(field: str, raw: str, expected: str | None) -> None:
    assert map_enum(field, raw, SANDBOX_ENUMS.get(field)) == expected


@pytest.mark.parametrize(
    ("field", "raw", "allowed", "expected"),
    [
        # Whatever spelling the metadata uses is what gets sent.
        ("transmission", "auto", ["Automatic", "Manual"], "Automatic"),
        ("fuelType", "Gasoline", ["PETROL", "DIESEL"], "PETROL"),
        ("fuelType", "gasolina", ["Gasoline", "Diesel"], "Gasoline"),
        ("bodyType", "Saloon", ["Sedan"], "Sedan"),
        # No allowlist known: the synonym concept.
        ("transmission", "Automático", None, "automatic"),
        ("bodyType", "Estate", None, "wagon"),
        ("bodyType", "Spaceship", None, None),
    ],
)
def test_map_enum_follows_metadata_spelling(
    field: str, raw: str, allowed: list[str] | None, expected: str | None
) -> None:
    assert map_enum(field, raw, allowed) == expected


def test_map_enum_matches_enum_labels() -> None:
    assert map_enum("bodyType", "Sport Utility", ["suv"], {"sport utility": "suv"}) == "suv"


# ----------------------------------------------------------------------------- the payload


def test_full_payload(carzle: CarzleConnector, vehicle_factory: MakeVehicle) -> None:
    vehicle = vehicle_factory(horsepower=409, engine_cc=3445, doors=5, seats=7,
                              salesperson="aisha@dealer.ae")
    payload, warnings = carzle.build_payload(vehicle, creating=True)
    assert payload == {
        "externalRef": "fc_sku_1234",
        "status": "active",
        "make": "Toyota",
        "model": "Land Cruiser",
        "year": 2024,
        "price": 385000,
        "kilometers": 12000,
        "title": "2024 Toyota Land Cruiser GR Sport",
        "description": "One owner, full service history.",
        "trim": "GR Sport",
        "exteriorColor": "Pearl White",
        "interiorColor": "Black",
        "chassisNumber": "JTMHV05J604123456",
        "horsepower": "409 HP",
        "engineCapacity": "3.4L",
        "doors": 5,
        "seating": 7,
        "transmission": "automatic",
        "fuelType": "petrol",
        "bodyType": "suv",
        "features": [
            {"name": "Panoramic sunroof", "category": "comfort"},
            {"name": "Adaptive cruise control", "category": "safety"},
        ],
        "imageUrls": [
            {"url": "https://dealer.example/photos/1.jpg", "isHero": True},
            {"url": "https://dealer.example/photos/2.jpg"},
        ],
        "contactId": "c-1",
    }
    assert warnings == []


def test_absent_fields_are_omitted_never_empty_or_null(
    carzle: CarzleConnector, vehicle_factory: MakeVehicle
) -> None:
    vehicle = vehicle_factory(trim="", description="   ", exterior_color=None, interior_color="",
                              vin=None, body_type="", transmission=None, fuel_type=" ",
                              features=[], images=[])
    payload, _ = carzle.build_payload(vehicle, creating=True)
    for key in ("trim", "description", "exteriorColor", "interiorColor", "chassisNumber",
                "bodyType", "transmission", "fuelType", "features", "imageUrls", "contactId"):
        assert key not in payload
    assert all(value not in (None, "", []) for value in payload.values())


def test_required_fields_checked_before_sending(
    carzle: CarzleConnector, vehicle_factory: MakeVehicle, fake_transport: Any
) -> None:
    vehicle = vehicle_factory(make=None, price=None, title="  ", kilometers=None)
    with pytest.raises(FixInput) as info:
        carzle.upsert(vehicle, None)
    assert set(info.value.fields) == {"make", "price", "title", "kilometers"}
    assert fake_transport.api_calls() == []  # nothing written
    # On update the same gaps are simply not sent.
    payload, _ = carzle.build_payload(vehicle, creating=False)
    assert "make" not in payload and "price" not in payload


def test_unmappable_enum_is_omitted_with_a_warning(
    carzle: CarzleConnector, vehicle_factory: MakeVehicle
) -> None:
    payload, warnings = carzle.build_payload(
        vehicle_factory(transmission="Tiptronic-ish", body_type="Spaceship"), creating=True
    )
    assert "transmission" not in payload and "bodyType" not in payload
    assert "transmission 'Tiptronic-ish' is not a Carzle value; omitted" in warnings
    assert "body type 'Spaceship' is not a Carzle value; omitted" in warnings


@pytest.mark.parametrize(("option", "expected"), [("gcc", "GCC"), ("American Specs", "American")])
def test_regional_specs_from_site_option(
    make_carzle: MakeCarzle, vehicle_factory: MakeVehicle, option: str, expected: str
) -> None:
    payload, _ = make_carzle(regional_specs=option).build_payload(vehicle_factory(), creating=True)
    assert payload["regionalSpecs"] == expected


def test_bad_regional_specs_option_is_a_warning(
    make_carzle: MakeCarzle, vehicle_factory: MakeVehicle
) -> None:
    payload, warnings = make_carzle(regional_specs="Martian").build_payload(
        vehicle_factory(), creating=True
    )
    assert "regionalSpecs" not in payload
    assert warnings == ["regional specs 'Martian' is not a Carzle value; omitted"]


@pytest.mark.parametrize("status", LISTING_STATUSES)
def test_listing_statuses_are_sent_as_is(
    carzle: CarzleConnector, vehicle_factory: MakeVehicle, status: str
) -> None:
    assert carzle.build_payload(vehicle_factory(status=status), creating=True)[0]["status"] == status


@pytest.mark.parametrize("status", ["draft", "published", "deleted"])
def test_other_statuses_never_reach_the_payload(
    carzle: CarzleConnector, vehicle_factory: MakeVehicle, status: str
) -> None:
    with pytest.raises(FixInput) as info:
        carzle.build_payload(vehicle_factory(status=status), creating=True)
    assert "status" in info.value.fields


# ----------------------------------------------------------------------------- externalRef


@pytest.mark.parametrize(
    ("options", "overrides", "expected"),
    [
        ({}, {}, "fc_sku_1234"),
        ({"ref_scheme": "stock_number"}, {"stock_number": " A-77 "}, "fc_sku_A-77"),
        ({"ref_scheme": "post_id"}, {}, "fc_post_881"),
        # A WordPress car's car_ref is its post ID: same scheme, not a mix.
        ({"ref_scheme": "post_id"}, {"post_id": None}, "fc_post_881"),
        ({"ref_scheme": "vin"}, {}, "fc_vin_JTMHV05J604123456"),
        ({"ref_prefix": "p1m_"}, {}, "p1m_sku_1234"),
        ({"ref_prefix": ""}, {}, "sku_1234"),
    ],
)
def test_external_ref_scheme(
    make_carzle: MakeCarzle, vehicle_factory: MakeVehicle, options: dict[str, Any],
    overrides: dict[str, Any], expected: str,
) -> None:
    assert make_carzle(**options).external_ref(vehicle_factory(**overrides)) == expected


@pytest.mark.parametrize(
    ("options", "overrides", "field"),
    [
        ({}, {"stock_number": None}, "stock_number"),  # no falling back to another scheme
        ({}, {"stock_number": "  "}, "stock_number"),
        ({"ref_scheme": "post_id"}, {"source": "dms", "post_id": None}, "post_id"),
        ({"ref_scheme": "vin"}, {"vin": None}, "vin"),
        ({}, {"stock_number": "x" * 250}, "stock_number"),  # > 255 with the prefix
    ],
)
def test_external_ref_needs_the_sites_field(
    make_carzle: MakeCarzle, vehicle_factory: MakeVehicle, options: dict[str, Any],
    overrides: dict[str, Any], field: str,
) -> None:
    with pytest.raises(FixInput) as info:
        make_carzle(**options).external_ref(vehicle_factory(**overrides))
    assert field in info.value.fields


def test_ref_path_is_url_quoted() -> None:
    assert CarzleConnector.ref_path("fc_sku_A/B 1?x") == "/listings/by-ref/fc_sku_A%2FB%201%3Fx"


@pytest.mark.parametrize(
    "options",
    [{"ref_scheme": "sku"}, {"max_images": 0}, {"ref_prefix": 7}, {"contacts": ["x"]},
     {"default_contact": 5}],
)
def test_invalid_options_are_refused(make_carzle: MakeCarzle, options: dict[str, Any]) -> None:
    with pytest.raises(FixInput) as info:
        make_carzle(**options)
    assert set(info.value.fields) == set(options)


# ----------------------------------------------------------------------------- catalog & schema


@pytest.mark.parametrize(
    ("make", "model", "expected"),
    [
        ("toyota", "LAND CRUISER", ("Toyota", "Land Cruiser")),
        ("Toyota", "Landcruiser", ("Toyota", "Land Cruiser")),
        ("Mercedes", "C Class", ("Mercedes-Benz", "C-Class")),
        ("mercedes benz", "g-class", ("Mercedes-Benz", "G-Class")),
        ("Ford", "F150", ("Ford", "F-150")),
    ],
)
def test_make_and_model_take_catalog_spelling(
    carzle: CarzleConnector, vehicle_factory: MakeVehicle, make: str, model: str,
    expected: tuple[str, str],
) -> None:
    payload, _ = carzle.build_payload(vehicle_factory(make=make, model=model), creating=True)
    assert (payload["make"], payload["model"]) == expected


@pytest.mark.parametrize(
    ("make", "model", "field"),
    [("Trabant", "601", "make"), ("Toyota", "Cybertruck", "model")],
)
def test_unknown_make_or_model_is_fix_input(
    carzle: CarzleConnector, vehicle_factory: MakeVehicle, make: str, model: str, field: str
) -> None:
    with pytest.raises(FixInput) as info:
        carzle.build_payload(vehicle_factory(make=make, model=model), creating=True)
    assert field in info.value.fields


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"price": 50_000_000}, "price"),
        ({"price": 0}, "price"),
        ({"year": 1800}, "year"),
        ({"kilometers": -5}, "kilometers"),
        ({"title": "T" * 201}, "title"),
        ({"price": "a lot"}, "price"),
        ({"currency": "EUR"}, "currency"),
    ],
)
def test_values_carzle_would_refuse_the_listing_for(
    carzle: CarzleConnector, vehicle_factory: MakeVehicle, overrides: dict[str, Any], field: str
) -> None:
    with pytest.raises(FixInput) as info:
        carzle.build_payload(vehicle_factory(**overrides), creating=True)
    assert field in info.value.fields


def test_numbers_are_coerced_to_int(carzle: CarzleConnector, vehicle_factory: MakeVehicle) -> None:
    payload, _ = carzle.build_payload(
        vehicle_factory(price="385,000", kilometers=12000.4, year="2024", currency="aed"),
        creating=True,
    )
    assert (payload["price"], payload["kilometers"], payload["year"]) == (385000, 12000, 2024)


def test_bad_optional_values_are_omitted_with_warnings(
    carzle: CarzleConnector, vehicle_factory: MakeVehicle
) -> None:
    payload, warnings = carzle.build_payload(
        vehicle_factory(doors=12, description="x" * 20001, exterior_color="c" * 51),
        creating=True,
    )
    assert {"doors", "description", "exteriorColor"}.isdisjoint(payload)
    assert len(warnings) == 3 and all(w.endswith("; omitted") for w in warnings)


# ----------------------------------------------------------------------------- images


def test_images_https_only_deduped_capped_hero_first(
    make_carzle: MakeCarzle, vehicle_factory: MakeVehicle
) -> None:
    urls = [
        "http://dealer.example/0.jpg",
        "https://dealer.example/1.jpg",
        "https://dealer.example/1.jpg",
        "https://10.0.0.5/2.jpg",
        "https://localhost/3.jpg",
        "https://dealer.example/4.jpg",
        "https://dealer.example/5.jpg",
        "https://dealer.example/6.jpg",
    ]
    payload, warnings = make_carzle(max_images=3).build_payload(
        vehicle_factory(images=[Image(url=u) for u in urls]), creating=True
    )
    assert payload["imageUrls"] == [
        {"url": "https://dealer.example/1.jpg", "isHero": True},
        {"url": "https://dealer.example/4.jpg"},
        {"url": "https://dealer.example/5.jpg"},
    ]
    assert warnings == [
        "image 'http://dealer.example/0.jpg' is not an HTTPS URL; omitted",
        "image 'https://10.0.0.5/2.jpg' is on a private host Carzle can't fetch; omitted",
        "image 'https://localhost/3.jpg' is on a private host Carzle can't fetch; omitted",
        "4 images; only the first 3 are sent to Carzle",
    ]


def test_image_cap_defaults_to_40(carzle: CarzleConnector, vehicle_factory: MakeVehicle) -> None:
    images = [Image(url=f"https://dealer.example/{i}.jpg") for i in range(45)]
    payload, _ = carzle.build_payload(vehicle_factory(images=images), creating=True)
    assert len(payload["imageUrls"]) == 40


def test_features_use_carzle_catalog_then_classifier(
    carzle: CarzleConnector, vehicle_factory: MakeVehicle
) -> None:
    payload, _ = carzle.build_payload(
        vehicle_factory(features=["Head-up display", "22-inch alloys", "Harman Kardon sound"]),
        creating=True,
    )
    assert payload["features"] == [
        {"name": "Head-up display", "category": "entertainment"},  # Carzle's own tag
        {"name": "22-inch alloys", "category": "exterior"},
        {"name": "Harman Kardon sound", "category": "entertainment"},
    ]


# ----------------------------------------------------------------------------- contacts


@pytest.mark.parametrize(
    ("options", "salesperson", "expected", "warned"),
    [
        ({"contacts": {"Aisha@Dealer.ae": "c-1"}}, "aisha@dealer.ae", "c-1", False),
        ({"contacts": {"agent-7": "Omar Ali"}}, "agent-7", "c-2", False),  # map to a name
        ({}, "Omar Ali", "c-2", False),  # the salesperson is already a contact's name
        ({}, "omar@dealer.ae", "c-2", False),
        ({"default_contact": "c-2"}, "nobody@dealer.ae", "c-2", True),
        ({"default_contact": "Aisha Khan"}, None, "c-1", False),
        ({}, "nobody@dealer.ae", None, True),  # the showroom's default contact
        ({"contacts": {"x": "ghost"}}, "x", None, True),
    ],
)
def test_salesperson_to_contact_id(
    make_carzle: MakeCarzle, vehicle_factory: MakeVehicle, options: dict[str, Any],
    salesperson: str | None, expected: str | None, warned: bool,
) -> None:
    payload, warnings = make_carzle(**options).build_payload(
        vehicle_factory(salesperson=salesperson), creating=True
    )
    assert payload.get("contactId") == expected
    assert bool(warnings) is warned


def test_no_salesperson_means_no_contacts_call(
    carzle: CarzleConnector, vehicle_factory: MakeVehicle, fake_transport: Any
) -> None:
    carzle.build_payload(vehicle_factory(salesperson=None), creating=True)
    assert [s["path"] for s in fake_transport.sent] == ["/metadata"]


# ----------------------------------------------------------------------------- reference cache


def test_metadata_fetched_once_per_key_and_cached_under_a_hash(
    fake_transport: Any, vehicle_factory: MakeVehicle
) -> None:
    cache = MemoryCache()

    def connector(key: str) -> CarzleConnector:
        return CarzleConnector(base_url=fake_transport.base_url, credentials={"api_key": key},
                               options={}, transport=fake_transport, cache=cache)

    for _ in range(3):  # three jobs, three connector instances
        connector("cz_live_secret_one").build_payload(vehicle_factory(), creating=True)
    assert [s["path"] for s in fake_transport.sent].count("/metadata") == 1
    assert all("secret" not in key for key in cache._data)
    connector("cz_live_secret_two").build_payload(vehicle_factory(), creating=True)
    assert [s["path"] for s in fake_transport.sent].count("/metadata") == 2


def test_stale_metadata_is_used_when_refresh_fails(
    fake_transport: Any, vehicle_factory: MakeVehicle, response_factory: Callable[..., Any]
) -> None:
    clock = [0.0]
    cache = MemoryCache(clock=lambda: clock[0])

    def connector() -> CarzleConnector:
        # As if each sync ran in a new worker: no parsed catalogue kept from the previous one.
        forget_parsed_metadata()
        return CarzleConnector(base_url=fake_transport.base_url, credentials={"api_key": "k"},
                               options={}, transport=fake_transport, cache=cache)

    connector().metadata()
    key = next(iter(cache._data))
    cached = cache.get_json(key)
    cache.set_json(key, {**cached, "fetched_at": cached["fetched_at"] - 7200}, 86400)
    fake_transport.add("GET", "/metadata", 503, {"error": {"message": "down"}})
    assert connector().metadata().allowed("transmission") == ["automatic", "manual"]
    fetches = [s["path"] for s in fake_transport.sent].count("/metadata")
    connector().metadata()  # the failed refresh is not retried on every sync ...
    assert [s["path"] for s in fake_transport.sent].count("/metadata") == fetches
    entry = cache.get_json(key)  # ... but a few minutes later
    cache.set_json(key, {**entry, "fetched_at": entry["fetched_at"] - 301}, 86400)
    connector().metadata()
    assert [s["path"] for s in fake_transport.sent].count("/metadata") == fetches + 1
    cache._data.clear()
    fake_transport.add("GET", "/metadata", 503, {"error": {"message": "down"}})
    with pytest.raises(RetryLater):
        connector().metadata()
