"""A dealer site with a Carzle destination and a Carfluence source, both on the sandbox."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import CARZLE_KEY
from tests.support.carfluence import EMAIL, KEY, PASSWORD, seed
from tests.support.wordpress import SECRET


def configure(carzle: Any, *, auth: str = "key", site_extra: str = "", source_extra: str = "",
              listing: bool = True) -> Any:
    """The site; ``listing=False`` leaves Carzle out (pull tests need no marketplace writes,
    which Carzle's 30 per minute would slow down)."""
    from app.extensions import db
    from app.sites import cache, config_file
    from app.sites.models import Site

    creds = f'api_key = "{KEY}"' if auth == "key" else f'email = "{EMAIL}"\n  password = "{PASSWORD}"'
    carzle_dest = f"""
  [[sites.destinations]]
  marketplace = "carzle"
  base_url = "{carzle.api_url}"
  api_key = "{CARZLE_KEY}"
  regional_specs = "GCC"
"""
    toml = f"""
[[sites]]
id = "demo"
name = "Demo Motors"
webhook_secret = "{SECRET}"
preset = "inventory-presser"
ref_scheme = "stock_number"
currency = "AED"
{site_extra}

{carzle_dest if listing else ""}
  [[sites.destinations]]
  marketplace = "carfluence"
  base_url = "{carzle.url}/carfluence/api/v1"
  {creds}
  page_size = 10
  grace_pulls = 2
{source_extra}
"""
    config_file.apply(config_file.parse(toml, {}))
    cache.clear()
    return db.session.get(Site, "demo")


@pytest.fixture
def market(carzle: Any) -> Any:
    """The Carfluence sandbox (reset by the ``carzle`` fixture) with a login and a key."""
    cf = carzle.registry.marketplaces["carfluence"]
    seed(cf)
    return cf


@pytest.fixture
def source(app: Any, carzle: Any, market: Any) -> Any:
    site = configure(carzle, listing=False)
    return next(d for d in site.destinations if d.marketplace == "carfluence")
