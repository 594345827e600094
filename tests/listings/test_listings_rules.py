"""Transformation rules on the canonical vehicle, table-driven."""

from __future__ import annotations

from typing import Any

import pytest

from app.listings.rules import apply_rules, config_problems
from app.listings.vehicle import Image, Vehicle


def car(**fields: Any) -> Vehicle:
    base = dict(source="wordpress", car_ref="101", status="active", make="VW", model="Golf", year=2022,
                price=25_340, description="Nice", images=[Image("a.jpg")])
    return Vehicle(**{**base, **fields})


@pytest.mark.parametrize(
    ("rule", "field", "value"),
    [
        ({"action": "round_price", "to": 100}, "price", 25_300),
        ({"action": "round_price", "to": 100, "mode": "up"}, "price", 25_400),
        ({"action": "round_price", "to": 1000, "mode": "down"}, "price", 25_000),
        ({"action": "round_price", "to": 100, "mode": "ninety_nine"}, "price", 25_399),
        ({"action": "title_suffix", "text": " | Smith Motors"}, "title", "2022 VW Golf | Smith Motors"),
        ({"action": "make_alias", "aliases": {"vw": "Volkswagen"}}, "make", "Volkswagen"),
        ({"action": "make_alias", "aliases": {"Skoda": "Škoda"}}, "make", "VW"),
        ({"action": "drop", "field": "description"}, "description", None),
        ({"action": "drop", "field": "images"}, "images", []),
    ],
)
def test_each_rule_changes_its_field(rule, field, value) -> None:
    vehicle = car()
    assert apply_rules(vehicle, [rule], "carzle")
    assert getattr(vehicle, field) == value


def test_a_title_suffix_is_added_once_to_an_existing_title() -> None:
    vehicle = car(title="Golf GTI | Smith")
    apply_rules(vehicle, [{"action": "title_suffix", "text": " | Smith"}], None)
    assert vehicle.title == "Golf GTI | Smith"


@pytest.mark.parametrize(("marketplace", "price"), [("carzle", 25_000), ("carslink", 25_340), (None, 25_340)])
def test_a_rule_for_some_destinations_leaves_the_others_alone(marketplace, price) -> None:
    vehicle = car()
    apply_rules(vehicle, [{"action": "round_price", "to": 1000, "mode": "down", "destinations": ["carzle"]}],
                marketplace)
    assert vehicle.price == price


def test_rules_apply_in_order() -> None:
    vehicle = car()
    apply_rules(vehicle, [{"action": "make_alias", "aliases": {"VW": "Volkswagen"}},
                          {"action": "title_suffix", "text": "!"}], "carzle")
    assert vehicle.title == "2022 Volkswagen Golf!"


@pytest.mark.parametrize(
    ("rules", "problems"),
    [
        ([{"action": "round_price"}, {"action": "drop", "field": "msrp", "destinations": ["carzle"]}], {}),
        ([{"action": "shout"}], {"rules[0].action": "must be one of: round_price, title_suffix, make_alias, drop"}),
        ([{"action": "round_price", "to": 0, "mode": "sideways"}],
         {"rules[0].to": "must be a positive integer",
          "rules[0].mode": "must be one of: nearest, down, up, ninety_nine"}),
        ([{"action": "title_suffix"}], {"rules[0].text": "must be a non-empty string"}),
        ([{"action": "make_alias", "aliases": ["VW"]}],
         {"rules[0].aliases": "must be a table like {VW = \"Volkswagen\"}"}),
        ([{"action": "drop", "field": "vin"}],
         {"rules[0].field": "must be a vehicle field other than car_ref, source, status, vin"}),
        ([{"action": "drop", "field": "msrp", "destinations": "carzle"}],
         {"rules[0].destinations": "must be a list of marketplace names"}),
        ({"action": "drop"}, {"rules": "must be a list of [[sites.rules]] tables"}),
    ],
)
def test_the_sites_file_rules_are_checked(rules, problems) -> None:
    assert config_problems(rules) == problems
