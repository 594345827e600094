"""Carzle's FAQ: "add a custom carzle_status ACF dropdown on the car post type". The dealer's
value wins over the preset's own status rule (ACF also mirrors it into post meta)."""

from __future__ import annotations

from app.listings.presets import Source, StatusRule, register_status_override

CARZLE_STATUS_RULE = register_status_override(StatusRule(
    sources=(Source("acf", "carzle_status"), Source("meta", "carzle_status")),
    values={
        "sold": "sold",
        "reserved": "reserved",
        "coming soon": "coming_soon",
        "active": "none",
        "none": "none",
        "for sale": "none",
        "available": "none",
    },
    label="carzle_status",
))
