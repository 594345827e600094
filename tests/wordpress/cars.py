"""Cars and photos put into the WordPress site through its REST API, as a dealer's tools would."""

from __future__ import annotations

import io
from typing import Any

import requests
from PIL import Image

from tests.wordpress.harness import WordPress

# One solid colour per photo, so the order on the marketplace can be read back from pixels.
COLOURS = [(220, 30, 30), (30, 200, 30), (30, 30, 220), (230, 220, 30), (200, 30, 200)]


def photo(colour: tuple[int, int, int]) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (800, 600), colour).save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def car_meta(price: str, vin: str) -> dict[str, str]:
    return {f"inventory_presser_{k}": v for k, v in {
        "make": "Toyota", "model": "Land Cruiser", "trim": "GR Sport", "year": "2024", "price": price,
        "odometer": "7,456", "odometer_units": "mi", "vin": vin, "stock_number": f"STK-{vin[-5:]}",
        "color": "Pearl White", "transmission": "Automatic", "fuel": "Petrol", "body_style": "SUV",
    }.items()}


def create_car(site: WordPress, *, price: str = "28995", vin: str = "JTMABABJ804012345",
               photos: int = 0, status: str = "publish") -> dict[str, Any]:
    """A car with ``photos`` photos (featured first, then Inventory Presser photo numbers),
    saved as a draft first so the photos exist before the car is published."""
    rest, api = site.rest, f"{site.url}/wp-json/wp/v2"
    draft = rest.post(f"{api}/inventory_vehicle", json={
        "title": "2024 Toyota Land Cruiser GR Sport", "status": "draft",
        "content": "One owner, full dealer service history.", "meta": car_meta(price, vin)}, timeout=60)
    assert draft.status_code == 201, draft.text[:500]
    car_id = draft.json()["id"]
    media_ids = []
    for number, colour in enumerate(COLOURS[:photos], start=1):
        uploaded = rest.post(f"{api}/media", data=photo(colour), timeout=60, headers={
            "Content-Type": "image/jpeg", "Content-Disposition": f'attachment; filename="car-{car_id}-{number}.jpg"'})
        assert uploaded.status_code == 201, uploaded.text[:500]
        media_id = uploaded.json()["id"]
        attached = rest.post(f"{api}/media/{media_id}", json={
            "post": car_id, "meta": {"inventory_presser_photo_number": str(number)}}, timeout=60)
        assert attached.status_code == 200, attached.text[:500]
        media_ids.append(media_id)
    update: dict[str, Any] = {"status": status}
    if media_ids:
        update["featured_media"] = media_ids[0]
    published = rest.post(f"{api}/inventory_vehicle/{car_id}", json=update, timeout=60)
    assert published.status_code == 200, published.text[:500]
    return {"id": car_id, "media": media_ids}


def update_car(site: WordPress, car_id: int, **fields: Any) -> dict[str, Any]:
    response = site.rest.post(f"{site.url}/wp-json/wp/v2/inventory_vehicle/{car_id}", json=fields, timeout=60)
    assert response.status_code == 200, response.text[:500]
    return response.json()


def trash_car(site: WordPress, car_id: int) -> None:
    response = site.rest.delete(f"{site.url}/wp-json/wp/v2/inventory_vehicle/{car_id}", timeout=60)
    assert response.status_code == 200 and response.json()["status"] == "trash", response.text[:500]


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
    """Which of COLOURS a served photo's pixel is closest to (re-encoding shifts it slightly)."""

    def distance(i: int) -> int:
        return sum((a - b) ** 2 for a, b in zip(colour, COLOURS[i], strict=True))

    return min(range(len(COLOURS)), key=distance)
