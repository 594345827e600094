"""Reconciliation dispatches on the connector's kind: only listing sinks are compared."""

from __future__ import annotations

from collections.abc import Sequence

from app.connectors.kinds import BatchResult, FeedItem, FeedSink
from app.connectors.registry import register
from app.sites import config_file
from app.sync.reconcile import reconcile_site


@register
class FeedProbe(FeedSink):
    slug = "feed_probe_test"
    display_name = "Feed probe"

    def send_batch(self, items: Sequence[FeedItem], *, full: bool = False) -> BatchResult:
        raise AssertionError("reconciliation must not send a feed")


SITE = """
[[sites]]
id = "feedy"
name = "Feedy Motors"
wordpress_url = "https://feedy.example"
webhook_secret = "whsec_c2VjcmV0c2VjcmV0c2VjcmV0"
preset = "inventory-presser"

  [[sites.destinations]]
  marketplace = "feed_probe_test"
  base_url = "http://127.0.0.1:9/never-called"
"""


def test_a_feed_destination_is_not_reconciled_listing_by_listing(app):
    config_file.apply(config_file.parse(SITE, {}))
    report = reconcile_site("feedy")
    assert report["destinations"] == [
        {"marketplace": "feed_probe_test", "skipped": "feed destinations are not reconciled"}
    ]
