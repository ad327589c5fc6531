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
    from engine.cases.reading import CaseReader
    from engine.cases.service import CaseService
    from engine.language.registry import ProcessRegistry
    from engine.protection.access import Actor, RoleTable
    from engine.protection.crypto import CaseKeys


@functools.cache
def registry() -> ProcessRegistry:
    """The shipped processes, loaded once per run."""
    from engine.language.registry import ProcessRegistry

    return ProcessRegistry.from_package()


def service(db_url: str | None) -> CaseService:
    """A case service over the database at `db_url` (default: SQLite in .cme/).

    The shipped processes are loaded only when a command needs them (opening a case): showing
    or advancing one uses the version stored with it.
    """
    from engine.cases.service import CaseService
    from engine.store.database import open_store

    return CaseService(open_store(db_url), registry, roles=roles(), keys=keys())


def reader(db_url: str | None) -> CaseReader:
    """Reads of cases over the database at `db_url`, for commands that change nothing: no
    process definitions, guards or machines are built (`cme case show` starts fast).
    """
    from engine.cases.reading import CaseReader
    from engine.store.database import open_store

    return CaseReader(open_store(db_url), roles=roles(), keys=keys())


def now() -> dt.datetime:
    """The recorded time of a command: the wall clock, read here and only here (and scheduler)."""
    return dt.datetime.now(dt.UTC)


def actor(name: str | None, role: str) -> Actor:
    """The acting person: --actor, CME_ACTOR, or the login name."""
    from engine.protection.access import Actor

    roles().refuse_internal(role)
    return Actor(name or os.environ.get("USER") or "unknown", role)


@functools.cache
def roles() -> RoleTable:
    """The role table: CME_ROLES_FILE if set, else the shipped processes/roles.yaml."""
    from engine.protection.access import load_role_table

    return load_role_table(os.environ.get("CME_ROLES_FILE") or None)


@functools.cache
def keys() -> CaseKeys:
    """Case keys under the master key (CME_MASTER_KEY / CME_MASTER_KEY_FILE / a dev key)."""
    import click

    from engine.protection.crypto import CaseKeys, master_key_from_environment

    master, created = master_key_from_environment()
    if created is not None:
        click.echo(
            f"note: made a development master key at {created}; keep it with the database "
            "(without it personal data cannot be read). For real data set "
            "CME_MASTER_KEY_FILE to a key kept outside the data folder and its backups.",
            err=True,
        )
    return CaseKeys(master)
