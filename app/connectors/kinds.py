"""The four kinds of connector, and the operations the engine calls on each.

The engine dispatches on ``kind`` (never on ``getattr`` probing), so a new destination
declares its kind by subclassing one of these and overriding the kind's operations:

============  ===========================================  ==========================
kind          operations the engine calls                  shaped like
============  ===========================================  ==========================
listing       ``external_ref``, ``upsert``, ``delete``     Carzle: one call per car
feed          ``preflight``, ``send_batch``                Carslink, Auterio: many cars
lead          ``deliver``                                  Roadster: one enquiry
source        ``pull``                                     Carfluence: pages to read
============  ===========================================  ==========================

Whole-request failures are raised as the exceptions in :mod:`app.connectors.errors`
(``RetryLater``, ``RetryAt``, ``FixInput``, ``Reauthenticate``); per-car results of a feed
come back as :class:`CarOutcome` values, one per car sent.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar, Literal

from app.connectors.base import Call, Connector, ConnectorKind, FixInput, RemoteState, SyncOutcome
from app.connectors.payload import canonical_json
from app.listings.vehicle import Vehicle

__all__ = [
    "AdoptionMatch", "BatchResult", "CarOutcome", "ConnectorKind", "FeedItem", "FeedSink",
    "InventorySource", "LeadResult", "LeadSink", "ListingSink", "Page",
]


# --------------------------------------------------------------------------- listing sinks


class ListingSink(Connector):
    """One remote object per car: create it, update it, delete it."""

    kind: ClassVar[ConnectorKind] = ConnectorKind.LISTING

    def external_ref(self, vehicle: Vehicle) -> str | None:
        """The reference the remote will know this car by, committed before a first create
        so that a create which timed out can be found again. None: the remote has none."""
        return None

    def upsert(
        self,
        vehicle: Vehicle,
        state: RemoteState | None,
        *,
        previous_payload: dict[str, Any] | None = None,
    ) -> SyncOutcome:
        raise NotImplementedError

    def delete(self, vehicle: Vehicle, state: RemoteState | None) -> SyncOutcome:
        raise NotImplementedError

    def preview(self, vehicle: Vehicle) -> dict[str, Any]:
        """The payload a create would send, built without sending anything (the dry run).
        By default the canonical vehicle's non-empty fields; connectors show their own body."""
        return _non_empty(vehicle)

    # ---- reconciliation -------------------------------------------------------------------
    # Fields the remote rewrites (CDN image URLs, enrichment): they cannot show drift.
    drift_ignored: ClassVar[frozenset[str]] = frozenset()

    def list_remote(self, updated_since: datetime | None = None) -> Iterator[dict[str, Any]]:
        """Every remote listing (``id``, ``externalRef`` and the fields last sent), page by page."""
        raise NotImplementedError

    def stale_fields(self, sent: Mapping[str, Any] | None, remote: Mapping[str, Any]) -> list[str]:
        """The fields whose remote value differs from what was last sent: drift to repair."""
        if not sent:
            return []
        return [
            key for key, value in sent.items()
            if key not in self.drift_ignored and key in remote
            and canonical_json(remote[key]) != canonical_json(value)
        ]

    def adopt(
        self, local_vehicles: Iterable[Vehicle], remote_listings: Iterable[Mapping[str, Any]]
    ) -> list[AdoptionMatch]:
        """Remote listings created outside Forecourt, matched to local cars. None by default:
        a remote with no such listings, or no safe way to match them, adopts nothing."""
        return []

    def claim(self, remote_id: str, ref: str) -> SyncOutcome:
        """Take over an adopted listing by giving it ``ref``; called only for ``adopt``'s matches."""
        raise NotImplementedError


@dataclass
class AdoptionMatch:
    """A listing created on the remote's dashboard matched to a local car, ready to ``claim``."""

    remote_id: str
    external_ref: str
    car_ref: str
    matched_by: str  # e.g. "vin" | "title_year_price"
    remote: dict[str, Any]


# --------------------------------------------------------------------------- feed sinks

CarStatus = Literal["accepted", "skipped", "failed"]


