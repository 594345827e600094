"""A dealer's saves, through the web, Redis, real RQ workers and the Carzle sandbox over HTTP."""

from __future__ import annotations

from tests.conftest import CARZLE_KEY
from tests.support.jobs import drain
from tests.support.wordpress import encode, inventory_presser_post, later, standard_headers


def post_hook(client, payload, **kw):
    body = encode(payload)
    return client.post("/hooks/wordpress/demo", data=body, headers=standard_headers(body, **kw))


def listings(carzle):
    return carzle.carzle.listings("demo-motors")


def test_a_burst_of_saves_becomes_one_create_with_the_last_price(app, client, site, carzle):
    for n in range(8):
        response = post_hook(client, inventory_presser_post(101, price=f"${28_000 + n:,}", modified=later(n)))
        assert response.status_code == 202, response.get_json()
    drain(app)
    (listing,) = listings(carzle)
    assert listing["price"] == 28_007
    assert listing["externalRef"].endswith("STK101")
    stats = carzle.carzle.key_stats(CARZLE_KEY)
    assert sum(v for k, v in stats["requests"].items() if k.startswith("POST")) == 1, stats

    car = client.get("/api/v1/sites/demo/cars/101", headers={"Authorization": "Bearer test-admin-token-0123456789"})
    (dest,) = car.get_json()["destinations"]
    assert dest["status"] == "synced"
    assert dest["remoteId"] == listing["id"]



def test_metrics_show_queues_cars_and_attempts(app, client, site, carzle):
    post_hook(client, inventory_presser_post(101))
    assert client.get("/metrics").status_code == 401
    admin = {"Authorization": "Bearer test-admin-token-0123456789"}
    before = client.get("/metrics", headers=admin).get_data(as_text=True)
    assert "forecourt_debounce_pending_cars 1" in before
    drain(app)
    after = client.get("/metrics", headers=admin).get_data(as_text=True)
    assert 'forecourt_cars{marketplace="carzle",status="synced"} 1' in after
    assert 'forecourt_sync_attempts_total{operation="create",outcome="done"} 1' in after
    assert 'forecourt_queue_jobs{queue="default",state="failed"} 0' in after
