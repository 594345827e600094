"""Carfluence REST API v1 as an inventory source.

* **Auth**, either way the seed offers: a scoped ``cf_live_…`` key (``api_key``), or
  ``POST /auth/login`` with ``email`` and ``password`` (the RS256 JWT is kept in the shared
  cache until shortly before it expires; a 401 logs in once more, a second is Reauthenticate).
* **Inventory**: ``GET /inventory?limit=&offset=`` plus the destination's ``filters``
  (``make``, ``status``, ``year_min`` …, passed through); ``pagination.total`` ends it.
* **Rate limits**: per key (or per login), through the engine's shared budget like every
  connector: the budget is keyed on ``rate_key`` (the key, or the login's email).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from app.connectors import pagination
from app.connectors.auth import KeyOrLogin, LoginToken, StaticKey
from app.connectors.base import RateLimits
from app.connectors.carfluence.mapping import to_vehicle
from app.connectors.errors import RetryLater
from app.connectors.kinds import InventorySource, Page
from app.connectors.registry import register

DEFAULT_BASE_URL = "https://api.carfluence.io/api/v1"
MAX_PAGE = 100  # Carfluence's largest page
FILTERS = (
    "make", "model", "status", "condition", "source", "dealer_id", "dealer_group",
    "year_min", "year_max", "price_min", "price_max", "updated_since",
)  # fmt: skip
# Options a source destination reads (the pull service reads the schedule and grace ones).
SOURCE_OPTIONS = ("filters", "page_size", "pull_every_minutes", "grace_pulls", "grace_hours", "max_shrink")


@register
class CarfluenceConnector(InventorySource):
    slug = "carfluence"
    display_name = "Carfluence"
    default_base_url = DEFAULT_BASE_URL
    credential_fields = ("api_key", "email", "password")
    credential_choices = (("api_key",), ("email", "password"))
    auth = KeyOrLogin(StaticKey("api_key"), LoginToken("/auth/login", key_field="email"))
    rate_limits = RateLimits(reads=60, writes=30, window=60.0)
    option_names = (*SOURCE_OPTIONS, "currency")

    @classmethod
    def validate_options(cls, options: Mapping[str, Any]) -> dict[str, str]:
        problems: dict[str, str] = {}
        filters = options.get("filters", {})
        if not isinstance(filters, Mapping):
            problems["filters"] = "must be a table of Carfluence inventory filters"
        else:
            unknown = sorted(set(filters) - set(FILTERS))
            if unknown:
                problems["filters"] = f"unknown filter(s) {', '.join(unknown)} (known: {', '.join(FILTERS)})"
        size = options.get("page_size", MAX_PAGE)
        if isinstance(size, bool) or not isinstance(size, int) or not 1 <= size <= MAX_PAGE:
            problems["page_size"] = f"must be an integer from 1 to {MAX_PAGE}"
        for name, low in (("pull_every_minutes", 1), ("grace_pulls", 1)):
            value = options.get(name, low)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                problems[name] = f"must be an integer ≥ {low}"
        hours = options.get("grace_hours")
        if hours is not None and (isinstance(hours, bool) or not isinstance(hours, int | float) or hours <= 0):
            problems["grace_hours"] = "must be a positive number of hours"
        shrink = options.get("max_shrink", 0.2)
        if isinstance(shrink, bool) or not isinstance(shrink, int | float) or not 0 <= shrink < 1:
            problems["max_shrink"] = "must be a share from 0 to below 1 (0.2 = 20 %)"
        return problems

    @property
    def pages(self) -> pagination.OffsetPages:
        return pagination.OffsetPages(limit=int(self.options.get("page_size", MAX_PAGE)))

    def check_credentials(self) -> dict[str, Any]:
        with self.operation():
            answer = self.request("read", "GET", "/auth/me", operation="me").json()
        who = answer.get("user") or answer.get("key") or {}
        return {"name": who.get("email") or who.get("name") or who.get("prefix") or "Carfluence"}

    def pull(self, cursor: str | None = None, *, filters: Mapping[str, Any] | None = None) -> Page:
        """One page of the inventory from ``cursor`` (an offset), with the destination's filters."""
        wanted = {**(self.options.get("filters") or {}), **(filters or {})}

        def fetch(params: dict[str, Any]) -> Any:
            response = self.request("read", "GET", "/inventory", params={**wanted, **params}, operation="inventory")
            try:
                return response.json()
            except ValueError as exc:
                raise RetryLater("Carfluence /inventory answered something that is not JSON") from exc

        with self.operation() as calls:
            read = pagination.page(fetch, self.pages, cursor)
        return Page(read.items, read.next_cursor, read.total, calls=list(calls))

    def vehicle(self, item: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
        """The canonical vehicle of one inventory item, and what could not be mapped."""
        return to_vehicle(item, currency=self.options.get("currency"))
