"""Readers for the loosely typed values dealers type into WordPress and DMS feeds.

Everything here is a pure function of its arguments. Values that are *absent*
("", "N/A", "call for price") come back as ``None``; values that are *present but
unreadable* ("12abc34", "-500") raise :class:`ParseError`, whose message names the
field so a caller can show it to the dealer verbatim.

Number grammar (shared by money, distance and integers):

* ``\\d{1,3}([.,' ]\\d{3})+`` is thousands grouping, whatever the separator:
  "28.995" and "28,995" are both 28995. A lone "1.5" is a decimal.
* With both "." and "," present the *last* one is the decimal mark:
  "1,234.50" and "1.234,50" are both 1234.5.
* A "k" glued to the number multiplies by 1000 ("45k miles").
"""

from __future__ import annotations

import html
import json
import math
import re
from collections.abc import Iterable
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from html.parser import HTMLParser
from typing import Any, Literal

from app.listings.vehicle import Image
from app.text import fold

__all__ = [
    "KM_PER_MILE",
    "ParseError",
    "canonical_condition",
    "canonical_vehicle_type",
    "is_blank",
    "normalise_vin",
    "parse_bool",
    "parse_distance_km",
    "parse_engine_cc",
    "parse_horsepower",
    "parse_html_text",
    "parse_images",
    "parse_int",
    "parse_list",
    "parse_money",
    "parse_text",
    "parse_year",
    "vin_check_digit",
]

KM_PER_MILE = Decimal("1.609344")  # exact, by international definition
HP_PER_KW = Decimal("1.34102209")
FIRST_CAR_YEAR = 1886  # Benz Patent-Motorwagen: anything earlier is a typo


class ParseError(ValueError):
    """A value was present but could not be read. ``str(err)`` is dealer-facing."""

    def __init__(self, field: str, value: Any, reason: str) -> None:
        self.field = field
        self.value = value
        self.reason = reason
        super().__init__(f"{field}: {reason}")


# --------------------------------------------------------------------------- helpers

# Placeholders dealers type instead of leaving a field empty. Matching is on the
# whole (lower-cased, whitespace-collapsed) value so "12abc34" never slips through.
# fmt: off
_PLACEHOLDERS = {
    "", "-", "--", "---", "n/a", "na", "n.a.", "none", "null", "nil", "unknown", "tbc", "tba",
    "?", "not available", "not specified", "desconocido", "no disponible",
}
_NO_PRICE = _PLACEHOLDERS | {
    "poa", "p.o.a", "p.o.a.", "call", "call for price", "call for pricing", "call us",
    "call for details", "price on application", "price on request", "on request",
    "ask", "ask for price", "contact us", "contact us for price", "contact dealer",
    "contact for price", "enquire", "enquire for price", "consultar", "a consultar",
    "precio a consultar", "sold", "reserved",
}
# fmt: on


def _squash(text: str) -> str:
    return " ".join(text.replace("\u00a0", " ").replace("\u202f", " ").split()).casefold()


def is_blank(value: Any) -> bool:
    """True for values that mean "nothing here": None, "", whitespace, False, [], {}.

    ``False`` counts as blank because ACF returns ``false`` for an empty field.
    ``0`` is *not* blank: a new car legitimately has 0 km.
    """
    if value is None or value is False:
        return True
    if isinstance(value, str):
        return not value.strip()
    if isinstance(value, (list, tuple, dict, set)):
        return all(is_blank(v) for v in (value.values() if isinstance(value, dict) else value))
    return False


# Group separators dealers use: comma, dot, space (incl. NBSP / narrow NBSP), apostrophe.
_GROUPED = re.compile(r"\d{1,3}(?P<sep>[.,' ])\d{3}(?:(?P=sep)\d{3})*")
_GROUPED_DECIMAL = re.compile(r"(?P<int>\d{1,3}(?P<sep>[.,' ])\d{3}(?:(?P=sep)\d{3})*)(?P<dec>[.,])(?P<frac>\d+)")
_PLAIN = re.compile(r"\d+(?:[.,]\d+)?")


