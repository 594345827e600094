"""The source formats Forecourt reads cars from, validated and normalised (marshmallow 4).

They belong to the listings domain (what a car is, as each source describes it), not to the
webhook endpoints, which only verify, record and accept. Two kinds of input arrive here,
already authenticated (``app.webhooks.signatures``) and JSON-decoded by the HTTP handler:

* WordPress post events, from the "WP Webhooks" plugin or Forecourt's companion plugin, loaded
  by ``load_wordpress_event`` into a ``WordPressEvent``.
* DMS stock feeds in Auterio's or Carslink's push format, loaded by ``load_auterio`` /
  ``load_carslink_feed`` into a ``FeedLoad``. A bad vehicle is skipped and reported; only a
  malformed request as a whole raises.

Contract: for any JSON-decoded input these functions either return or raise
``marshmallow.ValidationError`` whose ``messages`` are keyed by field path. Nothing else
escapes, whatever the types (lists for objects, nulls, huge numbers, NaN), which is why the
fields below are hand-written rather than marshmallow's stock ``Integer``/``Float``
(``Integer`` silently truncates 2.5, and ``str()`` of a huge int raises ``ValueError``).
"""

from __future__ import annotations

import html
import math
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, ClassVar, Literal
from urllib.parse import urlsplit

from marshmallow import (
    EXCLUDE,
    INCLUDE,
    Schema,
    ValidationError,
    fields,
    validates_schema,
)

__all__ = [
    "AUTERIO_MAX_VEHICLES",
    "AUTERIO_STATUSES",
    "CARSLINK_MAX_LISTINGS",
    "EVENTS",
    "FeedLoad",
    "WordPressEvent",
    "detect_dms_format",
    "is_ignorable",
    "load_auterio",
    "load_carslink_feed",
    "load_wordpress_event",
    "normalise_event_name",
]

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


def _flatten_messages(messages: Any, path: str = "") -> list[str]:
    """Turn marshmallow's nested ``messages`` into readable one-line reasons."""
    if isinstance(messages, Mapping):
        out: list[str] = []
        for key, sub in messages.items():
            key_str = str(key)
            child = key_str if not path else f"{path}.{key_str}"
            if key_str == "_schema":
                child = path
            out.extend(_flatten_messages(sub, child))
        return out
    if isinstance(messages, (list, tuple)):
        out = []
        for item in messages:
            out.extend(_flatten_messages(item, path))
        return out
    text = str(messages)
    leaf = path.rsplit(".", 1)[-1] if path else ""
    # Messages from the named DMS fields already say which field they are about.
    if not path or (leaf and text.startswith(leaf + " ")):
        return [text]
    return [f"{path}: {text}"]


def _reason(err: ValidationError) -> str:
    return "; ".join(_flatten_messages(err.messages)) or "invalid"


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


# --- WordPress schemas -----------------------------------------------------------------------


class WPPostSchema(Schema):
    """A WP_Post as WP Webhooks serialises it. Unknown keys (guid, menu_order, post_before's
    siblings, custom props) are kept so presets can read them."""

    class Meta:
        unknown = INCLUDE

    ID = WPId(allow_none=True)
    post_type = fields.String(allow_none=True)
    post_status = fields.String(allow_none=True)
    post_title = fields.String(allow_none=True)
    post_content = fields.String(allow_none=True)
    post_excerpt = fields.String(allow_none=True)
    post_name = fields.String(allow_none=True)
    post_modified_gmt = WPDateTime(allow_none=True)
    post_date_gmt = WPDateTime(allow_none=True)
    post_parent = WPId(min_value=0, allow_none=True)
    post_author = WPId(min_value=0, allow_none=True)


