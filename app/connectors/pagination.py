"""One paginator for every remote list: offset/limit pages and cursor pages.

A connector describes its remote's style once (:class:`OffsetPages` or :class:`CursorPages`)
and hands :func:`pages` a ``fetch(params) -> body`` function; reconciliation (Carzle's
``list_remote``) and inventory sources (``pull``, one page per call) both read through it.
A position is always a string cursor, so a source can store it between pulls.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)

ITEM_KEYS: tuple[str, ...] = ("data", "items", "results", "listings", "vehicles")
META_KEYS: tuple[str, ...] = ("pagination", "meta")
MAX_PAGES = 1000  # a remote whose pages never end must not loop a worker for ever


@dataclass(frozen=True)
class PageOf:
    """One page as read: its items, where the next page starts (None: last), the total if told."""

    items: list[dict[str, Any]]
    next_cursor: str | None
    total: int | None = None


@dataclass(frozen=True)
class OffsetPages:
    """``?limit=&offset=`` pages; ``pagination.total`` / ``hasMore`` / a short page end it."""

    limit: int = 100
    limit_param: str = "limit"
    offset_param: str = "offset"

    def params(self, cursor: str | None) -> dict[str, Any]:
        return {self.limit_param: self.limit, self.offset_param: int(cursor or 0)}

    def read(self, body: Any, cursor: str | None) -> PageOf:
        items, meta = _items_and_meta(body)
        total = _int(meta.get("total"))
        offset = int(cursor or 0) + len(items)
        last = (
            not items
            or meta.get("hasMore") is False
            or len(items) < self.limit
            or (total is not None and offset >= total)
        )
        return PageOf(items, None if last else str(offset), total)


@dataclass(frozen=True)
class CursorPages:
    """``?cursor=`` pages; the answer names the next cursor (absent, null or ``hasMore: false``
    ends it)."""

    limit: int = 100
    limit_param: str = "limit"
    cursor_param: str = "cursor"
    next_names: tuple[str, ...] = ("nextCursor", "next_cursor", "next")

    def params(self, cursor: str | None) -> dict[str, Any]:
        params: dict[str, Any] = {self.limit_param: self.limit}
        if cursor:
            params[self.cursor_param] = cursor
        return params

    def read(self, body: Any, cursor: str | None) -> PageOf:
        items, meta = _items_and_meta(body)
        places = (meta, body) if isinstance(body, Mapping) else (meta,)
        following = next((p[n] for p in places for n in self.next_names if p.get(n)), None)
        if not items or meta.get("hasMore") is False or following is None:
            return PageOf(items, None, _int(meta.get("total")))
        if str(following) == cursor:  # a remote that repeats its cursor would never end
            log.warning("remote returned the same cursor twice; stopping")
            return PageOf(items, None, _int(meta.get("total")))
        return PageOf(items, str(following), _int(meta.get("total")))


Style = OffsetPages | CursorPages


def page(fetch: Callable[[dict[str, Any]], Any], style: Style, cursor: str | None = None) -> PageOf:
    """Read the one page that starts at ``cursor``."""
    return style.read(fetch(style.params(cursor)), cursor)


def pages(
    fetch: Callable[[dict[str, Any]], Any],
    style: Style,
    cursor: str | None = None,
    *,
    max_pages: int = MAX_PAGES,
) -> Iterator[PageOf]:
    """Every page from ``cursor`` on, stopping after ``max_pages`` with a warning."""
    for _ in range(max_pages):
        current = page(fetch, style, cursor)
        yield current
        if current.next_cursor is None:
            return
        cursor = current.next_cursor
    log.warning("pagination stopped after %s pages", max_pages)


def items(
    fetch: Callable[[dict[str, Any]], Any], style: Style, *, max_pages: int = MAX_PAGES
) -> Iterator[dict[str, Any]]:
    """Every item of every page."""
    for current in pages(fetch, style, max_pages=max_pages):
        yield from current.items


def _items_and_meta(body: Any) -> tuple[list[dict[str, Any]], Mapping[str, Any]]:
    if isinstance(body, list):
        return [dict(i) for i in body if isinstance(i, Mapping)], {}
    if not isinstance(body, Mapping):
        return [], {}
    raw = next((body[k] for k in ITEM_KEYS if isinstance(body.get(k), list)), [])
    meta = next((body[k] for k in META_KEYS if isinstance(body.get(k), Mapping)), body)
    return [dict(i) for i in raw if isinstance(i, Mapping)], meta


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
