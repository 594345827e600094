"""JSON logs carrying a request id that follows an event from its webhook into its RQ jobs."""

from __future__ import annotations

import contextvars
import json
import logging
import re
import secrets
import sys
import time
from typing import Any

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)

_VALID_INBOUND_ID = re.compile(r"^[A-Za-z0-9_.:-]{6,64}$")


def new_request_id() -> str:
    return "req_" + secrets.token_hex(10)


def accept_request_id(header_value: str | None) -> str:
    # A caller's id is reused so their logs and ours line up, but only if it is harmless.
    if header_value and _VALID_INBOUND_ID.match(header_value):
        return header_value
    return new_request_id()


class ContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get()
        return True


class JsonFormatter(logging.Formatter):
    _SKIP = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "request_id"}

    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        if getattr(record, "request_id", None):
            payload["requestId"] = record.request_id
        for key, value in record.__dict__.items():
            if key not in self._SKIP and not key.startswith("_"):
                payload[key] = value
        if record.exc_info:
            payload["exc"] = self.formatException(record.exc_info)
        return json.dumps(payload, default=str)


def configure_logging(level: str = "INFO", *, json_format: bool = True) -> None:
    root = logging.getLogger()
    handler = next((h for h in root.handlers if getattr(h, "_forecourt", False)), None)
    if handler is None:
        handler = logging.StreamHandler(sys.stderr)
        handler._forecourt = True  # type: ignore[attr-defined]
        handler.addFilter(ContextFilter())
        root.addHandler(handler)
    handler.setFormatter(
        JsonFormatter()
        if json_format
        else logging.Formatter("%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s")
    )
    root.setLevel(level)
