from __future__ import annotations

import pytest
from sqlalchemy import text

from app.config import ConfigError
from app.extensions import db
from app.sites import config_file
from app.sites.models import Site

ENV = {"SECRET": "whsec_c2VjcmV0c2VjcmV0c2VjcmV0", "KEY": "cz_live_abc123"}
GOOD = """
[[sites]]
id = "smith"
name = "Smith Motors"
wordpress_url = "https://smithmotors.example"
webhook_secret = "${SECRET}"
preset = "inventory-presser"
ref_scheme = "post_id"

  [[sites.destinations]]
  marketplace = "carzle"
  base_url = "https://carzle.ae/api/v1"
  api_key = "${KEY}"
  regional_specs = "GCC"
"""


def test_a_good_file_loads_with_secrets_substituted():
    (site,) = config_file.parse(GOOD, ENV)
    assert site["webhook_secret"] == [ENV["SECRET"]]
    assert site["car_post_types"] == ["inventory_vehicle"]
    assert site["options"] == {"ref_scheme": "post_id"}
    (dest,) = site["destinations"]
    assert dest["credentials"] == {"api_key": ENV["KEY"]}
    assert dest["options"] == {"regional_specs": "GCC"}


@pytest.mark.parametrize(
    ("change", "key", "message"),
    [
        (('"${KEY}"', '"${MISSING_KEY}"'), "sites[0].destinations[0].api_key", "MISSING_KEY is not set"),
        (('api_key = "${KEY}"', ""), "sites[0].destinations[0].api_key", "Missing data"),
        (('preset = "inventory-presser"', 'preset = "astra"'), "sites[0].preset", "Must be one of"),
        (('id = "smith"', 'id = "Smith Motors!"'), "sites[0].id", "must match"),
        (('marketplace = "carzle"', 'marketplace = "ebay"'), "sites[0].destinations[0].marketplace", ""),
        (('base_url = "https://carzle.ae/api/v1"', 'base_url = "ftp://x"'), "sites[0].destinations[0].base_url", ""),
        (('name = "Smith Motors"', ""), "sites[0].name", "Missing data"),
        (('ref_scheme = "post_id"', 'ref_scheme = "colour"'), "sites[0].ref_scheme", "must be one of"),
        (('ref_scheme = "post_id"', 'full_replace_grace_feed = 3'), "sites[0].full_replace_grace_feed", "unknown key"),
        (('ref_scheme = "post_id"', 'full_replace_grace_feeds = "two"'), "sites[0].full_replace_grace_feeds",
         "Not a valid integer"),
        (('regional_specs = "GCC"', 'rate_writes = "x"'), "sites[0].destinations[0].rate_writes", "Not a valid"),
        (('regional_specs = "GCC"', 'regional_spec = "GCC"'), "sites[0].destinations[0].regional_spec", "unknown"),
    ],
)
def test_errors_name_the_bad_key(change, key, message):
    with pytest.raises(ConfigError) as caught:
        config_file.parse(GOOD.replace(*change), ENV)
    assert key in str(caught.value)
    assert message in str(caught.value)


AUTH = {"TOKEN": "t-abcdef", "PASS": "p4ss"}


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ('wp_webhooks_auth = {type = "api_key", header = "X-Api-Key", key = "${TOKEN}"}',
         [{"type": "api_key", "header": "X-Api-Key", "key": "t-abcdef"}]),
        ('wp_webhooks_auth = {type = "bearer", token = "${TOKEN}"}', [{"type": "bearer", "token": "t-abcdef"}]),
        ('wp_webhooks_auth = [{type = "basic", username = "fc", password = "${PASS}"}, '
         '{type = "bearer", token = "${TOKEN}"}]',
         [{"type": "basic", "username": "fc", "password": "p4ss"}, {"type": "bearer", "token": "t-abcdef"}]),
        ("", []),
    ],
)
def test_wp_webhooks_auth_templates_load(line, expected):
    (site,) = config_file.parse(GOOD.replace('ref_scheme = "post_id"', f'ref_scheme = "post_id"\n{line}'),
                                {**ENV, **AUTH})
    assert site["wp_webhooks_auth"] == expected
    assert "wp_webhooks_auth" not in site["options"]


