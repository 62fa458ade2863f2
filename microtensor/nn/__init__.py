"""Neural-network building blocks on the engine."""

from . import functional

__all__ = ["functional"]
