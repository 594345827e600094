"""[sites.dealer] and feed_pull_auth in the sites file: validated at load, errors naming the key."""

from __future__ import annotations

import pytest

from app.config import ConfigError
from app.sites import config_file

DESTINATION = """
  [[sites.destinations]]
  marketplace = "carslink"
  base_url = "https://api.carslink.test"
  api_key = "cl_live_key"
"""


def site(dealer: str, *, destination: str = DESTINATION, extra: str = "") -> str:
    return f"""
[[sites]]
id = "smith"
name = "Smith Motors"
webhook_secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
preset = "inventory-presser"
{extra}
{dealer}
{destination}
"""


GOOD = """
  [sites.dealer]
  partner_dealer_id = "SMITH-001"
  name = "Smith Motors Ltd"
  address_line_1 = "123 Motor Row"
  address_line_2 = "Unit 4"
  town = "Manchester"
  county = "Greater Manchester"
  postcode = "m12ab"
  phone = "+44 161 555 0100"
  email = "sales@smithmotors.example"
  website = "https://www.smithmotors.example"
"""


def test_a_full_dealer_profile_loads_normalised() -> None:
    (loaded,) = config_file.parse(site(GOOD), {})
    dealer = loaded["options"]["dealer"]
    assert dealer["postcode"] == "M1 2AB" and dealer["partner_dealer_id"] == "SMITH-001"
    assert set(dealer) == {"partner_dealer_id", "name", "address_line_1", "address_line_2", "town", "county",
                           "postcode", "phone", "email", "website"}


@pytest.mark.parametrize(
    ("line", "key", "message"),
    [
        ('postcode = "12345"', "sites[0].dealer.postcode", "UK postcode"),
        ('phone = "555-0100"', "sites[0].dealer.phone", "UK phone number"),
        ('email = "sales at smith"', "sites[0].dealer.email", "email address"),
        ('website = "http://www.smithmotors.example"', "sites[0].dealer.website", "https://"),
        ('location = "Manchester"', "sites[0].dealer.location", "resolved from the postcode"),
        ('region = "North West"', "sites[0].dealer.region", "resolved from the postcode"),
        ('post_code = "M1 2AB"', "sites[0].dealer.post_code", "Unknown field"),
        ('name = ""', "sites[0].dealer.name", "Length must be between 1"),
    ],
)
def test_a_bad_dealer_key_is_named(line: str, key: str, message: str) -> None:
    text = site(f'  [sites.dealer]\n  partner_dealer_id = "SMITH-001"\n  {line}\n')
    with pytest.raises(ConfigError) as caught:
        config_file.parse(text, {})
    (error,) = [row for row in str(caught.value).splitlines() if key + ":" in row]
    assert message in error


def test_a_carslink_destination_needs_a_partner_dealer_id() -> None:
    with pytest.raises(ConfigError, match=r"sites\[0\]\.dealer\.partner_dealer_id: required for Carslink"):
        config_file.parse(site('  [sites.dealer]\n  name = "Smith Motors Ltd"\n'), {})
    with pytest.raises(ConfigError, match=r"sites\[0\]\.dealer\.partner_dealer_id: required for Carslink"):
        config_file.parse(site(""), {})


def test_a_site_without_carslink_needs_no_dealer_profile() -> None:
    (loaded,) = config_file.parse(site("", destination=""), {})
    assert "dealer" not in loaded["options"]


@pytest.mark.parametrize(
    ("line", "key"),
    [
        ('feed_pull_auth = {type = "oauth2", token = "x"}', "sites[0].feed_pull_auth.type"),
        ('feed_pull_auth = {type = "bearer"}', "sites[0].feed_pull_auth.token"),
        ('feed_pull_auth = [{type = "basic", username = "a:b", password = "p"}]',
         "sites[0].feed_pull_auth[0].username"),
    ],
)
def test_bad_pull_auth_is_named(line: str, key: str) -> None:
    with pytest.raises(ConfigError, match=key.replace("[", r"\[").replace("]", r"\]").replace(".", r"\.")):
        config_file.parse(site(GOOD, extra=line), {})


def test_pull_auth_is_kept_with_the_sites_secrets(app) -> None:
    from app.extensions import db
    from app.sites.models import Site

    line = 'feed_pull_auth = {type = "bearer", token = "${PULL}"}'
    config_file.apply(config_file.parse(site(GOOD, extra=line), {"PULL": "s3cret-pull-token"}))
    stored = db.session.get(Site, "smith")
    assert stored.secrets["feed_pull_auth"] == [{"type": "bearer", "token": "s3cret-pull-token"}]
    assert "feed_pull_auth" not in stored.options
