"""The Carslink emulation over real HTTP: what a partner pushing feeds would see."""

from __future__ import annotations

import re
from typing import Any

import pytest
import requests

from tests.sandbox.harness import CARSLINK_KEYS, Api, FeedApi, SandboxServer

DEALER = {
    "partner_dealer_id": "DEALER-001",
    "name": "Smith Motors Ltd",
    "address_line_1": "123 Motor Row",
    "town": "Manchester",
    "postcode": "M1 2AB",
    "phone": "0161 555 0100",
    "email": "sales@smithmotors.example",
    "website": "https://www.smithmotors.example",
}
IMAGES = [f"https://cdn.example/{n}.jpg" for n in ("hero", "rear", "interior", "dashboard")]


def car(source_id: str = "V-001", **changes: Any) -> dict[str, Any]:
    listing = {
        "vehicle_type": "car",
        "make": "BMW",
        "model": "3 Series",
        "variant": "320d M Sport",
        "year": 2021,
        "price": 28995,
        "mileage": 24500,
        "fuel": "Diesel",
        "transmission": "Automatic",
        "colour": "Black Sapphire",
        "body_type": "Saloon",
        "condition": "Used",
        "registration": "AB21 XYZ",
        "vin": "WBAJL510X0G123456",
        "source_id": source_id,
        "images": list(IMAGES),
        "listing_url": f"https://www.smithmotors.example/vehicle/{source_id}",
        "description": "One owner from new with full BMW service history.",
    }
    listing.update(changes)
    return {k: v for k, v in listing.items() if v is not None}


def feed(mode: str, listings: list[Any], dealer: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"mode": mode, "dealer": dealer or {"partner_dealer_id": DEALER["partner_dealer_id"]}, "listings": listings}


@pytest.fixture
def stock(sandbox: SandboxServer) -> FeedApi:
    return FeedApi(f"{sandbox.root}/carslink/api/v1/stock", {"X-Dealer-Api-Key": CARSLINK_KEYS["partner"]})


@pytest.fixture
def ctl(sandbox: SandboxServer) -> Api:
    return Api(f"{sandbox.root}/_sandbox/carslink", None)


def state(ctl: Api, **params: str) -> dict[str, Any]:
    resp = ctl.get("/state", params=params)
    assert resp.status_code == 200
    return resp.json()


def live_ids(ctl: Api) -> list[str]:
    return sorted(listing["source_id"] for listing in state(ctl)["listings"])


# --------------------------------------------------------------------------- auth and whole-feed errors


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        ({}, "Missing X-Dealer-Api-Key header."),
        ({"X-Dealer-Api-Key": ""}, "Missing X-Dealer-Api-Key header."),
        ({"X-Dealer-Api-Key": "cl_wrong"}, "Invalid partner API key."),
        ({"Authorization": f"Bearer {CARSLINK_KEYS['partner']}"}, "Missing X-Dealer-Api-Key header."),
    ],
)
def test_feeds_without_a_valid_partner_key_get_401_and_change_nothing(
    sandbox: SandboxServer, ctl: Api, headers: dict[str, str], message: str
) -> None:
    resp = requests.post(f"{sandbox.root}/carslink/api/v1/stock", json=feed("full_replace", [car()]), headers=headers)
    assert resp.status_code == 401
    error = resp.json()["error"]
    assert (error["code"], error["message"]) == ("unauthorized", message)
    assert error["requestId"] == resp.headers["X-Request-Id"]
    assert state(ctl)["dealers"] == []


def test_a_deactivated_partner_key_is_refused(stock: FeedApi, ctl: Api) -> None:
    assert ctl.delete(f"/keys/{CARSLINK_KEYS['partner']}").json()["active"] is False
    resp = stock.post(feed("partial", [car()]))
    assert (resp.status_code, resp.json()["error"]["message"]) == (401, "Invalid partner API key.")