class WPWebhooksPostSchema(Schema):
    """The post_create / post_update / post_trash / post_delete payload of WP Webhooks:
    ``post_id``, ``post``, ``post_meta``, ``post_thumbnail``, ``post_permalink``,
    ``taxonomies`` and (with ACF active) ``acf_data``. Extra keys such as ``post_before`` are
    kept."""

    class Meta:
        unknown = INCLUDE

    post_id = WPId(allow_none=True)
    post = fields.Nested(WPPostSchema, allow_none=True)
    post_meta = PostMeta(allow_none=True)
    taxonomies = Taxonomies(allow_none=True)
    post_thumbnail = HttpUrl(allow_none=True)
    post_permalink = OptionalString(allow_none=True)
    acf_data = AcfData(allow_none=True)

    @validates_schema
    def _check_identity(self, data: dict[str, Any], **kwargs: Any) -> None:
        post_id = data.get("post_id")
        post = data.get("post") or {}
        inner_id = post.get("ID")
        if post_id is None and inner_id is None:
            raise ValidationError("post_id or post.ID is required.", field_name="post_id")
        if post_id is not None and inner_id is not None and post_id != inner_id:
            raise ValidationError("post_id does not match post.ID.", field_name="post_id")


class CompanionPostSchema(WPWebhooksPostSchema):
    """Forecourt's companion plugin: the WP Webhooks shape plus an explicit ``event`` and an
    ordered ``images`` gallery."""

    event = Choice(EVENTS, aliases=_EVENT_ALIASES, required=True)
    images = ImageList(allow_none=True)


_WP_WEBHOOKS_SCHEMA = WPWebhooksPostSchema()
_COMPANION_SCHEMA = CompanionPostSchema()


@dataclass
class WordPressEvent:
    """One post event, normalised from either WordPress sender.

    ``meta`` values are always lists, ``terms`` always lists of names, ``acf`` always a dict
    and ``images`` always a list (empty for WP Webhooks, which sends only ``thumbnail``).
    ``modified_gmt`` is None when the sender gave none; it is not back-filled from
    ``post_date_gmt`` because last-write-wins ordering must not see an older time than the
    real one.
    """

    event: EventName
    post_id: str
    post_type: str | None
    post_status: str | None
    modified_gmt: datetime | None
    title: str | None
    content: str | None
    meta: dict[str, list]
    terms: dict[str, list[str]]
    thumbnail: str | None
    acf: dict[str, Any]
    images: list[dict[str, Any]]
    permalink: str | None
    raw: Any
    slug: str | None = None
    excerpt: str | None = None
    source_format: Literal["wp_webhooks", "companion"] = "wp_webhooks"


def normalise_event_name(name: str) -> str | None:
    """Canonical event for a companion event or WP Webhooks trigger name, else None."""
    if not isinstance(name, str):
        return None
    return _EVENT_ALIASES.get(name.strip().lower())


def load_wordpress_event(data: Any, *, event_hint: str | None = None) -> WordPressEvent:
    """Validate a WordPress post payload and normalise it.

    The companion format is recognised by its ``event`` key; anything else is read as WP
    Webhooks. The event is, in order: the payload's ``event``; ``event_hint`` (the
    ``?event=`` of the URL, a WP Webhooks trigger name such as ``post_delete``); otherwise
    ``save_post``. A ``save_post`` for a post whose post_status is "trash" becomes ``trash``
    (WordPress trashes by updating, so update hooks fire too). The payload wins over the hint
    because the hint is part of the URL, which no sender signs; for the same reason handlers
    should dedupe on the body digest, so a captured body replayed with another ``?event=``
    is recognised as the same delivery.

    ``post`` may only be absent for ``delete`` (WP Webhooks can send ``post: null`` when the
    post was already gone) and ``trash`` (read as ``delete``: the post skipped the trash);
    every other event needs it to know what the post is.
    """
    if not isinstance(data, Mapping):
        raise ValidationError({"_schema": ["Invalid input type."]})
    is_companion = "event" in data
    schema = _COMPANION_SCHEMA if is_companion else _WP_WEBHOOKS_SCHEMA
    loaded = schema.load(data)

    hinted: str | None = None
    if event_hint is not None and str(event_hint).strip():
        hinted = normalise_event_name(event_hint)
        if hinted is None:
            raise ValidationError({"event": ["Unknown event hint; expected one of: " + ", ".join(_EVENT_ALIASES)]})

    post: dict[str, Any] = loaded.get("post") or {}
    status = post.get("post_status")
    event = loaded.get("event") or hinted or "save_post"
    if event == "save_post" and status == "trash":
        # WordPress trashes a post by updating it, so save_post hooks and WP Webhooks'
        # post_update trigger also fire for a trashing; the status says what happened.
        event = "trash"
    if event == "trash" and not post:
        # Inventory Presser's default "skip trash" deletes the post outright, so WP Webhooks'
        # post_trash trigger fires with ``post: null``; what remains to do is remove post_id.
        event = "delete"
    if event != "delete" and not post:
        raise ValidationError({"post": ["Missing data for required field."]})

    return WordPressEvent(
        event=event,
        post_id=loaded.get("post_id") or post["ID"],
        post_type=post.get("post_type"),
        post_status=status,
        modified_gmt=post.get("post_modified_gmt"),
        title=post.get("post_title"),
        content=post.get("post_content"),
        meta=loaded.get("post_meta") or {},
        terms=loaded.get("taxonomies") or {},
        thumbnail=loaded.get("post_thumbnail"),
        acf=loaded.get("acf_data") or {},
        images=loaded.get("images") or [],
        permalink=loaded.get("post_permalink"),
        raw=data,
        slug=post.get("post_name"),
        excerpt=post.get("post_excerpt"),
        source_format="companion" if is_companion else "wp_webhooks",
    )