@pytest.mark.parametrize(
    ("line", "key", "message"),
    [
        ('wp_webhooks_auth = {type = "hmac", token = "x"}', "sites[0].wp_webhooks_auth.type", "Must be one of"),
        ('wp_webhooks_auth = {type = "bearer"}', "sites[0].wp_webhooks_auth.token", "Required for type"),
        ('wp_webhooks_auth = {type = "api_key", key = "x"}', "sites[0].wp_webhooks_auth.header", "Required"),
        ('wp_webhooks_auth = {type = "api_key", header = "X Api", key = "x"}', "sites[0].wp_webhooks_auth.header",
         "HTTP header name"),
        ('wp_webhooks_auth = {type = "api_key", header = "Authorization", key = "x"}',
         "sites[0].wp_webhooks_auth.header", "bearer"),
        ('wp_webhooks_auth = {type = "basic", username = "a:b", password = "x"}',
         "sites[0].wp_webhooks_auth.username", "no ':'"),
        ('wp_webhooks_auth = {type = "bearer", token = "x", password = "y"}', "sites[0].wp_webhooks_auth.password",
         "Not used"),
        ('wp_webhooks_auth = {type = "bearer", tokn = "x"}', "sites[0].wp_webhooks_auth.tokn", "Unknown field"),
        ('wp_webhooks_auth = [{type = "bearer", token = "${NOPE}"}]', "sites[0].wp_webhooks_auth[0].token",
         "NOPE is not set"),
        ('wp_webhooks_auth = "secret"', "sites[0].wp_webhooks_auth", "must be a table"),
    ],
)
def test_wp_webhooks_auth_errors_name_the_key(line, key, message):
    with pytest.raises(ConfigError) as caught:
        config_file.parse(GOOD.replace('ref_scheme = "post_id"', f'ref_scheme = "post_id"\n{line}'), ENV)
    assert f"{key}: " in str(caught.value)
    assert message in str(caught.value)


def test_wp_webhooks_auth_is_stored_encrypted(app):
    line = 'wp_webhooks_auth = {type = "bearer", token = "${TOKEN}"}'
    config_file.apply(config_file.parse(GOOD.replace('ref_scheme = "post_id"', f'ref_scheme = "post_id"\n{line}'),
                                        {**ENV, **AUTH}))
    raw_site = db.session.execute(text("SELECT secrets FROM sites")).scalar_one()
    assert AUTH["TOKEN"] not in raw_site
    db.session.expire_all()
    assert db.session.get(Site, "smith").wp_webhooks_auth == [{"type": "bearer", "token": AUTH["TOKEN"]}]


def test_not_toml_is_reported():
    with pytest.raises(ConfigError, match="not valid TOML"):
        config_file.parse("[[sites]\n", ENV)


def test_duplicate_site_ids_are_refused():
    with pytest.raises(ConfigError, match=r"sites\[1\].id: duplicate"):
        config_file.parse(GOOD + GOOD.replace("[[sites.destinations]]", "[[sites.destinations]]"), ENV)


def test_example_file_is_valid():
    from pathlib import Path

    env = {"SMITH_WEBHOOK_SECRET": "whsec_eA==", "SMITH_CARZLE_KEY": "k"}
    (site,) = config_file.load_file(Path("forecourt.example.toml"), env)
    assert site["id"] == "smith"


def test_credentials_are_stored_encrypted(app):
    config_file.apply(config_file.parse(GOOD, ENV))
    raw_site = db.session.execute(text("SELECT secrets FROM sites")).scalar_one()
    raw_dest = db.session.execute(text("SELECT credentials FROM destinations")).scalar_one()
    for raw in (raw_site, raw_dest):
        assert raw.startswith("gAAAAA")  # a Fernet token
    assert ENV["SECRET"] not in raw_site and ENV["KEY"] not in raw_dest
    db.session.expire_all()
    site = db.session.get(Site, "smith")
    assert site.webhook_secrets == [ENV["SECRET"]]
    assert site.destinations[0].credentials == {"api_key": ENV["KEY"]}


def test_reapplying_disables_undeclared_destinations_and_sites(app):
    config_file.apply(config_file.parse(GOOD, ENV))
    other = GOOD.replace('id = "smith"', 'id = "jones"')
    config_file.apply(config_file.parse(other, ENV))
    db.session.expire_all()
    assert db.session.get(Site, "smith").active is False
    assert db.session.get(Site, "jones").active is True


def test_keys_rotate_without_losing_credentials(app, settings):
    from cryptography.fernet import Fernet

    from app.security.crypto import vault

    config_file.apply(config_file.parse(GOOD, ENV))
    before = db.session.execute(text("SELECT credentials FROM destinations")).scalar_one()
    new_key = Fernet.generate_key().decode()
    vault.init_app(settings.__class__(**{**settings.__dict__, "encryption_keys": (new_key, *settings.encryption_keys)}))
    result = app.test_cli_runner().invoke(args=["forecourt", "rotate-keys"])
    assert result.exit_code == 0, result.output
    after = db.session.execute(text("SELECT credentials FROM destinations")).scalar_one()
    assert after != before
    assert Fernet(new_key).decrypt(after.encode())  # readable with the new key alone
    vault.init_app(settings)
