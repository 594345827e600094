"""Carslink's pull endpoint (option B), the CSV export (option C) and the feeds CLI, against a
dealer whose stock went through the real pipeline into the Carslink sandbox."""

from __future__ import annotations

import base64
import csv
import io

import pytest

from app.connectors.carslink.csv_export import COLUMNS
from tests.support import carslink as cl
from tests.support.carslink import ADMIN, PULL_TOKEN, destination, full_feed, live, six_cars_listed

settings, photos, carslink, dealer_site = cl.settings, cl.photos, cl.carslink, cl.dealer_site

BASIC = "Basic " + base64.b64encode(f"carslink:{PULL_TOKEN}".encode()).decode()


@pytest.fixture
def stock(app, client, dealer_site, photos, carslink):
    six_cars_listed(app, client, photos, carslink)  # V2 has 2 photos: never sent, never offered


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({"Authorization": f"Bearer {PULL_TOKEN}"}, 200),
        ({"X-Carslink-Key": PULL_TOKEN}, 200),
        ({"Authorization": BASIC}, 200),
        ({"Authorization": "Bearer wrong"}, 401),
        ({"X-Carslink-Key": "wrong"}, 401),
        ({}, 401),
    ],
)
def test_the_pull_endpoint_takes_the_partners_auth_choice(client, stock, headers, status):
    response = client.get("/feeds/carslink/smith", headers=headers)
    assert response.status_code == status
    if status == 401:
        assert set(response.get_json()["error"]) == {"code", "message", "fields", "requestId"}


def test_a_pull_serves_exactly_what_a_full_replace_sends(app, client, stock, carslink):
    pulled = client.get("/feeds/carslink/smith", headers={"Authorization": f"Bearer {PULL_TOKEN}"}).get_json()
    full_feed(app)
    assert pulled["mode"] == "full_replace"
    assert pulled["dealer"]["partner_dealer_id"] == cl.DEALER_ID and "location" not in pulled["dealer"]
    assert sorted(x["source_id"] for x in pulled["listings"]) == live(carslink)
    stored = {x["source_id"]: x for x in carslink.state({})["listings"]}
    for listing in pulled["listings"]:
        assert stored[listing["source_id"]]["images"] == listing["images"]


def test_a_pull_answers_304_while_the_stock_is_unchanged(client, stock):
    auth = {"Authorization": f"Bearer {PULL_TOKEN}"}
    first = client.get("/feeds/carslink/smith", headers=auth)
    etag = first.headers["ETag"]
    assert client.get("/feeds/carslink/smith", headers={**auth, "If-None-Match": etag}).status_code == 304
    assert client.get("/feeds/carslink/smith", headers={**auth, "If-None-Match": '"other"'}).status_code == 200


def test_pulls_are_rate_limited(client, stock, monkeypatch):
    from app.feeds import views

    monkeypatch.setattr(views, "PULL_PER_MINUTE", 2)
    auth = {"Authorization": f"Bearer {PULL_TOKEN}"}
    codes = [client.get("/feeds/carslink/smith", headers=auth).status_code for _ in range(3)]
    if codes[-1] == 200:  # the minute turned between the calls: one more call lands in the new one
        codes = [client.get("/feeds/carslink/smith", headers=auth).status_code for _ in range(3)]
    assert 429 in codes
    limited = client.get("/feeds/carslink/smith", headers=auth)
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) <= 60


def test_a_held_feed_is_not_served_either(app, client, stock):
    from app.sync import feed_status

    feed_status.guard(destination(), listed=[1, 2, 3, 4], sending=[])
    from app.extensions import db

    db.session.commit()
    response = client.get("/feeds/carslink/smith", headers={"Authorization": f"Bearer {PULL_TOKEN}"})
    assert response.status_code == 503 and response.get_json()["error"]["code"] == "feed_held"


def test_a_site_without_pull_auth_has_no_pull_endpoint(client, stock):
    from app.extensions import db
    from app.sites.models import Site

    site = db.session.get(Site, "smith")
    site.secrets = {**site.secrets, "feed_pull_auth": []}
    db.session.commit()
    assert client.get("/feeds/carslink/smith", headers={"Authorization": f"Bearer {PULL_TOKEN}"}).status_code == 404


def test_the_csv_has_the_template_columns_and_the_live_stock(client, stock, carslink):
    response = client.get("/api/v1/sites/smith/destinations/carslink/export.csv", headers=ADMIN)
    assert response.status_code == 200 and response.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert tuple(rows[0]) == COLUMNS
    assert sorted(r["source_id"] for r in rows) == live(carslink)
    assert all(len(r["images"].split(" | ")) == 4 and r["registration"] for r in rows)
    assert client.get("/api/v1/sites/smith/destinations/carslink/export.csv").status_code == 401


def test_the_cli_exports_the_csv_and_confirms_a_held_feed(app, client, stock, carslink, tmp_path):
    from app.extensions import db
    from app.sync import feed_status

    runner = app.test_cli_runner()
    out = tmp_path / "stock.csv"
    result = runner.invoke(args=["forecourt", "feeds", "export-csv", "smith", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert out.read_text().splitlines()[0].split(",") == list(COLUMNS)

    assert runner.invoke(args=["forecourt", "feeds", "confirm", "smith"]).exit_code == 1  # nothing held
    feed_status.guard(destination(), listed=[1, 2], sending=[3])
    db.session.commit()
    status = runner.invoke(args=["forecourt", "feeds", "status", "smith"])
    assert '"wouldRemove": 2' in status.output
    confirmed = runner.invoke(args=["forecourt", "feeds", "confirm", "smith"])
    assert confirmed.exit_code == 0 and "confirmed" in confirmed.output
    from tests.support.jobs import drain

    drain(app, timeout=60, scheduled=False)
    assert feed_status.status_of(destination()).get("held") is None
    assert len(live(carslink)) == 5
