"""Reconciliation: compare each marketplace with Forecourt's state and repair the drift.

Not a brute-force push of everything (the Carzle FAQ's advice): the remote listings are
read page by page (about N/100 reads), compared with what Forecourt last sent, and only
missing or stale listings are pushed again. Listings with no source car are reported as
orphans and left alone unless the site sets ``reconcile_remove_orphans = true``.

Reconciliation works on listing sinks through their kind's operations (``list_remote``,
``stale_fields``, ``adopt``, ``claim``); what counts as drift or as a match for adoption is
each connector's rule (Carzle's: ``app/connectors/carzle/``), not this module's.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import select

from app.connectors.errors import ConnectorError
from app.connectors.kinds import ListingSink
from app.extensions import db
from app.jobs import enqueue
from app.listings.models import Car, SyncRun, SyncState
from app.listings.vehicle import DELETED, Vehicle
from app.sites.models import Destination, Site
from app.sync import destinations as dest_service
from app.sync import engine
from app.timeutil import utcnow

log = logging.getLogger("forecourt.reconcile")
LISTED = {"active", "inactive", "sold", "reserved", "coming_soon"}


def reconcile_destination(site: Site, dest: Destination, run: SyncRun, *, adopt: bool) -> dict[str, Any]:
    connector = dest_service.build_connector(dest)
    if not isinstance(connector, ListingSink):
        # Feeds are reconciled by a full feed, leads and sources have no listings to compare.
        return {"marketplace": dest.marketplace, "skipped": f"{connector.kind} destinations are not reconciled"}
    remote = list(connector.list_remote(None))
    reads = len(connector.calls)
    cars = {c.id: c for c in db.session.scalars(select(Car).where(Car.site_id == site.id))}
    states = {
        s.car_id: s for s in db.session.scalars(select(SyncState).where(SyncState.destination_id == dest.id))
    }
    by_id = {str(r.get("id")): r for r in remote if r.get("id")}
    by_ref = {r.get("externalRef"): r for r in remote if r.get("externalRef")}
    report: dict[str, Any] = {"marketplace": dest.marketplace, "remote": len(remote), "reads": reads,
                              "missing": [], "stale": [], "orphans": [], "adopted": [], "removed": []}

    to_push: list[int] = []
    if adopt:
        unsynced = [c for c in cars.values() if c.status in LISTED and c.id not in states]
        vehicles = [Vehicle.from_dict({**c.vehicle, "car_ref": c.car_ref, "status": c.status}) for c in unsynced]
        by_ref_car = {c.car_ref: c for c in unsynced}
        for match in connector.adopt(vehicles, remote):
            car = by_ref_car[match.car_ref]
            claimed = connector.claim(match.remote_id, match.external_ref)
            state = engine.get_state(car, dest)
            state.remote_id, state.external_ref, state.status = match.remote_id, match.external_ref, "adopted"
            # Diffing against just {externalRef} makes the next push send the car's full data once.
            state.payload, state.fingerprint = claimed.payload, claimed.fingerprint
            to_push.append(car.id)
            states[car.id] = state
            by_ref[match.external_ref] = {**match.remote, "externalRef": match.external_ref}
            report["adopted"].append({"carRef": car.car_ref, "remoteId": match.remote_id, "by": match.matched_by})
        db.session.commit()

    known_refs = set()
    for car_id, state in states.items():
        car = cars.get(car_id)
        if car is None:
            continue
        if state.external_ref:
            known_refs.add(state.external_ref)
        listing = by_id.get(str(state.remote_id)) if state.remote_id else None
        listing = listing or (by_ref.get(state.external_ref) if state.external_ref else None)
        if car.status == DELETED:
            if listing is not None:
                to_push.append(car.id)
            continue
        if car.status not in LISTED:
            continue
        if listing is None:
            if state.remote_id or state.external_ref:
                # Gone at the marketplace: forget the remote object so the push creates it again.
                state.remote_id, state.fingerprint, state.payload = None, None, None
                report["missing"].append(car.car_ref)
                to_push.append(car.id)
            continue
        drift = connector.stale_fields(state.payload, listing)
        if drift:
            state.fingerprint, state.payload = None, None  # next push sends the whole listing
            report["stale"].append({"carRef": car.car_ref, "fields": drift})
            to_push.append(car.id)
    for car in cars.values():
        if car.id not in states and car.status in LISTED:
            report["missing"].append(car.car_ref)
            to_push.append(car.id)

    remove_orphans = bool((site.options or {}).get("reconcile_remove_orphans"))
    known_ids = {str(s.remote_id) for s in states.values() if s.remote_id}
    for listing in remote:
        ref = listing.get("externalRef")
        if ref in known_refs or str(listing.get("id")) in known_ids:
            continue
        report["orphans"].append({"remoteId": listing.get("id"), "externalRef": ref or None,
                                  "title": listing.get("title")})
        if remove_orphans and ref:
            try:
                connector.delete(ref, None)
                report["removed"].append(listing.get("id"))
            except ConnectorError as exc:
                log.warning("orphan removal failed", extra={"remote": listing.get("id"), "error": exc.message})
    db.session.commit()
    for car_id in dict.fromkeys(to_push):
        enqueue.push(car_id, dest.id, queue_name="low", run_id=run.id)
    report["pushed"] = len(set(to_push))
    return report


def reconcile_site(site_id: str, adopt: bool = False) -> dict[str, Any]:
    site = db.session.get(Site, site_id)
    if site is None or not site.active:
        return {"skipped": True}
    run = SyncRun(site_id=site.id, kind="adopt" if adopt else "reconcile", counts={}, details={})
    db.session.add(run)
    db.session.commit()
    reports = []
    for dest in site.destinations:
        if dest.enabled and not dest.paused:
            reports.append(reconcile_destination(site, dest, run, adopt=adopt))
    run.details = {"destinations": reports}
    run.finished_at = utcnow()
    db.session.commit()
    return {"runId": run.id, "destinations": reports}