def _read_number(text: str) -> Decimal | None:
    """Read an unsigned number with thousands grouping; None if it is not one."""
    s = re.sub(r"[\u00a0\u202f\u2009 ]+", " ", text.strip()).replace("\u2019", "'")
    if _GROUPED.fullmatch(s):
        return Decimal(re.sub(r"[.,' ]", "", s))
    m = _GROUPED_DECIMAL.fullmatch(s)
    if m and m["dec"] != m["sep"]:
        whole = re.sub(r"[.,' ]", "", m["int"])
        return Decimal(f"{whole}.{m['frac']}")
    if _PLAIN.fullmatch(s):
        return Decimal(s.replace(",", "."))
    return None


_NUMBER_WITH_K = re.compile(r"(?P<num>\d[\d.,' \u00a0\u202f\u2019]*?)\s*(?P<k>k)?")


def _read_quantity(text: str) -> Decimal | None:
    m = _NUMBER_WITH_K.fullmatch(text.strip())
    if not m:
        return None
    number = _read_number(m["num"])
    if number is None:
        return None
    return number * 1000 if m["k"] else number


# No price, distance, engine or power figure a car has comes near this; past it (a row of
# digits typed by mistake) Decimal's 28-digit precision would fail the rounding itself.
MAX_QUANTITY = Decimal(10) ** 12


