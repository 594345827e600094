import json
from pathlib import Path

import pytest

from app.listings.dms import AUTERIO_FIELDS, vehicle_from_auterio, vehicle_from_carslink
from app.listings.presets import MappingResult
from app.listings.vehicle import Image, Vehicle

FIXTURES = Path(__file__).parent / "fixtures"
YEAR = 2025


def auterio(index: int) -> dict:
    return json.loads((FIXTURES / "auterio_vehicles.json").read_text())["vehicles"][index]


def carslink(index: int) -> dict:
    return json.loads((FIXTURES / "carslink_feed.json").read_text())["listings"][index]


def everything_said(result: MappingResult) -> str:
    """Every byte a MappingResult could carry out of Forecourt."""
    return json.dumps(
        {"vehicle": result.vehicle.to_dict(), "errors": result.errors, "warnings": result.warnings},
        ensure_ascii=False,
    ) + repr(result)


# ----------------------------------------------------------------------------- Auterio


def test_auterio_documented_example():
    result = vehicle_from_auterio(auterio(0), current_year=YEAR)
    assert result.errors == {}
    assert result.flag_status is None
    assert result.vehicle == Vehicle(
        source="dms",
        car_ref="WVWZZZE1ZNP123456",
        status="active",
        make="Volkswagen",
        model="Golf",
        year=2024,
        trim="GTI 2.0 TSI",
        title="2024 Volkswagen Golf GTI 2.0 TSI",
        price=34500,
        currency="EUR",
        kilometers=15000,
        vin="WVWZZZE1ZNP123456",
        exterior_color="Negro",  # Spanish kept: connectors own enum mapping
        fuel_type="gasolina",
        transmission="automático",
        horsepower=245,
        warnings=result.warnings,
    )
    assert len(result.warnings) == 1 and "check digit" in result.warnings[0]


def test_auterio_full_record():
    result = vehicle_from_auterio(auterio(2), current_year=YEAR)
    v = result.vehicle
    assert result.errors == {}
    assert v.status == "reserved"  # "Reservado"
    assert v.car_ref == v.vin == "VSSZZZKJZPR012345"
    assert (v.make, v.model, v.trim) == ("SEAT", "León", "FR 1.5 eTSI")
    assert v.registration == "1234 LMN"  # matricula
    assert (v.exterior_color, v.interior_color) == ("Rojo Deseo", "Negro")
    assert (v.fuel_type, v.transmission) == ("híbrido", "manual")
    assert v.kilometers == 38250  # "38.250 km"
    assert (v.engine_cc, v.horsepower, v.doors, v.seats) == (1498, 150, 5, 5)
    assert v.price == 21990  # "21.990 €", sale_price
    assert v.description == "Un solo propietario.\nLibro de mantenimiento sellado."
    assert (v.first_registration, v.category) == ("2022-03-14", "turismo")  # for an Auterio destination


@pytest.mark.parametrize("index", [0, 1, 2])
def test_auterio_cost_price_never_leaves_forecourt(index):
    item = auterio(index)
    cost = item["cost_price"]
    result = vehicle_from_auterio(item, current_year=YEAR)
    # The canonical Vehicle has a cost_price slot (Auterio's opt-in ``send_cost_price``), but
    # no DMS table fills it: the inbound value stays out.
    assert result.vehicle.cost_price is None
    said = everything_said(result).replace("cost_price", "")
    assert "cost" not in said
    for rendering in {str(cost), str(int(cost)), f"{cost:,}", str(round(cost))}:
        assert rendering not in said
    # Other dealer-internal fields are not carried either.
    for secret in ("Subastas", "Grupo Motor", "Madrid Norte"):
        assert secret not in said


def test_cost_price_is_in_no_mapping_table():
    assert all("cost_price" not in keys for _, keys, _ in AUTERIO_FIELDS)


def test_auterio_cost_price_is_not_a_price_fallback():
    item = auterio(1)
    del item["sale_price"]
    result = vehicle_from_auterio(item, current_year=YEAR)
    assert result.vehicle.price is None
    assert str(item["cost_price"]) not in everything_said(result)


@pytest.mark.parametrize(
    ("status", "expected"),
    [("disponible", "active"), ("reservado", "reserved"), ("vendido", "sold"), ("transito", "coming_soon"),
     ("baja", "deleted"), (None, "active")],
)  # fmt: skip
def test_auterio_status(status, expected):
    item = auterio(1)
    if status is not None:
        item["status"] = status
    assert vehicle_from_auterio(item, current_year=YEAR).vehicle.status == expected


