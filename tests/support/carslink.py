"""Shared set-up of the Carslink end-to-end tests: a dealer site with a dealer profile and a
Carslink destination on the sandbox, photos from a loopback server served back as Forecourt's
HTTPS media URLs, and helpers to feed cars in and read the sandbox's state."""

from __future__ import annotations

from typing import Any

import pytest

from app.extensions import db
from tests.conftest import ADMIN_TOKEN, DMS_KEY, ServerThread, make_settings
from tests.support.jobs import drain
from tests.support.photos import PhotoServer

KEY = {"X-Dealer-Api-Key": DMS_KEY}
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
PARTNER_KEY = "cl_test_forecourt"
DEALER_ID = "SMITH-001"
PULL_TOKEN = "pull-secret-0123456789"


@pytest.fixture
def settings(tmp_path, database_url, redis_url):
    # Photos come from 127.0.0.1; Forecourt's copies are served from an HTTPS media host.
    return make_settings(tmp_path, database_url, redis_url, media_allow_private_hosts=("127.0.0.1",),
                         public_base_url="https://media.forecourt.test")


@pytest.fixture(scope="module")
def photos():
    with ServerThread(PhotoServer()) as server:
        yield server


@pytest.fixture
def carslink(sandbox_server):
    registry = sandbox_server.registry
    registry.reset()  # data, keys, fault plans; the shared settings stay as other tests left them:
    registry.update_config({"fault_rate": 0.0, "latency_ms": 0})
    registry.carslink.add_key(PARTNER_KEY, "forecourt")
    return registry.carslink


@pytest.fixture
def dealer_site(app, sandbox_server, carslink):
    from app.sites import cache, config_file

    config_file.apply(config_file.parse(f"""
[[sites]]
id = "smith"
name = "Smith Motors"
webhook_secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
dms_api_key = "{DMS_KEY}"
preset = "inventory-presser"
currency = "GBP"
feed_pull_auth = [
  {{type = "bearer", token = "{PULL_TOKEN}"}},
  {{type = "api_key", header = "X-Carslink-Key", key = "{PULL_TOKEN}"}},
  {{type = "basic", username = "carslink", password = "{PULL_TOKEN}"}},
]

  [sites.dealer]
  partner_dealer_id = "{DEALER_ID}"
  name = "Smith Motors Ltd"
  address_line_1 = "123 Motor Row"
  town = "Manchester"
  postcode = "m12ab"
  phone = "0161 555 0100"
  email = "sales@smithmotors.example"
  website = "https://www.smithmotors.example"

  [[sites.destinations]]
  marketplace = "carslink"
  base_url = "{sandbox_server.url}/carslink"
  api_key = "{PARTNER_KEY}"
  batch_window = 60
""", {}))
    cache.clear()


def car(source_id: str, photos_url: str, n_photos: int = 4) -> dict[str, Any]:
    first = int(source_id.removeprefix("V")) * 10
    return {
        "source_id": source_id, "vehicle_type": "car", "make": "BMW", "model": "3 Series", "variant": "320d M Sport",
        "year": 2021, "price": 28995, "mileage": 24500, "registration": f"AB21 XY{chr(64 + first // 10)}",
        "fuel": "Diesel", "transmission": "Automatic", "colour": "Black", "body_type": "Saloon",
        "images": [f"{photos_url}/p/{first + i}.jpg" for i in range(n_photos)],
        "description": "One owner from new with full BMW service history.",
    }


def dms_feed(client, mode: str, listings: list[dict[str, Any]]) -> None:
    body = {"mode": mode, "dealer": {"partner_dealer_id": "DMS-1"}, "listings": listings}
    response = client.post("/hooks/dms/smith", json=body, headers=KEY)
    assert response.status_code == 202, response.get_json()


def destination():
    from app.sites.models import Destination

    return db.session.query(Destination).filter_by(marketplace="carslink").one()


def close_window(app) -> None:
    from app.sync import batches

    drain(app, timeout=60, scheduled=False)
    batches.send_now(destination())
    drain(app, timeout=60)


def full_feed(app) -> None:
    from app.jobs import enqueue

    enqueue.send_full(destination().id, site_id="smith")
    drain(app, timeout=60, scheduled=False)


def live(carslink) -> list[str]:
    return sorted(item["source_id"] for item in carslink.state({})["listings"])


def removed(carslink) -> list[tuple[str, str]]:
    return [(r["source_id"], r["reason"]) for r in carslink.state({})["removed"]]


def status(client, ref: str) -> dict[str, Any]:
    (state,) = client.get(f"/api/v1/sites/smith/cars/{ref}", headers=ADMIN).get_json()["destinations"]
    return state


def feed_status(client) -> dict[str, Any]:
    return client.get("/api/v1/sites/smith/destinations/carslink/feed", headers=ADMIN).get_json()


def six_cars_listed(app, client, photos, carslink) -> None:
    cars = [car(f"V{n}", photos.url, n_photos=2 if n == 2 else 4) for n in range(1, 7)]
    dms_feed(client, "partial", cars)
    close_window(app)


