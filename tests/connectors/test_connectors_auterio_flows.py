"""The Auterio connector against the Auterio sandbox over real HTTP: per-vehicle errors, the
two refusals (bad key, whole batch), bisection within its budget, faults."""

from __future__ import annotations

from datetime import date

import pytest

from app.connectors.auterio.connector import AuterioConnector
from app.connectors.base import MemoryCache, SimpleTransport
from app.connectors.errors import Reauthenticate, RetryLater
from app.connectors.kinds import FeedItem
from app.listings.vehicle import Vehicle

KEY = "au_test_forecourt"
NEXT_YEAR = date.today().year + 1


@pytest.fixture(scope="module")
def sandbox_server():
    """The whole sandbox app (Auterio in it) on a loopback port, for this module."""
    from sandbox.app import create_sandbox_app, get_registry
    from sandbox.common import SandboxSettings
    from tests.conftest import ServerThread

    app = create_sandbox_app(SandboxSettings())
    with ServerThread(app) as server:
        server.registry = get_registry(app)
        yield server


@pytest.fixture
def auterio(sandbox_server):
    registry = sandbox_server.registry
    registry.reset()
    registry.update_config({"auterio_atomic_batches": False, "fault_rate": 0.0, "latency_ms": 0})
    registry.auterio.add_key(KEY, "smith", "Forecourt")
    yield registry.auterio
    registry.update_config({"auterio_atomic_batches": False})


def connector(sandbox_server, key: str = KEY, **options) -> AuterioConnector:
    return AuterioConnector(base_url=f"{sandbox_server.url}/auterio", credentials={"api_key": key},
                            options=options, transport=SimpleTransport(), cache=MemoryCache())


def item(n: int, **changes) -> FeedItem:
    values = dict(source="dms", car_ref=f"car-{n}", status="active", make="SEAT", model="León",
                  year=2022, vin=f"VSSZZZKJZPR{n:06d}", kilometers=1000 + n, price=20000 + n,
                  fuel_type="Diesel", transmission="Manual")
    values.update(changes)
    removed = values["status"] == "deleted"
    return FeedItem(values["car_ref"], Vehicle(**values), removed=removed)


def stock(auterio) -> dict:
    return auterio.stock.get("smith", {})


def requests_made(auterio) -> int:
    return auterio.counters_for(KEY).events["batches"]


def test_a_batch_lands_with_spanish_words_and_per_vehicle_errors_on_each_car(sandbox_server, auterio):
    items = [item(1), item(2, year=1850), item(3, status="sold"), item(4, doors=12)]
    result = connector(sandbox_server).send_batch(items)
    assert requests_made(auterio) == 1
    assert result.counts == {"imported": 2, "skipped": 2, "requests": 1}
    assert {ref: o.status for ref, o in result.outcomes.items()} == {
        "car-1": "accepted", "car-2": "skipped", "car-3": "accepted", "car-4": "skipped"}
    year = result.outcomes["car-2"]
    assert year.reason == f"Auterio: year must be between 1900 and {NEXT_YEAR}"
    assert year.fields == {"year": f"must be between 1900 and {NEXT_YEAR}"}
    assert result.outcomes["car-4"].fields == {"doors": "must be between 0 and 10"}
    one, three = stock(auterio)["VSSZZZKJZPR000001"], stock(auterio)["VSSZZZKJZPR000003"]
    assert (one["status"], one["fuel_type"], one["gearbox"]) == ("disponible", "diésel", "manual")
    assert three["status"] == "vendido"
    assert [c.operation for c in result.calls] == ["ingest"]


def test_a_removed_car_becomes_baja_in_one_request(sandbox_server, auterio):
    conn = connector(sandbox_server)
    conn.send_batch([item(1)])
    result = conn.send_batch([item(1, status="deleted")])
    assert result.outcomes["car-1"].status == "accepted"
    assert stock(auterio)["VSSZZZKJZPR000001"]["status"] == "baja"
    assert requests_made(auterio) == 2


def test_two_cars_with_one_vin_send_only_the_first(sandbox_server, auterio):
    result = connector(sandbox_server).send_batch([item(1), item(2, vin="VSSZZZKJZPR000001")])
    assert result.outcomes["car-1"].status == "accepted"
    assert result.outcomes["car-2"].status == "skipped"
    assert "car car-1 has the same VIN" in result.outcomes["car-2"].reason
    assert stock(auterio)["VSSZZZKJZPR000001"]["mileage"] == 1001


