"""The CME case engine: its public surface, imported lazily so light commands stay light.

`from engine import CaseService` works, but importing `engine` itself loads nothing heavy:
each name is imported on first use (PEP 562), so `cme --help` never pulls in SQLAlchemy.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "Actor": "engine.protection.access",
    "CaseReader": "engine.cases.reading",
    "CaseService": "engine.cases.service",
    "CaseState": "engine.cases.projection",
    "CaseEvent": "engine.cases.projection",
    "CMEError": "engine.errors",
    "DefinitionError": "engine.errors",
    "ProcessDefinition": "engine.language.definition",
    "ProcessRegistry": "engine.language.registry",
    "SchoolCalendar": "engine.time.calendar",
    "load_calendar": "engine.time.calendars",
    "open_store": "engine.store.database",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'engine' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
