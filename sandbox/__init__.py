"""Local emulations of the marketplaces Forecourt syncs to (Carzle, Carslink, Auterio).

Run ``python -m sandbox --help`` for the dev server; see ``sandbox/README.md``.
"""

from sandbox.app import SandboxRegistry, create_sandbox_app, get_registry
from sandbox.auterio import AuterioSandbox
from sandbox.carslink import CarslinkSandbox
from sandbox.carzle import CarzleSandbox
from sandbox.common import KeySpec, SandboxSettings

__all__ = [
    "AuterioSandbox",
    "CarslinkSandbox",
    "CarzleSandbox",
    "KeySpec",
    "SandboxRegistry",
    "SandboxSettings",
    "create_sandbox_app",
    "get_registry",
]
