"""Auterio (auterio.net) DMS ingest, a feed sink: the dealer's stock in VIN-keyed batches.

* **One endpoint**: ``POST {base_url}/api/vehicles/ingest`` with ``Authorization: Bearer
  <api_key>`` and ``{"vehicles": [...]}``, at most 1,000 per request (``batch_cap``), so a full
  resync of N cars takes ⌈N/1000⌉ requests. Auterio upserts by VIN: sending a car twice is
  harmless, which is what makes retries after a timeout safe.
* **Preflight**: a car without a VIN (or brand or model, also required) is never sent; its
  status says why. Two cars of one batch with the same VIN: the first goes, the others are
  skipped (they would overwrite each other on Auterio).
* **Status**: see :data:`app.connectors.auterio.mapping.STATUS`. Auterio has no delete: a
  removed car is sent once as ``baja`` (VIN, brand, model, status) and then left alone.
* **Answers**: 200 ``{success, imported, skipped, source, errors?}``; each ``errors`` entry
  (``index``/``vin``, ``error``) lands on its car as ``skipped`` with the reason. 401 (either
  of Auterio's two messages) is ``Reauthenticate``: the engine pauses the destination. 400
  "Invalid payload or no valid vehicles" refuses the batch as a whole: the vehicles it names
  are skipped, and a refusal naming nobody is bisected (:mod:`app.connectors.bisect`) within
  ``bisect_max_requests`` extra requests; a car refused alone is skipped (it waits until it
  changes, never retried for ever); cars still undecided when the budget is spent are
  ``failed`` and retried with backoff, as a smaller batch. 5xx/timeouts: ``RetryLater``;
  429: ``RetryAt``.

Options: ``language`` (``es`` default, or ``en``: fuel and gearbox words), ``send_cost_price``
(default false), ``location`` (used for cars that have none), ``bisect_max_requests``
(default 40: isolates two bad cars in a batch of 1,000 in one attempt).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import requests

from app.connectors import http
from app.connectors.auterio import mapping
from app.connectors.auth import StaticKey
from app.connectors.base import RateLimits
from app.connectors.bisect import Refused, isolate
from app.connectors.errors import FixInput, Reauthenticate
from app.connectors.kinds import BatchResult, CarOutcome, FeedItem, FeedSink
from app.connectors.registry import register
from app.listings.vehicle import Vehicle

DEFAULT_BASE_URL = "https://auterio.net"
INGEST = "/api/vehicles/ingest"
OPERATION = "ingest"
INVALID = "Invalid payload or no valid vehicles"
DEFAULT_BISECT_REQUESTS = 40
_FIELD = re.compile(r"^([a-z_]+) ")


@dataclass(frozen=True)
class _Entry:
    car_ref: str
    body: dict[str, Any]


@register
class AuterioConnector(FeedSink):
    """Auterio ingest API (``https://auterio.net``, Bearer API key). See the module doc."""

    slug = "auterio"
    display_name = "Auterio"
    default_base_url = DEFAULT_BASE_URL
    credential_fields = ("api_key",)
    auth = StaticKey("api_key")  # Authorization: Bearer <key>
    # Auterio publishes no rate limit; this only spaces a resync's requests sensibly.
    rate_limits = RateLimits(reads=60, writes=60, window=60.0)
    batch_cap: ClassVar[int] = 1000
    removal_carries_vehicle: ClassVar[bool] = True  # a removal is found by its VIN
    option_names = ("language", "send_cost_price", "location", "bisect_max_requests")

    @classmethod
    def validate_options(cls, options: Mapping[str, Any]) -> dict[str, str]:
        return mapping.validate_options(options)

    def check_credentials(self) -> dict[str, Any]:
        """Auterio has no read endpoint, so the probe is an ingest of no vehicles: the key is
        checked first (401 → ``Reauthenticate``), then the empty batch is refused with a 400
        that writes nothing, which proves the key was accepted."""
        with self.operation():
            try:
                response = self.request("write", "POST", INGEST, operation="check", json_body={"vehicles": []})
            except FixInput:
                return {"name": "key accepted (an empty batch, refused as expected)"}
        body = http.json_or_none(response)
        return {"name": str(body.get("source") or "key accepted")} if isinstance(body, Mapping) else {}

    # ---- operations ------------------------------------------------------------------------

    def preflight(self, item: FeedItem) -> CarOutcome | None:
        if item.removed:
            if item.vehicle is None or not (item.vehicle.vin or "").strip():
                return CarOutcome("skipped", "Auterio keys vehicles by VIN; this car has none to mark baja",
                                  {"vin": "required by Auterio"})
            return None
        problems = mapping.missing_required(item.vehicle)
        if problems:
            return CarOutcome("skipped", "Not sent to Auterio: " + ", ".join(sorted(problems)) + " missing",
                              problems)
        return None

    def preview(self, vehicle: Vehicle) -> dict[str, Any]:
        return mapping.vehicle_payload(vehicle, self.options)

    def send_batch(self, items: Sequence[FeedItem], *, full: bool = False) -> BatchResult:
        outcomes: dict[str, CarOutcome] = {}
        entries: list[_Entry] = []
        first_with: dict[str, str] = {}
        for item in items:
            if item.vehicle is None:
                outcomes[item.car_ref] = CarOutcome("skipped", "nothing known to send", {"vin": "unknown"})
                continue
            body = (mapping.removal_payload(item.vehicle) if item.removed
                    else mapping.vehicle_payload(item.vehicle, self.options))
            vin = body["vin"]
            if vin in first_with:
                outcomes[item.car_ref] = CarOutcome(
                    "skipped", f"car {first_with[vin]} has the same VIN; Auterio keeps one vehicle per VIN",
                    {"vin": "duplicate"})
                continue
            first_with[vin] = item.car_ref
            entries.append(_Entry(item.car_ref, body))
        counts = {"imported": 0, "skipped": 0, "requests": 0}
        with self.operation() as calls:
            if entries:
                self._deliver(entries, outcomes, counts)
        return BatchResult(outcomes, operation=OPERATION, counts=counts, calls=list(calls),
                           payloads={entry.car_ref: entry.body for entry in entries})

    def _deliver(self, entries: list[_Entry], outcomes: dict[str, CarOutcome], counts: dict[str, int]) -> None:
        try:
            answered = [(entries, self._ingest(entries, counts))]
        except Refused as exc:
            budget = int(self.options.get("bisect_max_requests", DEFAULT_BISECT_REQUESTS))
            found = isolate(entries, exc, lambda group: self._ingest(group, counts), max_requests=budget)
            answered = found.answers
            for entry, reason in found.culprits:
                outcomes[entry.car_ref] = _refused_alone(reason)
            for entry in found.unresolved:
                outcomes[entry.car_ref] = CarOutcome(
                    "failed", f"refused with other cars; not isolated within {budget} requests, retrying")
        for _group, answer in answered:
            outcomes.update(answer)

    def _ingest(self, group: Sequence[_Entry], counts: dict[str, int]) -> dict[str, CarOutcome]:
        """One request; per-car outcomes by ref, or :class:`Refused` for a 400."""
        counts["requests"] += 1
        try:
            response = self.request("write", "POST", INGEST, operation=OPERATION,
                                    json_body={"vehicles": [entry.body for entry in group]})
        except FixInput as exc:
            if exc.status != 400:
                raise
            errors = exc.details.get("errors")
            raise Refused(exc.details.get("error") or INVALID, _by_position(errors, group)) from exc
        body = http.json_or_none(response)
        body = body if isinstance(body, Mapping) else {}
        counts["imported"] += int(body.get("imported") or 0)
        counts["skipped"] += int(body.get("skipped") or 0)
        outcomes = {entry.car_ref: CarOutcome("accepted") for entry in group}
        for position, reason in _by_position(body.get("errors"), group).items():
            outcomes[group[position].car_ref] = CarOutcome("skipped", reason, _fields_of(reason))
        return outcomes

    def classify(self, response: requests.Response) -> None:
        """Auterio answers errors as ``{"success": false, "error": "<message>", "errors"?}``."""
        body = http.json_or_none(response)
        if not isinstance(body, Mapping) or not isinstance(body.get("error"), str):
            return super().classify(response)
        message = body["error"]
        common: dict[str, Any] = {"status": response.status_code,
                                  "request_id": http.request_id_of(response, body)}
        if response.status_code in (401, 403):
            exc: Exception = Reauthenticate(f"Auterio rejected the API key: {message}", **common)
        elif response.status_code == 400:
            exc = FixInput(f"Auterio refused the batch: {message}", fields={}, **common)
        else:
            return super().classify(response)
        exc.details = dict(body)  # type: ignore[attr-defined]
        raise exc


def _by_position(errors: Any, group: Sequence[_Entry]) -> dict[int, str]:
    """Auterio's ``errors`` (``index`` in the request, ``vin``, ``error``) by position in ``group``."""
    if not isinstance(errors, list):
        return {}
    by_vin = {entry.body["vin"]: i for i, entry in enumerate(group)}
    found: dict[int, str] = {}
    for error in errors:
        if not isinstance(error, Mapping):
            continue
        index, vin = error.get("index"), error.get("vin")
        position = index if isinstance(index, int) and not isinstance(index, bool) else None
        if position is None or not 0 <= position < len(group):
            position = by_vin.get(str(vin).strip().upper()) if vin else None
        if position is not None:
            found[position] = f"Auterio: {error.get('error') or INVALID}"
    return found


def _fields_of(reason: str) -> dict[str, str]:
    """``"year must be between 1900 and 2027; doors must be…"`` → ``{"year": "must be…", …}``."""
    fields: dict[str, str] = {}
    for problem in reason.removeprefix("Auterio: ").split("; "):
        match = _FIELD.match(problem)
        if match:
            fields[match.group(1)] = problem[match.end():]
    return fields


def _refused_alone(reason: str) -> CarOutcome:
    text = reason if reason.startswith("Auterio") else f"Auterio refused this vehicle: {reason}"
    return CarOutcome("skipped", text, _fields_of(text))
