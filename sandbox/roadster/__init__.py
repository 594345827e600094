"""Stateful emulation of Roadster's partner API and Express storefronts (seed 003).

``state`` holds dealers, keys and customers; ``crypto`` the Express ``mem`` token; ``http``
the Flask wiring. Decisions where the Roadster docs are silent: ``sandbox/README.md``.
"""

from sandbox.roadster.crypto import build_query, decrypt_token, encrypt_token, parse_cipher_key, parse_customer
from sandbox.roadster.http import RoadsterSandbox
from sandbox.roadster.state import RoadsterError, RoadsterState

__all__ = [
    "RoadsterError",
    "RoadsterSandbox",
    "RoadsterState",
    "build_query",
    "decrypt_token",
    "encrypt_token",
    "parse_cipher_key",
    "parse_customer",
]
