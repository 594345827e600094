from __future__ import annotations

import pytest

from app.connectors.features import classify_feature, structure_features


@pytest.mark.parametrize(
    ("name", "category"),
    [
        # The four examples from Carzle's FAQ.
        ("Panoramic sunroof", "comfort"),
        ("Adaptive cruise control", "safety"),
        ("Harman Kardon sound", "entertainment"),
        ("22-inch alloys", "exterior"),
        # Safety.
        ("Front and side airbags", "safety"),
        ("ABS", "safety"),
        ("Rear-view camera", "safety"),
        ("Parking sensors", "safety"),
        ("Lane keep assist", "safety"),
        ("Cruise control", "safety"),
        ("Blind spot monitoring", "safety"),
        ("Seat belt pretensioners", "safety"),
        ("ISOFIX", "safety"),
        # Comfort.
        ("Leather seats", "comfort"),
        ("Heated seats", "comfort"),
        ("Dual-zone climate control", "comfort"),
        ("Heated steering wheel", "comfort"),
        ("Keyless entry", "comfort"),
        ("Rain sensor", "comfort"),
        # Exterior.
        ("Alloy wheels", "exterior"),
        ("Metallic paint", "exterior"),
        ("Roof rails", "exterior"),
        ("LED lights", "exterior"),
        ("LED headlights", "exterior"),
        ("Tow bar", "exterior"),
        # Entertainment.
        ("Premium sound system", "entertainment"),
        ("Satellite navigation", "entertainment"),
        ("Sat-Nav", "entertainment"),
        ("Bluetooth audio", "entertainment"),
        ("Apple CarPlay", "entertainment"),
        ("Bang & Olufsen speakers", "entertainment"),
        ("Rear seat entertainment", "entertainment"),
        # Fallback.
        ("Tinted", "exterior"),
        ("Something unheard of", "comfort"),
        ("", "comfort"),
    ],
)
def test_classify_feature(name: str, category: str) -> None:
    assert classify_feature(name) == category


def test_structure_features_dedupes_keeps_order_and_passes_categories_through() -> None:
    result = structure_features(
        [
            "Panoramic sunroof",
            "panoramic  SUNROOF",
            "",
            {"name": "Night package", "category": "exterior"},
            {"name": "Mystery", "category": "not-a-category"},
            "Harman Kardon sound",
        ]
    )
    assert result == [
        {"name": "Panoramic sunroof", "category": "comfort"},
        {"name": "Night package", "category": "exterior"},
        {"name": "Mystery", "category": "comfort"},
        {"name": "Harman Kardon sound", "category": "entertainment"},
    ]


def test_structure_features_prefers_marketplace_catalog() -> None:
    assert structure_features(["Head-up display"], {"head up display": "entertainment"}) == [
        {"name": "Head-up display", "category": "entertainment"}
    ]
