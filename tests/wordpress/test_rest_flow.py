"""Cars created, edited, trashed and restored through the WordPress REST API reach Carzle
through the plugin's outbox, in order."""

from __future__ import annotations

from tests.wordpress import cars


def test_create_edit_trash_restore_over_rest(configured_plugin, forecourt):
    wp = configured_plugin
    car = cars.create_car(wp, price="19000", vin="JTMABABJ804054321")
    wp.flush_outbox()
    forecourt.drain()
    (listing,) = forecourt.listings()
    assert listing["price"] == 19000

    cars.update_car(wp, car["id"], meta={"inventory_presser_price": "18250"})
    wp.flush_outbox()
    forecourt.drain()
    assert forecourt.listings()[0]["price"] == 18250

    cars.trash_car(wp, car["id"])
    wp.flush_outbox()
    forecourt.drain()
    assert forecourt.listings() == []

    cars.update_car(wp, car["id"], status="publish")  # restored and published again
    wp.flush_outbox()
    forecourt.drain()
    (again,) = forecourt.listings()
    assert again["price"] == 18250
    sent = [row["event"] for row in wp.outbox() if int(row["post_id"]) == car["id"]]
    assert "trash" in sent and sent[0] == "save_post", sent