@dataclass(frozen=True)
class FeedItem:
    """One car in a batch: its latest canonical data, or a removal."""

    car_ref: str
    vehicle: Vehicle | None
    removed: bool = False


@dataclass(frozen=True)
class CarOutcome:
    """What happened to one car of a batch. ``failed`` cars are retried; ``skipped`` ones
    wait for the car to change (the reason says what to fix)."""

    status: CarStatus
    reason: str | None = None
    fields: Mapping[str, str] = field(default_factory=dict)


@dataclass
class BatchResult:
    """The remote's answer to one batch request."""

    outcomes: dict[str, CarOutcome]  # by car_ref; a car sent but missing here counts as accepted
    operation: str  # the connector's own name for it, for the attempt log (e.g. "feed:partial")
    remote_id: str | None = None  # the remote's id for this batch (Carslink's sync_id)
    counts: dict[str, int] = field(default_factory=dict)
    calls: list[Call] = field(default_factory=list)
    payloads: dict[str, dict[str, Any]] = field(default_factory=dict)  # by car_ref: what was sent for it


class FeedSink(Connector):
    """Many cars per request: a batch of changed cars, or a dealer's whole stock."""

    kind: ClassVar[ConnectorKind] = ConnectorKind.FEED
    batch_cap: ClassVar[int] = 1000  # most cars one request may carry
    batch_window: ClassVar[float] = 30.0  # default seconds changes are gathered per destination
    supports_full: ClassVar[bool] = False  # whether ``send_batch(full=True)`` replaces the stock
    # Whether a removal's FeedItem carries the car's last known data (a remote that finds
    # cars by a field of theirs, e.g. Auterio by VIN); otherwise its ``vehicle`` is None.
    removal_carries_vehicle: ClassVar[bool] = False

    def preflight(self, item: FeedItem) -> CarOutcome | None:
        """A ``skipped`` outcome for a car the remote would refuse; None to send it.
        By default a car whose photos break the connector's photo rules is skipped."""
        if item.vehicle is None:
            return None
        try:
            self.check_images(item.vehicle)
        except FixInput as exc:
            return CarOutcome("skipped", exc.message, dict(exc.fields or {}))
        return None

    def warnings(self, item: FeedItem) -> list[str]:
        """Values of the car the connector leaves out because the remote would refuse them
        (shown on the car's status). None by default."""
        return []

    def send_batch(self, items: Sequence[FeedItem], *, full: bool = False) -> BatchResult:
        """Send at most ``batch_cap`` items in one request."""
        raise NotImplementedError

    def preview(self, vehicle: Vehicle) -> dict[str, Any]:
        """The car's entry as a batch would carry it, built without sending (the dry run)."""
        return _non_empty(vehicle)


def _non_empty(vehicle: Vehicle) -> dict[str, Any]:
    return {k: v for k, v in vehicle.to_dict().items() if v not in (None, "", [])}


# --------------------------------------------------------------------------- lead sinks


@dataclass
class LeadResult:
    remote_id: str | None
    landing_url: str | None = None
    duplicate: bool = False
    calls: list[Call] = field(default_factory=list)


class LeadSink(Connector):
    """One shopper's enquiry at a time."""

    kind: ClassVar[ConnectorKind] = ConnectorKind.LEAD

    def deliver(self, lead: Mapping[str, Any]) -> LeadResult:
        raise NotImplementedError

    def landing_link(self, lead: Mapping[str, Any]) -> str | None:
        """A page the shopper can be sent to at once, built locally, while the lead itself
        waits for the remote (Roadster's Express link). None: the remote has none."""
        return None


# --------------------------------------------------------------------------- inventory sources


@dataclass
class Page:
    items: list[dict[str, Any]]
    next_cursor: str | None  # None: this was the last page
    total: int | None = None
    calls: list[Call] = field(default_factory=list)


class InventorySource(Connector):
    """An inventory Forecourt reads from, page by page."""

    kind: ClassVar[ConnectorKind] = ConnectorKind.SOURCE

    def pull(self, cursor: str | None = None, *, filters: Mapping[str, Any] | None = None) -> Page:
        raise NotImplementedError
