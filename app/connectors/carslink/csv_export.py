"""Option C: the dealer's stock as a CSV in Carslink's column order, for dealers who upload by hand.

Carslink publishes a template download but not its columns (and maps any CSV's columns with
AI); the order here is the seed's field list: the JSON example's order, then the motorbike
and van fields. ``images`` is one column of URLs separated by `` | `` (hero first), because a
URL may contain commas but never a space-padded bar.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping
from typing import Any

COLUMNS = (
    "vehicle_type", "make", "model", "variant", "year", "price", "mileage", "fuel", "transmission", "colour",
    "body_type", "condition", "registration", "vin", "source_id", "images", "listing_url", "description",
    "engine_size", "bike_type", "licence_category", "van_type", "roof_height", "load_length", "payload_kg",
    "load_volume_m3",
)
IMAGE_SEPARATOR = " | "


def to_csv(listings: Iterable[Mapping[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for listing in listings:
        row = []
        for column in COLUMNS:
            value = listing.get(column)
            if column == "images":
                value = IMAGE_SEPARATOR.join(value or [])
            row.append("" if value is None else value)
        writer.writerow(row)
    return out.getvalue()
