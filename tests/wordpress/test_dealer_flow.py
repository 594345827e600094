"""Issue 13's done-when, in a real WordPress: a dealer publishes a car with 5 photos, edits its
price in wp-admin while Forecourt is down, clicks Sync Now and trashes it. The Carzle sandbox
shows one listing with the photos in order, then the new price, then its deletion, and the car
list's Marketplaces column shows each step."""

from __future__ import annotations

import io

import requests
from PIL import Image

from tests.wordpress import cars, screens


def colours_on_marketplace(listing: dict) -> list[tuple[int, int, int]]:
    """The centre pixel of each photo as the marketplace serves it (Forecourt's re-hosted copies)."""
    found = []
    for image in listing["imageUrls"]:
        url = image.get("sourceUrl") or image.get("source") or image.get("url") if isinstance(image, dict) else image
        data = requests.get(url, timeout=30).content
        picture = Image.open(io.BytesIO(data)).convert("RGB")
        found.append(picture.getpixel((picture.width // 2, picture.height // 2)))
    return found


def nearest(colour: tuple[int, int, int]) -> int:
    def distance(i: int) -> int:
        return sum((a - b) ** 2 for a, b in zip(colour, cars.COLOURS[i], strict=True))

    return min(range(len(cars.COLOURS)), key=distance)


def test_publish_edit_while_down_sync_now_and_trash(configured_plugin, browser, forecourt):
    wp = configured_plugin
    car = cars.create_car(wp, price="28995", photos=5)
    wp.flush_outbox()
    forecourt.drain()

    (listing,) = forecourt.listings()
    assert listing["price"] == 28995
    assert [nearest(c) for c in colours_on_marketplace(listing)] == [0, 1, 2, 3, 4]
    assert screens.marketplace_states(browser, wp, car["id"], want="synced")["carzle"] == "synced"

    # The edit happens while Forecourt is down: it waits in the outbox and arrives after.
    forecourt.stop()
    screens.edit_price(browser, wp, car["id"], "26500")
    wp.run_cron()
    wp.flush_outbox()
    pending = [row for row in wp.outbox() if int(row["post_id"]) == car["id"] and row["status"] == "pending"]
    assert pending, wp.outbox()
    forecourt.start()
    wp.flush_outbox()
    forecourt.drain()
    assert all(row["status"] != "pending" for row in wp.outbox())
    (listing,) = forecourt.listings()
    assert listing["price"] == 26500

    notice = screens.sync_now(browser, wp, car["id"])
    assert "1" in notice, notice
    forecourt.drain()
    assert screens.marketplace_states(browser, wp, car["id"], want="synced")["carzle"] == "synced"

    screens.trash(browser, wp, car["id"])
    wp.flush_outbox()
    forecourt.drain()
    assert forecourt.listings() == []
    (gone,) = forecourt.listings(include_deleted=True)
    assert gone["id"] == listing["id"] and gone["deletedAt"]
    assert screens.marketplace_states(browser, wp, car["id"], status="trash", want="deleted")["carzle"] == "deleted"
