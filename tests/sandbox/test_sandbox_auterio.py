"""The Auterio emulation over real HTTP: what a DMS pushing vehicles would see."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from tests.sandbox.harness import AUTERIO_KEYS, Api, FeedApi, SandboxServer

INVALID = {"success": False, "error": "Invalid payload or no valid vehicles"}
# The year rules depend on "now": pin the sandbox clock so the cases do not move on 1 January.
NOW = "2026-06-01T12:00:00Z"


def vin(n: int) -> str:
    return f"WVWZZZE1ZNP{n:06d}"


def vehicle(n: int = 1, **changes: Any) -> dict[str, Any]:
    record = {
        "vin": vin(n),
        "brand": "Volkswagen",
        "model": "Golf",
        "version": "GTI 2.0 TSI",
        "year": 2024,
        "color_ext": "Negro",
        "fuel_type": "gasolina",
        "gearbox": "automático",
        "mileage": 15000,
        "power_hp": 245,
        "sale_price": 34500,
        "status": "disponible",
    }
    record.update(changes)
    return {k: v for k, v in record.items() if v is not None}


@pytest.fixture
def ctl(sandbox: SandboxServer) -> Api:
    api = Api(f"{sandbox.root}/_sandbox/auterio", None)
    api.post("/clock", json={"now": NOW})
    return api


@pytest.fixture
def ingest(sandbox: SandboxServer, ctl: Api) -> FeedApi:
    return FeedApi(f"{sandbox.root}/auterio/api/vehicles/ingest", {"Authorization": f"Bearer {AUTERIO_KEYS['dms']}"})


def stock(ctl: Api, account: str = "smith") -> dict[str, dict[str, Any]]:
    accounts = ctl.get("/state", params={"account": account}).json()["accounts"]
    return {v["vin"]: v for v in accounts.get(account, {}).get("vehicles", [])}


# --------------------------------------------------------------------------- auth


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        ({}, "Missing or invalid Authorization header"),
        ({"Authorization": f"Token {AUTERIO_KEYS['dms']}"}, "Missing or invalid Authorization header"),
        ({"Authorization": "Bearer"}, "Missing or invalid Authorization header"),
        ({"Authorization": "Bearer au_wrong"}, "API key is invalid or inactive"),
    ],
)
def test_requests_without_a_valid_key_get_auterios_two_401_messages(
    sandbox: SandboxServer, ctl: Api, headers: dict[str, str], message: str
) -> None:
    resp = requests.post(f"{sandbox.root}/auterio/api/vehicles/ingest", json={"vehicles": [vehicle()]}, headers=headers)
    assert (resp.status_code, resp.json()) == (401, {"success": False, "error": message})
    assert stock(ctl) == {}


def test_a_deactivated_key_is_inactive(ingest: FeedApi, ctl: Api) -> None:
    ctl.delete(f"/keys/{AUTERIO_KEYS['dms']}")
    resp = ingest.post({"vehicles": [vehicle()]})
    assert (resp.status_code, resp.json()) == (401, {"success": False, "error": "API key is invalid or inactive"})


# --------------------------------------------------------------------------- payloads


def test_a_valid_batch_gets_the_documented_response(ingest: FeedApi, ctl: Api) -> None:
    resp = ingest.post({"vehicles": [vehicle(1), vehicle(2, brand="BMW", model="320d", status=None)]})
    assert (resp.status_code, resp.json()) == (
        200,
        {"success": True, "imported": 2, "skipped": 0, "source": "DMS Cliente XYZ"},
    )
    cars = stock(ctl)
    assert cars[vin(2)]["status"] == "disponible"  # the documented default
    assert (cars[vin(1)]["fuel_type"], cars[vin(1)]["gearbox"]) == ("gasolina", "automático")


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (b"{not json", "body is not valid JSON"),
        (b"[]", "body must be a JSON object with a vehicles array"),
        ({}, "vehicles must be an array"),
        ({"vehicles": {"vin": vin(1)}}, "vehicles must be an array"),
        ({"vehicles": []}, "vehicles must contain at least one vehicle"),
        ({"vehicles": [vehicle(n) for n in range(1001)]}, "at most 1000 vehicles per request (received 1001)"),
    ],
)
def test_an_invalid_payload_is_a_400(ingest: FeedApi, ctl: Api, body: Any, error: str) -> None:
    resp = ingest.post(data=body) if isinstance(body, bytes) else ingest.post(body)
    assert resp.status_code == 400
    assert resp.json() == {**INVALID, "errors": [{"index": None, "vin": None, "error": error}]}
    assert stock(ctl) == {}


def test_a_thousand_vehicles_fit_in_one_request(ingest: FeedApi, ctl: Api) -> None:
    body = ingest.post({"vehicles": [vehicle(n) for n in range(1000)]}).json()
    assert (body["imported"], body["skipped"]) == (1000, 0)
    assert ctl.get("/state").json()["accounts"]["smith"]["count"] == 1000


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"vin": None}, "vin is required"),
        ({"vin": "  "}, "vin is required"),
        ({"vin": "WVW ZZZ E1Z"}, "vin must be 1 to 17 letters and digits"),
        ({"vin": "WVWZZZE1ZNP1234567"}, "vin must be 1 to 17 letters and digits"),
        ({"brand": None}, "brand is required"),
        ({"model": 320}, "model must be a string"),
        ({"year": 1899}, "year must be between 1900 and 2027"),
        ({"year": 2028}, "year must be between 1900 and 2027"),
        ({"year": "2024"}, "year must be an integer"),
        ({"year": 2024.5}, "year must be an integer"),
        ({"mileage": -1}, "mileage must be 0 or greater"),
        ({"doors": 11}, "doors must be between 0 and 10"),
        ({"sale_price": "34500"}, "sale_price must be a number"),
        ({"cost_price": -1}, "cost_price must be 0 or greater"),
        ({"status": "sold"}, "status must be one of: disponible, reservado, vendido, transito, baja"),
        ({"fecha_matricula": "01/02/2024"}, "fecha_matricula must be a date (YYYY-MM-DD)"),
        ({"fecha_matricula": "2024-02-30"}, "fecha_matricula must be a date (YYYY-MM-DD)"),
        ({"fecha_matricula": "2026-06-02"}, "fecha_matricula must not be in the future"),
        ({"color_ext": 7}, "color_ext must be a string"),
        ({"brand": None, "year": 1800}, "brand is required; year must be between 1900 and 2027"),
    ],
)
def test_invalid_vehicles_are_skipped_and_reported(
    ingest: FeedApi, ctl: Api, changes: dict[str, Any], error: str
) -> None:
    bad = {**vehicle(9), **changes}
    bad = {k: v for k, v in bad.items() if v is not None}
    resp = ingest.post({"vehicles": [vehicle(1), bad]})
    assert resp.status_code == 200
    hint = bad["vin"].strip().upper() if isinstance(bad.get("vin"), str) and bad["vin"].strip() else None
    assert resp.json() == {
        "success": True,
        "imported": 1,
        "skipped": 1,
        "source": "DMS Cliente XYZ",
        "errors": [{"index": 1, "vin": hint, "error": error}],
    }
    assert list(stock(ctl)) == [vin(1)]


def test_a_batch_with_no_valid_vehicle_is_a_400_with_the_errors(ingest: FeedApi, ctl: Api) -> None:
    resp = ingest.post({"vehicles": [vehicle(1, vin=None), "not a vehicle"]})
    assert resp.status_code == 400
    assert resp.json() == {
        **INVALID,
        "errors": [
            {"index": 0, "vin": None, "error": "vin is required"},
            {"index": 1, "vin": None, "error": "vehicle must be an object"},
        ],
    }


def test_atomic_batches_refuse_the_whole_batch_without_naming_the_culprit(
    sandbox: SandboxServer, ingest: FeedApi, ctl: Api
) -> None:
    sandbox.registry.update_config({"auterioAtomicBatches": True})
    resp = ingest.post({"vehicles": [vehicle(1), vehicle(2, year=1800), vehicle(3)]})
    assert (resp.status_code, resp.json()) == (400, INVALID)
    assert stock(ctl) == {}
    [record] = ctl.get("/state").json()["ingests"]  # the dump still says why, for test authors
    assert record["refused"] and record["errors"][0]["index"] == 1
    assert ingest.post({"vehicles": [vehicle(1), vehicle(3)]}).json()["imported"] == 2


@pytest.mark.parametrize("status", ["disponible", "reservado", "vendido", "transito", "baja", "RESERVADO"])
def test_every_documented_status_is_accepted(ingest: FeedApi, ctl: Api, status: str) -> None:
    assert ingest.post({"vehicles": [vehicle(1, status=status)]}).json()["imported"] == 1
    assert stock(ctl)[vin(1)]["status"] == status.lower()


# --------------------------------------------------------------------------- upsert by VIN


def test_a_vin_seen_before_is_updated_not_duplicated(ingest: FeedApi, ctl: Api) -> None:
    ingest.post({"vehicles": [vehicle(1, matricula="1234 ABC", status="reservado")]})
    created_at = stock(ctl)[vin(1)]["created_at"]
    ctl.post("/clock", json={"advanceSeconds": 60})
    again = ingest.post(
        {"vehicles": [{"vin": vin(1).lower(), "brand": "Volkswagen", "model": "Golf", "sale_price": 33000}]}
    )
    assert again.json()["imported"] == 1
    cars = stock(ctl)
    assert list(cars) == [vin(1)]
    car = cars[vin(1)]
    assert (car["sale_price"], car["matricula"], car["created_at"]) == (33000, "1234 ABC", created_at)
    assert car["status"] == "disponible"  # no status sent: the default applies to every vehicle
    assert car["updated_at"] > created_at
    assert [(i["created"], i["updated"]) for i in ctl.get("/state").json()["ingests"]] == [(1, 0), (0, 1)]


def test_null_clears_a_field_and_undocumented_fields_are_ignored(ingest: FeedApi, ctl: Api) -> None:
    ingest.post({"vehicles": [vehicle(1, color_int="Gris")]})
    ingest.post({"vehicles": [vehicle(1, color_int=None) | {"color_int": None, "images": ["https://x/1.jpg"]}]})
    car = stock(ctl)[vin(1)]
    assert car["color_int"] is None
    assert "images" not in car and car["ignored_fields"] == ["images"]


def test_stock_belongs_to_the_keys_account(sandbox: SandboxServer, ingest: FeedApi, ctl: Api) -> None:
    url = ingest.url
    second = FeedApi(url, {"Authorization": f"Bearer {AUTERIO_KEYS['second']}"})
    other = FeedApi(url, {"Authorization": f"Bearer {AUTERIO_KEYS['other']}"})
    ingest.post({"vehicles": [vehicle(1)]})
    assert second.post({"vehicles": [vehicle(1, sale_price=1)]}).json()["source"] == "Second DMS"
    other.post({"vehicles": [vehicle(1)]})
    assert stock(ctl)[vin(1)]["sale_price"] == 1  # same account: the same car
    assert list(stock(ctl, "jones")) == [vin(1)]


# --------------------------------------------------------------------------- faults


def test_an_outage_answers_5xx_in_auterios_shape(ingest: FeedApi, ctl: Api) -> None:
    ctl.post("/faults", json={"outage": True, "outageStatus": 502})
    resp = ingest.post({"vehicles": [vehicle(1)]})
    assert resp.status_code == 502
    assert resp.json()["success"] is False
    assert stock(ctl) == {}


def test_a_failure_after_commit_leaves_the_batch_applied_and_a_retry_updates(ingest: FeedApi, ctl: Api) -> None:
    ctl.post("/faults", json={"failNext": 1, "afterCommit": True})
    assert ingest.post({"vehicles": [vehicle(1), vehicle(2)]}).status_code == 503
    assert sorted(stock(ctl)) == [vin(1), vin(2)]
    assert ingest.post({"vehicles": [vehicle(1), vehicle(2)]}).json()["imported"] == 2
    assert [(i["created"], i["updated"]) for i in ctl.get("/state").json()["ingests"]] == [(2, 0), (0, 2)]


def test_the_shared_fault_rate_applies(sandbox: SandboxServer, ingest: FeedApi, ctl: Api) -> None:
    sandbox.registry.update_config({"fault_rate": 1.0})
    assert ingest.post({"vehicles": [vehicle(1)]}).status_code in (500, 502, 503)
    assert stock(ctl) == {}
    assert ctl.get("/stats").json()["keys"][AUTERIO_KEYS["dms"]]["faults"] == 1


def test_the_cli_seeds_keys_and_the_batch_behaviour() -> None:
    from sandbox.__main__ import AUTERIO_DEMO_KEY, build_parser, settings_from_args

    args = build_parser().parse_args(["--auterio-key", "au_a:smith:DMS Cliente XYZ", "--auterio-atomic"])
    settings = settings_from_args(args, {})
    assert (settings.auterio_keys, settings.auterio_atomic_batches) == (["au_a:smith:DMS Cliente XYZ"], True)
    default = settings_from_args(build_parser().parse_args([]), {})
    assert (default.auterio_keys, default.auterio_atomic_batches) == ([AUTERIO_DEMO_KEY], False)


def test_issue_10_scenario_2500_cars_in_three_requests(ingest: FeedApi, ctl: Api) -> None:
    """The issue's acceptance story: the connector leaves out the 3 cars without a VIN, so
    2,497 go out in 3 batches and the one with an impossible year is skipped."""
    statuses = ["disponible", "reservado", "vendido", "transito"]
    cars = [vehicle(n, status=statuses[n % 4]) for n in range(2497)]
    cars[1234]["year"] = 2031
    bodies = [ingest.post({"vehicles": cars[i : i + 1000]}).json() for i in range(0, len(cars), 1000)]
    assert [(b["imported"], b["skipped"]) for b in bodies] == [(1000, 0), (999, 1), (497, 0)]
    assert bodies[1]["errors"] == [{"index": 234, "vin": vin(1234), "error": "year must be between 1900 and 2027"}]
    summary = ctl.get("/state", params={"account": "smith"}).json()["accounts"]["smith"]
    assert (summary["count"], sum(summary["statuses"].values())) == (2496, 2496)
    assert set(summary["statuses"]) == set(statuses)

    assert ingest.post({"vehicles": [vehicle(7, status="baja")]}).json()["imported"] == 1  # a trashed car
    assert stock(ctl)[vin(7)]["status"] == "baja"
