"""The issue's "done when": a site fed by WordPress and a Carfluence source, merged by VIN,
through the webhook, the pull, real RQ workers and the Carzle and Carfluence sandboxes."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from app.extensions import db
from app.sources.pull import pull
from app.sync import engine
from tests.sources.conftest import configure
from tests.support.carfluence import GROUP, generate
from tests.support.jobs import drain
from tests.support.wordpress import encode, inventory_presser_post, standard_headers

VIN = "JTMABABJ804012345"  # the WordPress test post's VIN
PRICE_FROM_CARFLUENCE = """
[sites.merge]
order = ["wordpress"]
fallback = false
fields = {price = ["carfluence"]}
"""


def post_hook(client: Any, payload: dict) -> None:
    body = encode(payload)
    response = client.post("/hooks/wordpress/demo", data=body, headers=standard_headers(body))
    assert response.status_code == 202, response.get_json()


def carfluence_car(market: Any, **changes: Any) -> None:
    market.inventory.add(GROUP, {"vin": VIN, "year": 2023, "make": "TOYOTA", "model": "Land Cruiser",
                                 "price": "26500.00", "mileage": 9000, "stock_number": "CF-77",
                                 "description": "Carfluence text", **changes})


def wordpress_then_pull(client: Any, source_id: int, modified: datetime) -> None:
    """Both sources applied to the car, nothing pushed yet (the push jobs wait in the queue)."""
    post_hook(client, inventory_presser_post(101, price="$28,995", modified=modified))
    engine.sync_car("demo", "101")
    assert pull(source_id)["changed"] == 1
    engine.sync_car("demo", "101")


def test_carzle_gets_the_wordpress_car_at_carfluences_price(app, client, admin_headers, carzle, market) -> None:
    site = configure(carzle, site_extra=PRICE_FROM_CARFLUENCE)
    source = next(d for d in site.destinations if d.marketplace == "carfluence")
    carfluence_car(market)
    first_save = datetime.now(UTC) - timedelta(minutes=5)
    wordpress_then_pull(client, source.id, first_save)

    # The dry run shows the payload before anything is sent.
    dry = client.get("/api/v1/sites/demo/cars/101/dry-run", headers=admin_headers)
    assert dry.status_code == 200, dry.get_json()
    (entry,) = dry.get_json()["destinations"]
    planned = entry["after"]
    assert planned["price"] == 26_500
    assert (planned["make"], planned["year"], planned["title"]) == ("Toyota", 2024, "2024 Toyota Land Cruiser GR Sport")
    assert planned["description"] == "One owner, full dealer service history."
    assert planned["externalRef"].endswith("STK101")
    assert carzle.carzle.listings("demo-motors") == []

    drain(app)
    (listing,) = carzle.carzle.listings("demo-motors")
    for name in ("price", "make", "model", "year", "title", "description", "kilometers", "externalRef"):
        assert listing[name] == planned[name], name

    car = client.get("/api/v1/sites/demo/cars/101", headers=admin_headers).get_json()
    assert car["fieldSources"]["price"] == "carfluence"
    assert car["fieldSources"]["make"] == car["fieldSources"]["description"] == "wordpress"
    assert car["vehicle"]["stock_number"] == "STK101"  # fallback = false: not Carfluence's CF-77

    history = client.get("/api/v1/sites/demo/cars/101/history", headers=admin_headers).get_json()
    assert sorted(v["source"] for v in history["versions"]) == ["carfluence", "wordpress"]
    (sent,) = history["sent"]
    assert (sent["marketplace"], sent["operation"], sent["outcome"]) == ("carzle", "create", "done")
    assert sent["payload"]["price"] == 26_500

    # A WordPress save older than the pull is still WordPress's newest: it applies.
    post_hook(client, inventory_presser_post(101, price="$28,995", modified=first_save + timedelta(seconds=1),
                                             odometer="8,000"))
    drain(app)
    (listing,) = carzle.carzle.listings("demo-motors")
    assert listing["kilometers"] == 12_875  # 8,000 mi
    assert listing["price"] == 26_500


def test_rules_change_the_payload_and_the_dry_run_shows_before_and_after(app, client, admin_headers, carzle,
                                                                         market) -> None:
    rules = """
[[sites.rules]]
action = "round_price"
to = 1000
mode = "down"
destinations = ["carzle"]

