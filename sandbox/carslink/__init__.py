"""Carslink partner push API emulation (seed 002); see ``sandbox/README.md``."""

from sandbox.carslink.sandbox import CarslinkSandbox

__all__ = ["CarslinkSandbox"]
