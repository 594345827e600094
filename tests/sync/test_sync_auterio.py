"""Auterio through the engine's batch path, into the Auterio sandbox over real HTTP: the
issue's "done when" (2,500 cars in 3 requests, reasons on the 4 left out, a trashed car as
``baja`` in one request) and a refused key pausing the destination."""

from __future__ import annotations

from datetime import date

import pytest

from app.extensions import db
from app.listings.models import Car
from app.listings.vehicle import Vehicle
from tests.conftest import ADMIN_TOKEN, DMS_KEY
from tests.support.jobs import drain
from tests.support.wordpress import SECRET, encode, inventory_presser_post, standard_headers

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
KEY = "au_test_forecourt_sync"
NEXT_YEAR = date.today().year + 1
STATUSES = ("active", "reserved", "sold", "coming_soon")


@pytest.fixture
def auterio(sandbox_server):
    registry = sandbox_server.registry
    registry.reset()
    registry.update_config({"auterio_atomic_batches": False, "fault_rate": 0.0, "latency_ms": 0})
    registry.auterio.add_key(KEY, "smith", "Forecourt")
    sandbox_server.auterio = registry.auterio
    return sandbox_server


@pytest.fixture
def auterio_site(app, auterio):
    from app.sites import cache, config_file

    config_file.apply(config_file.parse(f"""
[[sites]]
id = "demo"
name = "Demo Motors"
webhook_secret = "{SECRET}"
dms_api_key = "{DMS_KEY}"
preset = "inventory-presser"

  [[sites.destinations]]
  marketplace = "auterio"
  base_url = "{auterio.url}/auterio"
  api_key = "{KEY}"
  batch_window = 60
""", {}))
    cache.clear()


def stock(auterio) -> dict[str, dict]:
    return auterio.auterio.stock.get("smith", {})


def requests_made(auterio) -> int:
    return auterio.auterio.counters_for(KEY).events["batches"]


def send_now(app) -> None:
    from app.sites.models import Destination
    from app.sync import batches

    drain(app, timeout=120, scheduled=False)
    with app.app_context():
        batches.send_now(db.session.query(Destination).one())
    drain(app, timeout=120)


def add_cars(app, count: int, *, no_vin: set[int], bad_year: set[int]) -> None:
    """Cars as a sync job leaves them (canonical data, a status), each marked for the next batch."""
    from app.sites.models import Destination
    from app.sync import batches

    with app.app_context():
        rows = []
        for n in range(count):
            vehicle = Vehicle(source="wordpress", car_ref=str(n), make="SEAT", model="León", year=2022,
                              vin=None if n in no_vin else f"VSSZZZKJZPR{n:06d}", price=20000 + n,
                              kilometers=1000 + n, fuel_type="Diesel", transmission="Automatic")
            if n in bad_year:
                vehicle.year = 1850
            rows.append(Car(site_id="demo", car_ref=str(n), source="wordpress", vehicle=vehicle.to_dict(),
                            status=STATUSES[n % len(STATUSES)], ever_published=True))
        db.session.add_all(rows)
        db.session.commit()
        dest = db.session.query(Destination).one()
        for car in rows:
            batches.mark(dest, car.id)


def state(client, ref: str) -> dict:
    (dest,) = client.get(f"/api/v1/sites/demo/cars/{ref}", headers=ADMIN).get_json()["destinations"]
    return dest


def test_2500_cars_go_in_3_requests_and_the_4_left_out_say_why(app, client, auterio_site, auterio):
    no_vin, bad_year = {10, 1500, 2499}, {777}
    add_cars(app, 2500, no_vin=no_vin, bad_year=bad_year)
    send_now(app)

    assert requests_made(auterio) == 3
    vehicles = stock(auterio)
    assert len(vehicles) == 2496
    assert {v["status"] for v in vehicles.values()} == {"disponible", "reservado", "vendido", "transito"}
    assert vehicles["VSSZZZKJZPR000001"]["status"] == "reservado"
    assert vehicles["VSSZZZKJZPR000001"]["fuel_type"] == "diésel"
    for ref in no_vin:
        shown = state(client, str(ref))
        assert shown["status"] == "skipped"
        assert shown["lastError"]["message"] == "Not sent to Auterio: vin missing"
    shown = state(client, "777")
    assert shown["status"] == "skipped"
    assert shown["lastError"]["message"] == f"Auterio: year must be between 1900 and {NEXT_YEAR}"
    assert shown["lastError"]["fields"] == {"year": f"must be between 1900 and {NEXT_YEAR}"}
    assert state(client, "5")["status"] == "synced"


def post(client, post_id: int, **kw) -> None:
    body = encode(inventory_presser_post(post_id, vin=f"JTMABABJ80{post_id:07d}", **kw))
    assert client.post("/hooks/wordpress/demo", data=body, headers=standard_headers(body)).status_code == 202


def test_a_trashed_car_becomes_baja_in_one_request_and_is_then_left_alone(app, client, auterio_site, auterio):
    post(client, 101)
    send_now(app)
    vin = "JTMABABJ800000101"
    assert stock(auterio)[vin]["status"] == "disponible"
    assert stock(auterio)[vin]["gearbox"] == "automático"

    post(client, 101, event="trash")
    send_now(app)
    assert requests_made(auterio) == 2
    assert stock(auterio)[vin]["status"] == "baja"
    assert state(client, "101")["status"] == "deleted"

    send_now(app)  # nothing pending: no request
    assert requests_made(auterio) == 2


def test_a_refused_key_pauses_the_destination(app, client, auterio_site, auterio):
    auterio.auterio.keys[KEY].active = False
    post(client, 101)
    send_now(app)
    shown = state(client, "101")
    assert shown["status"] == "paused"
    assert "API key is invalid or inactive" in shown["lastError"]["message"]
    assert stock(auterio) == {}

    from app.sites.models import Destination
    from app.sync.destinations import check_destination

    auterio.auterio.keys[KEY].active = True  # the dealer fixes the key; the periodic check resumes
    with app.app_context():
        assert check_destination(db.session.query(Destination).one())[0] is True
    drain(app, timeout=60)
    assert state(client, "101")["status"] == "synced"
    assert list(stock(auterio)) == ["JTMABABJ800000101"]
