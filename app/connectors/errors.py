"""The exceptions connectors raise, each named for what the caller (the engine) must do next.

=================  ==========================================================================
``RetryLater``     transient (5xx, 408, timeout, connection error): back off and try again.
``RetryAt``        rate limited (429): reschedule at ``.at`` (epoch seconds); not an attempt.
``FixInput``       the data is wrong (422/400 or local validation): no retry until it changes.
``Reauthenticate`` credentials rejected (401/403) or missing: pause the destination.
``NotFound``       the remote object is gone (404); connectors mostly handle it themselves.
``Conflict``       409; connectors mostly handle it themselves.
``ConnectorError`` anything else (an unexpected 4xx): a permanent failure worth a human look.
=================  ==========================================================================
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from app.connectors.http import Call


class ConnectorError(Exception):
    """Base of every connector failure; carries what the remote said for the attempt log."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        request_id: str | None = None,
        fields: Mapping[str, str] | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.request_id = request_id
        self.fields: dict[str, str] = dict(fields or {})
        self.code = code
        # The remote's whole error object (e.g. Carzle's ``existingId`` on a 409).
        self.details: dict[str, Any] = {}
        # Filled in by Connector.operation() so a failed attempt still logs its HTTP calls.
        self.calls: list[Call] = []

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able summary, shaped for ``SyncState.last_error``."""
        return {
            "type": type(self).__name__,
            "message": self.message,
            "status": self.status,
            "requestId": self.request_id,
            "fields": self.fields,
            "code": self.code,
        }


class RetryLater(ConnectorError):
    """Transient failure. ``delay`` is a hint in seconds; None means "use your backoff"."""

    def __init__(self, message: str, *, delay: float | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.delay = delay


class RetryAt(ConnectorError):
    """Rate limited until ``at`` (epoch seconds). Must not count as a failed attempt."""

    def __init__(self, message: str, *, at: float, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.at = float(at)

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "at": self.at}


class FixInput(ConnectorError):
    """The data (or site configuration) must change before a retry can succeed."""

    def __init__(self, message: str, *, fields: Mapping[str, str], **kwargs: Any) -> None:
        super().__init__(message, fields=fields, **kwargs)


class Reauthenticate(ConnectorError):
    """Credentials are missing, revoked or lack a scope: pause the destination."""


class NotFound(ConnectorError):
    """The remote object does not exist (any more)."""


class Conflict(ConnectorError):
    """The remote already has the object (409), e.g. two creates raced."""
