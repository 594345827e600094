"""The connector registry: marketplace slug -> connector class."""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from app.connectors.base import Connector

_REGISTRY: dict[str, type[Connector]] = {}
C = TypeVar("C", bound="type[Connector]")


def register(cls: C) -> C:
    """Class decorator: make a connector available under its ``slug``."""
    if not cls.slug:
        raise ValueError(f"{cls.__name__} has no slug")
    existing = _REGISTRY.get(cls.slug)
    # Same qualified name means a module reload, not a clash.
    if existing is not None and (existing.__module__, existing.__qualname__) != (
        cls.__module__,
        cls.__qualname__,
    ):
        raise ValueError(f"connector slug {cls.slug!r} already registered by {existing!r}")
    _REGISTRY[cls.slug] = cls
    return cls


def get_connector_class(slug: str) -> type[Connector]:
    """The connector class for a marketplace slug; KeyError when unknown."""
    try:
        return _REGISTRY[slug]
    except KeyError:
        raise KeyError(f"no connector registered for {slug!r}; known: {available()}") from None


def available() -> list[str]:
    """Registered slugs, sorted."""
    return sorted(_REGISTRY)
