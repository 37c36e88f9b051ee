"""Reusable UI pieces. They know nothing of SQL: they are handed data and emit events."""

from .reflection_stepper import ReflectionStepper
from .status_line import StatusLine

__all__ = ["ReflectionStepper", "StatusLine"]
