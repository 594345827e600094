from __future__ import annotations

import json
import logging

from app.ops.logging import JsonFormatter, request_id_var
from app.ops.sentry import FILTERED, before_send


def test_before_send_strips_secrets_and_signatures():
    event = {
        "request": {
            "headers": [
                ["Authorization", "Bearer cz_live_abc"],
                ["Webhook-Signature", "v1,abc="],
                ["X-WC-Webhook-Signature", "abc="],
                ["User-Agent", "WordPress/6.6"],
            ],
            "data": {"api_key": "k", "price": 100, "cost_price": 9000},
        },
        "extra": {"note": "secret is whsec_AAAA and key cz_live_XYZ"},
        "breadcrumbs": {"values": [{"message": "calling with Bearer abc.def"}]},
    }
    scrubbed = before_send(event, {})
    headers = dict(scrubbed["request"]["headers"])
    assert headers["Authorization"] == FILTERED
    assert headers["Webhook-Signature"] == FILTERED
    assert headers["X-WC-Webhook-Signature"] == FILTERED
    assert headers["User-Agent"] == "WordPress/6.6"
    assert scrubbed["request"]["data"] == {"api_key": FILTERED, "price": 100, "cost_price": FILTERED}
    assert "whsec_AAAA" not in json.dumps(scrubbed)
    assert "cz_live_XYZ" not in json.dumps(scrubbed)
    assert "abc.def" not in json.dumps(scrubbed)


def test_json_logs_carry_the_request_id():
    record = logging.LogRecord("forecourt", logging.INFO, __file__, 1, "synced %s", ("car",), None)
    token = request_id_var.set("req_abc123")
    try:
        from app.ops.logging import ContextFilter

        ContextFilter().filter(record)
    finally:
        request_id_var.reset(token)
    line = json.loads(JsonFormatter().format(record))
    assert line["msg"] == "synced car"
    assert line["requestId"] == "req_abc123"


def test_sentry_is_off_without_a_dsn(settings):
    from app.ops.sentry import init_sentry

    assert init_sentry(settings) is False
