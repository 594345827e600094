"""One run of a feed destination's batch (``send_batch``) or whole stock (``send_full``):
decide what goes, guard a whole stock, send in chunks, record each car's outcome, acknowledge."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Sequence
from typing import Any

from rq import get_current_job
from sqlalchemy import inspect as sa_inspect
from sqlalchemy import select

from app.connectors.base import ConnectorError, FixInput, Reauthenticate, RetryAt, RetryLater
from app.connectors.kinds import BatchResult, CarOutcome, FeedItem, FeedSink
from app.extensions import db, redis_store
from app.listings import history
from app.listings.models import Car, SyncAttempt, SyncRun, SyncState
from app.listings.statuses import ListingStatus, SyncStatus
from app.sites.models import Destination
from app.sync import destinations as dest_service
from app.sync import feed_status
from app.sync.batch_window import ack, pending_key, put_back, schedule
from app.sync.breaker import Breaker
from app.sync.stock import in_whole_stock
from app.sync.transport import clamp_reset
from app.sync.vehicles import new_state, use_media, vehicle_of
from app.timeutil import utcnow

log = logging.getLogger("forecourt.sync.batches")


def _id(car: Car) -> int:
    """A car's id without loading it (after a commit every attribute would reload, one query each)."""
    return sa_inspect(car).identity[0]


