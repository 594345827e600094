"""The debouncer on a real Redis: coalescing, the maximum wait, ordering and late arrivals."""

from __future__ import annotations

import pytest

from app.sync.debounce import DUE, LEASE_SECONDS, SEEN_PER_CAR, Debouncer, DebounceWindow, seen_key
from tests.support.jobs import drain
from tests.support.wordpress import encode, inventory_presser_post, later, standard_headers


@pytest.fixture
def debouncer(redis_client):
    return Debouncer(redis_client, DebounceWindow(seconds=12, max_wait=60))


def test_events_inside_the_window_coalesce_and_push_the_due_time_back(debouncer):
    for t in (0, 5, 10):
        debouncer.submit("s", "car", {"n": t}, now=1000 + t)
    assert debouncer.take_due(now=1000 + 21) == []
    assert debouncer.take_due(now=1000 + 22) == [("s", "car")]
    assert [e["n"] for e in debouncer.read("s", "car")] == [0, 5, 10]


def test_a_car_saved_continuously_still_syncs_after_the_max_wait(debouncer):
    for t in range(0, 70, 5):  # a save every 5 s for 70 s
        debouncer.submit("s", "car", {"n": t}, now=1000 + t)
        if t < 60:
            assert debouncer.take_due(now=1000 + t) == []
    assert debouncer.take_due(now=1000 + 60) == [("s", "car")]


def test_a_taken_car_is_leased_not_lost(debouncer):
    debouncer.submit("s", "car", {"n": 1}, now=1000)
    assert debouncer.take_due(now=1012) == [("s", "car")]
    assert debouncer.take_due(now=1013) == []  # leased to the job just enqueued
    # The job never acknowledged (its worker died): the lease runs out and the car is due again.
    assert debouncer.take_due(now=1012 + LEASE_SECONDS) == [("s", "car")]


def test_ack_keeps_events_that_arrived_while_the_job_ran(debouncer, redis_client):
    debouncer.submit("s", "car", {"n": 1}, now=1000)
    debouncer.take_due(now=1012)
    read = debouncer.read("s", "car")
    debouncer.submit("s", "car", {"n": 2}, now=1013)  # arrives mid-job
    assert debouncer.ack("s", "car", len(read)) == 1
    assert debouncer.read("s", "car") == [{"n": 2}]
    assert redis_client.zscore(DUE, "s\x1fcar") == 1013 + 12
    debouncer.ack("s", "car", 1)
    assert redis_client.zcard(DUE) == 0


def is_duplicate(result) -> bool:
    return result in ("duplicate", b"duplicate")


def test_a_duplicate_delivery_is_dropped_atomically(debouncer):
    assert not is_duplicate(debouncer.submit("s", "car", {"n": 1}, dedupe_id="msg1"))
    assert is_duplicate(debouncer.submit("s", "car", {"n": 1}, dedupe_id="msg1"))
    assert not is_duplicate(debouncer.submit("s", "other", {"n": 1}, dedupe_id="msg1"))
    assert len(debouncer.read("s", "car")) == 1


def test_a_delivery_id_is_forgotten_once_its_ttl_has_passed(debouncer):
    assert not is_duplicate(debouncer.submit("s", "car", {"n": 1}, now=1000, dedupe_id="m", dedupe_ttl=60))
    assert is_duplicate(debouncer.submit("s", "car", {"n": 1}, now=1059, dedupe_id="m", dedupe_ttl=60))
    assert not is_duplicate(debouncer.submit("s", "car", {"n": 1}, now=1061, dedupe_id="m", dedupe_ttl=60))


def test_remembered_ids_are_capped_per_car_however_many_webhooks_arrive(debouncer, redis_client):
    for n in range(SEEN_PER_CAR * 3):
        debouncer.submit("s", "car", {"n": n}, now=1000 + n, dedupe_id=f"m{n}", dedupe_ttl=3600)
    assert redis_client.zcard(seen_key("s", "car")) == SEEN_PER_CAR
    newest = f"m{SEEN_PER_CAR * 3 - 1}"
    assert is_duplicate(debouncer.submit("s", "car", {}, now=2000, dedupe_id=newest, dedupe_ttl=3600))
    assert 0 < redis_client.ttl(seen_key("s", "car")) <= 3600


