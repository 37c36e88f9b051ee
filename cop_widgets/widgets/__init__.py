"""Reusable UI pieces. They know nothing of SQL: they are handed data and emit events."""

from .reflection_stepper import ReflectionStepper
from .sign_in import SignIn
from .status_line import StatusLine

__all__ = ["ReflectionStepper", "SignIn", "StatusLine"]