@pytest.mark.parametrize(
    ("body", "status", "fields"),
    [
        (b"{not json", 400, {}),
        (b"[]", 400, {}),
        (
            {"dealer": {"partner_dealer_id": "D"}, "listings": []},
            422,
            {"mode": "is required (full_replace or partial)"},
        ),
        (
            {"mode": "replace", "dealer": {"partner_dealer_id": "D"}, "listings": []},
            422,
            {"mode": "must be one of: full_replace, partial"},
        ),
        ({"mode": "partial", "listings": []}, 422, {"dealer": "is required"}),
        (
            {"mode": "partial", "dealer": {"name": "No Id Ltd"}, "listings": []},
            422,
            {"dealer.partner_dealer_id": "is required"},
        ),
        (
            {"mode": "partial", "dealer": {"partner_dealer_id": " "}, "listings": []},
            422,
            {"dealer.partner_dealer_id": "is required"},
        ),
        ({"mode": "partial", "dealer": {"partner_dealer_id": "D"}}, 422, {"listings": "is required"}),
        (
            {"mode": "partial", "dealer": {"partner_dealer_id": "D"}, "listings": {}},
            422,
            {"listings": "must be an array"},
        ),
    ],
)
def test_a_malformed_feed_is_rejected_whole(
    stock: FeedApi, ctl: Api, body: Any, status: int, fields: dict[str, str]
) -> None:
    resp = (
        stock.post(data=body, headers={"Content-Type": "application/json"})
        if isinstance(body, bytes)
        else stock.post(body)
    )
    assert resp.status_code == status
    assert resp.json()["error"]["fields"] == fields
    assert state(ctl)["dealers"] == []


# --------------------------------------------------------------------------- the response and skipped listings


def test_the_response_has_the_documented_shape_and_creates_the_dealer_once(stock: FeedApi, ctl: Api) -> None:
    listings = [car("V-001"), car("V-002", images=IMAGES[:2]), car("V-003", price=0), car("V-004")]
    first = stock.post(feed("full_replace", listings, DEALER))
    assert first.status_code == 202
    body = first.json()
    assert list(body) == [
        "sync_id", "status", "message", "received_count", "queued_count", "deleted_count", "success", "dealer",
        "feed", "skipped_listings", "timestamp",
    ]  # fmt: skip
    assert re.fullmatch(r"sync_[0-9a-f]{8}", body["sync_id"])
    assert (body["status"], body["message"], body["success"]) == (
        "accepted",
        "Payload accepted, processing in background",
        True,
    )
    assert (body["received_count"], body["queued_count"], body["deleted_count"]) == (4, 2, 0)
    assert body["feed"] == {"mode": "full_replace", "received": 4, "accepted": 2, "skipped": 2, "removed": 0}
    assert body["skipped_listings"] == [
        {"source_id": "V-002", "reason": "minimum 4 image URLs required (received 2)"},
        {"source_id": "V-003", "reason": "price must be numeric and > 0"},
    ]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", body["timestamp"])
    assert body["dealer"]["partner_dealer_id"] == "DEALER-001"
    assert (body["dealer"]["location"], body["dealer"]["region"], body["dealer"]["created"]) == (
        "Manchester",
        "North West",
        True,
    )

    second = stock.post(feed("partial", [car("V-001", price=27995)]))
    assert second.json()["dealer"] is None  # the dealer exists now
    dump = state(ctl)
    [dealer] = dump["dealers"]
    assert dealer["profile"]["name"] == "Smith Motors Ltd"  # a later feed with only the id keeps the profile
    assert dealer["welcome_email_to"] == DEALER["email"]
    assert (dealer["last_sync_id"], dealer["last_full_replace_sync_id"]) == (second.json()["sync_id"], body["sync_id"])
    assert dealer["live_listings"] == 2
    assert ctl.get(f"/syncs/{body['sync_id']}").json()["skipped_listings"] == body["skipped_listings"]


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"images": IMAGES[:3]}, "minimum 4 image URLs required (received 3)"),
        ({"images": None}, "minimum 4 image URLs required (received 0)"),
        (
            {"images": [*IMAGES[:3], IMAGES[0]]},
            "minimum 4 image URLs required (received 3); 1 duplicate URL(s) ignored",
        ),
        ({"images": "https://cdn.example/one.jpg"}, "images must be an array of HTTPS URLs"),
        ({"price": 0}, "price must be numeric and > 0"),
        ({"price": -5}, "price must be numeric and > 0"),
        ({"price": "28995"}, "price must be numeric and > 0"),
        ({"price": None}, "price is required"),
        ({"registration": None}, "registration is required"),
        ({"registration": "NOT A PLATE 1"}, "registration must be a UK Vehicle Registration Mark (VRM)"),
        ({"make": None}, "make is required"),
        ({"model": " "}, "model is required"),
        ({"year": None}, "year is required"),
        ({"year": 21}, "year must be a 4-digit integer"),
        ({"year": "2021"}, "year must be a 4-digit integer"),
        ({"year": 1850}, "year must be between 1886 and"),
        ({"mileage": None}, "mileage is required"),
        ({"mileage": -1}, "mileage must be an integer, zero or greater"),
        ({"mileage": 2.5}, "mileage must be an integer, zero or greater"),
        ({"body_type": None}, "body_type is required for cars"),
        ({"vehicle_type": "van", "body_type": None}, "body_type is required for vans"),
        ({"vehicle_type": "lorry"}, "vehicle_type must be one of: car, motorcycle, van (motorbike accepted)"),
        ({"transmission": "auto"}, "transmission must be one of: Manual, Automatic, Semi-Automatic, CVT"),
        ({"listing_url": "http://www.smithmotors.example/v/1"}, "listing_url must be an HTTPS URL"),
        ({"vin": "WBAJL510X0G12345O"}, "vin must be 17 characters without I, O or Q"),
        ({"vehicle_type": "motorbike", "licence_category": "B"}, "licence_category must be one of: A, A1, A2, AM"),
        ({"delete": "yes"}, "delete must be true or false"),
        ({"delete": 1}, "delete must be true or false"),
        ({"source_id": None, "vin": None, "registration": None}, "source_id is required"),
    ],
)
def test_invalid_listings_are_skipped_with_a_reason(
    stock: FeedApi, ctl: Api, changes: dict[str, Any], reason: str
) -> None:
    listing = {**car("V-BAD"), **changes}
    listing = {k: v for k, v in listing.items() if v is not None}
    body = stock.post(feed("partial", [listing, car("V-GOOD")])).json()
    [skipped] = body["skipped_listings"]
    assert skipped["reason"].startswith(reason)
    assert body["feed"]["accepted"] == 1
    assert live_ids(ctl) == ["V-GOOD"]


