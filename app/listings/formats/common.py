"""Fields and helpers every source format shares (marshmallow 4).

Contract: for any JSON-decoded input the loaders either return or raise
``marshmallow.ValidationError`` whose ``messages`` are keyed by field path; see the package docstring.
"""

from __future__ import annotations

import html
import math
import re
from collections.abc import Collection, Mapping
from datetime import UTC, date, datetime
from typing import Any, ClassVar, Literal
from urllib.parse import urlsplit

from marshmallow import (
    ValidationError,
    fields,
)

from app.messages import message_pairs

EventName = Literal["save_post", "trash", "untrash", "delete"]
EVENTS: tuple[str, ...] = ("save_post", "trash", "untrash", "delete")

# WP Webhooks sends one URL per trigger, so the trigger name arrives as ``?event=``; the
# companion plugin may also send these names. Keys are compared lower-cased.
_EVENT_ALIASES: dict[str, str] = {
    "save_post": "save_post",
    "post_create": "save_post",
    "post_update": "save_post",
    "post_save": "save_post",
    "trash": "trash",
    "post_trash": "trash",
    "trash_post": "trash",
    "untrash": "untrash",
    "post_untrash": "untrash",
    "untrash_post": "untrash",
    "delete": "delete",
    "post_delete": "delete",
    "delete_post": "delete",
}

AUTERIO_MAX_VEHICLES = 1000
AUTERIO_STATUSES: tuple[str, ...] = ("disponible", "reservado", "vendido", "transito", "baja")
# Carslink publishes no limit; full_replace feeds carry a dealer's whole stock. The cap only
# bounds the work one request can cause.
CARSLINK_MAX_LISTINGS = 10_000

# Beyond these, numbers are junk; the bounds also keep str()/int() far from CPython's
# 4300-digit conversion limit.
_MAX_ABS_INT = 10**15
_MAX_ID_DIGITS = 20  # WordPress IDs are BIGINT UNSIGNED: at most 20 digits.
_INT_STR_RE = re.compile(r"[+-]?\d{1,15}(?:\.0*)?")
_NUM_STR_RE = re.compile(r"[+-]?(?:\d{1,15}(?:\.\d{0,9})?|\.\d{1,9})")
_ID_STR_RE = re.compile(rf"\d{{1,{_MAX_ID_DIGITS}}}")
_DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}")
_WP_ZERO_DATE = "0000-00-00 00:00:00"


# --- Small helpers ---------------------------------------------------------------------------


def _is_scalar(value: Any) -> bool:
    return value is None or isinstance(value, (str, int, float, bool))


def _is_http_url(value: str) -> bool:
    try:
        parts = urlsplit(value)
    except ValueError:
        return False
    return parts.scheme.lower() in ("http", "https") and bool(parts.netloc)


def _empty_container(value: Any) -> bool:
    # PHP encodes an empty array as [] even where a map is meant, and WordPress returns false
    # for "nothing" (no thumbnail, no ACF fields, no meta).
    return value is None or value is False or value == [] or value == {} or value == ""


def _reason(err: ValidationError) -> str:
    """One readable line for a refused record (the path of a schema-level message is its parent's)."""
    lines = []
    for path, text in message_pairs(err.messages):
        path = path.removesuffix("_schema").rstrip(".")
        leaf = path.rsplit(".", 1)[-1]
        # Messages from the named DMS fields already say which field they are about.
        lines.append(text if not path or text.startswith(leaf + " ") else f"{path}: {text}")
    return "; ".join(lines) or "invalid"


# --- Fields ----------------------------------------------------------------------------------


class _Named(fields.Field):
    """Messages may say ``{field}``: DMS skip reasons read "price must be numeric and > 0"."""

    default_error_messages: ClassVar[dict[str, str]] = {
        "required": "{field} is required",
        "null": "{field} is required",
    }

    def make_error(self, key: str, **kwargs: Any) -> ValidationError:
        kwargs.setdefault("field", self.name or "value")
        return super().make_error(key, **kwargs)


class Text(_Named):
    """A string, stripped; blank becomes None. Numbers are accepted and stringified, because
    DMS exports commonly send numeric-looking models ("308", 3008) or plates as numbers."""

    default_error_messages: ClassVar[dict[str, str]] = {
        "invalid": "{field} must be a string",
        "too_long": "{field} must be at most {max} characters",
        "blank": "{field} is required",
    }

    def __init__(self, *, max_length: int = 1000, upper: bool = False, blank_ok: bool = True, **kw: Any) -> None:
        self.max_length = max_length
        self.upper = upper
        self.blank_ok = blank_ok
        super().__init__(**kw)

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> str | None:
        if isinstance(value, bool):
            raise self.make_error("invalid")
        if isinstance(value, int):
            if abs(value) >= _MAX_ABS_INT:
                raise self.make_error("invalid")
            value = str(value)
        elif isinstance(value, float):
            if not math.isfinite(value) or abs(value) >= _MAX_ABS_INT:
                raise self.make_error("invalid")
            value = str(int(value)) if value.is_integer() else repr(value)
        elif not isinstance(value, str):
            raise self.make_error("invalid")
        value = value.strip()
        if not value:
            if not self.blank_ok:
                raise self.make_error("blank")
            return None
        if len(value) > self.max_length:
            raise self.make_error("too_long", max=self.max_length)
        return value.upper() if self.upper else value


