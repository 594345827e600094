"""`flask forecourt feeds ...`: whole-stock feed status, send now, confirm a held feed, CSV export."""

from __future__ import annotations

import json
import sys

import click
from flask.cli import AppGroup

from app.errors import NotFound
from app.feeds import service
from app.jobs import enqueue
from app.sync import feed_status

feeds_group = AppGroup("feeds", help="Whole-stock feeds (Carslink full_replace): status, send, confirm, CSV.")


def _dest(site_id: str, marketplace: str):
    try:
        return service.feed_destination(site_id, marketplace)
    except NotFound as exc:
        raise click.ClickException(exc.message) from None


@feeds_group.command("status")
@click.argument("site_id")
@click.argument("marketplace", default="carslink")
def status(site_id: str, marketplace: str) -> None:
    """The last accepted full feed, a held one, the freshness alarm, the last refusal."""
    click.echo(json.dumps(feed_status.summary(_dest(site_id, marketplace)), indent=2, default=str))


@feeds_group.command("send-full")
@click.argument("site_id")
@click.argument("marketplace", default="carslink")
def send_full(site_id: str, marketplace: str) -> None:
    """Queue a full feed now (it passes the guard like a scheduled one)."""
    job = enqueue.send_full(_dest(site_id, marketplace).id, site_id=site_id)
    click.echo(f"queued {job.id}")


@feeds_group.command("confirm")
@click.argument("site_id")
@click.argument("marketplace", default="carslink")
def confirm(site_id: str, marketplace: str) -> None:
    """Let a held full feed go (it will remove the listings it leaves out)."""
    dest = _dest(site_id, marketplace)
    held = feed_status.confirm(dest, by="cli")
    if held is None:
        raise click.ClickException(f"no full feed is held for {dest.slug}")
    click.echo(f"confirmed: {held['reason']}; a full feed is queued")


@feeds_group.command("export-csv")
@click.argument("site_id")
@click.option("--output", "-o", type=click.File("w"), default=None, help="File to write (default: stdout).")
def export_csv(site_id: str, output) -> None:
    """The dealer's stock as Carslink's CSV, for an upload by hand."""
    text = service.carslink_csv(_dest(site_id, "carslink"))
    (output or sys.stdout).write(text)
