"""Process versions a database holds, for the policy owner's commands that read files
(`cme process show`, `diagram`, `diff`): a version published from a file outside `processes/`
is shown and drawn like a shipped one.

Imported only when a version is not among the shipped files, so those commands load no database
code otherwise. Which database: `--db`/CME_DATABASE_URL, else the deployment's, else the
development database if it exists (a command never makes one just to look).
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from engine.language.loader import LoadedProcess
    from engine.store.database import Store


def _store(db_url: str | None) -> Store | None:
    from engine.cli import wiring
    from engine.store.database import DEFAULT_SQLITE_PATH, open_store

    url = wiring.database(db_url)
    if url is None and not DEFAULT_SQLITE_PATH.exists():
        return None
    return open_store(url)


def stored_versions(process_id: str, db_url: str | None) -> list[int]:
    """The versions of `process_id` the database holds, ascending (none without a database)."""
    from sqlalchemy import select

    from engine.store.tables import process_version_table as table

    store = _store(db_url)
    if store is None:
        return []
    try:
        with store.read() as conn:
            found = conn.execute(
                select(table.c.version).where(table.c.process_id == process_id)
            ).scalars()
            return sorted(found)
    finally:
        store.dispose()


def stored_process(process_id: str, version: int, db_url: str | None) -> LoadedProcess | None:
    """A stored version, loaded and validated from its stored text (`stored:id@version`), or
    None if there is no database or it lacks the version.
    """
    from sqlalchemy import and_, select

    from engine.language.loader import load_process_text
    from engine.store.tables import process_version_table as table
    from engine.store.tables import stored_path

    store = _store(db_url)
    if store is None:
        return None
    try:
        with store.read() as conn:
            text = conn.execute(
                select(table.c.yaml_text).where(
                    and_(table.c.process_id == process_id, table.c.version == version)
                )
            ).scalar_one_or_none()
    finally:
        store.dispose()
    return None if text is None else load_process_text(text, stored_path(process_id, version))


def stored_effective_from(process_id: str, version: int, db_url: str | None) -> dt.date | None:
    """The date a stored version is in force from (for a pending one, the date a policy owner
    gave it with `cme process commence`); None if pending still or not stored.
    """
    from sqlalchemy import and_, select

    from engine.store.tables import process_version_table as table

    store = _store(db_url)
    if store is None:
        return None
    try:
        with store.read() as conn:
            found = conn.execute(
                select(table.c.effective_from).where(
                    and_(table.c.process_id == process_id, table.c.version == version)
                )
            ).scalar_one_or_none()
    finally:
        store.dispose()
    if found is None or isinstance(found, dt.date):
        return found
    return dt.date.fromisoformat(str(found)[:10])


__all__ = ["stored_effective_from", "stored_process", "stored_versions"]
