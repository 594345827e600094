"""The Forecourt half of the harness without the plugin: photos from the real WordPress media
library reach the Carzle sandbox in order, and Forecourt can be stopped and started again at
the address the plugin is configured with. The event is sent the way the plugin will send it
(companion format, Standard Webhooks), built from what WordPress's REST API reports."""

from __future__ import annotations

import json

import pytest
import requests

from app.webhooks.signatures import standard_webhook_headers
from tests.wordpress import cars
from tests.wordpress.forecourt_live import SECRET, SITE_ID


def companion_event(wp, car_id: int) -> bytes:
    post = wp.rest.get(f"{wp.url}/wp-json/wp/v2/inventory_vehicle/{car_id}?context=edit", timeout=60).json()
    media = wp.rest.get(f"{wp.url}/wp-json/wp/v2/media?parent={car_id}&per_page=100&context=edit",
                        timeout=60).json()
    media.sort(key=lambda m: (m["id"] != post["featured_media"], int(m["meta"]["inventory_presser_photo_number"])))
    return json.dumps({
        "event": "save_post",
        "post_id": car_id,
        "post": {"ID": car_id, "post_type": "inventory_vehicle", "post_status": post["status"],
                 "post_title": post["title"]["raw"], "post_content": post["content"]["raw"],
                 "post_modified_gmt": post["modified_gmt"].replace("T", " "), "post_name": post["slug"]},
        "post_meta": {key: [value] for key, value in post["meta"].items() if value},
        "taxonomies": {},
        "images": [{"url": m["source_url"], "id": m["id"]} for m in media],
    }).encode()


def test_photos_from_the_media_library_reach_carzle_in_order(wordpress, forecourt):
    car = cars.create_car(wordpress, price="31000", photos=5)
    body = companion_event(wordpress, car["id"])
    response = requests.post(f"{forecourt.url}/hooks/wordpress/{SITE_ID}", data=body, timeout=30,
                             headers=standard_webhook_headers(SECRET, body))
    assert response.status_code == 202, response.text
    forecourt.drain()
    (listing,) = forecourt.listings()
    assert listing["price"] == 31000
    assert [cars.nearest(c) for c in cars.colours_on_marketplace(listing)] == [0, 1, 2, 3, 4]


def test_forecourt_stops_and_starts_at_the_same_address(forecourt):
    assert requests.get(f"{forecourt.url}/healthz", timeout=10).status_code == 200
    forecourt.stop()
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{forecourt.url}/healthz", timeout=10)
    forecourt.start()
    assert requests.get(f"{forecourt.url}/healthz", timeout=10).status_code == 200