class WholeNumber(_Named):
    """An integer from an int, an integral float (2024.0) or a numeric string ("2024").

    Unlike marshmallow's ``Integer`` it refuses 2.5 instead of truncating it.
    """

    default_error_messages: ClassVar[dict[str, str]] = {
        "invalid": "{field} must be an integer",
        "min": "{field} must be an integer, {min} or greater",
        "max": "{field} must be an integer, at most {max}",
    }

    def __init__(
        self,
        *,
        min_value: int | None = None,
        max_value: int | None = None,
        error: str | None = None,
        **kw: Any,
    ) -> None:
        self.min_value = min_value
        self.max_value = max_value
        super().__init__(**kw)
        if error is not None:
            # One message for every failure, as Carslink words its skip reasons.
            self.error_messages = {
                **self.error_messages,
                "invalid": error,
                "min": error,
                "max": error,
            }

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> int:
        number: int
        if isinstance(value, bool):
            raise self.make_error("invalid")
        if isinstance(value, int):
            if abs(value) >= _MAX_ABS_INT:
                raise self._range_error(value < 0)
            number = value
        elif isinstance(value, float):
            if not math.isfinite(value) or not value.is_integer():
                raise self.make_error("invalid")
            if abs(value) >= _MAX_ABS_INT:
                raise self._range_error(value < 0)
            number = int(value)
        elif isinstance(value, str) and _INT_STR_RE.fullmatch(value.strip()):
            number = int(value.strip().split(".", 1)[0])
        else:
            raise self.make_error("invalid")
        if self.min_value is not None and number < self.min_value:
            raise self._range_error(True)
        if self.max_value is not None and number > self.max_value:
            raise self._range_error(False)
        return number

    def _range_error(self, too_small: bool) -> ValidationError:
        if too_small and self.min_value is not None:
            return self.make_error("min", min=self.min_value)
        if not too_small and self.max_value is not None:
            return self.make_error("max", max=self.max_value)
        return self.make_error("invalid")


class Amount(_Named):
    """A finite number (int, float or numeric string). Integral values come back as int, others
    as float rounded to cents, so cleaned records stay JSON-friendly."""

    default_error_messages: ClassVar[dict[str, str]] = {
        "invalid": "{field} must be numeric",
        "range": "{field} must be numeric and {op} {bound}",
    }

    def __init__(
        self,
        *,
        gt: float | None = None,
        ge: float | None = None,
        maximum: float = 1e12,
        error: str | None = None,
        **kw: Any,
    ) -> None:
        self.gt = gt
        self.ge = ge
        self.maximum = maximum
        super().__init__(**kw)
        if error is not None:
            self.error_messages = {**self.error_messages, "invalid": error, "range": error}

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> int | float:
        if isinstance(value, bool):
            raise self.make_error("invalid")
        if isinstance(value, int):
            if abs(value) > self.maximum:
                raise self.make_error("range", op="<=", bound=self._fmt(self.maximum))
            number: float = float(value)
        elif isinstance(value, float):
            number = value
        elif isinstance(value, str) and _NUM_STR_RE.fullmatch(value.strip()):
            number = float(value.strip())
        else:
            raise self.make_error("invalid")
        if not math.isfinite(number):
            raise self.make_error("invalid")
        if self.gt is not None and not number > self.gt:
            raise self.make_error("range", op=">", bound=self._fmt(self.gt))
        if self.ge is not None and not number >= self.ge:
            raise self.make_error("range", op=">=", bound=self._fmt(self.ge))
        if abs(number) > self.maximum:
            raise self.make_error("range", op="<=", bound=self._fmt(self.maximum))
        return int(number) if number.is_integer() else round(number, 2)

    @staticmethod
    def _fmt(bound: float) -> str:
        return str(int(bound)) if float(bound).is_integer() else str(bound)


class Choice(_Named):
    """Case-insensitive choice with aliases; the canonical lower-case value is returned."""

    default_error_messages: ClassVar[dict[str, str]] = {"invalid": "{field} must be one of: {choices}"}

    def __init__(self, choices: Collection[str], *, aliases: Mapping[str, str] | None = None, **kw: Any) -> None:
        self.choices = tuple(choices)
        self.aliases = {c: c for c in self.choices} | dict(aliases or {})
        super().__init__(**kw)

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> str:
        if isinstance(value, str):
            canonical = self.aliases.get(value.strip().lower())
            if canonical is not None:
                return canonical
        raise self.make_error("invalid", choices=", ".join(self.choices))


