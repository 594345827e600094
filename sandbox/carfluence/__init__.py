"""Stateful emulation of the Carfluence REST API v1 (seed 000), under ``/carfluence/api/v1``.

``tokens`` signs RS256 JWTs; ``inventory`` holds vehicles, history, filters and the generator;
``http`` the auth, rate-limit and fault pipeline and the API; ``control`` the
``/_sandbox/carfluence`` routes. Decisions where the docs are silent: ``sandbox/README.md``.
"""

from sandbox.carfluence.http import SCOPES, CarfluenceSandbox
from sandbox.carfluence.inventory import Inventory, vin_with_check_digit
from sandbox.carfluence.tokens import TokenIssuer

__all__ = ["SCOPES", "CarfluenceSandbox", "Inventory", "TokenIssuer", "vin_with_check_digit"]
