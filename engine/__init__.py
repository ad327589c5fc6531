"""The CME case engine: its public surface, imported lazily so light commands stay light.

`from engine import CaseService` works, but importing `engine` itself loads nothing heavy:
each name is imported on first use (PEP 562), so `cme --help` never pulls in SQLAlchemy.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "Actor": "engine.access",
    "CaseReader": "engine.reading",
    "CaseService": "engine.service",
    "CaseState": "engine.projection",
    "CaseEvent": "engine.projection",
    "CMEError": "engine.errors",
    "DefinitionError": "engine.errors",
    "ProcessDefinition": "engine.definition",
    "ProcessRegistry": "engine.registry",
    "SchoolCalendar": "engine.calendar",
    "load_calendar": "engine.calendar",
    "open_store": "engine.store",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'engine' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
