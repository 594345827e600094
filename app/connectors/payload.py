"""Payload helpers shared by connectors: canonical JSON, fingerprints, partial-update diffs."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from typing import Any


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def fingerprint(payload: Mapping[str, Any]) -> str:
    """sha256 of the payload's canonical JSON: equal payloads, equal fingerprints."""
    return hashlib.sha256(canonical_json(payload).encode("utf-8")).hexdigest()


def diff_payload(
    old: Mapping[str, Any],
    new: Mapping[str, Any],
    *,
    clear_with_null: Iterable[str] = ("contactId",),
) -> dict[str, Any]:
    """The top-level fields of ``new`` that differ from ``old``: the body of a partial update.

    * Values are compared whole (canonical JSON, so ``1`` vs ``True`` or key order don't
      confuse it); a changed list such as ``imageUrls`` or ``features`` is sent whole.
    * A field present in ``old`` but absent from ``new`` is **omitted**, not nulled: marketplaces
      reject nulls and empty strings for most fields, and on Carzle a field we stop sending may
      hold a value the dealer or enrichment set, which we must not wipe.
    * Except the fields in ``clear_with_null`` (Carzle: ``contactId``), where null is the
      documented way to clear an assignment.
    """
    changed: dict[str, Any] = {}
    for key, value in new.items():
        if key not in old or canonical_json(old[key]) != canonical_json(value):
            changed[key] = value
    for key in clear_with_null:
        if key in old and key not in new and old[key] is not None:
            changed[key] = None
    return changed
