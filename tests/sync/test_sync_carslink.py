"""Carslink end to end: a DMS feed in, partial batches, full_replace and its guard out, into the
Carslink sandbox over real HTTP (photos fetched from a loopback server and served as
Forecourt's HTTPS media URLs)."""

from __future__ import annotations

import time

import pytest

from app.extensions import db
from tests.support import carslink as cl
from tests.support.carslink import (
    ADMIN,
    car,
    close_window,
    destination,
    dms_feed,
    feed_status,
    full_feed,
    live,
    removed,
    six_cars_listed,
    status,
)
from tests.support.jobs import drain

# Fixtures (a dealer site with a Carslink destination on the sandbox, loopback photos).
settings, photos, carslink, dealer_site = cl.settings, cl.photos, cl.carslink, cl.dealer_site

def test_done_when_six_cars_end_as_four_live_listings(app, client, dealer_site, photos, carslink):
    six_cars_listed(app, client, photos, carslink)
    assert live(carslink) == ["V1", "V3", "V4", "V5", "V6"]
    skipped = status(client, "V2")
    assert skipped["status"] == "skipped"
    assert skipped["lastError"]["message"] == "minimum 4 image URLs required (received 2)"
    (listing,) = [x for x in carslink.state({})["listings"] if x["source_id"] == "V1"]
    assert listing["images"][0].startswith("https://media.forecourt.test/media/")
    (dealer,) = carslink.state({})["dealers"]
    assert dealer["profile"]["postcode"] == "M1 2AB" and dealer["location"] == "Manchester"

    dms_feed(client, "partial", [{"source_id": "V6", "delete": True}])  # sold after it was listed
    close_window(app)
    assert removed(carslink) == [("V6", "delete")]
    assert live(carslink) == ["V1", "V3", "V4", "V5"]
    assert status(client, "V6")["status"] == "deleted"

    full_feed(app)
    assert removed(carslink) == [("V6", "delete")]  # the full_replace removed nothing still live
    assert live(carslink) == ["V1", "V3", "V4", "V5"]
    last = feed_status(client)["lastFull"]
    assert last["syncId"] == carslink.state({})["dealers"][0]["last_full_replace_sync_id"]
    assert last["counts"]["accepted"] == 4 and last["counts"]["removed"] == 0
    run = client.get(f"/api/v1/sites/smith/runs/{last['runId']}", headers=ADMIN).get_json()
    assert run["kind"] == "feed:full" and run["details"]["syncId"] == last["syncId"]


def hide(refs: list[str]) -> None:
    """A broken source: the cars' status is lost without any change event (so no partial goes)."""
    from app.listings.models import Car

    for car_ in db.session.query(Car).filter(Car.car_ref.in_(refs)):
        car_.status = None
    db.session.commit()


def test_a_full_replace_dropping_five_of_six_cars_is_held_until_confirmed(app, client, dealer_site, photos, carslink):
    cars = [car(f"V{n}", photos.url) for n in range(1, 7)]
    dms_feed(client, "partial", cars)
    close_window(app)
    assert len(live(carslink)) == 6
    hide(["V2", "V3", "V4", "V5", "V6"])

    full_feed(app)
    assert len(live(carslink)) == 6  # nothing sent
    held = feed_status(client)["held"]
    assert held["wouldSend"] == 1 and held["wouldRemove"] == 5 and held["listed"] == 6
    assert "remove 5 of the 6" in held["reason"]
    metrics = client.get("/metrics", headers=ADMIN).get_data(as_text=True)
    assert 'forecourt_full_feed_held{site="smith",marketplace="carslink"} 1' in metrics

    full_feed(app)  # the next scheduled run is held again: a hold is never lifted by time
    assert len(live(carslink)) == 6

    response = client.post("/api/v1/sites/smith/destinations/carslink/full-feed/confirm", headers=ADMIN)
    assert response.status_code == 202, response.get_json()
    drain(app, timeout=60, scheduled=False)
    assert live(carslink) == ["V1"]
    assert feed_status(client)["held"] is None
    assert client.post("/api/v1/sites/smith/destinations/carslink/full-feed/confirm",
                       headers=ADMIN).status_code == 409  # nothing held: nothing to confirm


def test_a_confirmed_feed_that_meets_a_5xx_goes_on_its_retry_without_a_second_confirmation(
        app, client, dealer_site, photos, carslink, sandbox_server):
    import requests

    dms_feed(client, "partial", [car(f"V{n}", photos.url) for n in (1, 3, 4)])
    close_window(app)
    hide(["V3", "V4"])
    full_feed(app)
    assert feed_status(client)["held"]["wouldRemove"] == 2
    requests.post(f"{sandbox_server.url}/_sandbox/carslink/faults", json={"failNext": 1, "failStatus": 503}, timeout=5)
    assert client.post("/api/v1/sites/smith/destinations/carslink/full-feed/confirm", headers=ADMIN).status_code == 202
    drain(app, timeout=60)  # the 503, then RQ's retry a second later
    assert live(carslink) == ["V1"]
    assert feed_status(client)["held"] is None


def test_an_empty_full_feed_is_held_and_a_fixed_source_clears_the_hold(app, client, dealer_site, photos, carslink):
    dms_feed(client, "partial", [car("V1", photos.url)])
    close_window(app)
    hide(["V1"])
    full_feed(app)
    assert "empty" in feed_status(client)["held"]["reason"]
    assert live(carslink) == ["V1"]

    from app.listings.models import Car

    db.session.query(Car).filter_by(car_ref="V1").one().status = "active"  # the source is fixed
    db.session.commit()
    full_feed(app)
    assert feed_status(client)["held"] is None and live(carslink) == ["V1"]