def test_auterio_unknown_status_sends_nothing():
    item = auterio(1) | {"status": "en taller"}
    result = vehicle_from_auterio(item, current_year=YEAR)
    assert result.vehicle.status is None
    assert result.errors["status"].startswith("status: unknown Auterio status 'en taller'")


def test_auterio_bad_values_are_collected():
    item = auterio(2) | {"vin": "VSSZZZKJZPR01234O", "sale_price": "-100", "mileage": "mucho", "year": 1850}
    result = vehicle_from_auterio(item, current_year=YEAR)
    assert set(result.errors) == {"vin", "price", "kilometers", "year"}
    assert result.vehicle.car_ref == "VSSZZZKJZPR01234O"  # Auterio keys by the VIN it holds
    assert result.vehicle.vin is None
    assert result.vehicle.price is None


def test_auterio_missing_vin_has_no_ref():
    item = auterio(1)
    del item["vin"]
    result = vehicle_from_auterio(item, current_year=YEAR)
    assert result.vehicle.car_ref == ""
    assert result.errors["car_ref"] == "car_ref: auterio record has no vin"


# ----------------------------------------------------------------------------- Carslink


def test_carslink_documented_car():
    result = vehicle_from_carslink(carslink(0), current_year=YEAR)
    assert result.errors == {}
    assert result.vehicle == Vehicle(
        source="dms",
        car_ref="YOUR-VEHICLE-ID-001",  # source_id beats VIN
        status="active",
        make="BMW",
        model="3 Series",
        year=2021,
        trim="320d M Sport",
        title="2021 BMW 3 Series 320d M Sport",
        description="One owner from new with full BMW service history.",
        price=28995,
        currency="GBP",
        kilometers=39429,  # 24,500 miles
        vin="WBAJL510X0G123456",
        registration="AB21 XYZ",
        exterior_color="Black Sapphire",
        body_type="Saloon",
        transmission="Automatic",
        fuel_type="Diesel",
        condition="used",
        vehicle_type="car",
        images=[
            Image("https://example.com/hero.jpg"),
            Image("https://example.com/rear.jpg"),
            Image("https://example.com/interior.jpg"),
            Image("https://example.com/dashboard.jpg"),
        ],
        listing_url="https://www.smithmotors.co.uk/vehicle/001",
        warnings=result.warnings,
    )


def test_carslink_motorbike_alias_and_fuel_type_key():
    v = vehicle_from_carslink(carslink(1), current_year=YEAR).vehicle
    assert v.vehicle_type == "motorcycle"
    assert v.fuel_type == "Petrol"  # sent as fuel_type instead of fuel
    assert v.kilometers == 9978  # "6,200 miles"
    assert v.engine_cc == 765
    assert v.price == 8495
    assert v.vin is None and v.car_ref == "BIKE-0042"


def test_carslink_partial_update_maps_only_what_it_carries():
    result = vehicle_from_carslink(carslink(2), current_year=YEAR)
    v = result.vehicle
    assert (v.car_ref, v.status, v.price, v.kilometers) == ("VEHICLE-001", "active", 27495, 40395)
    assert v.make is None and v.title is None and v.images == []
    assert result.errors == {}


def test_carslink_delete():
    result = vehicle_from_carslink(carslink(3), current_year=YEAR)
    assert result.vehicle.status == "deleted"
    assert result.vehicle.car_ref == "VEHICLE-002"
    assert result.errors == {}


def test_carslink_ref_falls_back_to_vin():
    item = carslink(0)
    del item["source_id"]
    assert vehicle_from_carslink(item, current_year=YEAR).vehicle.car_ref == "WBAJL510X0G123456"
    del item["vin"]
    result = vehicle_from_carslink(item, current_year=YEAR)
    assert result.errors["car_ref"] == "car_ref: carslink record has no source_id or vin"


def test_carslink_mileage_with_explicit_km_is_respected():
    item = carslink(0) | {"mileage": "39,000 km"}
    assert vehicle_from_carslink(item, current_year=YEAR).vehicle.kilometers == 39000


def test_currency_override_and_bad_currency():
    assert vehicle_from_carslink(carslink(0) | {"currency": "eur"}).vehicle.currency == "EUR"
    result = vehicle_from_carslink(carslink(0) | {"currency": "pounds"})
    assert result.vehicle.currency == "GBP"
    assert any(w.startswith("currency: 'pounds'") for w in result.warnings)


def test_updated_at_becomes_modified_at():
    item = carslink(2) | {"updated_at": "2026-05-12T10:00:00Z"}
    assert vehicle_from_carslink(item).vehicle.modified_at == "2026-05-12T10:00:00+00:00"


def test_non_mapping_item_is_a_programming_error():
    with pytest.raises(TypeError):
        vehicle_from_auterio(["not", "a", "dict"])  # type: ignore[arg-type]
