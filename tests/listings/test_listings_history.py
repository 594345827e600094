"""Per-car history: versions per source, payloads sent, retention and purge (real DB and workers)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from app.extensions import db
from app.listings.history import CarVersion, SentPayload, purge
from app.timeutil import utcnow
from tests.support.jobs import drain
from tests.support.wordpress import encode, inventory_presser_post, later, standard_headers


def save(client, price: str, n: int) -> None:
    body = encode(inventory_presser_post(101, price=price, modified=later(n)))
    assert client.post("/hooks/wordpress/demo", data=body, headers=standard_headers(body)).status_code == 202


def test_each_version_and_each_payload_sent_is_kept_and_queryable(app, client, admin_headers, site, carzle) -> None:
    save(client, "$28,000", 0)
    drain(app)
    save(client, "$27,500", 1)
    drain(app)
    save(client, "$27,500", 2)  # the same car again: not a new version
    drain(app)
    history = client.get("/api/v1/sites/demo/cars/101/history", headers=admin_headers).get_json()
    assert [(v["source"], v["vehicle"]["price"]) for v in history["versions"]] == [
        ("wordpress", 27_500), ("wordpress", 28_000)]
    assert [(s["operation"], s["outcome"], s["payload"]["price"]) for s in history["sent"]] == [
        ("update", "done", 27_500), ("create", "done", 28_000)]
    assert history["vin"] == "JTMABABJ804012345"
    car = client.get("/api/v1/sites/demo/cars/101", headers=admin_headers).get_json()
    assert car["fieldSources"]["price"] == "wordpress"  # one source: every field is its own
    assert client.get("/api/v1/sites/demo/cars/999/history", headers=admin_headers).status_code == 404
    assert client.get("/api/v1/sites/demo/cars/101/history").status_code == 401


def test_purge_keeps_each_sources_latest_version(app, client, site, carzle) -> None:
    save(client, "$28,000", 0)
    drain(app)
    save(client, "$27,500", 1)
    drain(app)
    old = utcnow() - timedelta(days=100)
    db.session.execute(update(CarVersion).values(received_at=old))
    db.session.execute(update(SentPayload).values(sent_at=old))
    db.session.commit()
    assert purge(90) == {"versions": 1, "sent": 2}
    assert [v.vehicle["price"] for v in db.session.scalars(select(CarVersion))] == [27_500]


def test_purge_from_the_cli(app) -> None:
    result = app.test_cli_runner().invoke(args=["forecourt", "purge-history", "--days", "30"])
    assert result.exit_code == 0, result.output
    assert '"versions": 0' in result.output
