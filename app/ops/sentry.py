"""Sentry, only when SENTRY_DSN is set, with secrets and signatures scrubbed before sending."""

from __future__ import annotations

import re
from typing import Any

from app.config import Settings

SENSITIVE_KEYS = re.compile(
    r"(authorization|api[_-]?key|secret|password|passwd|token|signature|cookie|credential|"
    r"webhook-signature|x-wc-webhook-signature|x-wp-webhook-signature|x-dealer-api-key|"
    r"encryption|dsn|cost_price|"
    # Shoppers' personal data (leads); never "message", Sentry's own field for the event text.
    r"email|first_?name|last_?name|^fname$|^lname$|phone)",
    re.IGNORECASE,
)
# Values that look like secrets even under innocent keys (e.g. in a logged URL or message).
SENSITIVE_VALUES = re.compile(
    r"(whsec_[A-Za-z0-9+/=]+|cz_(live|test)_[A-Za-z0-9]+|Bearer\s+\S+|"
    # An email address anywhere in a message or URL; an Express link's encrypted ``mem`` token.
    r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}|mem=[^&\s]+)"
)
FILTERED = "[Filtered]"


def scrub(value: Any, key: str | None = None) -> Any:
    if key is not None and SENSITIVE_KEYS.search(key):
        return FILTERED
    if isinstance(value, dict):
        return {k: scrub(v, str(k)) for k, v in value.items()}
    if isinstance(value, list):
        # Sentry sends headers as [[name, value], ...] pairs.
        if all(isinstance(item, (list, tuple)) and len(item) == 2 for item in value) and value:
            return [[k, scrub(v, str(k))] for k, v in value]
        return [scrub(item) for item in value]
    if isinstance(value, tuple):
        return tuple(scrub(item) for item in value)
    if isinstance(value, str):
        return SENSITIVE_VALUES.sub(FILTERED, value)
    return value


def before_send(event: dict[str, Any], hint: dict[str, Any] | None = None) -> dict[str, Any]:
    return scrub(event)


def init_sentry(settings: Settings) -> bool:
    if not settings.sentry_dsn:
        return False
    import sentry_sdk
    from sentry_sdk.integrations.flask import FlaskIntegration
    from sentry_sdk.integrations.rq import RqIntegration

    sentry_sdk.init(
        dsn=settings.sentry_dsn,
        environment=settings.sentry_environment or settings.env,
        integrations=[FlaskIntegration(), RqIntegration()],
        send_default_pii=False,
        # Frame locals would carry decrypted secrets (a site's webhook secrets, a DMS key).
        include_local_variables=False,
        max_request_body_size="never",
        before_send=before_send,
        before_send_transaction=before_send,
    )
    return True