# --------------------------------------------------------------------------- through the app


def send(client, payload):
    body = encode(payload)
    response = client.post("/hooks/wordpress/demo", data=body, headers=standard_headers(body))
    assert response.status_code == 202, response.get_json()


def car(client, ref="101"):
    from tests.conftest import ADMIN_TOKEN

    return client.get(f"/api/v1/sites/demo/cars/{ref}", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}).get_json()


def test_an_older_save_arriving_late_never_wins(app, client, site, carzle):
    send(client, inventory_presser_post(101, price="$30,000", modified=later(10)))
    send(client, inventory_presser_post(101, price="$20,000", modified=later(0)))  # older, arrives last
    drain(app)
    assert car(client)["vehicle"]["price"] == 30000
    send(client, inventory_presser_post(101, price="$10,000", modified=later(5)))  # older than what synced
    drain(app)
    assert car(client)["vehicle"]["price"] == 30000
    (listing,) = carzle.carzle.listings("demo-motors")
    assert listing["price"] == 30000


def test_trash_then_untrash_and_publish_in_one_window_nets_out(app, client, site, carzle):
    send(client, inventory_presser_post(101, modified=later(0)))
    drain(app)
    send(client, inventory_presser_post(101, event="trash", status="trash", modified=later(1)))
    send(client, inventory_presser_post(101, event="untrash", status="draft", modified=later(2)))
    send(client, inventory_presser_post(101, status="publish", price="$27,500", modified=later(3)))
    drain(app)
    (listing,) = carzle.carzle.listings("demo-motors")
    assert listing["status"] == "active" and listing["price"] == 27500
    stats = carzle.carzle.key_stats(carzle.key)
    assert stats["deletes"] == 0 and stats["posts"] == 1


@pytest.mark.parametrize(
    ("steps", "expected_status", "listed"),
    [
        ([("save_post", "draft")], None, 0),  # never published: nothing is created
        ([("save_post", "publish")], "active", 1),
        ([("save_post", "publish"), ("save_post", "draft")], "inactive", 1),
        ([("save_post", "publish"), ("save_post", "private")], "inactive", 1),
        ([("save_post", "publish"), ("trash", "trash")], None, 0),
        ([("save_post", "publish"), ("delete", "publish")], None, 0),
        ([("save_post", "publish"), ("trash", "trash"), ("untrash", "draft")], None, 0),
        ([("save_post", "future")], None, 0),
        ([("save_post", "publish", {"availability": "Sold"})], "sold", 1),
    ],
)
def test_wordpress_lifecycle_reaches_the_marketplace(app, client, site, carzle, steps, expected_status, listed):
    for offset, step in enumerate(steps):
        event, status, *extra = step
        send(client, inventory_presser_post(101, event=event, status=status, modified=later(offset),
                                            **(extra[0] if extra else {})))
        drain(app)  # each step synced on its own, like saves minutes apart
    live = carzle.carzle.listings("demo-motors")
    assert len(live) == listed
    if listed:
        assert live[0]["status"] == expected_status


def test_an_ack_never_drops_events_it_did_not_read(redis_client):
    first = Debouncer(redis_client, DebounceWindow(seconds=12, max_wait=60))
    second = Debouncer(redis_client, DebounceWindow(seconds=12, max_wait=60))
    first.submit("s", "car", {"n": 1}, now=1000)
    events, mine = first.read_with_marker("s", "car")
    _, theirs = second.read_with_marker("s", "car")
    first.submit("s", "car", {"n": 2}, now=1001)
    assert first.ack("s", "car", len(events), mine) == 1  # {"n": 2} remains
    assert second.ack("s", "car", 1, theirs) == -1  # a rerun that read the same event trims nothing
    assert first.read("s", "car") == [{"n": 2}]