class BatchRun:
    """One run of ``send_batch``: decide, send in chunks, record, acknowledge."""

    def __init__(self, dest: Destination, snapshot: dict[int, int], breaker: Breaker, queue_name: str,
                 *, full: bool = False) -> None:
        self.dest, self.snapshot, self.breaker, self.queue_name = dest, snapshot, breaker, queue_name
        self.full = full
        self.omitted: list[tuple[Car, SyncStatus]] = []  # left out of a whole-stock feed
        self.connector: FeedSink = dest_service.build_connector(dest)  # type: ignore[assignment]
        ids = sorted(snapshot)
        self.cars = {car.id: car for car in db.session.scalars(select(Car).where(Car.id.in_(ids)))}
        self.states = {s.car_id: s for s in db.session.scalars(
            select(SyncState).where(SyncState.destination_id == dest.id, SyncState.car_id.in_(ids)))}
        self.counts = {"accepted": 0, "skipped": 0, "failed": 0, "requests": 0}
        self.run_record: SyncRun | None = None  # the record of the request being recorded
        job = get_current_job()
        # On the job's last attempt a failure is final: the job goes to the failed registry.
        self.failed_status = SyncStatus.RETRYING if job and job.retries_left else SyncStatus.FAILED

    def state(self, car: Car) -> SyncState:
        if _id(car) not in self.states:
            self.states[_id(car)] = new_state(car, self.dest)
        return self.states[_id(car)]

    def run(self) -> dict[str, Any]:
        items, done = self._prepare()
        db.session.commit()
        ack(self.dest.id, done)
        if self.full:
            # The remote removes whatever a whole-stock feed leaves out: one that would empty the
            # dealer, or remove most of its listings, waits for a human (see feed_status).
            self._reload(list(self.snapshot))
            listed = [s.car_id for s in self.states.values() if s.status == SyncStatus.SYNCED]
            held = feed_status.guard(self.dest, listed, [_id(car) for car, _ in items])
            db.session.commit()
            if held:
                return {"outcome": "held", "reason": held["reason"], **self.counts}
        # A whole-stock feed is one request whatever its size: a second would replace the first.
        cap = len(items) if self.full else max(1, self.connector.batch_cap)
        chunks = [items[i:i + cap] for i in range(0, len(items), cap)]
        for index, chunk in enumerate(chunks):
            unsent = [car for part in chunks[index:] for car, _ in part]
            try:
                result = self.connector.send_batch([item for _, item in chunk], full=self.full)
            except RetryAt as exc:
                self._unsent(unsent, SyncStatus.WAITING, exc)
                put_back(clamp_reset(exc.at, time.time()), self.dest.id, self.queue_name)
                return {"outcome": "rescheduled", "at": exc.at, **self.counts}
            except RetryLater as exc:
                self._unsent(unsent, self.failed_status, exc)
                if opened := self.breaker.failure():
                    log.warning("circuit opened", extra={"destination": self.dest.slug, "until": opened})
                db.session.commit()
                raise
            except Reauthenticate as exc:
                self._unsent(unsent, SyncStatus.PAUSED, exc)
                dest_service.pause(self.dest, exc.message)
                db.session.commit()
                return {"outcome": "paused", "reason": exc.message, **self.counts}
            except ConnectorError as exc:  # FixInput and the rest: the request itself was refused
                self._refused(chunk, exc)
                continue
            self.breaker.success()
            self.counts["requests"] += 1
            self.run_record = feed_status.record_run(self.dest, result, full=self.full, sent=len(chunk))
            if self.full:
                feed_status.accepted_full(self.dest, self.run_record)
            self._record(chunk, result)
        for car, status in self.omitted:  # the whole-stock feed removed them remotely
            self._settle(car, self.state(car), status)
        db.session.commit()
        failed = self.counts["failed"]
        if failed and self.full:
            # The feed went; its failed cars follow in the next partial batch.
            for car_id in (s.car_id for s in self.states.values() if s.status == self.failed_status):
                redis_store.client.hincrby(pending_key(self.dest.id), str(car_id), 1)
            schedule(self.dest)
        return {"outcome": "sent", **self.counts}  # failed cars: the caller raises (send_batch)

    # ---- deciding what goes -----------------------------------------------------------------

    def _prepare(self) -> tuple[list[tuple[Car, FeedItem]], dict[int, int]]:
        """The cars to send, and those settled without a request (acknowledged at once)."""
        with db.session.no_autoflush:  # a flush per photo lookup cost seconds on a whole stock
            return self._prepare_all()

    def _prepare_all(self) -> tuple[list[tuple[Car, FeedItem]], dict[int, int]]:
        items: list[tuple[Car, FeedItem]] = []
        done: dict[int, int] = {}
        for car_id in sorted(self.snapshot):
            car = self.cars.get(car_id)
            if car is None:
                done[car_id] = self.snapshot[car_id]
                continue
            state = self.state(car)
            listed = state.last_synced_at is not None and state.status != SyncStatus.DELETED
            if self.full and not in_whole_stock(car.status):
                gone = SyncStatus.DELETED if car.status == ListingStatus.DELETED else SyncStatus.NOT_LISTED
                self.omitted.append((car, gone))
            elif car.status is None or (car.status == ListingStatus.INACTIVE and not listed):
                self._settle(car, state, SyncStatus.NOT_LISTED)
            elif car.status == ListingStatus.DELETED and not listed:
                self._settle(car, state, SyncStatus.DELETED)
            else:
                removed = car.status == ListingStatus.DELETED
                # Auterio has no delete: a removal is the car's last data with status "baja".
                carries = removed and self.connector.removal_carries_vehicle
                vehicle = vehicle_of(car, self.dest) if carries or not removed else None
                photo_warnings = use_media(vehicle) if vehicle and not removed else []
                item = FeedItem(car.car_ref, vehicle, removed=removed)
                state.warnings = photo_warnings + self.connector.warnings(item)
                skipped = self.connector.preflight(item)
                if skipped is None:
                    items.append((car, item))
                    continue
                self._outcome(car, state, skipped, None)
            done[car_id] = self.snapshot[car_id]
        return items, done

    def _settle(self, car: Car, state: SyncState, status: SyncStatus) -> None:
        state.status, state.last_error, state.attempts = status, None, 0
        state.last_attempt_at = utcnow()

    # ---- recording --------------------------------------------------------------------------

    def _reload(self, ids: Sequence[int]) -> None:
        """One query per table instead of one per expired object after a commit (2,000 cars:
        5 s of lazy loads before)."""
        for start in range(0, len(ids), 500):
            part = ids[start:start + 500]
            db.session.scalars(select(Car).where(Car.id.in_(part))).all()
            db.session.scalars(select(SyncState).where(SyncState.destination_id == self.dest.id,
                                                       SyncState.car_id.in_(part))).all()

    def _record(self, chunk: Sequence[tuple[Car, FeedItem]], result: BatchResult) -> None:
        acked: dict[int, int] = {}
        self._reload([_id(car) for car, _ in chunk])
        for car, _ in chunk:
            outcome = result.outcomes.get(car.car_ref, CarOutcome("accepted"))
            self._outcome(car, self.state(car), outcome, result)
            if outcome.status != "failed":
                acked[car.id] = self.snapshot[car.id]
        db.session.commit()
        # Only after the commit; a car whose generation moved on stays for the next batch.
        ack(self.dest.id, acked)
        ids = list(acked)
        still = redis_store.client.hmget(pending_key(self.dest.id), [str(i) for i in ids]) if ids else []
        moved = [car_id for car_id, generation in zip(ids, still, strict=True) if generation is not None]
        if moved:
            self._reload(moved)
            for car_id in moved:
                self.states[car_id].status = SyncStatus.PENDING
            db.session.commit()

    def _outcome(self, car: Car, state: SyncState, outcome: CarOutcome, result: BatchResult | None) -> None:
        now = utcnow()
        state.last_attempt_at = now
        self.counts[outcome.status] += 1
        if outcome.status == "accepted":
            removed = car.status == ListingStatus.DELETED
            state.status = SyncStatus.DELETED if removed else SyncStatus.SYNCED
            state.remote_status = None if removed else car.status
            state.last_synced_at, state.last_error, state.attempts = now, None, 0
            if removed:
                state.remote_id = state.external_ref = state.fingerprint = state.payload = None
        else:
            retrying = outcome.status == "failed"
            state.status = (self.failed_status if retrying else SyncStatus.SKIPPED)
            state.attempts = (state.attempts or 0) + (1 if retrying else 0)
            state.last_error = {"type": "Skipped" if not retrying else "Failed", "message": outcome.reason,
                                "fields": dict(outcome.fields), "at": now.isoformat()}
        verdict = {"accepted": "done", "skipped": "skipped", "failed": "retry"}[outcome.status]
        self._attempt(car, result, verdict, outcome.reason)
        if result is not None:  # sent: the car's history keeps what went and how it ended
            call = result.calls[-1] if result.calls else None
            history.record_payload(car.id, self.dest, operation=result.operation, outcome=verdict,
                                   payload=result.payloads.get(car.car_ref),
                                   http_status=call.status if call else None, error=outcome.reason)

    def _unsent(self, cars: Iterable[Car], status: SyncStatus, exc: ConnectorError) -> None:
        """The cars a whole-request failure left unsent: still pending, with the reason shown."""
        for car in cars:
            state = self.state(car)
            state.status = status
            state.last_attempt_at = utcnow()
            if status != SyncStatus.WAITING:
                state.attempts = (state.attempts or 0) + 1
                state.last_error = {**exc.to_dict(), "at": utcnow().isoformat()}
        outcome = {SyncStatus.WAITING: "rate_limited", SyncStatus.PAUSED: "reauth",
                   SyncStatus.FAILED: "failed"}.get(status, "retry")
        self._attempt_calls(exc, outcome)

    def _refused(self, chunk: Sequence[tuple[Car, FeedItem]], exc: ConnectorError) -> None:
        """The remote refused the request as a whole (a 4xx): each car shows why, and waits to change."""
        acked = {}
        for car, _ in chunk:
            state = self.state(car)
            state.status = SyncStatus.ERROR
            state.attempts = (state.attempts or 0) + 1
            state.last_attempt_at = utcnow()
            state.last_error = {**exc.to_dict(), "at": utcnow().isoformat()}
            acked[car.id] = self.snapshot[car.id]
        feed_status.refused(self.dest, exc)
        self._attempt_calls(exc, "fix_input" if isinstance(exc, FixInput) else "error")
        db.session.commit()
        ack(self.dest.id, acked)

    def _attempt(self, car: Car, result: BatchResult | None, outcome: str, error: str | None) -> None:
        call = result.calls[-1] if result and result.calls else None
        job = get_current_job()
        db.session.add(SyncAttempt(
            car_id=car.id, destination_id=self.dest.id, job_id=job.id if job else None,
            run_id=self.run_record.id if result and self.run_record else None,
            operation=(result.operation if result else "preflight")[:16],
            method=call.method if call else None, path=call.path[:500] if call else None,
            http_status=call.status if call else None, duration_ms=call.duration_ms if call else None,
            outcome=outcome, request_id=call.request_id if call else None, error=error,
        ))

    def _attempt_calls(self, exc: ConnectorError, outcome: str) -> None:
        job = get_current_job()
        for call in exc.calls or [None]:
            db.session.add(SyncAttempt(
                car_id=None, destination_id=self.dest.id, job_id=job.id if job else None,
                operation=(call.operation if call else "batch")[:16], method=call.method if call else None,
                path=call.path[:500] if call else None, http_status=call.status if call else exc.status,
                duration_ms=call.duration_ms if call else None, outcome=outcome,
                request_id=call.request_id if call else exc.request_id, error=exc.message,
            ))
