"""Lifecycle decisions: what a WordPress event or a DMS record means for the marketplaces.

WordPress (after Carzle's FAQ: publish → active, unpublish → inactive, trash → DELETE;
"draft" on a marketplace means *never published*, so a car that was live and is now
hidden is ``inactive``, never "draft"):

=====================  =================================  ===================================
event                  post_status                        result
=====================  =================================  ===================================
trash, delete          (any)                              deleted
save, untrash          trash                              deleted
save, untrash          publish                            flag (sold/reserved/coming_soon)
                                                          or active
save, untrash          draft, pending, private, future,   inactive if ever published,
                       any unknown custom status          else None
save, untrash          auto-draft, inherit                None
=====================  =================================  ===================================

* ``untrash`` has no meaning of its own: WordPress restores the post to some status
  (draft by default since 5.6), and that status decides, exactly as for a save.
* ``future`` (scheduled): nothing until WordPress publishes it. A car that was live and
  is re-scheduled is taken down (``inactive``) until then rather than left showing.
* Unknown custom statuses (plugins register e.g. "archived") are treated as hidden:
  a car that is not ``publish`` must not stay live.
* ``trash``/``delete`` return ``deleted`` even when ``ever_published`` is False: that
  flag may be stale (a create can be in flight), and a DELETE of a listing that does
  not exist is harmless, whereas a missed one leaves a removed car on sale.
* Status flags only matter for ``publish``: a sold car moved to draft is ``inactive``.
* ``auto-draft`` (an unsaved new post) and ``inherit`` (revisions, attachments) never
  describe the car itself.
"""

from __future__ import annotations

from typing import Any, Literal

from app.listings.parsing import ParseError, parse_bool
from app.listings.vehicle import DELETED
from app.text import fold

__all__ = [
    "DMS_SYSTEMS",
    "EVENTS",
    "FLAGS",
    "WP_POST_STATUSES",
    "decide_dms_status",
    "decide_status",
    "normalise_event",
]

EVENTS = ("save", "trash", "untrash", "delete")
FLAGS = ("sold", "reserved", "coming_soon")
# The statuses WordPress core knows; anything else is a plugin's custom status.
WP_POST_STATUSES = ("publish", "draft", "pending", "private", "future", "trash", "auto-draft", "inherit")
DMS_SYSTEMS = ("auterio", "carslink")

# Names the webhook layer or a WordPress plugin may use for the same four events.
# fmt: off
_EVENT_ALIASES = {
    # app.listings.formats already normalises to save_post/trash/untrash/delete; the rest are
    # WP Webhooks trigger names and WordPress hook names, accepted for callers that skip it.
    "save": "save", "saved": "save", "save_post": "save", "create": "save", "created": "save",
    "post_create": "save", "post_update": "save", "post_save": "save",
    "post_trash": "trash", "trash_post": "trash", "post_untrash": "untrash", "post_delete": "delete",
    "update": "save", "updated": "save", "post_updated": "save", "publish": "save",
    "published": "save", "status_change": "save", "transition_post_status": "save",
    "trash": "trash", "trashed": "trash", "wp_trash_post": "trash", "trashed_post": "trash",
    "untrash": "untrash", "untrashed": "untrash", "untrash_post": "untrash",
    "untrashed_post": "untrash", "restore": "untrash", "restored": "untrash",
    "delete": "delete", "deleted": "delete", "delete_post": "delete", "deleted_post": "delete",
    "before_delete_post": "delete",
}
# fmt: on
_NEVER = {"auto-draft", "inherit"}


def normalise_event(event: str) -> str:
    """Map an event name (or a known alias) to one of :data:`EVENTS`; ValueError otherwise."""
    key = str(event).strip().casefold().replace("-", "_")
    if key not in _EVENT_ALIASES:
        raise ValueError(f"unknown WordPress event {event!r}; expected one of {', '.join(EVENTS)}")
    return _EVENT_ALIASES[key]


def decide_status(event: str, post_status: str, flag_status: str | None, ever_published: bool) -> str | None:
    """Decide the marketplace status for a WordPress event (see the module table).

    ``flag_status`` is :attr:`MappingResult.flag_status` (sold/reserved/coming_soon or None);
    ``ever_published`` is whether this car was ever live on any marketplace.
    Returns a Vehicle status ("active", "inactive", "sold", "reserved", "coming_soon",
    "deleted") or None for "send nothing".
    """
    kind = normalise_event(event)
    if flag_status is not None and flag_status not in FLAGS:
        raise ValueError(f"flag_status must be one of {', '.join(FLAGS)} or None, not {flag_status!r}")
    if kind in ("trash", "delete"):
        return DELETED
    status = str(post_status or "").strip().casefold()
    if status == "trash":
        return DELETED
    if status == "publish":
        return flag_status or "active"
    if status in _NEVER:
        return None
    # draft / pending / private / future / custom: hidden on the site.
    return "inactive" if ever_published else None


_AUTERIO = {
    "disponible": "active",
    "reservado": "reserved",
    "reservada": "reserved",
    "vendido": "sold",
    "vendida": "sold",
    "transito": "coming_soon",
    "en transito": "coming_soon",
    "baja": "deleted",
    "de baja": "deleted",
    "dado de baja": "deleted",
}


_fold = fold


def decide_dms_status(system: Literal["auterio", "carslink"], value: Any) -> str:
    """Status of a DMS record. ``value`` is the system's own status field.

    * auterio: ``status`` — disponible → active, reservado → reserved, vendido → sold,
      transito → coming_soon, baja → deleted (accents/case ignored). Auterio documents
      "disponible" as the default when the field is absent, so blank → active.
    * carslink: the ``delete`` flag — true → deleted, anything else → active (a listing
      present in a Carslink feed is on sale).

    Raises :class:`ParseError` for a value it cannot interpret.
    """
    if system == "auterio":
        if value is None or (isinstance(value, str) and not value.strip()):
            return "active"
        if not isinstance(value, str) or _fold(value) not in _AUTERIO:
            raise ParseError(
                "status",
                value,
                f"unknown Auterio status {value!r}; expected disponible, reservado, vendido, transito or baja",
            )
        return _AUTERIO[_fold(value)]
    if system == "carslink":
        return DELETED if parse_bool(value, field="delete") else "active"
    raise ValueError(f"unknown DMS system {system!r}; expected one of {', '.join(DMS_SYSTEMS)}")
