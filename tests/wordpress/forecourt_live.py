"""Forecourt for real on a fixed loopback port, so it can be stopped and started again at the
address the WordPress plugin was configured with; jobs run with ``tests.support.jobs.drain``."""

from __future__ import annotations

from typing import Any

from flask import Flask
from sqlalchemy import select
from werkzeug.serving import make_server

from tests.conftest import CARZLE_KEY
from tests.support.jobs import drain

SITE_ID = "wp"
SECRET = "whsec_Zm9yZWNvdXJ0LXdvcmRwcmVzcy1zdWl0ZS1zZWNyZXQ="
API_KEY = "fck_wordpress_suite_key_0123456789abcdef"  # keys start with fck_ (app.auth.keys)
SHOWROOM = "demo-motors"


def configure_site(carzle, *, extra: str = "", destinations: str = "") -> None:
    """The dealer's site on the Inventory Presser preset, keyed by post id, with Carzle (and
    ``destinations``, more TOML), and the site API key the plugin uses for the status API and
    Sync Now."""
    from app.auth.keys import hash_token
    from app.auth.models import ApiKey
    from app.extensions import db
    from app.sites import cache, config_file

    toml = f"""
[[sites]]
id = "{SITE_ID}"
name = "Forecourt Test Motors"
webhook_secret = "{SECRET}"
preset = "inventory-presser"
ref_scheme = "post_id"
{extra}

  [[sites.destinations]]
  marketplace = "carzle"
  base_url = "{carzle.api_url}"
  api_key = "{CARZLE_KEY}"
  regional_specs = "GCC"
  allow_insecure_images = true
{destinations}
"""
    config_file.apply(config_file.parse(toml, {}))
    if db.session.scalar(select(ApiKey).where(ApiKey.token_hash == hash_token(API_KEY))) is None:
        db.session.add(ApiKey(name="wordpress plugin", prefix=API_KEY[:10], token_hash=hash_token(API_KEY),
                              scopes=["sites:read", "sync:write"], site_id=SITE_ID))
    db.session.commit()
    cache.clear()


ROADSTER_KEY = "rd_test_wordpress_suite"
ROADSTER_DEALER = "forecourt-test-motors"


def add_roadster(carzle) -> str:
    """A Roadster dealer and key on the sandbox, and a Roadster destination on the site;
    returns the sandbox's Roadster control URL."""
    import base64

    import requests

    cipher = base64.b64encode(b"wordpress-suite-cipher-key-0123!").decode()  # 32 bytes
    control = f"{carzle.url}/_sandbox/roadster"
    for path, body in (("/dealers", {"slug": ROADSTER_DEALER, "partnerId": "777", "encryptionKey": cipher}),
                       ("/keys", {"key": ROADSTER_KEY, "dealer": ROADSTER_DEALER})):
        assert requests.post(control + path, json=body, timeout=10).status_code == 201
    configure_site(carzle, destinations=f"""
  [[sites.destinations]]
  marketplace = "roadster"
  base_url = "{carzle.url}/roadster"
  api_key = "{ROADSTER_KEY}"
  encryption_key = "{cipher}"
  dealer_partner_id = "777"
  storefront_url = "{carzle.url}/roadster/stores/{ROADSTER_DEALER}"
""")
    return control


class Forecourt:
    """The Flask app over HTTP; ``stop()`` refuses connections as a down Forecourt would."""

    def __init__(self, app: Flask, port: int, carzle) -> None:
        import threading

        self.app, self.port, self.carzle = app, port, carzle
        self.url = f"http://127.0.0.1:{port}"
        self._threading = threading
        self._server = None

    def start(self) -> Forecourt:
        self._server = make_server("127.0.0.1", self.port, self.app, threaded=True)
        self._thread = self._threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(timeout=10)
            self._server = None

    def drain(self) -> None:
        drain(self.app, timeout=120)

    def listings(self, include_deleted: bool = False) -> list[dict[str, Any]]:
        return self.carzle.carzle.listings(SHOWROOM, include_deleted=include_deleted)
