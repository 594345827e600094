"""Merge by VIN: which source wins each field, table-driven (pure: no database)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from app.listings.merge import config_problems, default_order, merge

T0 = datetime(2026, 12, 1, tzinfo=UTC)


@dataclass
class V:
    source: str
    vehicle: dict[str, Any]
    status: str | None = "active"
    removed: bool = False
    modified_at: datetime | None = None
    received_at: datetime = T0


WP = V("wordpress", {"vin": "V1", "make": "Toyota", "price": 28000, "title": "WP title", "kilometers": 100,
                     "images": [{"url": "wp.jpg", "id": None}]}, modified_at=T0)
CF = V("carfluence", {"vin": "V1", "make": "TOYOTA", "price": 27500, "msrp": 31000, "kilometers": 250,
                      "images": []}, status="reserved", modified_at=T0 + timedelta(hours=1))
DMS = V("dms", {"vin": "V1", "make": "Toyota", "price": 27900, "description": "from the DMS"}, modified_at=T0)


@pytest.mark.parametrize(
    ("versions", "config", "expected", "sources"),
    [
        # The documented default: WordPress, then DMS, then pulled sources; gaps filled in order.
        ([WP, CF], None, {"price": 28000, "make": "Toyota", "msrp": 31000, "status": "active"},
         {"price": "wordpress", "msrp": "carfluence", "status": "wordpress"}),
        ([WP, DMS, CF], None, {"price": 28000, "description": "from the DMS"},
         {"description": "dms"}),
        # The "done when": price from Carfluence, everything else from WordPress.
        ([WP, CF], {"order": ["wordpress"], "fields": {"price": ["carfluence"]}, "fallback": False},
         {"price": 27500, "make": "Toyota", "msrp": None, "kilometers": 100, "status": "active"},
         {"price": "carfluence", "make": "wordpress", "kilometers": "wordpress"}),
        # Mileage from the most recent; price from the DMS.
        ([WP, DMS, CF], {"fields": {"kilometers": "newest", "price": ["dms"]}},
         {"kilometers": 250, "price": 27900}, {"kilometers": "carfluence", "price": "dms"}),
        # An empty list is no value: images fall through to the next source that has some.
        ([CF, WP], {"order": ["carfluence"]}, {"images": [{"url": "wp.jpg", "id": None}], "status": "reserved"},
         {"images": "wordpress", "status": "carfluence"}),
        # A source that removed the car drops out.
        ([V("wordpress", WP.vehicle, status="deleted", removed=True), CF], None,
         {"price": 27500, "status": "reserved"}, {"price": "carfluence"}),
    ],
)
def test_each_field_comes_from_the_configured_source(versions, config, expected, sources) -> None:
    merged = merge({v.source: v for v in versions}, config)
    assert {k: merged.vehicle[k] for k in expected if k != "status"} == {
        k: v for k, v in expected.items() if k != "status"}
    if "status" in expected:
        assert merged.status == expected["status"]
    assert {k: merged.sources.get(k) for k in sources} == sources


def test_the_car_is_deleted_only_when_every_source_removed_it() -> None:
    gone = [V(v.source, v.vehicle, status="deleted", removed=True) for v in (WP, CF)]
    assert merge({v.source: v for v in gone}, None).status == "deleted"


def test_the_default_order_puts_the_dealers_own_systems_first() -> None:
    assert default_order(["carfluence", "dms", "wordpress", "another"]) == ["wordpress", "dms", "another", "carfluence"]


@pytest.mark.parametrize(
    ("config", "problems"),
    [
        ({"order": ["wordpress"], "fields": {"price": ["carfluence"], "kilometers": "newest"}}, {}),
        ({"order": "wordpress"}, {"merge.order": "must be a list of source names (wordpress, dms, carfluence, …)"}),
        ({"fields": {"colour": ["dms"]}}, {"merge.fields.colour": "not a vehicle field"}),
        ({"fields": {"price": "oldest"}}, {"merge.fields.price": "must be a list of source names or \"newest\""}),
        ({"priority": []}, {"merge.priority": "unknown key (use order, fields, fallback)"}),
        ({"fallback": "no"}, {"merge.fallback": "must be true or false"}),
        ([], {"merge": "must be a table with `order` and/or `fields`"}),
    ],
)
def test_the_sites_file_merge_table_is_checked(config, problems) -> None:
    assert config_problems(config) == problems
