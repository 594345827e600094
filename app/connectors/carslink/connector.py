"""Carslink (carslink.ai) partner push API, a feed sink (seed 002).

* **One endpoint**: ``POST {base_url}/api/v1/stock`` with the partner key in
  ``X-Dealer-Api-Key``; every request carries the site's ``dealer`` object (from
  ``[sites.dealer]``; ``partner_dealer_id`` required, never ``location``/``region``, which
  Carslink resolves from the postcode).
* **partial** for the engine's batches of changed cars; a removed car goes as
  ``{"source_id": ..., "delete": true}``. **full_replace** for the whole live stock (the engine
  sends it twice a day, behind its guard): Carslink removes every listing not in it.
* ``source_id`` is always the car's Forecourt ref, so partial updates and deletes find the
  listing whatever else changed.
* **Responses**: ``sync_id`` and the ``feed`` counts go into the batch result (the engine's
  run record); each ``skipped_listings[]`` reason lands on its car. 401/403 is
  ``Reauthenticate`` (the engine pauses the destination), 5xx and timeouts ``RetryLater``,
  a 4xx for the whole feed ``FixInput`` with Carslink's fields.

Options: ``dealer`` (the site's dealer profile), ``allow_insecure_images`` (tests and on-premise
sandboxes only: accept ``http://`` media URLs).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from app.connectors.auth import StaticKey
from app.connectors.base import RateLimits
from app.connectors.carslink import mapping
from app.connectors.errors import RetryLater
from app.connectors.kinds import BatchResult, CarOutcome, FeedItem, FeedSink
from app.connectors.registry import register
from app.listings.vehicle import Vehicle
from app.sites.dealer import dealer_object

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://api.carslink.ai"
STOCK_PATH = "/api/v1/stock"


@register
class CarslinkConnector(FeedSink):
    """Carslink partner push (``X-Dealer-Api-Key``); see the module doc."""

    slug = "carslink"
    display_name = "Carslink"
    default_base_url = DEFAULT_BASE_URL
    credential_fields = ("api_key",)
    auth = StaticKey("api_key", header="X-Dealer-Api-Key", scheme=None)
    # Carslink publishes no rate limit; one batch per window per dealer is far below this.
    rate_limits = RateLimits(reads=60, writes=60, window=60.0)
    batch_cap: ClassVar[int] = 1000
    batch_window: ClassVar[float] = 30.0
    supports_full: ClassVar[bool] = True
    min_images = mapping.MIN_IMAGES
    https_images_only = True
    option_names = ("dealer", "allow_insecure_images")

    @classmethod
    def validate_options(cls, options: Mapping[str, Any]) -> dict[str, str]:
        dealer = options.get("dealer")
        if not isinstance(dealer, Mapping) or not str(dealer.get("partner_dealer_id") or "").strip():
            return {"dealer.partner_dealer_id": "required for Carslink (the dealer's id in your system)"}
        return {}

    # ---- mapping ------------------------------------------------------------------------

    def dealer(self) -> dict[str, Any]:
        return dealer_object(self.options.get("dealer"))

    def listing(self, item: FeedItem) -> dict[str, Any]:
        """The listing entry for one item: a delete flag for a removal, else the full listing."""
        if item.removed or item.vehicle is None:
            return {"source_id": item.car_ref, "delete": True}
        body, _ = mapping.listing(item.vehicle, allow_insecure_images=bool(self.options.get("allow_insecure_images")))
        return body

    def preview(self, vehicle: Vehicle) -> dict[str, Any]:
        return self.listing(FeedItem(vehicle.car_ref or "", vehicle))

    def warnings(self, item: FeedItem) -> list[str]:
        if item.removed or item.vehicle is None:
            return []
        allow_insecure = bool(self.options.get("allow_insecure_images"))
        return mapping.listing(item.vehicle, allow_insecure_images=allow_insecure)[1]

    def preflight(self, item: FeedItem) -> CarOutcome | None:
        """Skip, with Carslink's own reason, a car Carslink would skip: it is not sent, and it
        goes out by itself once an edit fixes it (any change puts it back in a batch)."""
        if item.removed or item.vehicle is None:
            return None
        body = self.listing(item)
        reason = mapping.preflight_reason(item.vehicle, body)
        if reason is None:
            return None
        field = "images" if reason.startswith("minimum") else reason.split(" ", 1)[0]
        return CarOutcome("skipped", reason, {field: reason})

    def feed(self, items: Sequence[FeedItem], *, full: bool) -> dict[str, Any]:
        listings = [self.listing(i) for i in items if not (full and (i.removed or i.vehicle is None))]
        return {"mode": "full_replace" if full else "partial", "dealer": self.dealer(), "listings": listings}

    # ---- operations ---------------------------------------------------------------------

    def check_credentials(self) -> dict[str, Any]:
        """An empty partial feed (Carslink has no read endpoint): proves the key and the dealer
        object and changes no listing; on a first contact it creates the dealer's profile, as
        the first real feed would."""
        with self.operation():
            body = self._post({"mode": "partial", "dealer": self.dealer(), "listings": []}, "check")
        return {"name": (self.options.get("dealer") or {}).get("name") or "credentials accepted", **body}

    def send_batch(self, items: Sequence[FeedItem], *, full: bool = False) -> BatchResult:
        operation = "feed:full" if full else "feed:partial"
        feed = self.feed(items, full=full)
        with self.operation() as calls:
            body = self._post(feed, operation)
        payloads = {str(listing["source_id"]): listing for listing in feed["listings"]}
        outcomes: dict[str, CarOutcome] = {}
        for skipped in body.get("skipped_listings") or []:
            if isinstance(skipped, Mapping) and skipped.get("source_id") is not None:
                reason = str(skipped.get("reason") or "skipped by Carslink")
                outcomes[str(skipped["source_id"])] = CarOutcome("skipped", reason, {"listing": reason})
        feed = body.get("feed") if isinstance(body.get("feed"), Mapping) else {}
        counts = {k: int(v) for k, v in feed.items() if isinstance(v, int) and not isinstance(v, bool)}
        for key in ("received_count", "queued_count", "deleted_count"):
            if isinstance(body.get(key), int):
                counts[key] = body[key]
        return BatchResult(outcomes, operation=operation, remote_id=body.get("sync_id"), counts=counts,
                           calls=list(calls), payloads=payloads)

    def _post(self, payload: dict[str, Any], operation: str) -> dict[str, Any]:
        response = self.request("write", "POST", STOCK_PATH, json_body=payload, operation=operation)
        try:
            body = response.json()
        except ValueError as exc:
            raise RetryLater("Carslink answered with invalid JSON", status=response.status_code) from exc
        if not isinstance(body, dict):
            raise RetryLater("Carslink answered with an unexpected body", status=response.status_code)
        return body