def is_ignorable(event: WordPressEvent, car_post_types: Collection[str]) -> str | None:
    """Why this event should not be synced, or None when it should.

    Revisions and autosaves (post_type "revision", or a post_name like "123-revision-v1" /
    "123-autosave-v1"), auto-drafts and posts of a type that isn't one of the site's car post
    types are ignored. A ``delete`` whose post data is missing has no post_type and is *not*
    ignored: the handler should look the post_id up among the cars it knows.
    """
    if isinstance(car_post_types, str):
        car_post_types = {car_post_types}
    slug = event.slug or ""
    if "-autosave-" in slug:
        return "autosave"
    if event.post_type == "revision" or "-revision-" in slug:
        return "revision"
    if event.post_status == "auto-draft":
        return "auto-draft"
    if event.post_type is None:
        return None if event.event == "delete" else "post has no post_type"
    if event.post_type not in car_post_types:
        return f"post type {event.post_type!r} is not a car post type"
    return None


# --- DMS feeds -------------------------------------------------------------------------------


@dataclass
class FeedLoad:
    """A DMS feed, validated vehicle by vehicle.

    ``accepted`` holds cleaned records (every declared key present, None when not sent).
    ``skipped`` holds ``{"index", "vin" (Auterio) | "source_id" (Carslink), "reason"}``.
    ``deletes`` holds identities to remove.

    In ``full_replace`` mode a skipped listing is still part of the dealer's stock, just
    unreadable this time: use ``present_ids`` (not only ``accepted``) to decide what to remove.
    """

    format: Literal["auterio", "carslink"]
    mode: Literal["full_replace", "partial"]
    dealer: dict[str, Any] | None
    accepted: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[dict[str, Any]] = field(default_factory=list)
    deletes: list[str] = field(default_factory=list)
    received: int = 0

    @property
    def present_ids(self) -> set[str]:
        """Identities named by the feed and not deleted: accepted plus identifiable skips."""
        key = "vin" if self.format == "auterio" else "source_id"
        ids = {record[key] for record in self.accepted if record.get(key)}
        ids.update(s[key] for s in self.skipped if s.get(key))
        return ids - set(self.deletes)


def _load_all(schema: Schema, record: Mapping[str, Any], partial: tuple[str, ...] = ()) -> dict[str, Any]:
    loaded = schema.load(record, partial=partial or False)
    return {name: loaded.get(name) for name in schema.load_fields} | loaded


def _identity_hint(item: Any, *keys: str) -> str | None:
    """Best-effort identity of an invalid record, so the sender can find it in its data."""
    if not isinstance(item, Mapping):
        return None
    for key in keys:
        value = item.get(key)
        if isinstance(value, bool):
            continue
        if isinstance(value, int) and abs(value) < _MAX_ABS_INT:
            return str(value)
        if isinstance(value, str) and value.strip() and len(value) <= 255:
            return value.strip().upper() if key == "vin" else value.strip()
    return None


