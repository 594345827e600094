"""Whole-stock feeds over time: the Europe/London schedule, the 13-hour freshness alarm, and
Carslink's 24-hour expiry on the sandbox's fast clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.extensions import db
from app.sync import feed_status
from tests.support import carslink as cl
from tests.support.carslink import ADMIN, car, close_window, destination, dms_feed, full_feed, live
from tests.support.jobs import drain

settings, photos, carslink, dealer_site = cl.settings, cl.photos, cl.carslink, cl.dealer_site


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.mark.parametrize(
    ("now", "due"),
    [
        ("2026-12-06 12:00:05", "2026-12-06 12:00:00"),  # GMT: London noon is 12:00 UTC
        ("2026-12-06 11:59:59", "2026-12-06 00:00:00"),
        ("2026-07-01 10:30:00", "2026-06-30 23:00:00"),  # BST: London midnight is 23:00 UTC
        ("2026-07-01 11:00:00", "2026-07-01 11:00:00"),  # ... and noon 11:00 UTC
        ("2026-03-29 11:30:00", "2026-03-29 11:00:00"),  # the day the clocks go forward
        ("2026-10-25 12:30:00", "2026-10-25 12:00:00"),  # the day they go back
    ],
)
def test_noon_and_midnight_are_londons(now: str, due: str) -> None:
    assert feed_status.last_due("0 0,12 * * *", "Europe/London", utc(now)) == utc(due)


def test_a_scheduled_run_is_queued_once_per_destination(app, dealer_site):
    from app.jobs.queues import LOW, queue

    dest = destination()
    dest.created_at = datetime.now(UTC) - timedelta(days=2)
    db.session.commit()
    assert feed_status.enqueue_due() == 1
    assert feed_status.enqueue_due() == 0  # another scheduler tick, or a second scheduler
    assert [j.func_name for j in queue(LOW).get_jobs()] == ["workers.jobs.send_full"]


def test_a_destination_newer_than_the_last_run_waits_for_the_next(app, dealer_site):
    assert feed_status.enqueue_due() == 0


def test_thirteen_hours_without_a_full_feed_raise_the_alarm_until_one_succeeds(app, client, dealer_site, photos,
                                                                              carslink):
    dms_feed(client, "partial", [car("V1", photos.url)])
    close_window(app)
    full_feed(app)
    assert feed_status.check_alarms() == 0

    later = datetime.now(UTC) + timedelta(hours=13, minutes=1)
    assert feed_status.check_alarms(later) == 1
    alarm = feed_status.status_of(destination())["alarm"]
    assert "listings expire after 24 hours" in alarm["message"]
    assert feed_status.check_alarms(later + timedelta(minutes=5)) == 1
    assert feed_status.status_of(destination())["alarm"] == alarm  # raised once per episode
    metrics = client.get("/metrics", headers=ADMIN).get_data(as_text=True)
    assert 'forecourt_full_feed_overdue{site="smith",marketplace="carslink"} 1' in metrics
    assert client.get("/api/v1/sites/smith/destinations/carslink/feed", headers=ADMIN).get_json()["alarm"] == alarm

    full_feed(app)
    assert feed_status.status_of(destination()).get("alarm") is None


def test_twice_daily_full_feeds_keep_listings_past_carslinks_24_hour_expiry(app, client, dealer_site, photos,
                                                                           carslink):
    dms_feed(client, "partial", [car("V1", photos.url), car("V3", photos.url)])
    close_window(app)
    for _ in range(4):  # two days of noon and midnight runs
        carslink.clock.advance(12 * 3600)
        full_feed(app)
        assert live(carslink) == ["V1", "V3"]
    carslink.clock.advance(24 * 3600 + 1)  # a day with no full feed at all
    assert live(carslink) == []
    assert {r["reason"] for r in carslink.state({})["removed"]} == {"expired"}


def test_an_alarm_is_sent_to_sentry_when_configured(app, dealer_site, monkeypatch):
    import sentry_sdk

    sent: list[str] = []
    monkeypatch.setattr(sentry_sdk, "capture_message", lambda message, level=None: sent.append(message))
    import dataclasses

    configured = dataclasses.replace(app.config["FORECOURT"], sentry_dsn="https://key@sentry.example/1")
    monkeypatch.setitem(app.config, "FORECOURT", configured)
    later = datetime.now(UTC) + timedelta(hours=14)
    feed_status.check_alarms(later)
    feed_status.check_alarms(later)
    assert len(sent) == 1 and "smith/carslink" in sent[0]
    drain(app, timeout=5)
