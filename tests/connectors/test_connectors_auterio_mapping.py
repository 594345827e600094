"""Auterio's mapping, table by table: canonical vehicle → one ``vehicles[]`` element."""

from __future__ import annotations

import pytest

from app.connectors.auterio import STATUS, removal_payload, vehicle_payload
from app.connectors.auterio.connector import AuterioConnector
from app.connectors.auterio.mapping import fuel, gearbox, missing_required, validate_options
from app.connectors.base import MemoryCache, SimpleTransport
from app.connectors.errors import FixInput
from app.connectors.kinds import FeedItem
from app.listings.vehicle import Vehicle


def car(**changes) -> Vehicle:
    values = dict(
        source="wordpress", car_ref="101", status="active", make="Volkswagen", model="Golf",
        trim="GTI 2.0 TSI", year=2024, vin="wvwzzze1znp123456", registration="1234 LMN",
        exterior_color="Negro", interior_color="Gris", fuel_type="Petrol", transmission="Automatic",
        kilometers=15000, engine_cc=1984, horsepower=245, doors=5, seats=5, price=34500,
        description="Un solo propietario.", first_registration="2024-03-01", category="Compacto",
        location="Madrid", cost_price=28000, body_type="hatchback",
    )
    values.update(changes)
    return Vehicle(**values)


def test_every_field_of_the_seed_table():
    assert vehicle_payload(car(), {}) == {
        "vin": "WVWZZZE1ZNP123456", "brand": "Volkswagen", "model": "Golf", "version": "GTI 2.0 TSI",
        "matricula": "1234 LMN", "year": 2024, "fecha_matricula": "2024-03-01", "categoria": "Compacto",
        "location": "Madrid", "notes": "Un solo propietario.", "color_ext": "Negro", "color_int": "Gris",
        "fuel_type": "gasolina", "gearbox": "automático", "mileage": 15000, "engine_cc": 1984,
        "power_hp": 245, "doors": 5, "seats": 5, "sale_price": 34500, "status": "disponible",
    }


@pytest.mark.parametrize(("options", "cost"), [
    ({}, None),  # default off
    ({"send_cost_price": False}, None),
    ({"send_cost_price": "yes"}, None),  # only a real true turns it on
    ({"send_cost_price": True}, 28000),
])
def test_cost_price_goes_only_when_the_destination_says_so(options, cost):
    assert vehicle_payload(car(), options).get("cost_price") == cost


@pytest.mark.parametrize(("raw", "es", "en"), [
    ("Petrol", "gasolina", "gasoline"),
    ("gasolina", "gasolina", "gasoline"),
    ("Diesel", "diésel", "diesel"),
    ("diésel", "diésel", "diesel"),
    ("Electric", "eléctrico", "electric"),
    ("Hybrid", "híbrido", "hybrid"),
    ("Plug-in Hybrid", "híbrido", "hybrid"),
    ("Hydrogen", "Hydrogen", "Hydrogen"),  # no Auterio word: as the dealer wrote it
    (None, None, None),
    ("  ", None, None),
])
def test_fuel_words(raw, es, en):
    assert (fuel(raw, "es"), fuel(raw, "en")) == (es, en)


@pytest.mark.parametrize(("raw", "es", "en"), [
    ("Automatic", "automático", "automatic"),
    ("8-speed automatic", "automático", "automatic"),
    ("DSG", "automático", "automatic"),
    ("Manual", "manual", "manual"),
    ("automático", "automático", "automatic"),
])
def test_gearbox_words(raw, es, en):
    assert (gearbox(raw, "es"), gearbox(raw, "en")) == (es, en)


def test_language_option_switches_both_words():
    body = vehicle_payload(car(fuel_type="Diesel", transmission="Manual"), {"language": "en"})
    assert (body["fuel_type"], body["gearbox"]) == ("diesel", "manual")


@pytest.mark.parametrize(("status", "auterio"), [
    ("active", "disponible"), ("reserved", "reservado"), ("sold", "vendido"),
    ("coming_soon", "transito"), ("inactive", "baja"), ("deleted", "baja"),
])
def test_status_table(status, auterio):
    assert STATUS[status] == auterio
    assert vehicle_payload(car(status=status), {})["status"] == auterio


@pytest.mark.parametrize(("changes", "expected"), [
    ({"category": None}, {"categoria": "hatchback"}),  # body type when no category
    ({"category": None, "body_type": None}, {"categoria": None}),
    ({"location": None}, {"location": None}),
    ({"first_registration": "01/03/2024"}, {"fecha_matricula": None}),  # only ISO dates
    ({"first_registration": "2024-03-01T00:00:00Z"}, {"fecha_matricula": "2024-03-01"}),
    ({"price": None, "trim": ""}, {"sale_price": None, "version": None}),  # omitted, never null
])
def test_absent_values_are_omitted(changes, expected):
    body = vehicle_payload(car(**changes), {})
    assert {key: body.get(key) for key in expected} == expected
    assert None not in body.values()


def test_location_option_fills_cars_without_one():
    assert vehicle_payload(car(location=None), {"location": "Showroom Norte"})["location"] == "Showroom Norte"
    assert vehicle_payload(car(), {"location": "Showroom Norte"})["location"] == "Madrid"


def test_a_removal_carries_only_what_finds_the_vehicle():
    assert removal_payload(car(status="deleted")) == {
        "vin": "WVWZZZE1ZNP123456", "brand": "Volkswagen", "model": "Golf", "status": "baja"}


@pytest.mark.parametrize(("changes", "missing"), [
    ({}, {}),
    ({"vin": None}, {"vin"}),
    ({"vin": "  "}, {"vin"}),
    ({"make": None, "model": ""}, {"brand", "model"}),
])
def test_required_fields(changes, missing):
    assert set(missing_required(car(**changes))) == set(missing)


def connector(**options) -> AuterioConnector:
    return AuterioConnector(base_url="http://127.0.0.1:9", credentials={"api_key": "k"}, options=options,
                            transport=SimpleTransport(), cache=MemoryCache())


@pytest.mark.parametrize(("item", "status", "reason"), [
    (FeedItem("1", car()), None, None),
    (FeedItem("2", car(vin=None)), "skipped", "Not sent to Auterio: vin missing"),
    (FeedItem("3", car(make=None)), "skipped", "Not sent to Auterio: brand missing"),
    (FeedItem("4", car(status="deleted"), removed=True), None, None),
    (FeedItem("5", car(vin=None, status="deleted"), removed=True), "skipped", "Auterio keys vehicles by VIN"),
    (FeedItem("6", None, removed=True), "skipped", "Auterio keys vehicles by VIN"),
])
def test_preflight(item, status, reason):
    outcome = connector().preflight(item)
    assert (outcome.status if outcome else None) == status
    if reason:
        assert outcome.reason.startswith(reason)


@pytest.mark.parametrize(("options", "bad"), [
    ({}, set()),
    ({"language": "en", "send_cost_price": True, "location": "X", "bisect_max_requests": 0}, set()),
    ({"language": "fr"}, {"language"}),
    ({"send_cost_price": "true"}, {"send_cost_price"}),
    ({"bisect_max_requests": -1}, {"bisect_max_requests"}),
    ({"bisect_max_requests": True}, {"bisect_max_requests"}),
    ({"location": 12}, {"location"}),
])
def test_options_are_checked(options, bad):
    assert set(validate_options(options)) == bad
    if bad:
        with pytest.raises(FixInput):
            connector(**options)
