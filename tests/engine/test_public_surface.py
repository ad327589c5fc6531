"""The engine's public surface is small, pinned, and importing it loads nothing heavy."""

from __future__ import annotations

import subprocess
import sys

import engine

PINNED = [
    "Actor",
    "CMEError",
    "CaseEvent",
    "CaseReader",
    "CaseService",
    "CaseState",
    "DefinitionError",
    "ProcessDefinition",
    "ProcessRegistry",
    "SchoolCalendar",
    "load_calendar",
    "open_store",
]


def test_public_names_are_pinned() -> None:
    assert engine.__all__ == sorted(PINNED)
    for name in PINNED:
        assert getattr(engine, name) is not None


def test_importing_engine_and_cli_root_loads_no_sqlalchemy() -> None:
    code = (
        "import sys, engine, engine.cli; "
        "print(sorted(m for m in ('sqlalchemy','sqlmodel','apscheduler') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
