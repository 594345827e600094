"""Pulling a Carfluence source through the real pull service, Redis and the sandbox over HTTP."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.extensions import db, redis_store
from app.listings.models import Car
from app.sources import schedule
from app.sources.models import SourceItem
from app.sources.pull import pull
from app.sync.debounce import DUE
from tests.sources.conftest import configure
from tests.support.carfluence import EMAIL, GROUP, generate
from tests.support.jobs import drain


def events_waiting() -> int:
    return int(redis_store.client.zcard(DUE))


def live_cars() -> dict[str, str | None]:
    return {c.car_ref: c.status for c in db.session.scalars(select(Car))}


def test_an_unchanged_inventory_makes_no_events(app, source, market) -> None:
    generate(market, 25, 1)
    first = pull(source.id)
    assert (first["outcome"], first["changed"], first["pages"]) == ("complete", 25, 3)
    drain(app)
    assert len(live_cars()) == 25
    second = pull(source.id)
    assert (second["outcome"], second["changed"], second["unchanged"], second["pages"]) == ("complete", 0, 25, 3)
    assert events_waiting() == 0


def test_a_changed_vehicle_becomes_one_source_event(app, source, market) -> None:
    generate(market, 12, 2)
    pull(source.id)
    drain(app)
    churn = market.inventory.churn(GROUP, 5, change=2)
    result = pull(source.id)
    assert (result["changed"], result["unchanged"]) == (2, 10)
    assert events_waiting() == 2
    drain(app)
    for vin in churn["changed"]:
        price = int(float(market.inventory.get(vin, None)["price"]) + 0.5)
        assert db.session.scalar(select(Car).where(Car.car_ref == vin)).vehicle["price"] == price


@pytest.mark.parametrize("grace_pulls", [1, 2, 3])
def test_a_vanished_vehicle_is_removed_after_its_grace(app, carzle, market, grace_pulls) -> None:
    site = configure(carzle, listing=False)
    dest = next(d for d in site.destinations if d.marketplace == "carfluence")
    dest.options = {**dest.options, "grace_pulls": grace_pulls}
    db.session.commit()
    vin = generate(market, 10, 3)[0]
    pull(dest.id)
    drain(app)
    market.inventory.remove(vin)
    for n in range(1, grace_pulls):
        result = pull(dest.id)
        assert (result["missing"], result["removed"]) == (1, 0), n
    assert pull(dest.id)["removed"] == 1
    drain(app)
    assert live_cars()[vin] == "deleted"


def test_a_pull_that_fails_on_page_3_of_5_removes_nothing(app, carzle, market) -> None:
    site = configure(carzle, listing=False)
    dest = next(d for d in site.destinations if d.marketplace == "carfluence")
    dest.options = {**dest.options, "grace_pulls": 1}
    db.session.commit()
    vins = generate(market, 50, 4)
    pull(dest.id)
    drain(app)
    for vin in vins[:3]:
        market.inventory.remove(vin)
    carzle.registry.marketplaces["carfluence"].broken_pages.append({"page": 3, "mode": "error", "times": None})
    result = pull(dest.id)
    assert result["outcome"] == "failed" and result["pages"] == 2, result
    assert (result["removed"], result["missing"]) == (0, 0)
    assert not db.session.scalars(select(SourceItem).where(SourceItem.missing_pulls > 0)).all()
    drain(app)
    assert "deleted" not in live_cars().values()


def test_a_total_that_shrank_too_much_removes_nothing_until_accepted(app, carzle, market) -> None:
    site = configure(carzle, listing=False)
    dest = next(d for d in site.destinations if d.marketplace == "carfluence")
    dest.options = {**dest.options, "grace_pulls": 1, "max_shrink": 0.2}
    db.session.commit()
    vins = generate(market, 20, 5)
    pull(dest.id)
    for vin in vins[:5]:  # 25 % gone at once
        market.inventory.remove(vin)
    shrunk = pull(dest.id)
    assert (shrunk["outcome"], shrunk["removed"]) == ("shrunk", 0)
    accepted = pull(dest.id, accept_shrink=True)
    assert (accepted["outcome"], accepted["removed"]) == ("complete", 5)


def test_a_pull_whose_token_expires_mid_way_completes_after_one_refresh(app, carzle, market) -> None:
    site = configure(carzle, auth="login", listing=False)
    dest = next(d for d in site.destinations if d.marketplace == "carfluence")
    generate(market, 50, 6)
    market.expire_after = 2  # pages 1 and 2 pass; the token has expired by page 3
    result = pull(dest.id)
    assert (result["outcome"], result["changed"], result["pages"]) == ("complete", 50, 5)
    assert market.stats()["users"][EMAIL]["logins"] == 2


def test_an_outage_fails_the_pull_and_the_job_raises(app, source, market) -> None:
    from workers.jobs import pull_source

    generate(market, 5, 7)
    market.switches.update({"outage": True})
    with pytest.raises(RuntimeError, match="failed"):
        pull_source(source.id)
    assert live_cars() == {}


def test_the_schedule_queues_one_pull_per_interval(app, source, market) -> None:
    assert schedule.enqueue_due() == 1
    assert schedule.enqueue_due() == 0  # within the 15 minutes
    redis_store.client.delete(schedule.due_key(source.id))
    assert schedule.enqueue_due() == 1


def test_pull_now_through_the_admin_api(app, client, admin_headers, source, market) -> None:
    generate(market, 3, 8)
    response = client.post("/api/v1/sites/demo/sources/carfluence/pull", headers=admin_headers)
    assert response.status_code == 202, response.get_json()
    drain(app)
    assert len(live_cars()) == 3
    pulls = client.get("/api/v1/sites/demo/sources/carfluence/pulls", headers=admin_headers).get_json()["pulls"]
    assert [(p["outcome"], p["counts"]["changed"]) for p in pulls] == [("complete", 3)]
    assert client.post("/api/v1/sites/demo/sources/carzle/pull", headers=admin_headers).status_code == 404


def test_pull_now_from_the_cli(app, source, market) -> None:
    generate(market, 4, 9)
    result = app.test_cli_runner().invoke(args=["forecourt", "pull-source", "demo", "carfluence"])
    assert result.exit_code == 0, result.output
    assert '"changed": 4' in result.output


def test_the_shared_read_budget_holds_a_pull_until_its_reset(app, carzle, market) -> None:
    from rq import Queue
    from rq.registry import ScheduledJobRegistry

    site = configure(carzle, listing=False)
    dest = next(d for d in site.destinations if d.marketplace == "carfluence")
    dest.options = {**dest.options, "rate_reads": 2, "rate_window": 60, "grace_pulls": 1}
    db.session.commit()
    generate(market, 25, 13)
    result = pull(dest.id)
    assert (result["outcome"], result["pages"], result["removed"]) == ("rate_limited", 2, 0)
    scheduled = ScheduledJobRegistry(queue=Queue("low", connection=redis_store.client))
    assert scheduled.count == 1  # the whole pull again at the budget's reset
    assert market.stats()["principals"]["cf_live_northgroup_read"].get("rate_limited", 0) == 0  # never a 429
