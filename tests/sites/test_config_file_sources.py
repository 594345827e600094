"""Sites-file keys of issue 12: a Carfluence source's two ways to authenticate, merge, rules."""

from __future__ import annotations

import pytest

from app.config import ConfigError
from app.sites import config_file

ENV = {"SECRET": "whsec_c2VjcmV0c2VjcmV0c2VjcmV0"}
SITE = """
[[sites]]
id = "north"
name = "North Group"
webhook_secret = "${{SECRET}}"
preset = "inventory-presser"
{site}

  [[sites.destinations]]
  marketplace = "carfluence"
  base_url = "https://api.carfluence.io/api/v1"
{source}
"""


def parse(site: str = "", source: str = 'api_key = "cf_live_x"') -> dict:
    (loaded,) = config_file.parse(SITE.format(site=site, source=source), ENV)
    return loaded


@pytest.mark.parametrize(
    ("source", "credentials"),
    [
        ('api_key = "cf_live_x"', {"api_key": "cf_live_x"}),
        ('email = "ops@north.example"\npassword = "pw"', {"email": "ops@north.example", "password": "pw"}),
    ],
)
def test_a_source_takes_a_key_or_a_login(source: str, credentials: dict) -> None:
    (dest,) = parse(source=source)["destinations"]
    assert dest["credentials"] == credentials


def test_merge_and_rules_are_site_options() -> None:
    site = parse('merge = {order = ["wordpress"], fields = {price = ["carfluence"]}}\n'
                 'rules = [{action = "title_suffix", text = "!"}]')
    assert site["options"]["merge"]["fields"] == {"price": ["carfluence"]}
    assert site["options"]["rules"] == [{"action": "title_suffix", "text": "!"}]


@pytest.mark.parametrize(
    ("site", "source", "key"),
    [
        ("", "", "sites[0].destinations[0].api_key"),
        ("", 'email = "ops@north.example"', "sites[0].destinations[0].api_key"),
        ("", 'api_key = "cf_live_x"\nfilters = {colour = "red"}',
         "sites[0].destinations[0].filters: unknown filter(s) colour"),
        ("", 'api_key = "cf_live_x"\npull_every_minutes = 0', "sites[0].destinations[0].pull_every_minutes"),
        ('merge = {fields = {colour = ["dms"]}}', 'api_key = "x"', "sites[0].merge.fields.colour"),
        ('rules = [{action = "drop", field = "vin"}]', 'api_key = "x"', "sites[0].rules[0].field"),
    ],
)
def test_errors_name_the_bad_key(site: str, source: str, key: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse(site, source)
    assert key in str(caught.value)
