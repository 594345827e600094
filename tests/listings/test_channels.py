"""Each channel's events apply through its row of the channel table, and an event queued by the
previous release (raw body instead of the validated post) still applies."""

from __future__ import annotations

import json

import pytest

from app.extensions import db
from app.listings import service
from app.listings.formats import load_wordpress_event
from tests.support.wordpress import inventory_presser_post

POST = inventory_presser_post(101)


def wordpress_doc() -> dict:
    return {"channel": "wordpress", "post": load_wordpress_event(POST).to_doc(), "received_at": 1.0}


def legacy_wordpress_doc() -> dict:
    return {"channel": "wordpress", "body": json.dumps(POST), "hint": None, "received_at": 1.0}


def dms_doc() -> dict:
    record = {"vin": "JTMABABJ804012345", "brand": "Toyota", "model": "Land Cruiser", "year": 2024,
              "price": 100000, "mileage": 1000}
    return {"channel": "dms", "format": "auterio", "mode": "partial", "record": record, "received_at": 1.0}


def pulled_doc() -> dict:
    vehicle = {"source": "source", "car_ref": "x", "make": "Nissan", "model": "Patrol", "year": 2023,
               "price": 210000, "status": "active"}
    return {"channel": "source", "vehicle": vehicle, "received_at": 1.0}


@pytest.mark.parametrize(
    ("doc", "source", "make"),
    [
        (wordpress_doc, "wordpress", "Toyota"),
        (legacy_wordpress_doc, "wordpress", "Toyota"),
        (dms_doc, "dms", "Toyota"),
        (pulled_doc, "source", "Nissan"),
    ],
    ids=["wordpress", "wordpress-legacy-body", "dms", "pulled-source"],
)
def test_each_channel_applies_its_events(app, site, doc, source, make):
    result = service.apply_events(site, "101", [doc()])
    db.session.commit()
    assert result.applied == 1, result
    assert (result.car.source, result.car.vehicle["make"], result.car.status) == (source, make, "active")


def test_a_validated_post_survives_the_queue_unchanged():
    event = load_wordpress_event(POST)
    again = type(event).from_doc(json.loads(json.dumps(event.to_doc())))
    assert again == type(event)(**{**event.__dict__, "raw": None})
