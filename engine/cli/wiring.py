"""The composition root: reads the deployment's configuration (`cme.toml`) and builds the
store, master key, registry and service the commands use.

Only the CLI (and the scheduler) call this; the engine below never reads the environment's
clock or picks its own adapters.
"""

from __future__ import annotations

import datetime as dt
import functools
import os
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from engine.cases.reading import CaseReader
    from engine.cases.service import CaseService
    from engine.deployment.config import DeploymentConfig
    from engine.language.registry import ProcessRegistry
    from engine.protection.access import Actor, RoleTable
    from engine.protection.crypto import CaseKeys


CONFIG_META = "cme.config"
"""Where `cme --config PATH` leaves the path, in the click context's shared `meta`."""


@functools.cache
def registry() -> ProcessRegistry:
    """The shipped processes, loaded once per run."""
    from engine.language.registry import ProcessRegistry

    return ProcessRegistry.from_package()


def config(db_url: str | None = None) -> DeploymentConfig:
    """The deployment's configuration: `cme --config PATH`, else CME_CONFIG, else a cme.toml
    beside the SQLite database named by `db_url`/CME_DATABASE_URL, else ./cme.toml; with none,
    the development defaults.
    """
    import click

    from engine.deployment.config import deployment_config

    ctx = click.get_current_context(silent=True)
    given = None if ctx is None else ctx.meta.get(CONFIG_META)
    found = deployment_config(given, db_url=db_url)
    if found.calendars.folder is not None:
        from engine.time.calendars import use_local_folder

        use_local_folder(found.calendars.folder)
    return found


def database(db_url: str | None) -> str | None:
    """The database a command opens: --db/CME_DATABASE_URL, else the configuration's, else None
    (the development database).
    """
    from engine.deployment.config import database_url

    return database_url(db_url or os.environ.get("CME_DATABASE_URL") or None, config(db_url))


def smtp_environment(db_url: str | None) -> dict[str, str]:
    """CME_SMTP_* settings for the mail adapter: the environment's, else the configuration's
    [smtp] (its password read from `password_file`).
    """
    smtp = config(db_url).smtp
    configured = {
        "CME_SMTP_HOST": smtp.host,
        "CME_SMTP_PORT": str(smtp.port) if smtp.host else None,
        "CME_SMTP_USER": smtp.username,
        "CME_SMTP_PASSWORD": smtp.password(),
        "CME_SMTP_SECURITY": "starttls" if smtp.starttls else None,
        "CME_SMTP_FROM": smtp.sender,
    }
    return {**{k: v for k, v in configured.items() if v is not None}, **os.environ}


def service(db_url: str | None) -> CaseService:
    """A case service over the database at `db_url` (default: the configuration's, else SQLite
    in .cme/).

    The shipped processes are loaded only when a command needs them (opening a case): showing
    or advancing one uses the version stored with it.
    """
    from engine.cases.service import CaseService
    from engine.store.database import open_store

    store = open_store(database(db_url))
    return CaseService(store, registry, roles=roles(), keys=keys(store.url, _source(db_url)))


def reader(db_url: str | None) -> CaseReader:
    """Reads of cases over the database at `db_url`, for commands that change nothing: no
    process definitions, guards or machines are built (`cme case show` starts fast).
    """
    from engine.cases.reading import CaseReader
    from engine.store.database import open_store

    store = open_store(database(db_url))
    return CaseReader(store, roles=roles(), keys=keys(store.url, _source(db_url)))


def now() -> dt.datetime:
    """The recorded time of a command: the wall clock, read here and only here (and scheduler)."""
    return dt.datetime.now(dt.UTC)


def actor(name: str | None, role: str) -> Actor:
    """The acting person: --actor, else CME_ACTOR (click reads it into `name`). Without one the
    command is refused (ActorRequired), saying how to set it: every event and logged read names
    who did it, never a default such as "unknown" or the machine's login name (a shared service
    account names no officer).
    """
    from engine.errors import ActorRequired
    from engine.protection.access import Actor

    roles().refuse_internal(role)
    given = (name or os.environ.get("CME_ACTOR") or "").strip()
    if not given:
        raise ActorRequired(
            "who is doing this? Give your name with --actor NAME (e.g. --actor sona.k) or set it "
            "once for the session: export CME_ACTOR=sona.k. Every event and read of a case is "
            "recorded under the name given"
        )
    from engine.cases.free_text import check_free_text

    return Actor(check_free_text(given, what="actor name"), role)


@functools.cache
def roles() -> RoleTable:
    """The role table: CME_ROLES_FILE if set, else the shipped processes/roles.yaml."""
    from engine.protection.access import load_role_table

    return load_role_table(os.environ.get("CME_ROLES_FILE") or None)


def _source(db_url: str | None) -> Path | None:
    return config(db_url).source


@functools.cache
def keys(url: str | None = None, source: Path | None = None) -> CaseKeys:
    """Case keys for the database at `url` under the master key: CME_MASTER_KEY,
    CME_MASTER_KEY_FILE, the configuration's (`source`) keys.master_key_file, else a
    development key beside the SQLite database (never for a database already holding cases).
    """
    import click

    from engine.deployment.config import DeploymentConfig, load_config
    from engine.deployment.keys import case_keys
    from engine.store.database import open_store

    deployment = DeploymentConfig() if source is None else load_config(source)
    store = open_store(url, upgrade=False)
    try:
        made, created = case_keys(deployment, store=store)
    finally:
        store.dispose()
    if created is not None:
        click.echo(
            f"note: made a development master key at {created}, beside the database; keep it "
            "with the database (without it personal data cannot be read). For real data make "
            "one with `cme admin key new PATH` and name it in cme.toml (keys.master_key_file) "
            "or CME_MASTER_KEY_FILE, kept outside the data folder and its backups.",
            err=True,
        )
    return made
