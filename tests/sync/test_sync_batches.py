"""The batch path for feed destinations, against a loopback feed sink over real HTTP."""

from __future__ import annotations

import pytest

from app.extensions import db
from app.listings.models import SyncAttempt
from tests.conftest import ADMIN_TOKEN, ServerThread
from tests.support.feed_sink import FeedSinkServer, LoopbackFeed
from tests.support.jobs import drain
from tests.support.wordpress import SECRET, encode, inventory_presser_post, standard_headers

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


@pytest.fixture
def sink():
    server = FeedSinkServer()
    with ServerThread(server) as thread:
        server.url = thread.url
        yield server


@pytest.fixture
def window() -> float:
    """Long enough for the cars of a test to gather; tests that are not about the timer
    close it themselves with ``send_now``."""
    return 60.0


@pytest.fixture
def feed_site(app, sink, window):
    from app.sites import cache, config_file

    config_file.apply(config_file.parse(f"""
[[sites]]
id = "demo"
name = "Demo Motors"
webhook_secret = "{SECRET}"
preset = "inventory-presser"

  [[sites.destinations]]
  marketplace = "{LoopbackFeed.slug}"
  base_url = "{sink.url}"
  batch_window = {window}
""", {}))
    cache.clear()


def send(client, post_id: int, **kw) -> None:
    body = encode(inventory_presser_post(post_id, vin=f"VIN{post_id:014d}", **kw))
    response = client.post("/hooks/wordpress/demo", data=body, headers=standard_headers(body))
    assert response.status_code == 202, response.get_json()


def send_now(app) -> None:
    """Run every sync, then close the open window (as Sync Now does) and send."""
    from app.sites.models import Destination
    from app.sync import batches

    drain(app, timeout=60, scheduled=False)
    with app.app_context():
        batches.send_now(db.session.query(Destination).one())
    drain(app, timeout=60)


def feed_state(client, ref: str) -> dict:
    (state,) = client.get(f"/api/v1/sites/demo/cars/{ref}", headers=ADMIN).get_json()["destinations"]
    return state


CARS = range(101, 151)  # 50 cars


@pytest.mark.parametrize("window", [6.0])  # the real timer; posting 50 cars takes well under it
def test_fifty_cars_changed_in_one_window_go_in_one_request(app, client, feed_site, sink):
    sink.skip = {"105": "VIN check digit is wrong", "110": "price below the feed's minimum"}

    def dealer_edits_car_120_mid_flight(body: dict) -> None:
        if len(sink.batches) == 1:
            send(app.test_client(), 120, price="$31,500")

    sink.on_request = dealer_edits_car_120_mid_flight
    for post_id in CARS:
        send(client, post_id)
    drain(app, timeout=60)

    assert len(sink.batches) == 2
    assert sorted(sink.refs(0), key=int) == [str(p) for p in CARS]
    assert sink.batches[1]["vehicles"] == [
        {"ref": "120", "price": 31500, "title": "2024 Toyota Land Cruiser GR Sport"}
    ]
    assert feed_state(client, "105")["status"] == "skipped"
    assert feed_state(client, "105")["lastError"]["message"] == "VIN check digit is wrong"
    assert feed_state(client, "110")["lastError"]["message"] == "price below the feed's minimum"
    assert feed_state(client, "120")["status"] == "synced"
    assert {feed_state(client, str(p))["status"] for p in CARS} == {"synced", "skipped"}


def test_a_batch_larger_than_the_cap_goes_in_several_requests(app, client, feed_site, sink, monkeypatch):
    monkeypatch.setattr(LoopbackFeed, "batch_cap", 20)
    for post_id in CARS:
        send(client, post_id)
    send_now(app)
    assert [len(b["vehicles"]) for b in sink.batches] == [20, 20, 10]


def test_after_a_5xx_only_the_unsent_remainder_is_sent_again(app, client, feed_site, sink, monkeypatch):
    monkeypatch.setattr(LoopbackFeed, "batch_cap", 20)
    sink.fail_requests = [2]
    for post_id in CARS:
        send(client, post_id)
    send_now(app)

    first, _refused, *retried = (sink.refs(i) for i in range(len(sink.batches)))
    assert [len(b) for b in retried] == [20, 10]
    assert sorted(sum(retried, [])) == sorted(set(map(str, CARS)) - set(first))
    assert {feed_state(client, str(p))["status"] for p in CARS} == {"synced"}


