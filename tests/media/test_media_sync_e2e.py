"""Issue 5's "done when": a car's photos, through the engine, to the Carzle sandbox."""

from __future__ import annotations

import dataclasses
import io

from PIL import Image

from tests.conftest import ADMIN_TOKEN, ServerThread
from tests.support.jobs import drain
from tests.support.wordpress import encode, inventory_presser_post, standard_headers


def test_rotated_photo_becomes_our_webp_and_bad_photos_are_reported(app, client, site, carzle, image_server):
    carzle.registry.update_config({"require_https_images": False, "allow_private_image_hosts": True})
    from app.extensions import db
    from app.sites.models import Destination

    dest = db.session.query(Destination).one()
    dest.options = {**dest.options, "allow_insecure_images": True}
    db.session.commit()
    with ServerThread(app) as forecourt:  # the sandbox fetches our media URLs over HTTP
        app.config["FORECOURT"] = dataclasses.replace(app.config["FORECOURT"], public_base_url=forecourt.url)
        secret_path = f"http://localhost:{image_server.port}/img/secret.jpg"  # resolves to loopback
        photos = [
            image_server.url + "/img/rotated-12mp.jpg",
            image_server.url + "/img/missing.jpg",
            secret_path,
        ]
        body = encode(inventory_presser_post(101, images=photos))
        assert client.post("/hooks/wordpress/demo", data=body, headers=standard_headers(body)).status_code == 202
        drain(app, timeout=90)

        (listing,) = carzle.carzle.listings("demo-motors")
        assert len(listing["imageUrls"]) == 1
        sent = listing["imageUrls"][0]
        source = sent.get("sourceUrl") or sent.get("source") or sent.get("url")
        assert source.startswith(forecourt.url + "/media/") and source.endswith(".webp")
        media = client.get(source.removeprefix(forecourt.url))
        assert media.status_code == 200 and media.mimetype == "image/webp"
        image = Image.open(io.BytesIO(media.data))
        assert image.height > image.width  # EXIF orientation 6 applied: portrait
        assert not image.getexif() and "icc_profile" not in image.info

    car = client.get("/api/v1/sites/demo/cars/101", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}).get_json()
    warnings = car["destinations"][0]["warnings"]
    assert any("photo 2" in w and "404" in w for w in warnings), warnings
    assert any("photo 3" in w for w in warnings), warnings
    assert image_server.hits.get("/secret.jpg", 0) == 0 and image_server.hits.get("secret.jpg", 0) == 0
