"""Turning a car's pending events into its canonical state in the database.

Called by the sync job with the events the debouncer collected. Events are applied in
``modified_at`` order, then arrival order; an event older than what the car already
reflects never wins. WordPress events carry the whole post, so the last one replaces the
car; DMS partial updates carry some fields, so they are merged.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from marshmallow import ValidationError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from app.extensions import db
from app.listings import history, merge
from app.listings.apply_errors import EventNotApplied
from app.listings.inbound_events import InboundEvent
from app.listings.models import Car
from app.listings.statuses import ListingStatus
from app.listings.vehicle import DELETED, Vehicle
from app.messages import flatten_messages
from app.sites.models import Site

log = logging.getLogger("forecourt.listings")
PUBLISHED = {ListingStatus.ACTIVE, ListingStatus.SOLD, ListingStatus.RESERVED, ListingStatus.COMING_SOON}


@dataclass
class ApplyResult:
    car: Car | None
    applied: int = 0
    stale: int = 0
    failed: int = 0
    ignored: list[str] = field(default_factory=list)


def _ts(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp()
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def _order_key(indexed: tuple[int, dict[str, Any]]) -> tuple[float, int]:
    index, event = indexed
    return (event.get("modified_at") or event.get("received_at") or 0.0, index)


def get_or_create_car(site_id: str, car_ref: str, source: str) -> Car:
    car = db.session.scalar(select(Car).where(Car.site_id == site_id, Car.car_ref == car_ref))
    if car is None:
        car = Car(site_id=site_id, car_ref=car_ref, source=source, vehicle={}, mapping_errors={})
        db.session.add(car)
    return car


def apply_events(site: Site, car_ref: str, events: list[dict[str, Any]]) -> ApplyResult:
    """Fold the events into the car row (not committed: the caller commits, then acks)."""
    if not events:
        car = db.session.scalar(select(Car).where(Car.site_id == site.id, Car.car_ref == car_ref))
        return ApplyResult(car=car)
    channel = CHANNELS[events[0].get("channel", "wordpress")]
    car = get_or_create_car(site.id, car_ref, channel.car_source)
    result = ApplyResult(car=car)
    # Each source is ordered against its own versions: a WordPress save older than a pull
    # that came later is still the newest WordPress has said (merge by VIN).
    current: dict[str, float] = {}
    for _, event in sorted(enumerate(events), key=_order_key):
        when = event.get("modified_at") or event.get("received_at") or 0.0
        source = source_of(event)
        if source not in current:
            current[source] = _latest_from(car, source)
        if when < current[source]:
            result.stale += 1
            _record(site.id, event, car_ref, "stale", "an older version arrived after a newer one")
            continue
        try:
            with db.session.begin_nested():
                reason = CHANNELS[event.get("channel", "wordpress")].apply(site, car, event)
        except ValidationError as exc:  # invalid by definition: set aside, visibly
            result.failed += 1
            problems = "; ".join(f"{k}: {v}" for k, v in flatten_messages(exc.messages).items())
            _record(site.id, event, car_ref, "failed", f"invalid event: {problems}")
            continue
        except Exception as exc:  # our bug, not the sender's: keep the event queued (see apply_errors)
            log.exception("event could not be applied; kept queued", extra={"car": f"{site.id}/{car_ref}"})
            raise EventNotApplied(f"{type(exc).__name__}: {exc}") from exc
        if reason:
            result.ignored.append(reason)
            _record(site.id, event, car_ref, "ignored", reason)
            continue
        current[source] = max(current[source], when)
        modified = datetime.fromtimestamp(current[source], UTC)
        car.source_modified_at = max(filter(None, (_aware(car.source_modified_at), modified)))
        merge_sources(site, car, source, modified)
        result.applied += 1
        _record(site.id, event, car_ref, "applied", None)
    return result


def source_of(event: dict[str, Any]) -> str:
    """The source an event speaks for: its channel, or the pulled source's name."""
    channel = event.get("channel", "wordpress")
    return str(event.get("source") or channel) if channel == "source" else channel


def _aware(value: datetime | None) -> datetime | None:
    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


def _latest_from(car: Car, source: str) -> float:
    version = history.latest_versions(car.id).get(source)
    if version is not None:
        return _ts(version.modified_at) or 0.0
    # A car from before versions were kept: its one source's time still orders it.
    return (_ts(car.source_modified_at) or 0.0) if car.source == source or car.id is None else 0.0


def merge_sources(site: Site, car: Car, source: str, modified: datetime | None) -> None:
    """Keep this source's version, then make the car the merge of every source's latest."""
    history.record_version(car, source, removed=car.status == DELETED, modified_at=modified)
    db.session.flush()
    merge_cars(site, car)


def merge_cars(site: Site, car: Car) -> None:
    """Make the car the merge of every source's latest version (nothing to do with one source)."""
    versions = history.latest_versions(car.id)
    if len(versions) < 2:
        return
    merged = merge.merge(versions, (site.options or {}).get("merge"))
    merged.vehicle["car_ref"] = car.car_ref
    car.vehicle = Vehicle.from_dict(merged.vehicle).to_dict()
    car.status = merged.status
    if car.status in PUBLISHED:
        car.ever_published = True