class IsoDate(_Named):
    """``YYYY-MM-DD``, returned as the same ISO string (records travel as JSON)."""

    default_error_messages: ClassVar[dict[str, str]] = {"invalid": "{field} must be a date (YYYY-MM-DD)"}

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> str | None:
        if isinstance(value, str):
            text = value.strip()
            if not text:
                return None
            # DMS exports often append a midnight time; the date part is what matters.
            text = text[:10] if len(text) > 10 and text[10] in "T " else text
            if _DATE_RE.fullmatch(text):
                try:
                    return date.fromisoformat(text).isoformat()
                except ValueError:
                    pass
        raise self.make_error("invalid")


class WPId(fields.Field):
    """A WordPress ID from an int or a numeric string, returned as a canonical string."""

    default_error_messages: ClassVar[dict[str, str]] = {"invalid": "Not a valid ID."}

    def __init__(self, *, min_value: int = 1, **kw: Any) -> None:
        self.min_value = min_value
        super().__init__(**kw)

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> str:
        if isinstance(value, bool):
            raise self.make_error("invalid")
        if isinstance(value, int):
            if not self.min_value <= value < 10**_MAX_ID_DIGITS:
                raise self.make_error("invalid")
            return str(value)
        if isinstance(value, str) and _ID_STR_RE.fullmatch(value.strip()):
            number = int(value.strip())
            if number >= self.min_value:
                return str(number)
        raise self.make_error("invalid")


class WPDateTime(fields.Field):
    """A ``*_gmt`` WordPress date: "YYYY-MM-DD HH:MM:SS" (naive, UTC) or ISO 8601.

    Returns an aware UTC datetime, or None for WordPress's "never" value
    ("0000-00-00 00:00:00", used e.g. for drafts' post_date_gmt) and for blanks. A naive ISO
    value is taken as UTC because only the ``_gmt`` fields are parsed with this.
    """

    default_error_messages: ClassVar[dict[str, str]] = {
        "invalid": "Not a valid datetime (YYYY-MM-DD HH:MM:SS or ISO 8601)."
    }

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> datetime | None:
        if not isinstance(value, str) or len(value) > 64:
            raise self.make_error("invalid")
        text = value.strip()
        if not text or text == _WP_ZERO_DATE:
            return None
        try:
            parsed = datetime.fromisoformat(text)
            if parsed.tzinfo is None:
                return parsed.replace(tzinfo=UTC)
            return parsed.astimezone(UTC)
        except (ValueError, OverflowError):
            raise self.make_error("invalid") from None


class HttpUrl(fields.Field):
    """An absolute http(s) URL; blank/false mean "none" and come back as None."""

    default_error_messages: ClassVar[dict[str, str]] = {"invalid": "Not a valid http(s) URL."}

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> str | None:
        if value is False or value == "":
            return None
        if isinstance(value, str) and len(value) <= 4096:
            text = value.strip()
            if _is_http_url(text):
                return text
        raise self.make_error("invalid")


class OptionalString(fields.Field):
    """A string where WordPress uses ``false`` for "none" (get_permalink, for one)."""

    default_error_messages: ClassVar[dict[str, str]] = {"invalid": "Not a valid string."}

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> str | None:
        if value is False:
            return None
        if isinstance(value, str):
            return value.strip() or None
        raise self.make_error("invalid")


class PostMeta(fields.Field):
    """``{meta_key: [values]}`` as ``get_post_meta($id)`` returns it.

    Lenient where WP Webhooks is loose: a bare scalar is wrapped in a list (seen when a filter
    or another plugin flattens single-value meta), a JSON object is read as its values in order
    (PHP encodes an array with non-sequential keys that way), and ``[]``/``false``/``null``
    mean no meta. Values must be scalars: WordPress sends serialised PHP as strings, so a
    nested structure is a sender bug worth reporting.
    """

    default_error_messages: ClassVar[dict[str, str]] = {
        "invalid": "Not a valid mapping.",
        "value": "Meta values must be strings, numbers, booleans or null.",
    }

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> dict[str, list]:
        if _empty_container(value):
            return {}
        if not isinstance(value, Mapping):
            raise self.make_error("invalid")
        out: dict[str, list] = {}
        errors: dict[str, Any] = {}
        for key, raw in value.items():
            if not isinstance(key, str):
                raise self.make_error("invalid")
            if isinstance(raw, Mapping):
                items = list(raw.values())
            elif isinstance(raw, list):
                items = raw
            else:
                items = [raw]
            bad = {i: [self.error_messages["value"]] for i, v in enumerate(items) if not _is_scalar(v)}
            if bad:
                errors[key] = bad
            else:
                out[key] = list(items)
        if errors:
            raise ValidationError(errors)
        return out