def test_only_https_images_count_when_https_is_required(sandbox: SandboxServer, stock: FeedApi, ctl: Api) -> None:
    sandbox.registry.update_config({"require_https_images": True})
    mixed = [*IMAGES[:3], "http://cdn.example/4.jpg"]
    body = stock.post(feed("partial", [car("V-1", images=mixed)])).json()
    assert body["skipped_listings"][0]["reason"] == (
        "minimum 4 image URLs required (received 3); 1 non-HTTPS or invalid URL(s) ignored"
    )
    # The tests' baseline relaxes the rule so listings can point at loopback image servers.
    sandbox.registry.update_config({"require_https_images": False})
    assert stock.post(feed("partial", [car("V-1", images=mixed)])).json()["feed"]["accepted"] == 1


@pytest.mark.parametrize(
    ("changes", "stored"),
    [
        ({"vehicle_type": "motorbike", "body_type": None, "engine_size": 649, "licence_category": "a2"},
         {"vehicle_type": "motorcycle", "engine_size": 649, "licence_category": "A2"}),
        ({"vehicle_type": None}, {"vehicle_type": "car"}),
        ({"vehicle_type": "van", "body_type": "Panel Van", "payload_kg": 1100},
         {"vehicle_type": "van", "payload_kg": 1100}),
        ({"transmission": "semi-automatic"}, {"transmission": "Semi-Automatic"}),
        ({"registration": "ab21-xyz"}, {"registration": "AB21XYZ"}),
        ({"fuel": None, "fuel_type": "Petrol"}, {"fuel": "Petrol"}),
        ({"images": [*IMAGES, "https://cdn.example/boot.jpg"]},
         {"hero_image": IMAGES[0], "thumbnails": IMAGES[1:4], "images": [*IMAGES, "https://cdn.example/boot.jpg"]}),
        ({"fuel": None, "transmission": None, "colour": None, "listing_url": None, "description": None, "vin": None},
         {"description_generated": True, "description": "2021 BMW 3 Series 320d M Sport. 24,500 miles."}),
        ({"description": "Nice car."}, {"description_generated": True}),
        ({"location": "Leeds", "region": "Yorkshire"}, {"location": "Manchester", "region": "North West",
                                                         "overridden_fields": ["location", "region"]}),
    ],
)  # fmt: skip
def test_accepted_listings_are_stored_as_carslink_reads_them(
    stock: FeedApi, ctl: Api, changes: dict[str, Any], stored: dict[str, Any]
) -> None:
    body = stock.post(feed("full_replace", [car("V-1", **changes)], DEALER)).json()
    assert body["skipped_listings"] == []
    [listing] = state(ctl)["listings"]
    assert {k: listing.get(k) for k in stored} == stored


