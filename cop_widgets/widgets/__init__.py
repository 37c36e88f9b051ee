"""Reusable UI pieces. They know nothing of SQL: they are handed data and emit events.

Each keeps its state in declared traits (`value`, `disabled`, …) and offers its actions as
methods (`rate()`, `step_out()`, `start()`, …) that the apps and the tests call.

Exported lazily: a page that never checks for identifiers does not load the checker's
phone-number tables into its kernel (the participant kernel has a memory budget).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_HOME = {
    "DeidCheck": "deid_check",
    "ItemForm": "item_form",
    "PhaseTimer": "phase_timer",
    "ReflectionStepper": "reflection_stepper",
    "SafetyBanner": "safety_banner",
    "ScaleRating": "scale_rating",
    "SharedLook": "shared_look",
    "StatusLine": "status_line",
    "spread_html": "scale_rating",
}
__all__ = [
    "DeidCheck",
    "ItemForm",
    "PhaseTimer",
    "ReflectionStepper",
    "SafetyBanner",
    "ScaleRating",
    "SharedLook",
    "StatusLine",
    "spread_html",
]

if TYPE_CHECKING:
    from cop_widgets.widgets.deid_check import DeidCheck
    from cop_widgets.widgets.item_form import ItemForm
    from cop_widgets.widgets.phase_timer import PhaseTimer
    from cop_widgets.widgets.reflection_stepper import ReflectionStepper
    from cop_widgets.widgets.safety_banner import SafetyBanner
    from cop_widgets.widgets.scale_rating import ScaleRating, spread_html
    from cop_widgets.widgets.shared_look import SharedLook
    from cop_widgets.widgets.status_line import StatusLine


def __getattr__(name: str) -> Any:
    if name not in _HOME:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f".{_HOME[name]}", __name__), name)
