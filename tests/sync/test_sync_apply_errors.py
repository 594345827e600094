"""Nothing dropped on a bug: an event whose mapping raises an unexpected error stays queued,
shows the error on its car and in /metrics, and applies once the bug is gone."""

from __future__ import annotations

import pytest

from app.sync import engine
from tests.support.jobs import drain
from tests.support.wordpress import encode, inventory_presser_post, standard_headers

ADMIN = {"Authorization": "Bearer test-admin-token-0123456789"}


def post(client, payload) -> None:
    body = encode(payload)
    response = client.post("/hooks/wordpress/demo", data=body, headers=standard_headers(body))
    assert response.status_code == 202, response.get_json()


def test_an_event_that_hits_a_bug_stays_queued_and_shows_on_its_car(app, client, site, carzle, monkeypatch):
    from app.listings import presets

    def broken(*args, **kwargs):
        raise RuntimeError("mapping bug: unexpected shape")

    monkeypatch.setattr(presets, "map_post", broken)
    post(client, inventory_presser_post(101))
    with pytest.raises(AssertionError, match="pending"):
        drain(app, timeout=3)  # the sync job fails, is retried, and the event never leaves

    assert len(engine.debouncer().read("demo", "101")) == 1
    car = client.get("/api/v1/sites/demo/cars/101", headers=ADMIN).get_json()
    assert "mapping bug: unexpected shape" in car["eventError"]["message"]
    assert car["eventError"]["attempts"] >= 1
    metrics = client.get("/metrics", headers=ADMIN).get_data(as_text=True)
    assert "forecourt_event_apply_errors 1" in metrics
    assert carzle.carzle.listings("demo-motors") == []

    monkeypatch.undo()  # the fix ships; the next attempt applies the same event
    engine.sync_car("demo", "101")
    drain(app, timeout=30)
    assert engine.debouncer().read("demo", "101") == []
    car = client.get("/api/v1/sites/demo/cars/101", headers=ADMIN).get_json()
    assert car["eventError"] is None
    assert [d["status"] for d in car["destinations"]] == ["synced"]
    assert len(carzle.carzle.listings("demo-motors")) == 1
    assert "forecourt_event_apply_errors 0" in client.get("/metrics", headers=ADMIN).get_data(as_text=True)


def test_an_invalid_event_is_set_aside_visibly_not_retried(app, client, site, carzle, monkeypatch):
    from marshmallow import ValidationError

    from app.listings import service

    def invalid(*args, **kwargs):
        raise ValidationError({"post": ["Not a valid post."]})

    monkeypatch.setitem(service.CHANNELS, "wordpress", service.Channel("wordpress", invalid))
    post(client, inventory_presser_post(102))
    drain(app, timeout=30)
    assert engine.debouncer().read("demo", "102") == []
    from app.extensions import db
    from app.listings.inbound_events import InboundEvent

    (row,) = db.session.query(InboundEvent).filter_by(car_ref="102").all()
    assert row.outcome == "failed"
    assert "post: Not a valid post." in row.reason