# --------------------------------------------------------------------------- modes


def test_full_replace_removes_what_is_missing_and_partial_touches_only_what_it_names(stock: FeedApi, ctl: Api) -> None:
    stock.post(feed("full_replace", [car("V-1"), car("V-2"), car("V-3")], DEALER))
    ids_before = {rec["source_id"]: rec["id"] for rec in state(ctl)["listings"]}

    partial = stock.post(feed("partial", [{"source_id": "V-1", "price": 27495, "mileage": 25100}, car("V-4")])).json()
    assert partial["feed"] == {"mode": "partial", "received": 2, "accepted": 2, "skipped": 0, "removed": 0}
    listings = {rec["source_id"]: rec for rec in state(ctl)["listings"]}
    assert sorted(listings) == ["V-1", "V-2", "V-3", "V-4"]
    assert (listings["V-1"]["price"], listings["V-1"]["mileage"], listings["V-1"]["make"]) == (27495, 25100, "BMW")
    assert listings["V-1"]["id"] == ids_before["V-1"]  # updated in place

    deleted = stock.post(feed("partial", [{"source_id": "V-2", "delete": True}, {"source_id": "V-9", "delete": True}]))
    assert (deleted.json()["deleted_count"], deleted.json()["feed"]["removed"]) == (1, 1)  # unknown ids: no-op
    assert live_ids(ctl) == ["V-1", "V-3", "V-4"]

    replaced = stock.post(feed("full_replace", [car("V-1"), car("V-4")])).json()
    assert (replaced["feed"]["removed"], replaced["deleted_count"]) == (1, 0)
    assert live_ids(ctl) == ["V-1", "V-4"]
    removed = {(r["source_id"], r["reason"]) for r in state(ctl)["removed"]}
    assert removed == {("V-2", "delete"), ("V-3", "full_replace")}


def test_a_full_replace_listing_that_is_now_skipped_is_removed(stock: FeedApi, ctl: Api) -> None:
    stock.post(feed("full_replace", [car("V-1"), car("V-2")]))
    body = stock.post(feed("full_replace", [car("V-1"), car("V-2", images=IMAGES[:2])])).json()
    assert (body["feed"]["skipped"], body["feed"]["removed"]) == (1, 1)
    assert live_ids(ctl) == ["V-1"]


def test_an_empty_full_replace_empties_the_dealer(stock: FeedApi, ctl: Api) -> None:
    stock.post(feed("full_replace", [car("V-1"), car("V-2")]))
    assert stock.post(feed("full_replace", [])).json()["feed"]["removed"] == 2
    assert live_ids(ctl) == []


def test_a_partial_update_that_breaks_a_rule_leaves_the_listing_as_it_was(stock: FeedApi, ctl: Api) -> None:
    stock.post(feed("partial", [car("V-1")]))
    body = stock.post(feed("partial", [{"source_id": "V-1", "price": 0}])).json()
    assert body["skipped_listings"] == [{"source_id": "V-1", "reason": "price must be numeric and > 0"}]
    assert state(ctl)["listings"][0]["price"] == 28995


def test_a_new_listing_in_a_partial_feed_needs_every_required_field(stock: FeedApi, ctl: Api) -> None:
    body = stock.post(feed("partial", [{"source_id": "V-NEW", "price": 1000}])).json()
    assert body["skipped_listings"] == [{"source_id": "V-NEW", "reason": "make is required"}]


