"""Safe JSON for inbound hooks: UTF-8 only, bounded nesting, no text that cannot be encoded.

``json.loads`` on bytes guesses UTF-16/32, recurses once per nesting level (1,000 levels in
2 KB raise ``RecursionError``) and accepts lone surrogate escapes (``"\\ud800"``) that later
fail to encode. Each of those is a 400 here, before anything is queued.
"""

from __future__ import annotations

import json
from typing import Any

from app.errors import ApiError

MAX_DEPTH = 32  # WordPress and DMS payloads nest 4–6 levels; far from Python's recursion limit

_BOMS = (
    (b"\xef\xbb\xbf", "UTF-8 with a byte-order mark"),
    (b"\x00\x00\xfe\xff", "UTF-32"),
    (b"\xff\xfe\x00\x00", "UTF-32"),
    (b"\xfe\xff", "UTF-16"),
    (b"\xff\xfe", "UTF-16"),
)


def _reject(message: str, code: str = "invalid_json") -> ApiError:
    return ApiError(message, status=400, code=code)


def decode_utf8(body: bytes) -> str:
    """The body as text, or 400 unless it is plain UTF-8 (no BOM, no NUL, no surrogates)."""
    for bom, name in _BOMS:
        if body.startswith(bom):
            raise _reject(f"The body is {name}; send JSON encoded as UTF-8 without a byte-order mark.",
                          "unsupported_encoding")
    if b"\x00" in body:
        # UTF-16/32 without a BOM: every ASCII character carries a NUL byte.
        raise _reject("The body contains NUL bytes (UTF-16 or UTF-32?); send JSON encoded as UTF-8.",
                      "unsupported_encoding")
    try:
        # Python's UTF-8 codec is strict: encoded surrogates (ED A0 80...) are rejected too.
        return body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _reject(f"The body is not valid UTF-8 (byte {exc.start}); send JSON encoded as UTF-8.",
                      "unsupported_encoding") from None


def check_depth(text: str, max_depth: int = MAX_DEPTH) -> None:
    """400 if arrays/objects nest deeper than ``max_depth``: a linear scan before parsing,
    so the recursive parser never sees a document deep enough to exhaust the stack."""
    depth = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            if depth > max_depth:
                raise _reject(f"The JSON nests deeper than {max_depth} levels.", "too_deep")
        elif char in "]}":
            depth -= 1


def _check_text(value: Any, path: str) -> None:
    """Every string and key must be encodable as UTF-8 (a lone surrogate escape is not)."""
    stack = [(value, path)]
    while stack:
        item, where = stack.pop()
        if isinstance(item, str):
            _encodable(item, where)
        elif isinstance(item, dict):
            for key, child in item.items():
                _encodable(key, where)
                stack.append((child, f"{where}.{key}" if where else key))
        elif isinstance(item, list):
            stack.extend((child, f"{where}[{i}]") for i, child in enumerate(item))


def _encodable(text: str, where: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise _reject(f"The JSON has a lone surrogate escape (such as \\ud800) at {where or 'the top level'}; "
                      "such text cannot be encoded.", "invalid_text") from None


def _no_constants(name: str) -> Any:
    # NaN and Infinity are not JSON, and no marketplace takes them as a price or mileage.
    raise ValueError(f"{name} is not JSON")


def parse_json(body: bytes, max_depth: int = MAX_DEPTH) -> tuple[Any, str]:
    """The parsed body and its text, or an ApiError (400) that says what is wrong with it."""
    text = decode_utf8(body)
    check_depth(text, max_depth)
    try:
        data = json.loads(text, parse_constant=_no_constants)
    except (ValueError, RecursionError):
        raise _reject("The body is not valid JSON.") from None
    _check_text(data, "")
    return data, text