def test_a_batch_with_no_valid_vehicle_is_reported_per_car_without_retrying(sandbox_server, auterio):
    result = connector(sandbox_server).send_batch([item(1, year=1700), item(2, year=3000)])
    assert requests_made(auterio) == 1  # the refusal named both: nothing is left to resend
    assert {o.status for o in result.outcomes.values()} == {"skipped"}
    assert all(o.reason.startswith("Auterio: year must be") for o in result.outcomes.values())
    assert stock(auterio) == {}


@pytest.mark.parametrize(("bad", "most"), [({7}, 2 * 9), ({3, 250}, 2 * 2 * 9), ({0, 1, 2}, 2 * 3 * 9)])
def test_a_wholly_refused_batch_is_bisected_within_the_bound(sandbox_server, auterio, bad, most):
    auterio.settings.auterio_atomic_batches = True  # refuses the lot, names nobody
    items = [item(n, year=1850) if n in bad else item(n) for n in range(300)]
    result = connector(sandbox_server).send_batch(items)
    extra = requests_made(auterio) - 1
    assert extra <= most  # 2·k·⌈log2 n⌉ after the first refusal
    assert {ref for ref, o in result.outcomes.items() if o.status == "skipped"} == {f"car-{n}" for n in bad}
    # Named by Auterio when refused alone, or inferred (its half failed, the other half passed).
    reasons = {f"Auterio: year must be between 1900 and {NEXT_YEAR}",
               "Auterio refused this vehicle: Invalid payload or no valid vehicles"}
    assert all(result.outcomes[f"car-{n}"].reason in reasons for n in bad)
    assert len(stock(auterio)) == 300 - len(bad)


def test_bisection_beyond_its_budget_leaves_the_rest_failed_for_a_retry(sandbox_server, auterio):
    auterio.settings.auterio_atomic_batches = True
    items = [item(n, year=1850) if n % 50 == 0 else item(n) for n in range(200)]
    result = connector(sandbox_server, bisect_max_requests=4).send_batch(items)
    assert requests_made(auterio) == 5
    statuses = [o.status for o in result.outcomes.values()]
    assert "failed" in statuses
    assert all(result.outcomes[f"car-{n}"].status != "accepted" for n in range(0, 200, 50))


@pytest.mark.parametrize(("key", "message"), [
    ("au_unknown", "API key is invalid or inactive"),
    ("", "missing credential"),
])
def test_a_bad_key_is_reauthenticate(sandbox_server, auterio, key, message):
    with pytest.raises(Reauthenticate) as caught:
        connector(sandbox_server, key=key).send_batch([item(1)])
    assert message in caught.value.message


def test_a_5xx_is_retry_later_and_the_retry_is_harmless(sandbox_server, auterio):
    auterio.faults.fail_next, auterio.faults.after_commit = 1, True  # lands, then answers 503
    conn = connector(sandbox_server)
    with pytest.raises(RetryLater):
        conn.send_batch([item(1)])
    result = conn.send_batch([item(1)])
    assert result.outcomes["car-1"].status == "accepted"
    assert len(stock(auterio)) == 1


def test_a_slow_auterio_is_retry_later_and_the_batch_lands_once(sandbox_server, auterio):
    auterio.faults.latency_ms = 500  # injected before the endpoint runs: it lands after we gave up
    slow = AuterioConnector(base_url=f"{sandbox_server.url}/auterio", credentials={"api_key": KEY},
                            transport=SimpleTransport(timeout=(1.0, 0.1)), cache=MemoryCache())
    with pytest.raises(RetryLater, match="timed out"):
        slow.send_batch([item(1)])
    auterio.faults.latency_ms = None
    assert connector(sandbox_server).send_batch([item(1)]).outcomes["car-1"].status == "accepted"
    assert len(stock(auterio)) == 1


def test_the_credential_check_writes_nothing(sandbox_server, auterio):
    accepted = connector(sandbox_server).check_credentials()
    assert accepted == {"name": "key accepted (an empty batch, refused as expected)"}
    with pytest.raises(Reauthenticate, match="API key is invalid or inactive"):
        connector(sandbox_server, key="au_unknown").check_credentials()
    assert stock(auterio) == {}