def test_dealers_are_per_partner_and_per_partner_dealer_id(sandbox: SandboxServer, stock: FeedApi, ctl: Api) -> None:
    other = FeedApi(stock.url, {"X-Dealer-Api-Key": CARSLINK_KEYS["other"]})
    stock.post(feed("full_replace", [car("V-1")]))
    assert other.post(feed("full_replace", [car("V-1")])).json()["dealer"]["created"] is True
    stock.post(feed("full_replace", [car("V-2")], {"partner_dealer_id": "DEALER-002"}))
    dealers = {(d["account"], d["partner_dealer_id"]) for d in state(ctl)["dealers"]}
    assert dealers == {("acme-dms", "DEALER-001"), ("other-dms", "DEALER-001"), ("acme-dms", "DEALER-002")}
    assert [d["live_listings"] for d in state(ctl, account="other-dms")["dealers"]] == [1]
    assert [rec["source_id"] for rec in state(ctl, dealer="DEALER-002")["listings"]] == ["V-2"]


def test_bad_recommended_dealer_fields_are_dropped_with_a_warning(stock: FeedApi, ctl: Api) -> None:
    dealer = {
        **DEALER,
        "website": "http://smithmotors.example",
        "postcode": "NOT A CODE",
        "phone": "+1 555 0100",
        "region": "Mars",
    }
    assert stock.post(feed("partial", [car()], dealer)).status_code == 202
    [stored] = state(ctl)["dealers"]
    assert not {"website", "postcode", "phone"} & set(stored["profile"])
    assert (stored["location"], stored["region"]) == (None, None)
    assert stored["warnings"] == [
        "phone must be a UK phone number; ignored",
        "postcode must be a UK postcode; ignored",
        "website must be an HTTPS URL; ignored",
        "region is resolved from the postcode; the value sent was ignored",
    ]


@pytest.mark.parametrize(
    ("fields", "address", "postcode", "region"),
    [
        ({"address_line_1": "123 Motor Row", "town": "Manchester"}, "123 Motor Row, Manchester", None, None),
        ({"address": "Unit 4, Leeds Road, Leeds", "town": "Leeds"}, "Unit 4, Leeds Road, Leeds", None, None),
        ({"postcode": "ls11 5xx"}, None, "LS11 5XX", "Yorkshire and the Humber"),
        ({"postcode": "SW1A1AA"}, None, "SW1A 1AA", "London"),
        ({"postcode": "ZE1 0AA"}, None, "ZE1 0AA", None),  # a real area the built-in table lacks
    ],
)
def test_the_dealer_address_and_region_come_from_the_profile(
    stock: FeedApi, ctl: Api, fields: dict[str, str], address: str | None, postcode: str | None, region: str | None
) -> None:
    stock.post(feed("partial", [car()], {"partner_dealer_id": "D-9", **fields}))
    [stored] = state(ctl)["dealers"]
    assert (stored["address"], stored["profile"].get("postcode"), stored["region"]) == (address, postcode, region)


# --------------------------------------------------------------------------- 24 h expiry


def test_listings_not_refreshed_within_24_hours_expire(stock: FeedApi, ctl: Api) -> None:
    stock.post(feed("full_replace", [car("V-1"), car("V-2")]))
    ctl.post("/clock", json={"advanceSeconds": 12 * 3600})
    stock.post(feed("partial", [{"source_id": "V-2", "price": 20000}]))  # any upsert refreshes
    ctl.post("/clock", json={"advanceSeconds": 12 * 3600 - 1})
    assert live_ids(ctl) == ["V-1", "V-2"]
    ctl.post("/clock", json={"advanceSeconds": 1})
    assert live_ids(ctl) == ["V-2"]
    assert [(r["source_id"], r["reason"]) for r in state(ctl)["removed"]] == [("V-1", "expired")]
    ctl.post("/clock", json={"advanceSeconds": 12 * 3600})
    assert live_ids(ctl) == []