def _apply_wordpress(site: Site, car: Car, event: dict[str, Any]) -> str | None:
    from app.listings.formats import WordPressEvent, is_ignorable, load_wordpress_event
    from app.listings.presets import get_preset, map_post
    from app.listings.status import decide_status

    if "post" in event:
        post = WordPressEvent.from_doc(event["post"])
    else:  # queued by a release that kept the raw body: validated the old way, once more
        body = event["body"]
        post = load_wordpress_event(json.loads(body) if isinstance(body, str) else body,
                                    event_hint=event.get("hint"))
    reason = is_ignorable(post, site.car_post_types)
    if reason:
        return reason
    options = site.options or {}
    preset = get_preset(site.preset, options.get("mapping") or None)
    mapped = map_post(post, preset, site_ref_scheme="post_id")
    status = decide_status(post.event, post.post_status or "", mapped.flag_status, car.ever_published)
    if status == DELETED:
        # A deletion payload may be a bare id; keep the last good data for the audit trail.
        car.status = DELETED
        return None
    vehicle = mapped.vehicle
    vehicle.car_ref = car.car_ref
    vehicle.status = status
    car.vehicle = vehicle.to_dict()
    car.mapping_errors = dict(mapped.errors)
    car.status = status
    if status in PUBLISHED:
        car.ever_published = True
    return None


def _apply_dms(site: Site, car: Car, event: dict[str, Any]) -> str | None:
    from app.listings.dms import vehicle_from_auterio, vehicle_from_carslink

    if event.get("delete"):
        car.status = DELETED
        return None
    record = event["record"]
    mapper = vehicle_from_auterio if event["format"] == "auterio" else vehicle_from_carslink
    mapped = mapper(record)
    fresh = mapped.vehicle.to_dict()
    site_currency = (site.options or {}).get("currency")
    if site_currency and not record.get("currency"):
        # The DMS's home currency is only a guess; the dealer's site says what it prices in.
        fresh["currency"] = site_currency
    if event.get("mode") == "partial" and car.vehicle:
        # A partial update names only what changed; everything else stays as it was.
        merged = dict(car.vehicle)
        merged.update({k: v for k, v in fresh.items() if v not in (None, [], "")})
        fresh = merged
    fresh["car_ref"] = car.car_ref
    car.vehicle = Vehicle.from_dict(fresh).to_dict()
    car.mapping_errors = dict(mapped.errors)
    car.status = fresh.get("status") or ListingStatus.ACTIVE
    car.missing_feeds = 0
    car.missing_since = None
    if car.status in PUBLISHED:
        car.ever_published = True
    return None


def _apply_pulled(site: Site, car: Car, event: dict[str, Any]) -> str | None:
    """A car read from an inventory source: the source connector already mapped it."""
    if event.get("delete"):
        car.status = DELETED
        return None
    fresh = {**event["vehicle"], "car_ref": car.car_ref}
    car.vehicle = Vehicle.from_dict(fresh).to_dict()
    car.mapping_errors = dict(event.get("errors") or {})
    car.status = fresh.get("status") or ListingStatus.ACTIVE
    if car.status in PUBLISHED:
        car.ever_published = True
    return None


@dataclass(frozen=True)
class Channel:
    """Where a car's events come from: what its rows are labelled and how an event applies."""

    car_source: str
    apply: Callable[[Site, Car, dict[str, Any]], str | None]


# Keyed by an event's ``channel``; a new source of cars is one more row.
CHANNELS: dict[str, Channel] = {
    "wordpress": Channel("wordpress", _apply_wordpress),
    "dms": Channel("dms", _apply_dms),
    "source": Channel("source", _apply_pulled),
}


def delivery_key(delivery_id: str) -> str:
    """Ids up to 256 characters arrive (webhook-id, DMS feed ids): long ones are hashed to fit."""
    if len(delivery_id) <= 128:
        return delivery_id
    return "sha256:" + hashlib.sha256(delivery_id.encode()).hexdigest()


def _record(site_id: str, event: dict[str, Any], car_ref: str, outcome: str, reason: str | None) -> None:
    delivery = event.get("delivery_id")
    if not delivery:
        return
    delivery = delivery_key(str(delivery))
    reason = reason[:300] if reason else reason
    exists = db.session.scalar(
        select(InboundEvent.id).where(InboundEvent.site_id == site_id, InboundEvent.delivery_id == delivery)
    )
    if exists:
        return
    try:
        with db.session.begin_nested():
            db.session.add(
                InboundEvent(
                    site_id=site_id,
                    delivery_id=delivery,
                    channel=event.get("channel", "wordpress"),
                    family=event.get("family"),
                    event=event.get("event"),
                    car_ref=car_ref[:255],
                    outcome=outcome,
                    reason=reason,
                    request_id=event.get("request_id"),
                    received_at=datetime.fromtimestamp(event.get("received_at") or 0, UTC),
                )
            )
    except IntegrityError:
        log.info("inbound event %s already recorded", delivery)
    except SQLAlchemyError:
        # The audit row is not worth blocking the car's sync for.
        log.exception("could not record inbound event %s", delivery)