class Taxonomies(fields.Field):
    """Terms per taxonomy, normalised to ``{taxonomy: [name, ...]}``.

    Accepted per taxonomy: WP Webhooks' ``{slug: WP_Term}`` object, a list of term objects
    ``{term_id?, name, slug?}`` or plain names, or a single name. A term object without a name
    falls back to its slug. Names are HTML-unescaped (WordPress stores "A &amp; B") and
    de-duplicated in order.
    """

    default_error_messages: ClassVar[dict[str, str]] = {
        "invalid": "Not a valid mapping.",
        "term": "Term must be a name or an object with a name or slug.",
    }

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> dict[str, list[str]]:
        if _empty_container(value):
            return {}
        if not isinstance(value, Mapping):
            raise self.make_error("invalid")
        out: dict[str, list[str]] = {}
        errors: dict[str, Any] = {}
        for taxonomy, terms in value.items():
            if not isinstance(taxonomy, str):
                raise self.make_error("invalid")
            if _empty_container(terms):
                out[taxonomy] = []
                continue
            if isinstance(terms, Mapping):
                entries = list(terms.items())
            elif isinstance(terms, list):
                entries = list(enumerate(terms))
            else:
                entries = [(0, terms)]
            names: list[str] = []
            bad: dict[Any, list[str]] = {}
            for key, term in entries:
                name = self._term_name(term)
                if name is None:
                    bad[key] = [self.error_messages["term"]]
                elif name not in names:
                    names.append(name)
            if bad:
                errors[taxonomy] = bad
            else:
                out[taxonomy] = names
        if errors:
            raise ValidationError(errors)
        return out

    @staticmethod
    def _term_name(term: Any) -> str | None:
        if isinstance(term, Mapping):
            for key in ("name", "slug"):
                inner = term.get(key)
                # Only scalars inside a term: recursing into nested objects would let a deeply
                # nested payload exhaust the stack.
                candidate = None if isinstance(inner, Mapping) else Taxonomies._term_name(inner)
                if candidate is not None:
                    return candidate
            return None
        if isinstance(term, bool):
            return None
        if isinstance(term, int):
            return str(term) if abs(term) < _MAX_ABS_INT else None
        if isinstance(term, float):
            return str(int(term)) if term.is_integer() and abs(term) < _MAX_ABS_INT else None
        if isinstance(term, str):
            name = html.unescape(term).strip()
            return name or None
        return None


class AcfData(fields.Field):
    """ACF ``get_fields()``: a mapping, or false/[] when the post has no fields."""

    default_error_messages: ClassVar[dict[str, str]] = {"invalid": "Not a valid mapping."}

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> dict[str, Any]:
        if _empty_container(value):
            return {}
        if isinstance(value, Mapping):
            return dict(value)
        raise self.make_error("invalid")


class ImageList(fields.Field):
    """The companion plugin's ordered gallery: ``[{url, id?}]``; a bare URL string is accepted
    as an entry too. The first image is the hero."""

    default_error_messages: ClassVar[dict[str, str]] = {
        "invalid": "Not a valid list.",
        "entry": "Image must be an object with a url.",
        "url": "Not a valid http(s) URL.",
        "id": "Not a valid ID.",
    }

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> list[dict[str, str | None]]:
        if value is False:
            return []
        if not isinstance(value, list):
            raise self.make_error("invalid")
        out: list[dict[str, str | None]] = []
        errors: dict[int, Any] = {}
        for index, entry in enumerate(value):
            if isinstance(entry, str):
                entry = {"url": entry}
            if not isinstance(entry, Mapping):
                errors[index] = [self.error_messages["entry"]]
                continue
            url = entry.get("url")
            image_id = entry.get("id")
            entry_errors: dict[str, list[str]] = {}
            if not isinstance(url, str) or not _is_http_url(url.strip()):
                entry_errors["url"] = [self.error_messages["url"]]
            normalised_id = self._id(image_id)
            if image_id not in (None, "", False) and normalised_id is None:
                entry_errors["id"] = [self.error_messages["id"]]
            if entry_errors:
                errors[index] = entry_errors
            else:
                out.append({"url": url.strip(), "id": normalised_id})
        if errors:
            raise ValidationError(errors)
        return out

    @staticmethod
    def _id(value: Any) -> str | None:
        if isinstance(value, bool):
            return None
        if isinstance(value, int) and 0 <= value < 10**_MAX_ID_DIGITS:
            return str(value)
        if isinstance(value, str) and value.strip() and len(value) <= 255:
            return value.strip()
        return None


