"""Opening the database: its URL, the connection settings that make a commit durable, and
`open_store`, which creates or upgrades the schema (`engine/store/schema.py`) as it opens.
"""

from __future__ import annotations

import os
import sqlite3
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import Connection

from engine.errors import InputError
from engine.store.schema import upgrade_schema

DEFAULT_SQLITE_PATH = Path(".cme") / "cme.db"

SUPPORTED = (
    "SQLite (sqlite:///path/to/cme.db) and PostgreSQL (postgresql://user@host/dbname, through "
    "psycopg)"
)
"""The databases cme runs on, as a refusal names them."""
_SUPPORTED_BACKENDS = {"sqlite": {"pysqlite"}, "postgresql": {"psycopg"}}
SQLITE_HEADER = b"SQLite format 3\x00"
"""The first 16 bytes of every SQLite database file."""


class DatabaseUnusable(InputError):
    """The database named cannot be used: a URL of a kind cme does not run on, a file that is
    not an SQLite database (or is damaged), a folder or server that is not there.
    """

    code = "database_unusable"


def database_url(url: str | None) -> str:
    """The URL to use: the one given, else CME_DATABASE_URL, else SQLite in .cme/cme.db."""
    url = url or os.environ.get("CME_DATABASE_URL")
    if url:
        if url.startswith("postgresql://"):
            return "postgresql+psycopg://" + url.removeprefix("postgresql://")
        return url
    DEFAULT_SQLITE_PATH.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{DEFAULT_SQLITE_PATH}"


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    # synchronous=FULL: in WAL mode NORMAL may lose the last commits on power loss, and an
    # officer told "done" must be able to rely on it. busy_timeout lets writers queue.
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=FULL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.close()
    # Let SQLAlchemy's BEGIN be the real one (see _sqlite_begin).
    dbapi_conn.isolation_level = None


def _sqlite_begin(conn: Connection) -> None:
    # BEGIN IMMEDIATE takes the write lock up front, so two writers queue instead of one failing
    # late with "database is locked" on lock upgrade. Readers (`Store.read`) take no lock: in
    # WAL mode they see the last commit and never block a writer.
    if conn.get_execution_options().get("cme_read_only"):
        conn.exec_driver_sql("BEGIN")
    else:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


@dataclass
class Store:
    """An open database: the engine plus what kind it is."""

    engine: Engine
    url: str

    @property
    def is_sqlite(self) -> bool:
        """Whether this is the embedded SQLite store."""
        return self.engine.dialect.name == "sqlite"

    def read(self) -> Connection:
        """A connection for reading only (use it in `with`); on SQLite it takes no write lock."""
        return self.engine.connect().execution_options(cme_read_only=True)

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()


def open_store(url: str | None = None, *, upgrade: bool = True) -> Store:
    """Open (and, by default, create or upgrade) the database at `url`."""
    from sqlalchemy.exc import ArgumentError, DatabaseError

    resolved = database_url(url)
    _refuse_unsupported(resolved)
    try:
        if resolved.startswith("sqlite"):
            engine = create_engine(resolved, connect_args={"check_same_thread": False})
            event.listen(engine, "connect", _sqlite_pragmas)
            event.listen(engine, "begin", _sqlite_begin)
        else:
            engine = create_engine(resolved, pool_pre_ping=True)
    except ArgumentError as exc:
        raise DatabaseUnusable(
            f"{url or resolved!r} is not a database URL cme can use ({exc}); write e.g. "
            "sqlite:///path/to/cme.db or postgresql://user@host/dbname"
        ) from None
    store = Store(engine=engine, url=resolved)
    if store.is_sqlite:
        _refuse_non_database(engine.url.database)
    if upgrade:
        try:
            upgrade_schema(store)
        except DatabaseError as exc:  # OperationalError too: a missing folder, a server down
            store.dispose()
            where = engine.url.render_as_string(hide_password=True)
            said = str(exc.orig).strip()
            if "malformed" in said or "not a database" in said:
                raise DatabaseUnusable(
                    f"the database at {where} is damaged ({said}); nothing was written. Restore "
                    'it from a backup (docs/deploy.md, "Backups and restores")'
                ) from None
            raise DatabaseUnusable(
                f"cannot open the database at {where}: {said}; check --db or "
                "CME_DATABASE_URL (and that the folder or server exists)"
            ) from None
    return store


def _refuse_unsupported(resolved: str) -> None:
    """Refuse a URL of a database cme does not run on (e.g. mysql://), naming those it does."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = make_url(resolved)
    except ArgumentError:
        return  # create_engine says why, in open_store
    backend, driver = parsed.get_backend_name(), parsed.get_driver_name()
    if driver not in _SUPPORTED_BACKENDS.get(backend, set()):
        shown = parsed.render_as_string(hide_password=True)
        kind = backend if backend not in _SUPPORTED_BACKENDS else f"{backend} through {driver}"
        raise DatabaseUnusable(
            f"{shown}: cme does not run on {kind}; it runs on {SUPPORTED}. Check --db or "
            "CME_DATABASE_URL"
        )


def _refuse_non_database(path: str | None) -> None:
    """Refuse an existing file that is not an SQLite database, before anything is written to
    it (SQLite would otherwise fail half-way through opening it, or take an empty file).
    """
    if not path or path == ":memory:" or path.startswith("file:"):
        return
    target = Path(path)
    if not target.is_file():
        return  # a new database, or a folder: SQLite's own message names it
    # Read through SQLite, never open()/close(): closing any descriptor of the file drops every
    # POSIX lock this process holds on it, so another process took the WAL for abandoned and
    # committed cases were lost (a backup running beside an opening, 3 Dec 2026). SQLite's own
    # connections share one descriptor per file and keep the locks.
    try:
        with closing(
            sqlite3.connect(f"file:{quote(str(target.absolute()))}?mode=ro", uri=True)
        ) as conn:
            conn.execute("PRAGMA schema_version").fetchone()
    except sqlite3.DatabaseError as exc:
        said = str(exc)
        if "not a database" in said:
            raise DatabaseUnusable(
                f"{path} is not a cme database (not an SQLite file); nothing was written. Check "
                "--db or CME_DATABASE_URL names the database, not another file"
            ) from None
        if "unable to open" in said:
            raise DatabaseUnusable(f"cannot read the database file {path}: {said}") from None
        # Locked or busy: the real opening waits and reports it; damage is named there too.


__all__ = [
    "DEFAULT_SQLITE_PATH",
    "SUPPORTED",
    "DatabaseUnusable",
    "Store",
    "database_url",
    "open_store",
]