[[sites.rules]]
action = "title_suffix"
text = " | Demo Motors"
"""
    site = configure(carzle, site_extra=PRICE_FROM_CARFLUENCE + rules)
    source = next(d for d in site.destinations if d.marketplace == "carfluence")
    carfluence_car(market)
    wordpress_then_pull(client, source.id, datetime.now(UTC))
    (entry,) = client.get("/api/v1/sites/demo/cars/101/dry-run", headers=admin_headers).get_json()["destinations"]
    assert (entry["before"]["price"], entry["after"]["price"]) == (26_500, 26_000)
    assert entry["after"]["title"] == entry["before"]["title"] + " | Demo Motors"
    assert entry["rules"] == ["round_price(to=1000, mode='down')", "title_suffix(text=' | Demo Motors')"]
    drain(app)
    (listing,) = carzle.carzle.listings("demo-motors")
    assert (listing["price"], listing["title"]) == (26_000, entry["after"]["title"])


def test_a_car_only_carfluence_has_is_listed_and_removed_after_its_grace(app, client, admin_headers, carzle,
                                                                        market) -> None:
    site = configure(carzle)
    source = next(d for d in site.destinations if d.marketplace == "carfluence")
    carfluence_car(market)
    generate(market, 4, 11)  # so one car leaving is not "the total shrank by more than 20 %"
    pull(source.id)
    drain(app)
    (listing,) = [x for x in carzle.carzle.listings("demo-motors") if x["externalRef"] == "fc_sku_CF-77"]
    assert (listing["price"], listing["make"], listing["title"]) == (26_500, "Toyota", "2023 TOYOTA Land Cruiser")
    market.inventory.remove(VIN)
    assert pull(source.id)["removed"] == 0  # grace_pulls = 2 in the test site
    assert pull(source.id)["removed"] == 1
    drain(app)
    assert [x for x in carzle.carzle.listings("demo-motors") if x["externalRef"] == "fc_sku_CF-77"] == []
    car = client.get(f"/api/v1/sites/demo/cars/{VIN}", headers=admin_headers).get_json()
    assert car["status"] == "deleted"
    db.session.rollback()


def test_a_wordpress_car_that_arrives_after_carfluences_takes_the_vin_over(app, client, admin_headers, carzle,
                                                                          market) -> None:
    site = configure(carzle, site_extra=PRICE_FROM_CARFLUENCE)
    source = next(d for d in site.destinations if d.marketplace == "carfluence")
    carfluence_car(market)
    generate(market, 4, 12)
    pull(source.id)
    drain(app)
    assert [x["externalRef"] for x in carzle.carzle.listings("demo-motors")].count("fc_sku_CF-77") == 1
    post_hook(client, inventory_presser_post(101, price="$28,995"))
    drain(app)
    moved = pull(source.id)
    assert (moved["moved"], moved["changed"]) == (1, 1)
    drain(app)
    refs = {x["externalRef"]: x for x in carzle.carzle.listings("demo-motors")}
    assert "fc_sku_CF-77" not in refs  # Carfluence's own car for the VIN is gone
    assert refs["fc_sku_STK101"]["price"] == 26_500  # and the WordPress car has its price
    assert pull(source.id)["changed"] == 0
    car = client.get(f"/api/v1/sites/demo/cars/{VIN}", headers=admin_headers).get_json()
    assert car["status"] == "deleted"


def test_the_car_status_lists_destinations_not_the_source(app, client, admin_headers, carzle, market) -> None:
    site = configure(carzle)
    carfluence_car(market)
    pull(next(d for d in site.destinations if d.marketplace == "carfluence").id)
    drain(app)
    car = client.get(f"/api/v1/sites/demo/cars/{VIN}", headers=admin_headers).get_json()
    assert [d["marketplace"] for d in car["destinations"]] == ["carzle"]
    assert car["fieldSources"]["price"] == "carfluence"


def test_remerge_applies_a_changed_merge_config_to_existing_cars(app, client, admin_headers, carzle, market) -> None:
    site = configure(carzle)  # the default order: WordPress's price wins
    source = next(d for d in site.destinations if d.marketplace == "carfluence")
    carfluence_car(market)
    wordpress_then_pull(client, source.id, datetime.now(UTC))
    drain(app)
    (listing,) = carzle.carzle.listings("demo-motors")
    assert listing["price"] == 28_995
    configure(carzle, site_extra=PRICE_FROM_CARFLUENCE)
    result = app.test_cli_runner().invoke(args=["forecourt", "remerge", "demo"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == {"cars": 1, "changed": 1}
    drain(app)
    (listing,) = carzle.carzle.listings("demo-motors")
    assert listing["price"] == 26_500