def _round(number: Decimal, field: str, value: Any) -> int:
    if not number.is_finite() or number > MAX_QUANTITY:
        raise ParseError(field, value, f"{str(value).strip()[:40]!r} is not a plausible figure")
    return int(number.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def _scalar(value: Any) -> Any:
    """WordPress meta arrives as ``[value]``; scalar readers take the first non-blank item."""
    if isinstance(value, (list, tuple)):
        for item in value:
            if not is_blank(item):
                return item
        return None
    return value


def _numeric(value: Any, field: str, what: str) -> Decimal | None:
    """Numbers that are already numbers (JSON ints/floats) skip the text grammar."""
    if isinstance(value, bool):
        raise ParseError(field, value, f"could not read {value!r} as {what}")
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ParseError(field, value, f"could not read {value!r} as {what}")
        return Decimal(repr(value))
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ParseError(field, value, f"could not read {value!r} as {what}")
        return value
    return None


_NEGATIVE = re.compile(r"^[-\u2212\u2013]\s*\S|^\(.*\)$")


# --------------------------------------------------------------------------- money

_CURRENCY_TOKENS = re.compile(
    r"(?<![a-z])(?:usd|eur|gbp|aed|cad|aud|nzd|chf|sek|nok|dkk|pln|czk|huf|zar|sar|qar|kwd|bhd|omr"
    r"|inr|jpy|mxn|brl|dhs?|dirhams?|euros?|dollars?|pounds?|kr|us|ca|au|nz)(?![a-z])"
    r"|[$€£¥₹₽₺]|د\.إ"
)
_PRICE_QUALIFIERS = re.compile(
    r"(?<![a-z])(?:\+\s*vat|plus\s+vat|inc\.?\s+vat|incl\.?\s+vat|ex\.?\s+vat|excl\.?\s+vat|no\s+vat"
    r"|vat|iva\s+incluido|iva\s+inc\.?|iva|ono|o\.n\.o\.?|obo|o\.b\.o\.?|neg|negotiable|only"
    r"|asking|price|precio)(?![a-z])"
)


def parse_money(value: Any, *, field: str = "price") -> int | None:
    """Read a price into whole currency units (half-up rounding).

    "$28,995" → 28995, "28.995 €" → 28995, "1.234,56" → 1235, "£12.5k" → 12500.
    Empty, "N/A", "POA", "Call for price", "Sold" → None. Negative or unreadable → ParseError.
    The currency symbol is discarded: a site's currency is configuration, not guesswork
    ("$" alone could be USD, CAD or AUD).
    """
    value = _scalar(value)
    if value is None:
        return None
    number = _numeric(value, field, "money")
    if number is None:
        if not isinstance(value, str):
            raise ParseError(field, value, f"could not read {value!r} as money")
        squashed = _squash(value)
        if squashed in _NO_PRICE:
            return None
        stripped = _PRICE_QUALIFIERS.sub(" ", squashed)
        stripped = _CURRENCY_TOKENS.sub(" ", stripped).strip(" :")
        # German/Swiss "28.995,-" and "28.995.-" mean "no cents".
        stripped = re.sub(r"[.,]\s*[-\u2013]+$", "", stripped).strip()
        if _NEGATIVE.search(stripped):
            raise ParseError(field, value, f"negative amount {value.strip()!r}")
        number = _read_quantity(stripped)
        if number is None:
            raise ParseError(field, value, f"could not read {value.strip()!r} as money")
    if number < 0:
        raise ParseError(field, value, f"negative amount {value!r}")
    return _round(number, field, value)


# --------------------------------------------------------------------------- distance

_KM_TOKEN = re.compile(r"(?<![a-z])(?:kms?|klm|kilomet(?:er|re)s?|kil[oó]metros?)(?![a-z])\.?")
_MI_TOKEN = re.compile(r"(?<![a-z])(?:mi|mls|miles?|millas?)(?![a-z])\.?")
_DISTANCE_WORDS = re.compile(r"(?<![a-z])(?:odometer|mileage|kilometrage|approx\.?|ca\.?|circa)(?![a-z])")


def parse_distance_km(value: Any, default_unit: Literal["km", "mi"] = "km", *, field: str = "kilometers") -> int | None:
    """Read an odometer reading into whole kilometres.

    A unit written in the value wins ("24,500 mi" → 39429); a bare number is in
    ``default_unit``. Miles convert at exactly 1.609344 km, rounded half-up.
    """
    if default_unit not in ("km", "mi"):
        raise ValueError(f"default_unit must be 'km' or 'mi', not {default_unit!r}")
    value = _scalar(value)
    if value is None:
        return None
    unit = default_unit
    number = _numeric(value, field, "a distance")
    if number is None:
        if not isinstance(value, str):
            raise ParseError(field, value, f"could not read {value!r} as a distance")
        squashed = _squash(value)
        if squashed in _PLACEHOLDERS:
            return None
        has_km, has_mi = bool(_KM_TOKEN.search(squashed)), bool(_MI_TOKEN.search(squashed))
        if has_km and has_mi:
            raise ParseError(field, value, f"{value.strip()!r} mentions both km and miles")
        if has_km or has_mi:
            unit = "km" if has_km else "mi"
        stripped = _MI_TOKEN.sub(" ", _KM_TOKEN.sub(" ", squashed))
        stripped = _DISTANCE_WORDS.sub(" ", stripped).strip(" :~")
        if _NEGATIVE.search(stripped):
            raise ParseError(field, value, f"negative distance {value.strip()!r}")
        number = _read_quantity(stripped)
        if number is None:
            raise ParseError(field, value, f"could not read {value.strip()!r} as a distance")
    if number < 0:
        raise ParseError(field, value, f"negative distance {value!r}")
    return _round(number * KM_PER_MILE if unit == "mi" else number, field, value)


# --------------------------------------------------------------------------- integers

_INT_WITH_UNIT = re.compile(r"(?P<num>[-\u2212]?\s*\d[\d.,' \u00a0\u202f\u2019]*?)\s*(?P<unit>[^\W\d_]+\.?)?")


def _split_unit(value: str) -> tuple[str, str] | None:
    m = _INT_WITH_UNIT.fullmatch(value.strip())
    if not m:
        return None
    return m["num"], (m["unit"] or "").casefold().rstrip(".")


def parse_int(value: Any, *, field: str = "value") -> int | None:
    """Read a non-negative whole number; one trailing unit word is tolerated ("5 doors").

    Decimals that are not whole ("4.5") and negatives raise ParseError.
    """
    value = _scalar(value)
    if value is None:
        return None
    number = _numeric(value, field, "a whole number")
    if number is None:
        if not isinstance(value, str):
            raise ParseError(field, value, f"could not read {value!r} as a whole number")
        if _squash(value) in _PLACEHOLDERS:
            return None
        parts = _split_unit(value)
        number = _read_number(parts[0].lstrip("-\u2212 ")) if parts else None
        if number is None:
            raise ParseError(field, value, f"could not read {value.strip()!r} as a whole number")
        if parts and parts[0].lstrip().startswith(("-", "\u2212")):
            number = -number
    if number < 0:
        raise ParseError(field, value, f"negative number {value!r}")
    if number != number.to_integral_value():
        raise ParseError(field, value, f"{value!r} is not a whole number")
    return int(number)


def parse_year(value: Any, *, field: str = "year", current_year: int | None = None) -> int | None:
    """Read a model year in 1886..current_year + 1 (next year's models are on sale now).

    ``current_year`` defaults to today's; pass it in to keep callers deterministic.
    """
    year = parse_int(value, field=field)
    if year is None:
        return None
    latest = (current_year or date.today().year) + 1
    if not FIRST_CAR_YEAR <= year <= latest:
        raise ParseError(field, value, f"{year} is not a plausible year ({FIRST_CAR_YEAR}..{latest})")
    return year


_CC_UNITS = {"cc", "ccm"}
_LITRE_UNITS = {"l", "lt", "ltr", "litre", "litres", "liter", "liters", "litro", "litros"}


def parse_engine_cc(value: Any, *, field: str = "engine_cc") -> int | None:
    """Engine displacement in cc: "1598 cc" → 1598, "1.6L" / "1,6" / "2.0" → 1600 / 1600 / 2000.

    A bare number under 20 is litres (no car engine is 20 cc; none is 20 litres).
    """
    value = _scalar(value)
    if value is None:
        return None
    unit = ""
    number = _numeric(value, field, "an engine size")
    if number is None:
        if not isinstance(value, str):
            raise ParseError(field, value, f"could not read {value!r} as an engine size")
        if _squash(value) in _PLACEHOLDERS:
            return None
        parts = _split_unit(re.sub(r"cm\s*[3³]", "cc", value, flags=re.IGNORECASE))
        number = _read_number(parts[0]) if parts and not parts[0].startswith("-") else None
        unit = parts[1] if parts else ""
        if number is None or (unit and unit not in _CC_UNITS | _LITRE_UNITS):
            raise ParseError(field, value, f"could not read {value.strip()!r} as an engine size")
    if number < 0:
        raise ParseError(field, value, f"negative engine size {value!r}")
    litres = unit in _LITRE_UNITS or (not unit and number < 20)
    return _round(number * 1000 if litres else number, field, value)


_HP_UNITS = {"hp", "bhp", "whp", "cv", "ps", "pk", "ch", "hk", "cf"}
_KW_UNITS = {"kw"}


def parse_horsepower(value: Any, *, field: str = "horsepower") -> int | None:
    """Engine power in horsepower: "150 hp" → 150, "110 kW" → 148.

    Metric horsepower (PS/CV/ch) is taken at face value: it differs from hp by 1.4%,
    and dealers expect the figure they typed, not a converted one, on their listing.
    """
    value = _scalar(value)
    if value is None:
        return None
    unit = ""
    number = _numeric(value, field, "a power figure")
    if number is None:
        if not isinstance(value, str):
            raise ParseError(field, value, f"could not read {value!r} as a power figure")
        if _squash(value) in _PLACEHOLDERS:
            return None
        parts = _split_unit(value)
        number = _read_number(parts[0]) if parts and not parts[0].startswith("-") else None
        unit = parts[1] if parts else ""
        if number is None or (unit and unit not in _HP_UNITS | _KW_UNITS):
            raise ParseError(field, value, f"could not read {value.strip()!r} as a power figure")
    if number < 0:
        raise ParseError(field, value, f"negative power {value!r}")
    return _round(number * HP_PER_KW if unit in _KW_UNITS else number, field, value)


# --------------------------------------------------------------------------- VIN

_VIN_WEIGHTS = (8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2)
# fmt: off
_VIN_VALUES = {
    **{str(d): d for d in range(10)},
    **dict(zip("ABCDEFGH", range(1, 9), strict=True)),
    **dict(zip("JKLMN", range(1, 6), strict=True)),
    "P": 7, "R": 9,
    **dict(zip("STUVWXYZ", range(2, 10), strict=True)),
}
# fmt: on


def vin_check_digit(vin: str) -> str:
    """The North-American (49 CFR 565) check character a 17-char VIN should carry at position 9."""
    total = sum(_VIN_VALUES[ch] * w for ch, w in zip(vin, _VIN_WEIGHTS, strict=True))
    remainder = total % 11
    return "X" if remainder == 10 else str(remainder)


def normalise_vin(value: Any, *, field: str = "vin") -> tuple[str | None, list[str]]:
    """Upper-case and strip spaces/dashes; enforce 17 chars of [A-HJ-NPR-Z0-9].

    Returns ``(vin, warnings)``. A wrong check digit is only a warning: outside North
    America (e.g. "WVWZZZ…" European VINs) position 9 is not a check digit at all.
    """
    value = _scalar(value)
    if value is None:
        return None, []
    if not isinstance(value, str):
        raise ParseError(field, value, f"could not read {value!r} as a VIN")
    vin = re.sub(r"[\s\-\u2010-\u2014]+", "", value).upper()
    if not vin or _squash(vin) in _PLACEHOLDERS:
        return None, []
    bad_letters = sorted(set(vin) & set("IOQ"))
    if bad_letters:
        raise ParseError(field, value, f"{vin!r} contains {', '.join(bad_letters)} (VINs never use I, O or Q)")
    if re.search(r"[^A-Z0-9]", vin):
        raise ParseError(field, value, f"{vin!r} contains characters other than letters and digits")
    if len(vin) != 17:
        raise ParseError(field, value, f"{vin!r} has {len(vin)} characters; a VIN has 17")
    expected = vin_check_digit(vin)
    warnings = []
    if vin[8] != expected:
        warnings.append(
            f"{field}: check digit of {vin} is {vin[8]!r}, North-American rule expects "
            f"{expected!r} (expected outside North America)"
        )
    return vin, warnings


# --------------------------------------------------------------------------- text


def parse_text(value: Any, *, field: str = "value") -> str | None:
    """Single-line text: HTML entities decoded ("&amp;" → "&"), whitespace collapsed.

    Numbers become their string form (a JSON ``2019`` trim is still text).
    """
    value = _scalar(value)
    if value is None:
        return None
    if isinstance(value, (bool, dict, list, tuple)):
        raise ParseError(field, value, f"could not read {value!r} as text")
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = " ".join(html.unescape(str(value)).split())
    return text or None


# Paragraph-level tags separate blocks with a blank line; line-level tags start a new line.
# fmt: off
_PARAGRAPH_TAGS = {
    "p", "div", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6", "table", "section", "article",
    "blockquote", "pre", "hr", "figure",
}
# fmt: on
_LINE_TAGS = {"br", "li", "tr", "dt", "dd"}
_SKIP_TAGS = {"script", "style", "noscript", "template"}
# Page-builder shortcodes (Motors ships WPBakery: [vc_row][vc_column_text]…) are markup,
# not prose. Only underscore names and WordPress' own media shortcodes are removed so
# that a dealer's "[Sold]" or "[optional]" in prose survives.
_SHORTCODE = re.compile(
    r"\[/?(?:[a-z][a-z0-9]*_[a-z0-9_-]*|gallery|caption|embed|audio|video|playlist)(?:\s[^\]]*)?/?\]",
    re.IGNORECASE,
)


class _TextExtractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP_TAGS:
            self._skip += 1
        elif tag in _PARAGRAPH_TAGS:
            self.parts.append("\n\n")
        elif tag in _LINE_TAGS:
            self.parts.append("\n- " if tag == "li" else "\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP_TAGS:
            self._skip = max(0, self._skip - 1)
        elif tag in _PARAGRAPH_TAGS:
            self.parts.append("\n\n")

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def parse_html_text(value: Any, *, field: str = "description") -> str | None:
    """Post content → plain text: tags, block comments and builder shortcodes removed,
    entities decoded, paragraphs kept as blank-line separated blocks."""
    value = _scalar(value)
    if value is None:
        return None
    if not isinstance(value, str):
        return parse_text(value, field=field)
    extractor = _TextExtractor()
    extractor.feed(_SHORTCODE.sub(" ", value))
    extractor.close()
    lines = [" ".join(line.split()) for line in "".join(extractor.parts).splitlines()]
    text = re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
    return text or None


# --------------------------------------------------------------------------- lists

_PHP_ARRAY = re.compile(r"a:\d+:\{")


def _php_unserialize(data: bytes) -> Any:
    """Minimal reader for PHP ``serialize()`` output (arrays, strings, numbers, bools, null).

    Lengths in ``s:N:"…"`` are byte counts, hence bytes throughout.
    """

    def read(pos: int) -> tuple[Any, int]:
        kind = data[pos : pos + 1]
        if kind == b"N" and data[pos : pos + 2] == b"N;":
            return None, pos + 2
        if data[pos + 1 : pos + 2] != b":":
            raise ValueError("bad token")
        if kind in (b"i", b"d", b"b"):
            end = data.index(b";", pos)
            raw = data[pos + 2 : end].decode()
            out: Any = int(raw) if kind == b"i" else float(raw) if kind == b"d" else raw == "1"
            return out, end + 1
        if kind == b"s":
            colon = data.index(b":", pos + 2)
            length = int(data[pos + 2 : colon])
            start = colon + 2
            if data[colon + 1 : start] != b'"' or data[start + length : start + length + 2] != b'";':
                raise ValueError("bad string")
            return data[start : start + length].decode("utf-8"), start + length + 2
        if kind == b"a":
            colon = data.index(b":", pos + 2)
            count = int(data[pos + 2 : colon])
            if data[colon + 1 : colon + 2] != b"{":
                raise ValueError("bad array")
            cursor = colon + 2
            items: list[Any] = []
            for _ in range(count):
                _key, cursor = read(cursor)
                item, cursor = read(cursor)
                items.append(item)
            if data[cursor : cursor + 1] != b"}":
                raise ValueError("bad array end")
            return items, cursor + 1
        raise ValueError("unknown token")

    result, end = read(0)
    if end != len(data):
        raise ValueError("trailing data")
    return result


def _flatten(items: Iterable[Any]) -> Iterable[Any]:
    for item in items:
        if isinstance(item, (list, tuple)):
            yield from _flatten(item)
        elif isinstance(item, dict):
            # ACF checkbox "both" format and repeaters: prefer a human label.
            picked = next((item[k] for k in ("label", "name", "value", "title") if k in item), None)
            if picked is None:
                yield from _flatten(item.values())
            else:
                yield picked
        else:
            yield item


def _split_string(field: str, text: str) -> list[Any]:
    stripped = text.strip()
    if stripped.startswith("[") and stripped.endswith("]"):
        try:
            return list(_flatten([json.loads(stripped)]))
        except ValueError:
            pass  # "[Leather seats]" is prose in brackets, not JSON: split it like text
    if _PHP_ARRAY.match(stripped):
        try:
            return list(_flatten([_php_unserialize(stripped.encode("utf-8"))]))
        except (ValueError, IndexError, UnicodeDecodeError) as exc:
            raise ParseError(field, text, "could not read a PHP-serialized list") from exc
    # Newline and pipe are unambiguous item separators; only fall back to comma/semicolon
    # when neither is used, because "Heated seats, front" is one option in a newline list.
    if re.search(r"[\r\n|]", stripped):
        return re.split(r"\s*(?:\r\n|\r|\n|\|)\s*", stripped)
    return re.split(r"\s*[,;]\s*", stripped)


def parse_list(value: Any, *, field: str = "features") -> list[str]:
    """Read a list of short strings (features/options), order kept, duplicates dropped.

    Accepts a real list, WordPress multi-valued meta (``[v1, v2]``), a JSON list string,
    a PHP-serialized array, or a newline/pipe/comma/semicolon separated string.
    """
    if value is None:
        return []
    raw_items = value if isinstance(value, (list, tuple)) else [value]
    out: list[str] = []
    seen: set[str] = set()
    for item in _flatten(raw_items):
        pieces = _split_string(field, item) if isinstance(item, str) else [item]
        for piece in _flatten(pieces):
            text = parse_text(piece, field=field) if not is_blank(piece) else None
            if text and text.casefold() not in seen:
                seen.add(text.casefold())
                out.append(text)
    return out


_TRUE = {"1", "true", "yes", "y", "on", "checked", "si", "sí", "x"}
_FALSE = {"0", "false", "no", "n", "off", "unchecked"}


def parse_bool(value: Any, *, field: str = "value") -> bool | None:
    """Checkbox values: "on"/"1"/"yes"/"true" → True, "off"/"0"/"no"/"false" → False, blank → None."""
    value = _scalar(value)
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        key = _squash(value)
        if key in _TRUE:
            return True
        if key in _FALSE:
            return False
    raise ParseError(field, value, f"could not read {value!r} as yes/no")


# --------------------------------------------------------------------------- images


def parse_images(value: Any, *, field: str = "images") -> list[Image]:
    """Image URLs from ``[{"url", "id"?}]``, plain URL strings, or a mix.

    Non-URL entries (WordPress attachment ids in gallery meta) are dropped: they cannot
    be resolved without a round-trip to the site, which this pure layer does not make.
    """
    if value is None:
        return []
    items = value if isinstance(value, (list, tuple)) else [value]
    out: list[Image] = []
    seen: set[str] = set()
    for item in items:
        url: Any
        image_id: Any = None
        if isinstance(item, Image):
            url, image_id = item.url, item.id
        elif isinstance(item, dict):
            url = item.get("url") or item.get("src") or item.get("source_url")
            image_id = item.get("id", item.get("ID"))
        else:
            url = item
        if not isinstance(url, str):
            continue
        # One meta value sometimes holds several URLs separated by commas/pipes/newlines.
        for candidate in re.split(r"[\s,|]+(?=https?://)", url.strip(), flags=re.IGNORECASE):
            candidate = candidate.strip().rstrip(",|")
            if not re.fullmatch(r"https?://\S+", candidate, re.IGNORECASE) or candidate in seen:
                continue
            seen.add(candidate)
            out.append(Image(url=candidate, id=None if image_id in (None, "") else str(image_id)))
    return out


# --------------------------------------------------------------------------- canonical enums

# fmt: off
_VEHICLE_TYPES = {
    "car": "car", "cars": "car", "auto": "car", "turismo": "car", "coche": "car",
    "motorcycle": "motorcycle", "motorcycles": "motorcycle", "motorbike": "motorcycle",
    "motorbikes": "motorcycle", "motor bike": "motorcycle", "bike": "motorcycle", "moto": "motorcycle",
    "van": "van", "vans": "van", "lcv": "van", "furgoneta": "van",
}
# fmt: on


def canonical_vehicle_type(value: Any, *, field: str = "vehicle_type") -> str | None:
    """car / motorcycle / van; "motorbike" is Carslink's alias. Other values pass through lower-cased."""
    text = parse_text(value, field=field)
    if text is None:
        return None
    return _VEHICLE_TYPES.get(text.casefold(), text.casefold())


def canonical_condition(value: Any, *, field: str = "condition") -> str | None:
    """ "New"/"Used" (and Spanish nuevo/usado/ocasión) → "new"/"used"; anything else kept as written."""
    text = parse_text(value, field=field)
    if text is None:
        return None
    folded = fold(text)
    if folded in {"new", "nuevo", "brand new"}:
        return "new"
    if folded in {"used", "usado", "ocasion", "pre owned", "preowned", "second hand"}:
        return "used"
    return text
