"""DMS stock feeds: what Auterio and Carslink requests have in common, and telling them apart.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from marshmallow import (
    EXCLUDE,
    Schema,
    ValidationError,
)

from app.listings.formats.common import _MAX_ABS_INT

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

