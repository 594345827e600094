"""GET /api/v1/sites/<id>/cars?refs=...: many cars' state in one call (the plugin's Marketplaces column)."""

from __future__ import annotations

import pytest

from tests.conftest import ADMIN_TOKEN

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def make_car(site_id: str, ref: str, status: str = "active"):
    from app.extensions import db
    from app.listings.models import Car

    car = Car(site_id=site_id, car_ref=ref, source="wordpress", vehicle={"price": 1}, status=status)
    db.session.add(car)
    db.session.commit()
    return car


def site_key(scopes: list[str], site_id: str | None = "demo") -> dict[str, str]:
    from app.auth.keys import create_key

    _, token = create_key("plugin", scopes, site_id=site_id)
    return {"Authorization": f"Bearer {token}"}


def test_known_and_unknown_refs_in_the_order_asked(client, site):
    make_car("demo", "101")
    make_car("demo", "102", status="sold")
    response = client.get("/api/v1/sites/demo/cars?refs=102, 999,101,102", headers=ADMIN)
    assert response.status_code == 200, response.get_json()
    cars = response.get_json()["cars"]
    assert [(c["carRef"], c["status"]) for c in cars] == [("102", "sold"), ("999", "unknown"), ("101", "active")]
    single = client.get("/api/v1/sites/demo/cars/101", headers=ADMIN).get_json()
    assert cars[2] == single  # the same per-car shape as the single-car endpoint
    assert cars[2]["destinations"][0]["marketplace"] == "carzle"
    assert cars[1]["destinations"] == []


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("", "refs"),
        ("?refs=", "refs"),
        ("?refs=" + ",".join(str(n) for n in range(101)), "refs"),
    ],
)
def test_refs_are_required_and_bounded(client, site, query, field):
    response = client.get("/api/v1/sites/demo/cars" + query, headers=ADMIN)
    assert response.status_code == 422
    assert field in response.get_json()["error"]["fields"]


def test_a_site_key_with_sites_read_may_ask_and_others_may_not(client, site):
    make_car("demo", "101")
    assert client.get("/api/v1/sites/demo/cars?refs=101", headers=site_key(["sites:read"])).status_code == 200
    assert client.get("/api/v1/sites/demo/cars?refs=101", headers=site_key(["sync:write"])).status_code == 403
    assert client.get("/api/v1/sites/demo/cars?refs=101", headers=site_key(["sites:read"], "other")).status_code == 403
    assert client.get("/api/v1/sites/demo/cars?refs=101").status_code == 401


def test_unknown_site_is_404(client, site):
    assert client.get("/api/v1/sites/nobody/cars?refs=1", headers=ADMIN).status_code == 404
