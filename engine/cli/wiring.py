"""The composition root: builds the store, registry and service the commands use.

Only the CLI (and the scheduler) call this; the engine below never reads the environment's
clock or picks its own adapters.
"""

from __future__ import annotations

import datetime as dt
import functools
import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from engine.registry import ProcessRegistry
    from engine.service import Actor, CaseService


@functools.cache
def registry() -> ProcessRegistry:
    """The shipped processes, loaded once per run."""
    from engine.registry import ProcessRegistry

    return ProcessRegistry.from_package()


def service(db_url: str | None) -> CaseService:
    """A case service over the database at `db_url` (default: SQLite in .cme/).

    The shipped processes are loaded only when a command needs them (opening a case): showing
    or advancing one uses the version stored with it.
    """
    from engine.service import CaseService
    from engine.store import open_store

    return CaseService(open_store(db_url), registry)


def now() -> dt.datetime:
    """The recorded time of a command: the wall clock, read here and only here (and scheduler)."""
    return dt.datetime.now(dt.UTC)


def actor(name: str | None, role: str) -> Actor:
    """The acting person: --actor, CME_ACTOR, or the login name."""
    from engine.service import Actor

    return Actor(name or os.environ.get("USER") or "unknown", role)