def _dedupe_last_wins(
    entries: list[tuple[int, str, str, dict[str, Any] | None]], id_key: str
) -> tuple[list[tuple[int, str, str, dict[str, Any] | None]], list[dict[str, Any]]]:
    """Keep only the last entry per identity. A batch naming a car twice must resolve the same
    way however the resulting jobs are scheduled, and the sender's order is the only order."""
    last: dict[str, int] = {}
    for position, (_, identity, _, _) in enumerate(entries):
        last[identity] = position
    kept, superseded = [], []
    for position, entry in enumerate(entries):
        index, identity, _, _ = entry
        if last[identity] == position:
            kept.append(entry)
        else:
            superseded.append(
                {
                    "index": index,
                    id_key: identity,
                    "reason": f"duplicate {id_key} in request; a later entry replaces it",
                }
            )
    return kept, superseded


class _DmsRequestSchema(Schema):
    class Meta:
        unknown = EXCLUDE


def _check_batch(items: Any, key: str, maximum: int, noun: str) -> list[Any]:
    if not isinstance(items, list):
        raise ValidationError({key: [f"{key} must be an array of {noun} objects"]})
    if not items:
        raise ValidationError({key: [f"{key} must contain at least one {noun}"]})
    if len(items) > maximum:
        raise ValidationError({key: [f"at most {maximum:,} {noun}s per request (received {len(items):,})"]})
    return items


# Auterio -------------------------------------------------------------------------------------


class AuterioVehicleSchema(Schema):
    """One vehicle of Auterio's ``/api/vehicles/ingest`` body.

    vin, brand and model are required. The VIN is upper-cased and stripped (it is the upsert
    key, so "wvw..." and "WVW..." must be the same car) but its length is not checked: Spanish
    DMSs carry chassis numbers of pre-1981 cars that are not 17 characters. Unknown keys are
    dropped; the documented ones are typed.
    """

    class Meta:
        unknown = EXCLUDE

    vin = Text(required=True, blank_ok=False, upper=True, max_length=64)
    brand = Text(required=True, blank_ok=False, max_length=100)
    model = Text(required=True, blank_ok=False, max_length=200)
    matricula = Text(allow_none=True, upper=True, max_length=32)
    version = Text(allow_none=True, max_length=300)
    year = WholeNumber(allow_none=True, min_value=1886, max_value=2100)
    color_ext = Text(allow_none=True, max_length=100)
    color_int = Text(allow_none=True, max_length=100)
    fuel_type = Text(allow_none=True, max_length=100)
    gearbox = Text(allow_none=True, max_length=100)
    mileage = WholeNumber(allow_none=True, min_value=0, max_value=10_000_000)
    engine_cc = WholeNumber(allow_none=True, min_value=0, max_value=100_000)
    power_hp = WholeNumber(allow_none=True, min_value=0, max_value=10_000)
    doors = WholeNumber(allow_none=True, min_value=0, max_value=10)
    seats = WholeNumber(allow_none=True, min_value=0, max_value=100)
    cost_price = Amount(allow_none=True, ge=0)
    sale_price = Amount(allow_none=True, ge=0)
    status = Choice(AUTERIO_STATUSES, allow_none=True, load_default="disponible")
    location = Text(allow_none=True, max_length=300)
    supplier = Text(allow_none=True, max_length=300)
    fecha_matricula = IsoDate(allow_none=True)
    propiedad = Text(allow_none=True, max_length=300)
    categoria = Text(allow_none=True, max_length=100)
    notes = Text(allow_none=True, max_length=20_000)


class AuterioRequestSchema(_DmsRequestSchema):
    vehicles = fields.Raw(required=True, allow_none=True, error_messages={"required": "vehicles is required"})


_AUTERIO_VEHICLE = AuterioVehicleSchema()
_AUTERIO_REQUEST = AuterioRequestSchema()


