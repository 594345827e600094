"""``flask forecourt erase-leads`` and ``purge-leads``: the admin API's erase and the daily
purge, for operators at a shell."""

from __future__ import annotations

import click
from flask import current_app

from app.leads import privacy


def register(group: click.Group) -> None:
    @group.command("erase-leads")
    @click.argument("email")
    @click.option("--site", default=None, help="only this site's leads")
    def erase_leads(email: str, site: str | None) -> None:
        """Delete every lead of EMAIL (the shopper asked to be forgotten)."""
        click.echo(f"erased {privacy.erase_email(email, site)} lead(s)")

    @group.command("purge-leads")
    @click.option("--days", type=int, default=None, help="retention (default LEAD_RETENTION_DAYS)")
    def purge_leads(days: int | None) -> None:
        """Delete leads older than the retention period now."""
        days = current_app.config["FORECOURT"].lead_retention_days if days is None else days
        click.echo(f"purged {privacy.purge_older_than(days)} lead(s) older than {days} days")
