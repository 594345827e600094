"""`flask forecourt pull-source`, `purge-history` and `remerge`."""

from __future__ import annotations

import json

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import select

from app.extensions import db
from app.sites.models import Destination


def register(group: AppGroup) -> None:
    group.add_command(pull_source)
    group.add_command(purge_history)
    group.add_command(remerge)


@click.command("pull-source")
@click.argument("site_id")
@click.argument("marketplace", default="carfluence")
@click.option("--accept-shrink", is_flag=True, help="Let removals happen although the total shrank past max_shrink.")
@click.option("--queue/--now", "queued", default=False, help="Queue the pull job instead of running it here.")
def pull_source(site_id: str, marketplace: str, accept_shrink: bool, queued: bool) -> None:
    """Pull an inventory source now (default: run it in this process and print the outcome)."""
    from app.sources import pull, schedule

    dest = db.session.scalar(
        select(Destination).where(Destination.site_id == site_id, Destination.marketplace == marketplace)
    )
    if dest is None or not pull.is_source(dest):
        raise click.ClickException(f"no inventory source {marketplace!r} at site {site_id!r}")
    if queued:
        click.echo(f"queued {schedule.pull_now(dest, accept_shrink=accept_shrink)}")
        return
    click.echo(json.dumps(pull.pull(dest.id, accept_shrink=accept_shrink), indent=2))


@click.command("purge-history")
@click.option("--days", type=float, default=None, help="Keep this many days (default HISTORY_RETENTION_DAYS).")
def purge_history(days: float | None) -> None:
    """Drop car versions and sent payloads older than the retention (latest versions stay)."""
    from app.listings.history import purge

    days = current_app.config["FORECOURT"].history_retention_days if days is None else days
    click.echo(json.dumps(purge(days)))


@click.command("remerge")
@click.argument("site_id")
def remerge(site_id: str) -> None:
    """Merge the site's multi-source cars again with its current `merge` config, and send the
    cars whose data changed (the merge otherwise runs at each car's next event)."""
    from app.sources.remerge import remerge_site

    click.echo(json.dumps(remerge_site(site_id)))
