"""Issue 13's done-when, in a real WordPress: a dealer publishes a car with 5 photos, edits its
price in wp-admin while Forecourt is down, clicks Sync Now and trashes it. The Carzle sandbox
shows one listing with the photos in order, then the new price, then its deletion, and the car
list's Marketplaces column shows each step."""

from __future__ import annotations

from tests.wordpress import cars, screens


def waiting(wp, car_id: int) -> list[dict]:
    return [row for row in wp.outbox() if int(row["post_id"]) == car_id and row["status"] == "pending"]


def test_publish_edit_while_down_sync_now_and_trash(wp, browser, forecourt):
    car = cars.create_car(wp, price="28995", photos=5)
    wp.flush_outbox()
    forecourt.drain()

    (listing,) = forecourt.listings()
    assert listing["price"] == 28995
    assert [cars.nearest(c) for c in cars.colours_on_marketplace(listing)] == [0, 1, 2, 3, 4]
    assert screens.marketplace_states(browser, wp, car["id"], want="synced") == {"carzle": "synced"}

    # The edit happens while Forecourt is down: it waits in the outbox, the column says so,
    # and it arrives once Forecourt is back.
    forecourt.stop()
    screens.edit_price(browser, wp, car["id"], "26500")
    wp.run_cron()
    wp.flush_outbox()
    assert waiting(wp, car["id"]), wp.outbox()
    assert screens.marketplace_states(browser, wp, car["id"], want="pending") == {"carzle": "pending"}
    forecourt.start()
    wp.flush_outbox()
    forecourt.drain()
    assert all(row["status"] != "pending" for row in wp.outbox())
    (listing,) = forecourt.listings()
    assert listing["price"] == 26500
    assert screens.marketplace_states(browser, wp, car["id"], want="synced") == {"carzle": "synced"}

    notice = screens.sync_now(browser, wp, car["id"])
    assert "1 car sent to Forecourt" in notice, notice
    forecourt.drain()
    assert screens.marketplace_states(browser, wp, car["id"], want="synced") == {"carzle": "synced"}
    (still,) = forecourt.listings()
    assert still["id"] == listing["id"] and still["price"] == 26500

    screens.trash(browser, wp, car["id"])
    wp.flush_outbox()
    forecourt.drain()
    assert forecourt.listings() == []
    (gone,) = forecourt.listings(include_deleted=True)
    assert gone["id"] == listing["id"] and gone["deletedAt"]
    assert screens.marketplace_states(browser, wp, car["id"], status="trash", want="deleted") == {"carzle": "deleted"}
