"""Session fixtures for the real-WordPress suite: one MariaDB database, one WordPress install
and one Chromium per session. Missing software fails the suite with what to install; only an
explicit FORECOURT_SKIP_WORDPRESS=1 skips it, and then a banner says it did not run."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.wordpress import harness

_skipped: list[str] = []
_wp_webhooks_skipped: list[str] = []
# WP Webhooks (third-party, GPL) is never fetched in CI: its suite runs only where a developer
# points this at an unpacked copy of the plugin (the folder holding wp-webhooks.php).
WP_WEBHOOKS_ENV = "FORECOURT_WP_WEBHOOKS_DIR"
WP_WEBHOOKS_SKIP_REASON = (f"WP WEBHOOKS SUITE NOT RUN: {WP_WEBHOOKS_ENV} is not set (point it at an unpacked "
                           "WP Webhooks 3.x plugin folder; see README, Tests)")


def _opted_out() -> bool:
    return os.environ.get(harness.SKIP_ENV, "").strip() not in ("", "0")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "no_wordpress: needs no WordPress, so runs even when the suite is opted out")
    config.addinivalue_line("markers", f"wp_webhooks: needs the third-party WP Webhooks plugin ({WP_WEBHOOKS_ENV})")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not os.environ.get(WP_WEBHOOKS_ENV, "").strip():
        for item in items:
            if item.get_closest_marker("wp_webhooks"):
                item.add_marker(pytest.mark.skip(reason=WP_WEBHOOKS_SKIP_REASON))
                _wp_webhooks_skipped.append(item.nodeid)
    if not _opted_out():
        return
    here = Path(__file__).parent
    marker = pytest.mark.skip(reason=f"WORDPRESS SUITE NOT RUN ({harness.SKIP_ENV} is set)")
    for item in items:
        if here in Path(str(item.fspath)).parents and not item.get_closest_marker("no_wordpress"):
            item.add_marker(marker)
            _skipped.append(item.nodeid)


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    if _wp_webhooks_skipped:
        line = "!" * 78
        terminalreporter.write_line(line, yellow=True, bold=True)
        terminalreporter.write_line(f"!!  WP WEBHOOKS SUITE NOT RUN: {WP_WEBHOOKS_ENV} is not set; "
                                    f"{len(_wp_webhooks_skipped)} tests skipped.", yellow=True, bold=True)
        terminalreporter.write_line("!!  Nothing here proves a site driven by WP Webhooks syncs "
                                    "(tests/wordpress/test_wp_webhooks.py).", yellow=True, bold=True)
        terminalreporter.write_line(line, yellow=True, bold=True)
    if _skipped:
        line = "!" * 78
        terminalreporter.write_line(line, red=True, bold=True)
        terminalreporter.write_line(f"!!  WORDPRESS SUITE NOT RUN: {harness.SKIP_ENV} is set; "
                                    f"{len(_skipped)} tests skipped.", red=True, bold=True)
        terminalreporter.write_line("!!  Nothing here proves the plugin or the WordPress senders work.",
                                    red=True, bold=True)
        terminalreporter.write_line(line, red=True, bold=True)


@pytest.fixture(scope="session")
def wordpress_prerequisites() -> None:
    missing = harness.missing_prerequisites()
    if missing:
        pytest.fail(
            "THE REAL-WORDPRESS SUITE CANNOT RUN; missing:\n  - " + "\n  - ".join(missing)
            + f"\nInstall with: {harness.INSTALL_HINT}\n"
            + f"(or set {harness.SKIP_ENV}=1 to skip it knowingly)",
            pytrace=False,
        )


@pytest.fixture(scope="session")
def wordpress(wordpress_prerequisites, tmp_path_factory) -> Iterator[harness.WordPress]:
    """An installed WordPress on http://127.0.0.1:<port>, with an admin and an application password."""
    with harness.running_site(tmp_path_factory.mktemp("wordpress")) as site:
        yield site


@pytest.fixture(scope="session")
def browser(wordpress, tmp_path_factory):
    """Headless Chromium, logged into wp-admin as the dealer."""
    driver = harness.chromium(tmp_path_factory.mktemp("chromium"))
    try:
        harness.login(driver, wordpress)
        yield driver
    finally:
        driver.quit()


# --- Forecourt, live on loopback, for the plugin tests ----------------------------------------


@pytest.fixture(scope="session")
def database_url(tmp_path_factory) -> str:
    # SQLite only: the database matrix is proven elsewhere, and WordPress runs are slow.
    return f"sqlite:///{tmp_path_factory.mktemp('db') / 'forecourt.db'}"


@pytest.fixture(scope="session")
def forecourt_port() -> int:
    return harness.free_port()


@pytest.fixture
def settings(tmp_path, database_url, redis_url, forecourt_port):
    from tests.conftest import make_settings

    # Photos come from the WordPress media library on 127.0.0.1; the sandbox fetches our
    # re-hosted copies from public_base_url.
    return make_settings(tmp_path, database_url, redis_url, media_allow_private_hosts=("127.0.0.1",),
                         public_base_url=f"http://127.0.0.1:{forecourt_port}")


@pytest.fixture
def forecourt(app, carzle, forecourt_port):
    from tests.wordpress.forecourt_live import Forecourt, configure_site

    carzle.registry.update_config({"require_https_images": False, "allow_private_image_hosts": True})
    configure_site(carzle)
    server = Forecourt(app, forecourt_port, carzle).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def plugin(wordpress) -> harness.WordPress:
    """The Forecourt plugin, activated. Fails (it is what this suite tests) when it is absent."""
    main = harness.PLUGIN_DIR / "forecourt.php"
    if not main.exists():
        pytest.fail(f"The Forecourt WordPress plugin is missing: {main} (issue 13, wordpress/forecourt/).",
                    pytrace=False)
    out = wordpress.php("require_once ABSPATH . 'wp-admin/includes/plugin.php';"
                        " $r = activate_plugin('forecourt/forecourt.php');"
                        " echo is_wp_error($r) ? 'ERROR ' . $r->get_error_message() : 'OK';")
    assert out.strip().endswith("OK"), out
    return wordpress


@pytest.fixture(scope="session")
def configured_plugin(plugin, browser, forecourt_port):
    """Settings -> Forecourt filled in as a dealer would, in Chromium."""
    from tests.wordpress import forecourt_live as live
    from tests.wordpress import screens

    screens.configure_plugin(browser, plugin, url=f"http://127.0.0.1:{forecourt_port}", site_id=live.SITE_ID,
                             secret=live.SECRET, api_key=live.API_KEY, post_types=["inventory_vehicle"])
    return plugin


@pytest.fixture
def wp(configured_plugin):
    """The configured site, its outbox emptied of what earlier tests left waiting: those cars
    belong to a Forecourt (and a Carzle sandbox) that each test starts afresh."""
    configured_plugin.php("global $wpdb; $wpdb->query(\"UPDATE {$wpdb->prefix}forecourt_outbox "
                          "SET status = 'discarded' WHERE status = 'pending'\");")
    return configured_plugin
