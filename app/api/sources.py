"""Admin API for inventory sources, merge provenance, transformation dry runs and car history."""

from __future__ import annotations

from flask import Blueprint, jsonify, request
from sqlalchemy import select

from app.api.lookups import car_or_404, site_or_404
from app.auth import keys
from app.connectors.base import ConnectorError, ConnectorKind
from app.errors import NotFound
from app.extensions import db
from app.listings import history, rules
from app.sites.models import Destination, Site
from app.sources import schedule
from app.sources.models import SourcePull
from app.sources.pull import is_source
from app.sync import destinations as dest_service
from app.sync.vehicles import vehicle_of
from app.timeutil import isoformat

bp = Blueprint("sources_api", __name__, url_prefix="/api/v1")


def _source(site: Site, marketplace: str) -> Destination:
    dest = next((d for d in site.destinations if d.marketplace == marketplace), None)
    if dest is None or not is_source(dest):
        raise NotFound(f"No inventory source {marketplace!r} at site {site.id!r}.")
    return dest


@bp.post("/sites/<site_id>/sources/<marketplace>/pull")
def pull_now(site_id: str, marketplace: str):
    """Pull now; ``?acceptShrink=1`` lets a pull whose total shrank past ``max_shrink`` remove."""
    keys.require(request, "sync:write", site_id)
    dest = _source(site_or_404(site_id), marketplace)
    accept = request.args.get("acceptShrink", "").lower() in ("1", "true", "yes")
    return jsonify(jobId=schedule.pull_now(dest, accept_shrink=accept), destination=marketplace), 202


@bp.get("/sites/<site_id>/sources/<marketplace>/pulls")
def list_pulls(site_id: str, marketplace: str):
    keys.require(request, "sites:read", site_id)
    dest = _source(site_or_404(site_id), marketplace)
    pulls = db.session.scalars(
        select(SourcePull).where(SourcePull.destination_id == dest.id).order_by(SourcePull.id.desc()).limit(50)
    )
    return jsonify(pulls=[
        {"id": p.id, "outcome": p.outcome, "total": p.total, "counts": p.counts, "error": p.error,
         "startedAt": isoformat(p.started_at), "finishedAt": isoformat(p.finished_at)} for p in pulls
    ])


@bp.get("/sites/<site_id>/cars/<path:car_ref>/history")
def car_history(site_id: str, car_ref: str):
    """Every version each source delivered and every payload sent, newest first."""
    keys.require(request, "sites:read", site_id)
    car = car_or_404(site_id, car_ref)
    return jsonify(siteId=site_id, carRef=car_ref, vin=(car.vehicle or {}).get("vin"), **history.car_history(car.id))


@bp.get("/sites/<site_id>/cars/<path:car_ref>/dry-run")
def dry_run(site_id: str, car_ref: str):
    """For each destination, the payload before and after the site's rules. Nothing is sent
    (a connector may read its cached reference data, e.g. Carzle's hourly ``/metadata``)."""
    keys.require(request, "sites:read", site_id)
    site = site_or_404(site_id)
    car = car_or_404(site_id, car_ref)
    out = []
    for dest in site.destinations:
        if not dest.enabled or dest_service.connector_class(dest.marketplace).kind not in (
            ConnectorKind.LISTING, ConnectorKind.FEED
        ):
            continue
        entry: dict = {"marketplace": dest.marketplace,
                       "rules": [rules.describe(r) for r in (site.options or {}).get("rules") or []
                                 if rules.applies(r, dest.marketplace)]}
        try:
            connector = dest_service.build_connector(dest)
            entry["before"] = connector.preview(vehicle_of(car, dest, rules=False))
            entry["after"] = connector.preview(vehicle_of(car, dest))
        except ConnectorError as exc:
            entry["error"] = exc.to_dict()
        out.append(entry)
    return jsonify(siteId=site_id, carRef=car_ref, status=car.status, destinations=out)
