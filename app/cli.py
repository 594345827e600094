"""`flask forecourt ...` commands for operators."""

from __future__ import annotations

import json
import sys

import click
from flask import Flask, current_app
from flask.cli import AppGroup
from flask_migrate import upgrade
from sqlalchemy import select

from app.config import ConfigError
from app.extensions import db
from app.sites import config_file
from app.sites.models import Destination, Site

group = AppGroup("forecourt", help="Forecourt operations.")


def _settings():
    return current_app.config["FORECOURT"]


@group.command("release")
def release() -> None:
    """Apply migrations, then load FORECOURT_CONFIG (the Procfile's release step)."""
    upgrade()
    if _settings().config_path:
        _load_config()


@group.command("load-config")
def load_config() -> None:
    """Validate FORECOURT_CONFIG and upsert its sites and destinations."""
    _load_config()


def _load_config() -> None:
    path = _settings().config_path
    if not path:
        raise click.ClickException("FORECOURT_CONFIG is not set")
    try:
        sites = config_file.load_file(path)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    counts = config_file.apply(sites)
    click.echo(f"loaded {path}: {counts['sites']} sites, {counts['destinations']} destinations, "
               f"{counts['disabled']} disabled")


@group.command("check-config")
@click.argument("path", type=click.Path(dir_okay=False))
def check_config(path: str) -> None:
    """Validate a sites file without applying it."""
    from pathlib import Path

    try:
        sites = config_file.load_file(Path(path))
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"{path}: ok ({len(sites)} sites)")


@group.command("sites")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def list_sites(as_json: bool) -> None:
    """List sites and their destinations (never their secrets)."""
    rows = []
    for site in db.session.scalars(select(Site).order_by(Site.id)):
        rows.append({
            "id": site.id,
            "name": site.name,
            "preset": site.preset,
            "active": site.active,
            "destinations": [
                {"marketplace": d.marketplace, "base_url": d.base_url, "enabled": d.enabled,
                 "paused": d.paused, "paused_reason": d.paused_reason}
                for d in site.destinations
            ],
        })
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    for row in rows:
        click.echo(f"{row['id']}  {row['name']}  preset={row['preset']}"
                   + ("" if row["active"] else "  (inactive)"))
        for d in row["destinations"]:
            state = "paused: " + (d["paused_reason"] or "") if d["paused"] else (
                "enabled" if d["enabled"] else "disabled")
            click.echo(f"    {d['marketplace']:<10} {d['base_url']}  {state}")


@group.command("check")
@click.argument("site_id")
@click.argument("marketplace", required=False)
def check(site_id: str, marketplace: str | None) -> None:
    """Check a site's destination credentials live against the marketplace."""
    from app.sync.destinations import check_destination

    site = db.session.get(Site, site_id)
    if site is None:
        raise click.ClickException(f"no site {site_id!r}")
    failed = False
    for dest in site.destinations:
        if marketplace and dest.marketplace != marketplace:
            continue
        ok, detail = check_destination(dest)
        failed |= not ok
        click.echo(f"{dest.marketplace:<10} {'ok' if ok else 'FAILED'}  {detail}")
    if failed:
        sys.exit(1)


@group.command("drain-spool")
def drain_spool() -> None:
    """Push events spooled on this host while Redis was down into Redis now."""
    from app.webhooks.inbound import drain_spool as drain

    click.echo(f"drained {drain()} spooled events")


@group.command("stop-redis")
def stop_redis() -> None:
    """Stop the embedded redis-server (it outlives ./bin/up so no process loses it mid-run)."""
    from app.ops import embedded_redis

    if _settings().redis_url:
        raise click.ClickException("REDIS_URL is set: Forecourt is not running its own Redis")
    embedded_redis.stop(_settings().var_dir)
    click.echo("embedded redis stopped (its data stays in var/redis)")


@group.command("new-secret")
def new_secret() -> None:
    """Print a new Standard Webhooks secret (whsec_...)."""
    import base64
    import secrets

    click.echo("whsec_" + base64.b64encode(secrets.token_bytes(24)).decode())


@group.command("new-encryption-key")
def new_encryption_key() -> None:
    """Print a new key for FORECOURT_ENCRYPTION_KEYS (prepend it, then run rotate-keys)."""
    from cryptography.fernet import Fernet

    click.echo(Fernet.generate_key().decode())


@group.command("rotate-keys")
def rotate_keys() -> None:
    """Re-encrypt every stored credential with the first FORECOURT_ENCRYPTION_KEYS key."""
    from sqlalchemy import text

    from app.security.crypto import vault

    count = 0
    for table, column, key in (("sites", "secrets", "id"), ("destinations", "credentials", "id")):
        rows = db.session.execute(text(f"SELECT {key}, {column} FROM {table}")).all()  # noqa: S608
        for row_id, token in rows:
            if token:
                db.session.execute(
                    text(f"UPDATE {table} SET {column} = :v WHERE {key} = :k"),  # noqa: S608
                    {"v": vault.rotate(token), "k": row_id},
                )
                count += 1
    db.session.commit()
    click.echo(f"re-encrypted {count} values; retired keys can now be removed")


keys_group = AppGroup("keys", help="Scoped admin API keys.")


@keys_group.command("create")
@click.option("--name", required=True)
@click.option("--scope", "scopes", multiple=True, required=True, help="Repeat for several scopes.")
@click.option("--site", "site_id", default=None, help="Limit the key to one site.")
def keys_create(name: str, scopes: tuple[str, ...], site_id: str | None) -> None:
    from app.auth.keys import create_key

    try:
        key, token = create_key(name, list(scopes), site_id)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(token)
    click.echo(f"# key {key.id} ({key.prefix}…) scopes={','.join(key.scopes)}; shown once", err=True)


@keys_group.command("list")
def keys_list() -> None:
    from app.auth.models import ApiKey

    for key in db.session.scalars(select(ApiKey).order_by(ApiKey.id)):
        state = "revoked" if key.revoked_at else "active"
        click.echo(f"{key.id}  {key.prefix}…  {key.name}  {','.join(key.scopes)}  "
                   f"site={key.site_id or '*'}  {state}")


@keys_group.command("revoke")
@click.argument("key_id", type=int)
def keys_revoke(key_id: int) -> None:
    from app.auth.models import ApiKey
    from app.timeutil import utcnow

    key = db.session.get(ApiKey, key_id)
    if key is None:
        raise click.ClickException(f"no key {key_id}")
    key.revoked_at = utcnow()
    db.session.commit()
    click.echo(f"revoked {key.prefix}…")


group.add_command(keys_group)


def _add_feeds_commands() -> None:
    from app.feeds.cli import feeds_group

    group.add_command(feeds_group)


_add_feeds_commands()


def register_cli(app: Flask) -> None:
    from app.leads.cli import register as register_lead_commands

    register_lead_commands(group)
    from app.cli_sources import register

    register(group)
    app.cli.add_command(group)
    # Destinations are referenced here so `flask shell` users find them without imports.
    app.shell_context_processor(lambda: {"db": db, "Site": Site, "Destination": Destination})
