"""Turn a dealer's flat feature list into Carzle's ``[{name, category}]`` shape.

Carzle has four categories (safety, entertainment, comfort, exterior) and its FAQ suggests a
keyword classifier with a fallback to comfort. Keywords match whole words (a trailing plural
"s" is allowed), and when several keywords match the **longest** one wins: that is what makes
"Heated steering wheel" comfort although "wheel" is exterior, "Rear seat entertainment"
entertainment although "seat" is comfort, and "Seat belt pretensioners" safety.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from app.text import fold

CATEGORIES: tuple[str, ...] = ("safety", "entertainment", "comfort", "exterior")
FALLBACK_CATEGORY = "comfort"

# Kept as data so a reviewer can see every decision in one place. Phrases are written in the
# normalised form (lower case, punctuation turned into spaces).
KEYWORDS: dict[str, tuple[str, ...]] = {
    "safety": (
        "airbag", "air bag", "abs", "anti lock", "camera", "sensor", "parking sensor",
        "assist", "cruise", "adaptive cruise", "blind spot", "lane departure", "lane keep",
        "collision", "emergency braking", "brake assist", "esp", "esc", "stability control",
        "traction control", "isofix", "seat belt", "seatbelt", "tyre pressure",
        "tire pressure", "tpms", "immobiliser", "immobilizer", "alarm", "night vision",
        "hill descent", "hill start", "360 view", "surround view", "driver attention",
        "fatigue", "pre safe", "radar",
    ),
    "comfort": (
        "sunroof", "moonroof", "panoramic", "panoramic roof", "leather", "seat", "climate",
        "air conditioning", "a c", "heated", "ventilated", "cooled", "massage", "keyless",
        "push start", "power tailgate", "electric tailgate", "steering wheel",
        "heated steering wheel", "memory seat", "lumbar", "armrest", "wireless charging",
        "ambient lighting", "soft close", "head up display", "heads up display",
        "rain sensing", "rain sensor", "auto dimming", "electric windows", "power windows",
    ),
    "exterior": (
        "alloy", "alloy wheel", "wheel", "rim", "paint", "metallic", "pearl", "roof rail",
        "led light", "led headlight", "headlight", "headlamp", "xenon", "bi xenon",
        "fog light", "fog lamp", "daytime running", "drl", "tinted", "privacy glass",
        "spoiler", "body kit", "tow bar", "towbar", "tow hitch", "side step", "running board",
        "chrome", "wrap", "ppf", "paint protection", "mud flap", "bull bar", "exhaust",
    ),
    "entertainment": (
        "sound", "sound system", "nav", "navigation", "sat nav", "gps", "audio", "speaker",
        "bluetooth", "carplay", "car play", "apple carplay", "android auto", "harman",
        "harman kardon", "bose", "burmester", "bang olufsen", "b o", "meridian", "jbl",
        "infotainment", "touchscreen", "touch screen", "radio", "dab", "usb", "aux",
        "entertainment", "rear seat entertainment", "wifi", "wi fi", "hotspot", "subwoofer",
        "media", "screen",
    ),
}


normalize = fold  # the feature lists' historical name for app.text.fold


def _build_rules() -> list[tuple[re.Pattern[str], int, str]]:
    rules: list[tuple[re.Pattern[str], int, str]] = []
    for category, words in KEYWORDS.items():
        for word in words:
            pattern = re.compile(rf"(?<![0-9a-z]){re.escape(word)}s?(?![0-9a-z])")
            rules.append((pattern, len(word), category))
    return rules


_RULES = _build_rules()
# Equal-length ties go to the category listed first here: a feature that is arguably both
# safety and something else is more useful to buyers filtering on safety.
_TIE_ORDER = {"safety": 0, "entertainment": 1, "exterior": 2, "comfort": 3}


def classify_feature(name: str) -> str:
    """Return the Carzle category for one feature name (fallback: comfort)."""
    text = normalize(name)
    best: tuple[int, int, str] | None = None
    for pattern, length, category in _RULES:
        if pattern.search(text):
            key = (length, -_TIE_ORDER[category], category)
            if best is None or key > best:
                best = key
    return best[2] if best else FALLBACK_CATEGORY


def structure_features(
    features: Iterable[str | Mapping[str, Any]],
    catalog: Mapping[str, str] | None = None,
) -> list[dict[str, str]]:
    """Map feature names to ``{"name", "category"}`` dicts, deduplicated, order kept.

    ``catalog`` maps a normalised feature name to the category the marketplace itself uses
    (from Carzle's metadata feature tags); it wins over the keyword classifier. Items that
    already carry a valid category are passed through.
    """
    result: list[dict[str, str]] = []
    seen: set[str] = set()
    for item in features:
        if isinstance(item, Mapping):
            name = str(item.get("name") or "").strip()
            given = str(item.get("category") or "").strip().lower()
        else:
            name, given = str(item or "").strip(), ""
        key = normalize(name)
        if not key or key in seen:
            continue
        seen.add(key)
        if given in CATEGORIES:
            category = given
        elif catalog and key in catalog:
            category = catalog[key]
        else:
            category = classify_feature(name)
        result.append({"name": name, "category": category})
    return result
