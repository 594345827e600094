"""Admin API: sites, cars and their sync state, Sync Now, runs, history, replay."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify, request
from marshmallow import ValidationError
from rq.job import Job
from rq.registry import FailedJobRegistry
from sqlalchemy import select

from app.api.lookups import car_or_404, site_or_404
from app.auth import keys
from app.connectors.base import ConnectorKind
from app.errors import NotFound, Unauthorized
from app.extensions import db, redis_store
from app.jobs import enqueue
from app.jobs.queues import HIGH, QUEUES
from app.leads import stats as lead_stats
from app.listings import apply_errors, merge
from app.listings.models import Car, SyncAttempt, SyncRun, SyncState
from app.sites.models import Destination, Site
from app.sync import engine
from app.sync.destinations import connector_class
from app.timeutil import isoformat, utcnow
from app.webhooks.signatures import SignatureError, verify_standard_webhook

bp = Blueprint("api", __name__, url_prefix="/api/v1")


def _authorize_sync(site: Site) -> None:
    """Sync Now comes from the dealer's WordPress (signed with the site's secret) or an admin key."""
    if request.headers.get("webhook-signature"):
        try:
            webhook_id = verify_standard_webhook(
                request.headers, request.get_data(), site.webhook_secrets,
                tolerance=current_app.config["FORECOURT"].webhook_tolerance_seconds,
            )
        except SignatureError as exc:
            raise Unauthorized(exc.message, code=exc.code) from None
        # A signed request is good for one use: a captured one replayed within the tolerance
        # (possibly to another URL of this API, which the signature does not cover) is refused.
        if not redis_store.client.set(f"fc:seen-api:{site.id}:{webhook_id}", 1, nx=True, ex=3600):
            raise Unauthorized("This signed request was already used.", code="replayed")
        return
    keys.require(request, "sync:write", site.id)


def _state_json(state: SyncState, dest: Destination) -> dict:
    return {
        "marketplace": dest.marketplace,
        "destinationPaused": dest.paused,
        "status": state.status,
        "remoteId": state.remote_id,
        "externalRef": state.external_ref,
        "remoteStatus": state.remote_status,
        "lastSyncedAt": isoformat(state.last_synced_at),
        "lastAttemptAt": isoformat(state.last_attempt_at),
        "attempts": state.attempts,
        "lastError": state.last_error,
        "warnings": state.warnings or [],
    }


def car_json(car: Car) -> dict:
    states = {s.destination_id: s for s in car.sync_states}
    site = db.session.get(Site, car.site_id)
    destinations = []
    for dest in site.destinations:
        kind = connector_class(dest.marketplace).kind
        if kind is ConnectorKind.LEAD:
            continue  # takes enquiries, not cars: its counts are under "leads"
        if kind is ConnectorKind.SOURCE:
            continue  # a source the car comes from, not a destination it goes to (see fieldSources)
        state = states.get(dest.id)
        if state is None:
            destinations.append({"marketplace": dest.marketplace, "status": "pending", "remoteId": None,
                                 "lastSyncedAt": None, "lastError": None, "destinationPaused": dest.paused})
        else:
            destinations.append(_state_json(state, dest))
    return {
        "siteId": car.site_id,
        "carRef": car.car_ref,
        "source": car.source,
        "status": car.status,
        "vehicle": car.vehicle,
        "mappingErrors": car.mapping_errors or {},
        # Merge by VIN: the source each field's value came from (app.listings.merge).
        "fieldSources": merge.field_sources(site.options, car.id),
        "sourceModifiedAt": isoformat(car.source_modified_at),
        "updatedAt": isoformat(car.updated_at),
        "destinations": destinations,
        # An event that could not be applied because of a bug: still queued, retried with backoff.
        "eventError": apply_errors.get(car.site_id, car.car_ref),
        "leads": lead_stats.counts_for_car(car.id),  # counts only: no personal data
    }


@bp.get("/sites")
def list_sites():
    principal = keys.require(request, "sites:read")
    sites = db.session.scalars(select(Site).order_by(Site.id))
    return jsonify(sites=[
        {"id": s.id, "name": s.name, "preset": s.preset, "active": s.active,
         "destinations": [{"marketplace": d.marketplace, "enabled": d.enabled, "paused": d.paused,
                           "pausedReason": d.paused_reason} for d in s.destinations]}
        for s in sites if principal.can("sites:read", s.id)
    ])


MAX_BULK_REFS = 100


@bp.get("/sites/<site_id>/cars")
def get_cars(site_id: str):
    """Many cars' state in one call (the WordPress plugin's Marketplaces column): the same
    per-car shape as ``get_car``, in the order asked, with ``status: "unknown"`` for a ref
    Forecourt has never seen rather than a 404 that would fail the whole page."""
    keys.require(request, "sites:read", site_id)
    site_or_404(site_id)
    refs = list(dict.fromkeys(r.strip() for r in request.args.get("refs", "").split(",") if r.strip()))
    if not refs:
        raise ValidationError({"refs": ["Give one or more car refs, comma-separated."]})
    if len(refs) > MAX_BULK_REFS:
        raise ValidationError({"refs": [f"At most {MAX_BULK_REFS} refs per request."]})
    found = {c.car_ref: c for c in db.session.scalars(
        select(Car).where(Car.site_id == site_id, Car.car_ref.in_(refs)))}
    return jsonify(cars=[
        car_json(found[ref]) if ref in found else
        {"siteId": site_id, "carRef": ref, "status": "unknown", "destinations": []}
        for ref in refs
    ])


@bp.get("/sites/<site_id>/cars/<path:car_ref>")
def get_car(site_id: str, car_ref: str):
    keys.require(request, "sites:read", site_id)
    car = db.session.scalar(select(Car).where(Car.site_id == site_id, Car.car_ref == car_ref))
    error = apply_errors.get(site_id, car_ref) if car is None else None
    if error is not None:
        # The car's first event is stuck on a bug: there is no row yet, but the dealer must see why.
        return jsonify({"siteId": site_id, "carRef": car_ref, "status": None, "destinations": [],
                        "eventError": error})
    return jsonify(car_json(car_or_404(site_id, car_ref)))


@bp.post("/sites/<site_id>/cars/<path:car_ref>/sync")
def sync_one(site_id: str, car_ref: str):
    site = site_or_404(site_id)
    _authorize_sync(site)
    job = enqueue.car_sync(site.id, car_ref, queue_name=HIGH)
    return jsonify(jobs=[job.id], carRef=car_ref), 202


@bp.post("/sites/<site_id>/sync")
def sync_all(site_id: str):
    site = site_or_404(site_id)
    _authorize_sync(site)
    run = SyncRun(site_id=site.id, kind="sync_now", counts={}, details={})
    db.session.add(run)
    db.session.commit()
    refs = db.session.scalars(select(Car.car_ref).where(Car.site_id == site.id).order_by(Car.id)).all()
    jobs = [enqueue.car_sync(site.id, ref, queue_name=HIGH, run_id=run.id).id for ref in refs]
    return jsonify(runId=run.id, cars=len(refs), jobs=jobs), 202


@bp.get("/sites/<site_id>/runs/<int:run_id>")
def get_run(site_id: str, run_id: int):
    keys.require(request, "sites:read", site_id)
    run = db.session.get(SyncRun, run_id)
    if run is None or run.site_id != site_id:
        raise NotFound(f"No run {run_id} at site {site_id!r}.")
    return jsonify(id=run.id, kind=run.kind, startedAt=isoformat(run.started_at),
                   counts=engine.run_counts(run.id), details=run.details or {})


@bp.get("/sites/<site_id>/attempts")
def list_attempts(site_id: str):
    keys.require(request, "sites:read", site_id)
    limit = request.args.get("limit", 100)
    if not str(limit).isdigit() or not 1 <= int(limit) <= 500:
        raise ValidationError({"limit": ["Must be a whole number from 1 to 500."]})
    limit = int(limit)
    query = select(SyncAttempt, Car.car_ref).join(Car, Car.id == SyncAttempt.car_id).where(Car.site_id == site_id)
    if request.args.get("carRef"):
        query = query.where(Car.car_ref == request.args["carRef"])
    rows = db.session.execute(query.order_by(SyncAttempt.id.desc()).limit(limit)).all()
    return jsonify(attempts=[
        {"carRef": ref, "destinationId": a.destination_id, "operation": a.operation, "method": a.method,
         "path": a.path, "httpStatus": a.http_status, "durationMs": a.duration_ms, "outcome": a.outcome,
         "requestId": a.request_id, "error": a.error, "runId": a.run_id, "jobId": a.job_id,
         "at": isoformat(a.created_at)}
        for a, ref in rows
    ])


def _failed_jobs(site_id: str | None) -> list[tuple[str, Job]]:
    client = redis_store.client
    found = []
    for name in QUEUES:
        registry = FailedJobRegistry(name, connection=client)
        for job in Job.fetch_many(registry.get_job_ids(), connection=client):
            if job is not None and (site_id is None or job.meta.get("site_id") == site_id):
                found.append((name, job))
    return found


@bp.get("/sites/<site_id>/failed")
def list_failed(site_id: str):
    keys.require(request, "sites:read", site_id)
    return jsonify(jobs=[
        {"id": job.id, "queue": name, "description": job.description, "carRef": job.meta.get("car_ref"),
         "endedAt": isoformat(job.ended_at), "error": (job.latest_result().exc_string or "").splitlines()[-1:]
         if job.latest_result() else None}
        for name, job in _failed_jobs(site_id)
    ])


def _requeue(name: str, job: Job) -> None:
    # A replayed job gets its retries back: the operator has presumably fixed the cause.
    retries = len(current_app.config["FORECOURT"].retry_backoff_seconds)
    job.retries_left = retries
    job.save_meta()
    job.save()
    FailedJobRegistry(name, connection=redis_store.client).requeue(job)


@bp.post("/sites/<site_id>/failed/replay")
def replay_site(site_id: str):
    keys.require(request, "jobs:replay", site_id)
    replayed = []
    for name, job in _failed_jobs(site_id):
        _requeue(name, job)
        replayed.append(job.id)
    return jsonify(replayed=replayed), 202


@bp.post("/jobs/<job_id>/replay")
def replay_job(job_id: str):
    for name, job in _failed_jobs(None):
        if job.id == job_id:
            site_id = job.meta.get("site_id")
            keys.require(request, "jobs:replay", site_id, all_sites=site_id is None)
            _requeue(name, job)
            return jsonify(replayed=[job.id]), 202
    keys.require(request, "jobs:replay")
    raise NotFound(f"No failed job {job_id!r}.")


@bp.post("/sites/<site_id>/reconcile")
def reconcile(site_id: str):
    site = site_or_404(site_id)
    keys.require(request, "sync:write", site.id)
    job = enqueue.reconcile(site.id, request.args.get("adopt") == "1")
    return jsonify(jobs=[job.id]), 202


@bp.post("/sites/<site_id>/destinations/<marketplace>/check")
def check_destination(site_id: str, marketplace: str):
    from app.sync.destinations import check_destination as check

    keys.require(request, "sync:write", site_id)
    dest = db.session.scalar(select(Destination).where(Destination.site_id == site_id,
                                                       Destination.marketplace == marketplace))
    if dest is None:
        raise NotFound(f"No {marketplace!r} destination at site {site_id!r}.")
    ok, detail = check(dest)
    return jsonify(ok=ok, detail=detail, paused=dest.paused, checkedAt=isoformat(utcnow())), 200 if ok else 409