def test_a_car_the_feed_failed_is_retried_alone(app, client, feed_site, sink):
    sink.fail_cars = {"102": 1}
    for post_id in (101, 102, 103):
        send(client, post_id)
    send_now(app)
    assert [sorted(b) for b in (sink.refs(0), sink.refs(1))] == [["101", "102", "103"], ["102"]]
    assert feed_state(client, "102")["status"] == "synced"
    with app.app_context():
        outcomes = [a.outcome for a in db.session.query(SyncAttempt).order_by(SyncAttempt.id)
                    if a.car_id and a.outcome != "done"]
    assert outcomes == ["retry"]


@pytest.mark.parametrize(
    ("status", "event", "sent", "shown"),
    [
        ("draft", "save_post", [], "not_listed"),  # never published: nothing to send
        ("publish", "trash", [], "deleted"),  # removed before it was ever sent
    ],
)
def test_cars_with_nothing_to_send_settle_without_a_request(app, client, feed_site, sink, status, event, sent, shown):
    send(client, 101, status=status, event=event)
    send_now(app)
    assert sink.batches == sent
    assert feed_state(client, "101")["status"] == shown


def test_a_listed_car_that_is_trashed_goes_as_a_removal(app, client, feed_site, sink):
    send(client, 101)
    send_now(app)
    send(client, 101, event="trash")
    send_now(app)
    assert sink.batches[-1]["vehicles"] == [{"ref": "101", "removed": True}]
    assert feed_state(client, "101")["status"] == "deleted"


def run_full(app) -> None:
    from app.sync import batches

    with app.app_context():
        assert batches.enqueue_full_feeds() == 1
    drain(app, timeout=60, scheduled=False)  # the partial window the test's edits opened may stay open


def test_the_whole_stock_goes_in_one_full_request_whatever_the_cap(app, client, feed_site, sink, monkeypatch):
    monkeypatch.setattr(LoopbackFeed, "batch_cap", 2)
    monkeypatch.setattr(LoopbackFeed, "supports_full", True)
    for post_id in (101, 102, 103, 104):
        send(client, post_id)
    send_now(app)
    sink.batches.clear()
    send(client, 103, event="trash")  # sold in the meantime, and still pending
    send(client, 105, status="draft")  # never published
    drain(app, timeout=60, scheduled=False)

    run_full(app)
    (full,) = [b for b in sink.batches if b["full"]]
    assert sorted(v["ref"] for v in full["vehicles"]) == ["101", "102", "104"]
    assert feed_state(client, "103")["status"] == "deleted"  # removed by its absence
    assert feed_state(client, "105")["status"] == "not_listed"


def test_an_empty_stock_never_sends_a_full_feed(app, client, feed_site, sink, monkeypatch):
    monkeypatch.setattr(LoopbackFeed, "supports_full", True)
    send(client, 101, status="draft")
    drain(app, timeout=60, scheduled=False)
    run_full(app)
    assert [b for b in sink.batches if b["full"]] == []


def test_destinations_without_a_full_feed_get_none(app, client, feed_site, sink):
    from app.sync import batches

    with app.app_context():
        assert batches.enqueue_full_feeds() == 0


def test_a_batch_that_keeps_failing_is_in_the_failed_list_and_replays(app, client, feed_site, sink):
    sink.fail_requests = [1, 2, 3, 4]  # the first try and RETRY_BACKOFF_SECONDS' three retries
    for post_id in (101, 102):
        send(client, post_id)
    send_now(app)
    assert len(sink.batches) == 4
    assert feed_state(client, "101")["status"] == "failed"
    (failed,) = client.get("/api/v1/sites/demo/failed", headers=ADMIN).get_json()["jobs"]
    assert "batch" in failed["description"]

    replay = client.post("/api/v1/sites/demo/failed/replay", headers=ADMIN)
    assert replay.status_code == 202 and len(replay.get_json()["replayed"]) == 1
    drain(app, timeout=60)
    assert sorted(sink.refs(4)) == ["101", "102"]
    assert {feed_state(client, ref)["status"] for ref in ("101", "102")} == {"synced"}
