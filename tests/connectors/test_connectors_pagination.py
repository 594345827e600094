"""The one paginator: offset/limit and cursor styles, table-driven over canned page bodies."""

from __future__ import annotations

from typing import Any

import pytest

from app.connectors.pagination import CursorPages, OffsetPages, PageOf, items, page, pages


def offset_remote(total: int, *, meta: str = "pagination", has_more: bool = False,
                  report_total: bool = True):
    """A remote holding ``total`` items behind limit/offset, recording each request's params."""
    seen: list[dict[str, Any]] = []

    def fetch(params: dict[str, Any]) -> Any:
        seen.append(dict(params))
        start, size = params["offset"], params["limit"]
        chunk = [{"id": n} for n in range(start, min(start + size, total))]
        info: dict[str, Any] = {"limit": size, "offset": start}
        if report_total:
            info["total"] = total
        if has_more:
            info["hasMore"] = start + size < total
        return chunk if meta == "bare" else {"data": chunk, meta: info}

    return fetch, seen


@pytest.mark.parametrize(
    ("total", "limit", "remote", "requests"),
    [
        (250, 100, {}, 3),  # pagination.total ends it (Carfluence's shape)
        (200, 100, {}, 2),  # exact multiple: the total stops it without an empty page
        (200, 100, {"report_total": False}, 3),  # no total: an empty page ends it
        (150, 100, {"report_total": False}, 2),  # a short page ends it
        (200, 100, {"meta": "meta", "has_more": True, "report_total": False}, 2),  # hasMore
        (0, 100, {}, 1),
        (120, 50, {"meta": "bare"}, 3),  # a bare JSON list
    ],
)
def test_offset_pages_read_everything_and_stop(total, limit, remote, requests):
    fetch, seen = offset_remote(total, **remote)
    got = list(items(fetch, OffsetPages(limit=limit)))
    assert [i["id"] for i in got] == list(range(total))
    assert len(seen) == requests
    assert [p["offset"] for p in seen] == [n * limit for n in range(requests)]


def test_offset_page_from_a_stored_cursor_reports_the_total():
    fetch, seen = offset_remote(150)
    first = page(fetch, OffsetPages(limit=50), "50")
    assert first == PageOf([{"id": n} for n in range(50, 100)], "100", 150)
    assert seen == [{"limit": 50, "offset": 50}]


def cursor_remote(pages_: list[list[int]], *, where: str = "meta", name: str = "nextCursor"):
    seen: list[dict[str, Any]] = []

    def fetch(params: dict[str, Any]) -> Any:
        seen.append(dict(params))
        index = int(params.get("cursor", "c0")[1:])
        following = f"c{index + 1}" if index + 1 < len(pages_) else None
        body: dict[str, Any] = {"items": [{"id": n} for n in pages_[index]]}
        if where == "meta":
            body["meta"] = {name: following}
        else:
            body[name] = following
        return body

    return fetch, seen


@pytest.mark.parametrize(
    ("remote", "expected_ids", "requests"),
    [
        ({"pages_": [[1, 2], [3, 4], [5]]}, [1, 2, 3, 4, 5], 3),
        ({"pages_": [[1, 2], [3]], "where": "top", "name": "next_cursor"}, [1, 2, 3], 2),
        ({"pages_": [[1], []]}, [1], 2),
        ({"pages_": [[]]}, [], 1),
    ],
)
def test_cursor_pages_follow_the_next_cursor(remote, expected_ids, requests):
    fetch, seen = cursor_remote(**remote)
    assert [i["id"] for i in items(fetch, CursorPages(limit=2))] == expected_ids
    assert len(seen) == requests
    assert "cursor" not in seen[0]


def test_a_repeated_cursor_or_endless_pages_stop():
    def same_cursor(params: dict[str, Any]) -> Any:
        return {"data": [{"id": 1}], "nextCursor": "again"}

    assert len(list(pages(same_cursor, CursorPages(), "again"))) == 1
    assert len(list(pages(same_cursor, CursorPages(), max_pages=5))) == 2

    def endless(params: dict[str, Any]) -> Any:
        return {"data": [{"id": n} for n in range(params["limit"])]}

    assert len(list(pages(endless, OffsetPages(limit=10), max_pages=7))) == 7