def load_auterio(data: Any) -> FeedLoad:
    """Load an Auterio ingest body (``{"vehicles": [...]}``, 1 to 1000 vehicles).

    Auterio upserts by VIN, so the mode is always ``partial`` and nothing is deleted (a sold
    car arrives as status ``vendido``/``baja``). A missing or null ``status`` becomes
    ``disponible``, as Auterio documents. Invalid vehicles are skipped with a reason; the
    request fails only when it is not an object or ``vehicles`` is missing, not a list, empty
    or longer than 1000.
    """
    request = _AUTERIO_REQUEST.load(data)
    items = _check_batch(request["vehicles"], "vehicles", AUTERIO_MAX_VEHICLES, "vehicle")

    entries: list[tuple[int, str, str, dict[str, Any] | None]] = []
    skipped: list[dict[str, Any]] = []
    for index, item in enumerate(items):
        if not isinstance(item, Mapping):
            skipped.append({"index": index, "vin": None, "reason": "vehicle must be an object"})
            continue
        try:
            vehicle = _load_all(_AUTERIO_VEHICLE, item)
        except ValidationError as err:
            skipped.append({"index": index, "vin": _identity_hint(item, "vin"), "reason": _reason(err)})
            continue
        if vehicle["status"] is None:
            vehicle["status"] = "disponible"
        entries.append((index, vehicle["vin"], "upsert", vehicle))

    kept, superseded = _dedupe_last_wins(entries, "vin")
    skipped = sorted(skipped + superseded, key=lambda s: s["index"])
    return FeedLoad(
        format="auterio",
        mode="partial",
        dealer=None,
        accepted=[record for _, _, _, record in kept if record is not None],
        skipped=skipped,
        deletes=[],
        received=len(items),
    )


# Carslink ------------------------------------------------------------------------------------


class CarslinkDealerSchema(Schema):
    """Carslink's ``dealer`` object. Only ``partner_dealer_id`` is required (as Carslink
    says); the profile fields are kept as strings without format checks, because a typo in a
    dealer's phone number must not reject the whole stock feed."""

    class Meta:
        unknown = EXCLUDE

    partner_dealer_id = Text(required=True, blank_ok=False, max_length=255)
    name = Text(allow_none=True, max_length=300)
    address_line_1 = Text(allow_none=True, max_length=300)
    address_line_2 = Text(allow_none=True, max_length=300)
    town = Text(allow_none=True, max_length=200)
    county = Text(allow_none=True, max_length=200)
    postcode = Text(allow_none=True, upper=True, max_length=16)
    phone = Text(allow_none=True, max_length=64)
    email = Text(allow_none=True, max_length=320)
    website = Text(allow_none=True, max_length=2048)


class CarslinkRequestSchema(_DmsRequestSchema):
    mode = Choice(
        ("full_replace", "partial"),
        required=True,
        error_messages={"required": "mode is required (full_replace or partial)"},
    )
    dealer = fields.Nested(
        CarslinkDealerSchema,
        required=True,
        error_messages={"required": "dealer is required", "null": "dealer is required"},
    )
    listings = fields.Raw(required=True, allow_none=True, error_messages={"required": "listings is required"})


_VEHICLE_TYPE_ALIASES = {"motorbike": "motorcycle", "bike": "motorcycle"}


