from __future__ import annotations

import json

from tests.sites.test_config_file import ENV, GOOD


def test_load_config_then_list_sites(app, tmp_path, monkeypatch):
    path = tmp_path / "sites.toml"
    path.write_text(GOOD)
    for key, value in ENV.items():
        monkeypatch.setenv(key, value)
    settings = app.config["FORECOURT"]
    app.config["FORECOURT"] = settings.__class__(**{**settings.__dict__, "config_path": path})
    runner = app.test_cli_runner()
    result = runner.invoke(args=["forecourt", "load-config"])
    assert result.exit_code == 0, result.output
    listed = runner.invoke(args=["forecourt", "sites", "--json"])
    rows = json.loads(listed.output)
    assert rows[0]["id"] == "smith"
    assert rows[0]["destinations"][0]["marketplace"] == "carzle"
    assert ENV["KEY"] not in listed.output and ENV["SECRET"] not in listed.output


def test_check_config_reports_bad_keys(app, tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text(GOOD.replace('preset = "inventory-presser"', 'preset = "nope"'))
    result = app.test_cli_runner().invoke(args=["forecourt", "check-config", str(path)])
    assert result.exit_code != 0
    assert "sites[0].preset" in result.output


def test_new_secret_is_a_standard_webhooks_secret(app):
    import base64

    out = app.test_cli_runner().invoke(args=["forecourt", "new-secret"]).output.strip()
    assert out.startswith("whsec_")
    assert len(base64.b64decode(out.removeprefix("whsec_"))) == 24


def test_keys_create_prints_the_token_once(app):
    result = app.test_cli_runner().invoke(args=["forecourt", "keys", "create", "--name", "ci", "--scope", "sites:read"])
    assert result.exit_code == 0
    assert result.output.strip().splitlines()[0].startswith("fck_")
