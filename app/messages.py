"""The one flattener of nested error messages (marshmallow's ``messages``, a remote's
``fields``): every message with its dotted path, e.g. ``vehicles.3.vin``.

Flask-free, so connectors use it too. Callers pick the shape they show:
:func:`flatten_messages` (path -> message, the error envelope's ``fields``) or
:func:`message_lines` (``"path: message"`` lines for logs and CLI output).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def message_pairs(messages: Any, prefix: str = "") -> list[tuple[str, str]]:
    """``(path, message)`` for every message, in order; the top level's path is ``""``."""
    if isinstance(messages, Mapping):
        pairs: list[tuple[str, str]] = []
        for key, value in messages.items():
            pairs.extend(message_pairs(value, f"{prefix}.{key}" if prefix else str(key)))
        return pairs
    if isinstance(messages, list | tuple):
        if all(isinstance(m, str) for m in messages):
            return [(prefix, m) for m in messages]
        pairs = []
        for index, value in enumerate(messages):
            pairs.extend(message_pairs(value, f"{prefix}.{index}" if prefix else str(index)))
        return pairs
    return [(prefix, str(messages))]


def flatten_messages(messages: Any, prefix: str = "") -> dict[str, str]:
    """Path -> its messages joined by a space; the top level is keyed ``_schema``."""
    flat: dict[str, str] = {}
    for path, message in message_pairs(messages, prefix):
        key = path or "_schema"
        flat[key] = f"{flat[key]} {message}" if key in flat else message
    return flat


def message_lines(messages: Any) -> list[str]:
    """One ``"path: message"`` line per message (a bare message at the top level)."""
    return [f"{path}: {message}" if path else message for path, message in message_pairs(messages)]
