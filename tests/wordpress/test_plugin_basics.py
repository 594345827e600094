"""The plugin itself: its PHP lints, it activates and creates its outbox, and its settings
screen never prints a secret back and checks the connection to Forecourt."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from tests.wordpress import harness, screens


@pytest.mark.no_wordpress  # runs even with FORECOURT_SKIP_WORDPRESS=1: it needs only php
def test_the_plugin_php_lints():
    if shutil.which("php") is None:
        pytest.fail(f"php is not installed, so the plugin cannot be linted: {harness.INSTALL_HINT}", pytrace=False)
    files = sorted(harness.PLUGIN_DIR.rglob("*.php"))
    assert files, f"no PHP files under {harness.PLUGIN_DIR}: the Forecourt plugin is missing"
    failures = []
    for path in files:
        result = subprocess.run(["php", "-l", str(path)], capture_output=True, text=True, timeout=60,
                                stdin=subprocess.DEVNULL)
        if result.returncode != 0:
            failures.append(result.stdout.strip() or result.stderr.strip())
    assert not failures, "\n".join(failures)


def test_activation_creates_the_outbox_table(plugin):
    out = plugin.php("global $wpdb; echo json_encode($wpdb->get_col("
                     "\"SHOW COLUMNS FROM {$wpdb->prefix}forecourt_outbox\"));")
    columns = set(out[out.index("["):].strip("[]\n").replace('"', "").split(","))
    assert {"id", "post_id", "event", "payload", "status", "attempts", "next_attempt_at", "last_error",
            "created_at", "sent_at"} <= columns


def test_settings_keep_secrets_out_of_the_page_and_test_connection_works(configured_plugin, browser, forecourt):
    result = screens.test_connection(browser, configured_plugin)
    assert "ok" in result.lower() or "success" in result.lower() or "connected" in result.lower(), result
    assert forecourt.listings() == []
