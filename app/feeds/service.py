"""Finding a site's whole-stock feed destination and rendering its stock (JSON, CSV)."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from sqlalchemy import select

from app.connectors.carslink import CarslinkConnector
from app.connectors.carslink.csv_export import to_csv
from app.errors import NotFound
from app.extensions import db
from app.sites.models import Destination
from app.sync import feed_status
from app.sync.stock import whole_stock


def feed_destination(site_id: str, marketplace: str) -> Destination:
    dest = db.session.scalar(select(Destination).where(Destination.site_id == site_id,
                                                       Destination.marketplace == marketplace))
    if dest is None or not dest.enabled or not feed_status.takes_full(dest):
        raise NotFound(f"No whole-stock feed destination {marketplace!r} at site {site_id!r}.")
    return dest


def carslink_feed(dest: Destination) -> dict[str, Any]:
    """Exactly the body a full_replace push would carry now."""
    connector, items = whole_stock(dest)
    assert isinstance(connector, CarslinkConnector)
    return connector.feed(items, full=True)


def carslink_feed_bytes(dest: Destination) -> tuple[bytes, str]:
    """The feed as compact JSON, and its strong ETag (a digest of exactly those bytes)."""
    body = json.dumps(carslink_feed(dest), separators=(",", ":"), ensure_ascii=False).encode()
    return body, '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def carslink_csv(dest: Destination) -> str:
    return to_csv(carslink_feed(dest)["listings"])