def test_the_clock_can_be_set_and_rejects_bad_input(ctl: Api) -> None:
    moved = ctl.post("/clock", json={"now": "2026-05-12T10:00:00Z"}).json()
    assert moved["now"].startswith("2026-05-12T10:00")
    assert ctl.post("/clock", json={"speed": 3600}).json()["speed"] == 3600  # an hour per second
    bad = ctl.post("/clock", json={"advanceSeconds": "soon", "speed": 0, "now": "yesterday"})
    assert bad.status_code == 422
    assert set(bad.json()["error"]["fields"]) == {"advanceSeconds", "speed", "now"}


# --------------------------------------------------------------------------- faults


def test_an_outage_answers_5xx_and_changes_nothing(stock: FeedApi, ctl: Api) -> None:
    assert ctl.post("/faults", json={"outage": True}).json()["outage"] is True
    resp = stock.post(feed("full_replace", [car()]))
    assert (resp.status_code, resp.json()["error"]["code"]) == (503, "service_unavailable")
    assert state(ctl)["dealers"] == []
    ctl.post("/faults", json={"outage": False})
    assert stock.post(feed("full_replace", [car()])).status_code == 202


def test_a_failure_after_commit_is_safe_to_retry(stock: FeedApi, ctl: Api) -> None:
    ctl.post("/faults", json={"failNext": 1, "failStatus": 502, "afterCommit": True})
    assert stock.post(feed("full_replace", [car("V-1"), car("V-2")])).status_code == 502
    first_ids = {rec["source_id"]: rec["id"] for rec in state(ctl)["listings"]}
    assert sorted(first_ids) == ["V-1", "V-2"]  # it landed although the partner saw a 502
    retry = stock.post(feed("full_replace", [car("V-1"), car("V-2")])).json()
    assert retry["feed"]["removed"] == 0
    assert {rec["source_id"]: rec["id"] for rec in state(ctl)["listings"]} == first_ids


def test_the_shared_fault_rate_applies_before_any_change(sandbox: SandboxServer, stock: FeedApi, ctl: Api) -> None:
    sandbox.registry.update_config({"fault_rate": 1.0, "seed": 7})
    statuses = {stock.post(feed("partial", [car()])).status_code for _ in range(6)}
    assert statuses <= {500, 502, 503}
    assert state(ctl)["dealers"] == []
    assert ctl.get("/stats").json()["keys"][CARSLINK_KEYS["partner"]]["faults"] == 6


def test_fault_plan_rejects_unknown_or_bad_values(ctl: Api) -> None:
    resp = ctl.post("/faults", json={"outage": "yes", "failStatus": 200, "explode": True})
    assert resp.status_code == 422
    assert set(resp.json()["error"]["fields"]) == {"outage", "failStatus", "explode"}
    assert ctl.get("/faults").json()["outage"] is False


def test_the_cli_seeds_partner_keys() -> None:
    from sandbox.__main__ import CARSLINK_DEMO_KEY, build_parser, settings_from_args

    args = build_parser().parse_args(["--carslink-key", "cl_a:acme", "--carslink-key", "cl_b"])
    assert settings_from_args(args, {}).carslink_keys == ["cl_a:acme", "cl_b"]
    assert settings_from_args(build_parser().parse_args([]), {}).carslink_keys == [CARSLINK_DEMO_KEY]


def test_issue_9_scenario_six_cars_end_with_four_live_listings(stock: FeedApi, ctl: Api) -> None:
    """The issue's acceptance story, as the connector will play it against this sandbox."""
    cars = [car(f"V-{n}") for n in range(1, 6)] + [car("V-6", images=IMAGES[:2])]
    first = stock.post(feed("full_replace", cars, DEALER)).json()
    assert first["skipped_listings"] == [{"source_id": "V-6", "reason": "minimum 4 image URLs required (received 2)"}]
    trashed = stock.post(feed("partial", [{"source_id": "V-5", "delete": True}])).json()
    assert trashed["deleted_count"] == 1
    assert live_ids(ctl) == ["V-1", "V-2", "V-3", "V-4"]
    again = stock.post(feed("full_replace", [car(f"V-{n}") for n in range(1, 5)])).json()
    assert again["feed"]["removed"] == 0
    assert live_ids(ctl) == ["V-1", "V-2", "V-3", "V-4"]