class CarslinkListingSchema(Schema):
    """One listing of a Carslink-format feed, received by Forecourt.

    Carslink (as a marketplace) skips listings without year, price, mileage, registration and
    four HTTPS images. Forecourt is the receiving end of a DMS feed and republishes to several
    marketplaces with their own rules, so it requires only what makes the record a car it can
    track: an identity (``source_id``, else ``vin``), ``make`` and ``model``. Values that *are*
    sent must be valid: a garbled price or year skips the listing with Carslink's wording
    rather than publishing a wrong fact. ``images`` are kept as given (order, count, http or
    https); only entries that are not http(s) URLs are dropped, with a warning. ``fuel`` and
    ``fuel_type`` are aliases (``fuel_type`` wins); ``vehicle_type`` is car, motorcycle
    ("motorbike" accepted) or van, default car. ``location``/``region`` are ignored, as
    Carslink says they are derived from the dealer's postcode.

    In ``partial`` mode make and model may be left out, as in Carslink's own example (source_id
    + price only): the fields sent are merged into the car Forecourt already has.
    """

    class Meta:
        unknown = EXCLUDE

    source_id = Text(allow_none=True, max_length=255)
    vin = Text(allow_none=True, upper=True, max_length=64)
    vehicle_type = Choice(
        ("car", "motorcycle", "van"),
        aliases=_VEHICLE_TYPE_ALIASES,
        allow_none=True,
        load_default="car",
    )
    make = Text(required=True, blank_ok=False, max_length=100)
    model = Text(required=True, blank_ok=False, max_length=200)
    variant = Text(allow_none=True, max_length=300)
    year = WholeNumber(allow_none=True, min_value=1886, max_value=2100, error="year must be a 4-digit integer")
    price = Amount(allow_none=True, gt=0, error="price must be numeric and > 0")
    mileage = WholeNumber(
        allow_none=True,
        min_value=0,
        max_value=10_000_000,
        error="mileage must be an integer, zero or greater",
    )
    registration = Text(allow_none=True, upper=True, max_length=32)
    fuel = Text(allow_none=True, max_length=100)
    fuel_type = Text(allow_none=True, max_length=100)
    transmission = Text(allow_none=True, max_length=100)
    colour = Text(allow_none=True, max_length=100)
    body_type = Text(allow_none=True, max_length=100)
    condition = Text(allow_none=True, max_length=100)
    description = Text(allow_none=True, max_length=100_000)
    listing_url = fields.Raw(allow_none=True)
    images = fields.Raw(allow_none=True)
    engine_size = Text(allow_none=True, max_length=32)
    bike_type = Text(allow_none=True, max_length=100)
    licence_category = Text(allow_none=True, upper=True, max_length=8)
    van_type = Text(allow_none=True, max_length=100)
    roof_height = Text(allow_none=True, max_length=32)
    load_length = Text(allow_none=True, max_length=32)
    payload_kg = Text(allow_none=True, max_length=32)
    load_volume_m3 = Text(allow_none=True, max_length=32)

    @validates_schema
    def _check_identity(self, data: dict[str, Any], **kwargs: Any) -> None:
        if not data.get("source_id") and not data.get("vin"):
            raise ValidationError("source_id (or vin) is required to identify the listing", field_name="source_id")


class CarslinkDeleteSchema(Schema):
    """A ``"delete": true`` listing: only the identity matters."""

    class Meta:
        unknown = EXCLUDE

    source_id = Text(allow_none=True, max_length=255)
    vin = Text(allow_none=True, upper=True, max_length=64)

    @validates_schema
    def _check_identity(self, data: dict[str, Any], **kwargs: Any) -> None:
        if not data.get("source_id") and not data.get("vin"):
            raise ValidationError("source_id is required to delete a listing", field_name="source_id")


_CARSLINK_REQUEST = CarslinkRequestSchema()
_CARSLINK_LISTING = CarslinkListingSchema()
_CARSLINK_DELETE = CarslinkDeleteSchema()


_FLAG_WORDS = ("true", "1", "yes", "false", "0", "no", "")


def _delete_flag(value: Any) -> bool | None:
    """True/False for a recognisable flag, None for garbage."""
    if value is None or isinstance(value, bool):
        return bool(value)
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in _FLAG_WORDS:
        return value.strip().lower() in ("true", "1", "yes")
    return None


def _clean_images(value: Any, warnings: list[str]) -> list[str]:
    if value is None or value is False:
        return []
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        warnings.append("images must be an array of URLs; ignored")
        return []
    images: list[str] = []
    for position, entry in enumerate(value):
        url = entry.get("url") if isinstance(entry, Mapping) else entry
        if isinstance(url, str) and len(url) <= 4096 and _is_http_url(url.strip()):
            images.append(url.strip())
        else:
            warnings.append(f"images[{position}] is not an http(s) URL; dropped")
    return images


