"""Reading Carzle's answers: JSON bodies, the listing inside them, its id."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from app.connectors.errors import ConnectorError


def json_body(response: Any) -> Any:
    if response.status_code == 204 or not response.content:
        return None
    try:
        return response.json()
    except ValueError as exc:
        raise ConnectorError(
            f"Carzle returned a non-JSON body (HTTP {response.status_code})",
            status=response.status_code,
        ) from exc


def listing_of(body: Any) -> dict[str, Any]:
    if isinstance(body, Mapping):
        for key in ("data", "listing"):
            inner = body.get(key)
            if isinstance(inner, Mapping):
                return dict(inner)
        return dict(body)
    return {}


def listing_id(listing: Mapping[str, Any]) -> str | None:
    value = listing.get("id") or listing.get("uuid")
    return str(value) if value else None
