"""One waiting push per car and destination: a later sync of a car whose push already waits
(for a rate window, a backoff or the breaker) adds no job; the waiting push sends the latest."""

from __future__ import annotations

from rq import Queue

from app.extensions import redis_store
from app.jobs.queues import PUSH
from tests.support.jobs import drain
from tests.support.wordpress import encode, inventory_presser_post, standard_headers

SHOWROOM = "demo-motors"


def send(client, post_id: int, price: str = "$28,995") -> None:
    body = encode(inventory_presser_post(post_id, price=price, vin=f"JTMABABJ80401234{post_id % 10}"))
    response = client.post("/hooks/wordpress/demo", data=body, headers=standard_headers(body))
    assert response.status_code == 202, response.get_json()


def waiting_pushes() -> dict[int, int]:
    """Push jobs not started yet, per car id."""
    queue = Queue(PUSH, connection=redis_store.client)
    ids = [*queue.scheduled_job_registry.get_job_ids(), *queue.get_job_ids(),
           *queue.deferred_job_registry.get_job_ids()]
    counts: dict[int, int] = {}
    for job in queue.job_class.fetch_many(ids, connection=redis_store.client):
        if job is not None and job.func_name == "workers.jobs.push":
            counts[job.args[0]] = counts.get(job.args[0], 0) + 1
    return counts


def test_edits_of_a_car_whose_push_waits_add_no_job_and_the_latest_one_is_sent(app, client, site, carzle):
    carzle.registry.update_config({"rate_window_seconds": 4, "write_limit": 1})
    send(client, 101)
    send(client, 102)
    drain(app, timeout=30, scheduled=False)  # one car listed; the other waits for the window
    assert list(waiting_pushes().values()) == [1]

    for price in ("$27,000", "$26,500", "$26,000"):
        send(client, 101, price=price)
        send(client, 102, price=price)
        drain(app, timeout=30, scheduled=False)
        assert set(waiting_pushes().values()) == {1}, waiting_pushes()

    drain(app, timeout=60)
    listings = carzle.carzle.listings(SHOWROOM)
    assert sorted(listing["price"] for listing in listings) == [26000, 26000]
    assert carzle.carzle.key_stats(carzle.key)["posts"] == 2


def test_a_backlog_of_many_cars_waits_with_one_push_each(app, client, site, carzle):
    carzle.registry.update_config({"rate_window_seconds": 60, "write_limit": 2})
    for round_ in range(3):
        for post_id in range(101, 111):
            send(client, post_id, price=f"${28000 - round_ * 100:,}")
        drain(app, timeout=30, scheduled=False)
    waiting = waiting_pushes()  # 2 writes a window: the other 8 cars, then every car's edits
    assert len(waiting) == 10 and set(waiting.values()) == {1}, waiting
