"""The Carslink connector against the Carslink sandbox over real HTTP: what each answer becomes."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from app.connectors.cache import MemoryCache
from app.connectors.carslink import CarslinkConnector
from app.connectors.errors import FixInput, Reauthenticate, RetryLater
from app.connectors.http import SimpleTransport
from app.connectors.kinds import FeedItem
from app.listings.vehicle import Image, Vehicle

KEY = "cl_test_connector"
DEALER = {"partner_dealer_id": "D-9", "name": "Smith Motors Ltd", "postcode": "M1 2AB"}


@pytest.fixture
def carslink(sandbox):
    sandbox.control("POST", "/carslink/keys", json={"key": KEY, "account": "forecourt"})
    sandbox.control("POST", "/config", json={"require_https_images": True})
    return sandbox


def connector(sandbox, key: str = KEY, timeout: float = 5.0, **options: Any) -> CarslinkConnector:
    return CarslinkConnector(base_url=f"{sandbox.root}/carslink", credentials={"api_key": key},
                             options={"dealer": DEALER, **options},
                             transport=SimpleTransport(timeout=(2.0, timeout)), cache=MemoryCache())


def item(ref: str, **changes: Any) -> FeedItem:
    values: dict[str, Any] = dict(
        source="dms", car_ref=ref, status="active", make="BMW", model="3 Series", year=2021, price=28995,
        kilometers=39429, registration="AB21 XYZ", body_type="Saloon", transmission="Automatic",
        images=[Image(url=f"https://media.forecourt.test/media/{ref}-{n}.webp") for n in range(4)],
    )
    values.update(changes)
    return FeedItem(ref, Vehicle(**values))


def state(sandbox) -> dict[str, Any]:
    return sandbox.control("GET", "/carslink/state")


def test_a_partial_batch_lists_updates_and_deletes(carslink):
    sink = connector(carslink)
    result = sink.send_batch([item("V1"), item("V2")])
    assert result.operation == "feed:partial" and result.remote_id.startswith("sync_")
    assert result.counts["accepted"] == 2 and result.outcomes == {}
    (dealer,) = state(carslink)["dealers"]
    assert dealer["partner_dealer_id"] == "D-9" and dealer["region"] == "North West"

    result = sink.send_batch([item("V1", price=27495), FeedItem("V2", None, removed=True)])
    assert result.counts["deleted_count"] == 1
    (listing,) = state(carslink)["listings"]
    assert listing["source_id"] == "V1" and listing["price"] == 27495 and listing["mileage"] == 24500


def test_carslinks_own_skip_reasons_land_on_their_cars(carslink):
    # Our preflight does not know Carslink's year window; Carslink's answer is used as given.
    result = connector(carslink).send_batch([item("V1"), item("V2", year=1850)])
    assert result.outcomes["V2"].status == "skipped"
    next_year = datetime.now(UTC).year + 1
    assert result.outcomes["V2"].reason == f"year must be between 1886 and {next_year}"
    assert "V1" not in result.outcomes


def test_a_full_replace_removes_what_it_leaves_out(carslink):
    sink = connector(carslink)
    sink.send_batch([item("V1"), item("V2"), item("V3")])
    result = sink.send_batch([item("V1")], full=True)
    assert result.operation == "feed:full" and result.counts["removed"] == 2
    assert [x["source_id"] for x in state(carslink)["listings"]] == ["V1"]


@pytest.mark.parametrize(
    ("faults", "raised"),
    [
        ({"failNext": 1, "failStatus": 503}, RetryLater),
        ({"failNext": 1, "failStatus": 500}, RetryLater),
        ({"outage": True, "outageStatus": 502}, RetryLater),
        ({"latencyMs": 1500}, RetryLater),  # read timeout (1 s below)
    ],
)
def test_5xx_and_timeouts_are_retried(carslink, faults, raised):
    carslink.control("POST", "/carslink/faults", json=faults)
    with pytest.raises(raised) as caught:
        connector(carslink, timeout=1.0).send_batch([item("V1")])
    assert caught.value.calls  # the attempt log still gets the call


def test_a_wrong_key_asks_for_new_credentials(carslink):
    with pytest.raises(Reauthenticate, match="Invalid partner API key"):
        connector(carslink, key="cl_test_unknown").send_batch([item("V1")])
    with pytest.raises(Reauthenticate):
        connector(carslink, key="cl_test_unknown").check_credentials()
    assert connector(carslink).check_credentials()["status"] == "accepted"


def test_a_refused_feed_carries_carslinks_fields(carslink, monkeypatch):
    monkeypatch.setattr(CarslinkConnector, "dealer", lambda self: {})
    with pytest.raises(FixInput) as caught:
        connector(carslink).send_batch([item("V1")])
    assert caught.value.status == 422 and "dealer.partner_dealer_id" in caught.value.fields