def _clean_listing(listing: dict[str, Any]) -> dict[str, Any]:
    warnings: list[str] = []
    listing["images"] = _clean_images(listing.get("images"), warnings)
    url = listing.get("listing_url")
    if url is not None and url is not False and url != "":
        if not (isinstance(url, str) and len(url) <= 4096 and _is_http_url(url.strip())):
            warnings.append("listing_url is not an http(s) URL; dropped")
            url = None
        else:
            url = url.strip()
    listing["listing_url"] = url or None
    listing["fuel_type"] = listing.get("fuel_type") or listing.pop("fuel", None)
    listing.pop("fuel", None)
    listing["vehicle_type"] = listing.get("vehicle_type") or "car"
    listing["source_id"] = listing.get("source_id") or listing.get("vin")
    listing["warnings"] = warnings
    return listing


def load_carslink_feed(data: Any) -> FeedLoad:
    """Load a feed in Carslink's partner format: ``{mode, dealer, listings[]}``.

    Request-level requirements (raise ValidationError): an object; ``mode`` full_replace or
    partial, required because defaulting either way is a guess and full_replace removes
    stock; ``dealer.partner_dealer_id``; ``listings`` a non-empty array of at most
    ``CARSLINK_MAX_LISTINGS``. An empty full_replace would mean "remove everything", which a
    DMS bug produces far more often than a dealer selling out; sold cars go as deletes.

    Each listing is then validated alone (see ``CarslinkListingSchema``). The identity is
    ``source_id``, falling back to the VIN, for upserts and deletes alike; a listing with
    ``"delete": true`` needs only that identity and lands in ``deletes``. When one identity
    appears more than once, the last entry wins and earlier ones are reported as skipped.
    """
    request = _CARSLINK_REQUEST.load(data)
    items = _check_batch(request["listings"], "listings", CARSLINK_MAX_LISTINGS, "listing")
    dealer = {name: request["dealer"].get(name) for name in CarslinkDealerSchema().load_fields}

    entries: list[tuple[int, str, str, dict[str, Any] | None]] = []
    skipped: list[dict[str, Any]] = []
    for index, item in enumerate(items):
        if not isinstance(item, Mapping):
            skipped.append({"index": index, "source_id": None, "reason": "listing must be an object"})
            continue
        hint = _identity_hint(item, "source_id", "vin")
        flag = _delete_flag(item.get("delete"))
        if flag is None:
            skipped.append({"index": index, "source_id": hint, "reason": "delete must be true or false"})
            continue
        try:
            if flag:
                ident = _CARSLINK_DELETE.load(item)
                entries.append((index, ident.get("source_id") or ident["vin"], "delete", None))
                continue
            patch = ("make", "model") if request["mode"] == "partial" else ()
            listing = _clean_listing(_load_all(_CARSLINK_LISTING, item, patch))
        except ValidationError as err:
            skipped.append({"index": index, "source_id": hint, "reason": _reason(err)})
            continue
        entries.append((index, listing["source_id"], "upsert", listing))

    kept, superseded = _dedupe_last_wins(entries, "source_id")
    skipped = sorted(skipped + superseded, key=lambda s: s["index"])
    return FeedLoad(
        format="carslink",
        mode=request["mode"],
        dealer=dealer,
        accepted=[record for _, _, kind, record in kept if kind == "upsert" and record],
        skipped=skipped,
        deletes=[identity for _, identity, kind, _ in kept if kind == "delete"],
        received=len(items),
    )


def detect_dms_format(data: Any) -> Literal["auterio", "carslink"] | None:
    """Which DMS push format a decoded body is in.

    ``vehicles`` → Auterio; ``listings`` with ``dealer`` or ``mode`` → Carslink. Keys are
    checked, not their types, so a malformed body still reaches the loader whose field errors
    explain it. Both or neither → None.
    """
    if not isinstance(data, Mapping):
        return None
    auterio = "vehicles" in data
    carslink = "listings" in data and ("dealer" in data or "mode" in data)
    if auterio and not carslink:
        return "auterio"
    if carslink and not auterio:
        return "carslink"
    return None