@pytest.mark.parametrize(
    ("fault", "expected_status", "paused"),
    [
        ({"failNext": 1, "failStatus": 503}, "synced", False),  # 5xx: the batch is retried
        ({"outage": True, "outageStatus": 401}, "paused", True),  # 401: the destination pauses
    ],
)
def test_whole_request_failures(app, client, dealer_site, photos, carslink, sandbox_server, fault, expected_status,
                                paused):
    import requests

    requests.post(f"{sandbox_server.url}/_sandbox/carslink/faults", json=fault, timeout=5)
    dms_feed(client, "partial", [car("V1", photos.url)])
    close_window(app)
    assert status(client, "V1")["status"] == expected_status
    assert destination().paused is paused


def test_a_refused_feed_is_reported_on_the_destination_with_its_fields(app, client, dealer_site, photos, carslink,
                                                                      monkeypatch):
    from app.connectors.carslink import CarslinkConnector

    # A dealer object Carslink refuses (the sites file cannot produce one): the whole feed gets a 422.
    monkeypatch.setattr(CarslinkConnector, "dealer", lambda self: {"name": "Smith Motors Ltd"})
    dms_feed(client, "partial", [car("V1", photos.url)])
    close_window(app)
    error = feed_status(client)["lastError"]
    assert error["status"] == 422 and "dealer.partner_dealer_id" in error["fields"]
    assert status(client, "V1")["status"] == "error"


def test_motorbike_and_van_fields_reach_carslink(app, client, dealer_site, photos, carslink):
    bike = {**car("V1", photos.url), "vehicle_type": "motorbike", "make": "Triumph", "model": "Trident",
            "engine_size": "660cc", "bike_type": "Naked", "licence_category": "A2"}
    bike.pop("body_type")
    van = {**car("V3", photos.url), "vehicle_type": "van", "make": "Ford", "model": "Transit", "body_type": "Panel Van",
           "van_type": "Panel Van", "roof_height": "H2", "payload_kg": "1,200", "load_volume_m3": "10.5"}
    van["transmission"] = "9-speed sequential"  # not one of Carslink's four: left out, and said so
    dms_feed(client, "partial", [bike, van])
    close_window(app)
    assert any("transmission" in w and "left out" in w for w in status(client, "V3")["warnings"])
    assert "transmission" not in [x for x in carslink.state({})["listings"] if x["source_id"] == "V3"][0]
    listings = {x["source_id"]: x for x in carslink.state({})["listings"]}
    assert {k: listings["V1"].get(k) for k in ("vehicle_type", "engine_size", "bike_type", "licence_category")} == {
        "vehicle_type": "motorcycle", "engine_size": 660, "bike_type": "Naked", "licence_category": "A2"}
    assert {k: listings["V3"].get(k) for k in ("vehicle_type", "van_type", "roof_height", "payload_kg",
                                                "load_volume_m3")} == {
        "vehicle_type": "van", "van_type": "Panel Van", "roof_height": "H2", "payload_kg": 1200, "load_volume_m3": 10.5}


def test_a_car_with_new_photos_joins_a_batch_only_once_they_are_in(app, client, dealer_site, photos, carslink):
    from rq import Queue, SimpleWorker
    from sqlalchemy import select

    from app.extensions import redis_store
    from app.jobs.queues import DEFAULT, IMAGES
    from app.listings.models import Car
    from app.sync import batches
    from app.sync.scheduler import flush_due
    from workers.context import set_app

    set_app(app)
    dms_feed(client, "partial", [car("V1", photos.url)])
    time.sleep(0.6)  # the debounce (0.3 s in tests)
    assert flush_due(app) == 1
    connection = redis_store.client
    SimpleWorker([Queue(DEFAULT, connection=connection)], connection=connection).work(burst=True)
    # The car is applied and its photos queued: a batch closing now must not carry it photo-less.
    assert Queue(IMAGES, connection=connection).count >= 1
    assert batches.pending(destination().id) == {}
    drain(app, timeout=60, scheduled=False)
    (car_id,) = db.session.scalars(select(Car.id).where(Car.car_ref == "V1"))
    assert list(batches.pending(destination().id)) == [car_id]  # once the photos are in
    close_window(app)
    assert live(carslink) == ["V1"] and status(client, "V1")["status"] == "synced"


def test_a_rule_for_carslink_shapes_its_feed_history_and_dry_run(app, client, dealer_site, photos, carslink):
    from app.sites.models import Site

    site = db.session.get(Site, "smith")
    site.options = {**(site.options or {}),
                    "rules": [{"action": "round_price", "to": 1000, "mode": "down", "destinations": ["carslink"]}]}
    db.session.commit()
    dms_feed(client, "partial", [car("V1", photos.url)])  # priced 28,995
    close_window(app)

    (listing,) = carslink.state({})["listings"]
    assert listing["price"] == 28000
    history = client.get("/api/v1/sites/smith/cars/V1/history", headers=ADMIN).get_json()
    (sent,) = history["sent"]
    assert (sent["marketplace"], sent["operation"], sent["outcome"]) == ("carslink", "feed:partial", "done")
    assert sent["payload"]["source_id"] == "V1" and sent["payload"]["price"] == 28000
    (dry,) = client.get("/api/v1/sites/smith/cars/V1/dry-run", headers=ADMIN).get_json()["destinations"]
    assert (dry["before"]["price"], dry["after"]["price"]) == (28995, 28000)
