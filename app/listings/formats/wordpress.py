"""WordPress post events (WP Webhooks' payload or the companion plugin's format).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from marshmallow import (
    INCLUDE,
    Schema,
    ValidationError,
    fields,
    validates_schema,
)

from app.listings.formats.common import (
    _EVENT_ALIASES,
    EVENTS,
    AcfData,
    Choice,
    EventName,
    HttpUrl,
    ImageList,
    OptionalString,
    PostMeta,
    Taxonomies,
    WPDateTime,
    WPId,
)

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
    real one. The one exception is a post WordPress has just inserted as a draft: see
    ``_new_draft_modified_gmt``.
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

    def to_doc(self) -> dict[str, Any]:
        """The validated event as plain JSON for the queue, so the job never parses the body
        again (``raw`` stays behind: nothing downstream reads it)."""
        doc = {name: getattr(self, name) for name in _DOC_FIELDS}
        doc["modified_gmt"] = self.modified_gmt.isoformat() if self.modified_gmt else None
        return doc

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any]) -> WordPressEvent:
        modified = doc.get("modified_gmt")
        return cls(**{**{name: doc.get(name) for name in _DOC_FIELDS},
                      "modified_gmt": datetime.fromisoformat(modified) if modified else None, "raw": None})


_DOC_FIELDS = tuple(name for name in WordPressEvent.__dataclass_fields__ if name != "raw")


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
        modified_gmt=post.get("post_modified_gmt") or _new_draft_modified_gmt(post),
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


# The widest UTC offset in use (Kiribati, UTC+14): a local wall-clock time is never more than
# this ahead of UTC.
_MAX_UTC_OFFSET = timedelta(hours=14)


def _new_draft_modified_gmt(post: Mapping[str, Any]) -> datetime | None:
    """A lower bound on the modified time of a post WordPress has only just inserted as a draft.

    wp_insert_post() gives a new draft (or pending) post a "floating" date: post_date_gmt and
    post_modified_gmt are both "0000-00-00 00:00:00" until the first update, and only the local
    times are set. WP Webhooks sends the post as it is, so its ``post_create`` of a draft carries
    no GMT time. Left at None, the event would be ordered by its arrival time, which can come
    after a publish made in the same second (WordPress times are whole seconds): the draft
    then wins and the car is taken off the marketplaces. Nothing can happen to a post before
    it is created, so the earliest UTC time its local time can stand for orders it correctly:
    before every later event, and stale if it arrives after one.
    """
    if "post_modified_gmt" not in post or post.get("post_modified_gmt") is not None:
        return None  # absent: the sender gave no time at all, so nothing is known
    if "post_date_gmt" not in post or post.get("post_date_gmt") is not None:
        return None  # a dated post with a blank modified time is not WordPress's new draft
    local = post.get("post_modified")  # not validated: a bad local time only loses the bound
    if not isinstance(local, str) or len(local) > 64:
        return None
    try:
        parsed = datetime.fromisoformat(local.strip())
        if parsed.tzinfo is not None:
            return parsed.astimezone(UTC)  # a zoned time is exact: no bound needed
        return parsed.replace(tzinfo=UTC) - _MAX_UTC_OFFSET
    except (ValueError, OverflowError):
        return None  # includes WordPress's zero date


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


