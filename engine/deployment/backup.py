"""Backups of the SQLite store, and checking one: what `cme admin backup` and `backup-check` do.

In WAL mode SQLite keeps recent commits in `cme.db-wal` until a checkpoint folds them into
`cme.db`, so copying `cme.db` alone can lose most of the data. `take_backup` uses SQLite's online
backup API instead: it copies the database as a connection sees it (the WAL's content included)
in one consistent snapshot while the scheduler and officers carry on writing. The copy is written
to a temporary file, made a single self-contained file (no WAL), then linked into place, so a
backup is never half-written and never overwrites another.

`check_backup` works on a private copy of a backup (the file itself is never opened for writing),
verifies every case's hash chain, projection and the ledger of case openings (`engine.audit.verify`)
and says what the backup holds. A backup made by an older cme is checked as a restore would see
it: upgraded, on the copy only. PostgreSQL is backed up with its own tools (`pg_dump`):
`take_backup` refuses it, saying how.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import secrets
import shutil
import sqlite3
import tempfile
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from engine.errors import InputError, IntegrityFailure

SQLITE_HEADER = b"SQLite format 3\x00"
CME_TABLES = ("cme_case", "case_event", "process_version", "schema_version")
"""Tables every cme database has; a file without them is some other SQLite database."""


class BackupError(InputError):
    """A backup cannot be taken or read: no database there, not a cme database, a damaged file."""

    code = "backup_error"


class UsePgDump(InputError):
    """The database is PostgreSQL, which is backed up with `pg_dump`, not by cme."""

    code = "use_pg_dump"

    def __init__(self, where: str) -> None:
        self.database = where
        super().__init__(
            f"the database is PostgreSQL ({where}); cme backs up SQLite only. Back it up with "
            "PostgreSQL's own tools, as the user that owns the database, e.g.\n"
            "  pg_dump --format=custom --file=cme-$(date -u +%Y%m%dT%H%M%SZ).dump "
            "'postgresql://USER@HOST/DBNAME'\n"
            "restore into an empty database with\n"
            "  pg_restore --no-owner --dbname='postgresql://USER@HOST/NEWDB' FILE.dump\n"
            "then check it with `cme audit verify --all --db postgresql://USER@HOST/NEWDB "
            '--role auditor` (see docs/deploy.md, "Backups on PostgreSQL")'
        )


@dataclass(frozen=True)
class BackupResult:
    """A backup just written: where, how big, its SHA-256, and how much it holds."""

    path: Path
    size: int
    sha256: str
    cases: int
    events: int

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready fields."""
        return {**asdict(self), "path": str(self.path)}


def sqlite_path(url: str) -> Path:
    """The file an SQLite URL names; `UsePgDump` for PostgreSQL, `BackupError` for the rest."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = make_url(url)
    except ArgumentError:
        raise BackupError(f"{url!r} is not a database URL") from None
    backend = parsed.get_backend_name()
    if backend == "postgresql":
        raise UsePgDump(parsed.render_as_string(hide_password=True))
    if backend != "sqlite" or not parsed.database or parsed.database == ":memory:":
        raise BackupError(
            f"cannot back up {parsed.render_as_string(hide_password=True)}: "
            "cme backs up an SQLite database file (PostgreSQL: use pg_dump)"
        )
    return Path(parsed.database)


MAX_SAME_SECOND = 100
"""Backups into one folder within the same second get -2, -3 … after the time, up to this."""


def destination(dest: str | Path, at: dt.datetime) -> tuple[Path, list[Path]]:
    """Where to write: `dest` itself, or `cme-<UTC time>.db` inside it when it is a folder.

    Returns the file and, for a folder, the names to try in turn should it be taken meanwhile.
    Refuses a file that exists (a backup never overwrites one) and a folder that does not
    (`dest` written with a trailing `/` names a folder).
    """
    if isinstance(dest, str) and dest.endswith(("/", os.sep)) and not Path(dest).is_dir():
        raise BackupError(f"no folder {dest} to write the backup in")
    dest = Path(dest)
    if dest.is_dir():
        stem = f"cme-{at.astimezone(dt.UTC):%Y%m%dT%H%M%SZ}"
        names = [dest / f"{stem}.db"]
        names += [dest / f"{stem}-{n}.db" for n in range(2, MAX_SAME_SECOND + 1)]
        free = [p for p in names if not (p.exists() or p.is_symlink())]
        if not free:
            raise BackupError(f"{MAX_SAME_SECOND} backups named {stem} already in {dest}")
        return free[0], free[1:]
    if dest.exists() or dest.is_symlink():
        raise BackupError(
            f"{dest} already exists; a backup never overwrites a file: name a new "
            "file, or a folder to write a dated one in"
        )
    if not dest.parent.is_dir():
        raise BackupError(f"no folder {dest.parent} to write the backup in")
    return dest, []


def take_backup(url: str, dest: str | Path, *, at: dt.datetime) -> BackupResult:
    """Copy the SQLite database at `url` (WAL included) to a new file at `dest`, mode 0600.

    `at` names the file when `dest` is a folder. The copy is checked (`PRAGMA quick_check`)
    before it is linked into place.
    """
    source = sqlite_path(url)
    if not source.is_file():
        raise BackupError(f"no database at {source}: check --db or CME_DATABASE_URL")
    _check_header(source)
    target, others = destination(dest, at)
    partial = target.with_name(f".{target.name}.{secrets.token_hex(4)}.partial")
    # Created 0600 before SQLite writes a byte: the backup holds sealed personal data and the
    # hashes of every history, and its journal files take the same mode.
    os.close(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    try:
        cases, events = _copy(source, partial)
        _fsync(partial)
        target = _link(partial, [target, *others])
    finally:
        partial.unlink(missing_ok=True)
    _fsync(target.parent)
    return BackupResult(
        path=target, size=target.stat().st_size, sha256=_sha256(target), cases=cases, events=events
    )


def _link(partial: Path, names: list[Path]) -> Path:
    # link() fails if the name was taken meanwhile (by another backup): never overwrite.
    for name in names:
        try:
            os.link(partial, name)
        except FileExistsError:
            continue
        return name
    raise BackupError(f"{names[0]} already exists; a backup never overwrites a file")


def _copy(source: Path, partial: Path) -> tuple[int, int]:
    # mode=rw: never create a database where none is (a typo would back up an empty file).
    try:
        src = sqlite3.connect(_uri(source, "rw"), uri=True)
    except sqlite3.Error as exc:
        raise BackupError(f"cannot open {source}: {exc}") from None
    with closing(src):
        src.execute("PRAGMA busy_timeout=10000")
        _require_cme(src, source)
        with closing(sqlite3.connect(partial)) as dst:
            try:
                # pages=-1 (the default): the whole database in one step, so one snapshot.
                src.backup(dst)
            except sqlite3.Error as exc:
                raise BackupError(f"the backup of {source} failed: {exc}") from None
            # The copy carries the source's WAL flag; make it one self-contained file.
            dst.execute("PRAGMA journal_mode=DELETE")
            _quick_check(dst, partial)
            cases = dst.execute("SELECT count(*) FROM cme_case").fetchone()[0]
            events = dst.execute("SELECT count(*) FROM case_event").fetchone()[0]
    return int(cases), int(events)


def _uri(path: Path, mode: str) -> str:
    # Quoted: a '?' or '#' in a folder name would otherwise end the path.
    return f"file:{quote(str(path.absolute()))}?mode={mode}"


def _check_header(path: Path) -> None:
    try:
        with path.open("rb") as handle:
            head = handle.read(len(SQLITE_HEADER))
    except OSError as exc:
        raise BackupError(f"cannot read {path}: {exc.strerror}") from None
    if head != SQLITE_HEADER:
        raise BackupError(
            f"{path} is not an SQLite database (it does not start with SQLite's "
            "header): not a cme database or backup"
        )


def _require_cme(conn: sqlite3.Connection, path: Path) -> None:
    try:
        names = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"{path} cannot be read as a database ({exc}): it is damaged") from None
    missing = [t for t in CME_TABLES if t not in names]
    if missing:
        raise BackupError(
            f"{path} is an SQLite database but not a cme one (no {', '.join(missing)} table)"
        )


def _quick_check(conn: sqlite3.Connection, path: Path) -> None:
    try:
        found = [row[0] for row in conn.execute("PRAGMA quick_check")]
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"{path} is damaged: {exc}") from None
    if found != ["ok"]:
        raise BackupError(f"{path} is damaged: {'; '.join(found[:5])}")


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass
class BackupReport:
    """What a backup holds, and whether every history in it verifies."""

    path: str
    sha256: str
    schema_steps: int
    schema_steps_known: int
    cases: int = 0
    cases_by_state: list[dict[str, Any]] = field(default_factory=list)
    events: int = 0
    ledger_entries: int = 0
    """Entries in the chained ledger of case openings (one per case ever opened)."""
    last_recorded_at: str | None = None
    last_effective_date: str | None = None
    timers_pending: int = 0
    process_versions: list[dict[str, Any]] = field(default_factory=list)
    calendars: list[dict[str, Any]] = field(default_factory=list)
    master_keys: list[dict[str, Any]] = field(default_factory=list)
    """Each master key id the case keys are wrapped by, with how many case keys it opens."""
    purged_case_keys: int = 0
    problems: list[str] = field(default_factory=list)
    problem_count: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Whether every history verified."""
        return self.problem_count == 0

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready fields, with `ok`."""
        return {**asdict(self), "ok": self.ok}


def check_backup(path: Path, *, jobs: int = 1) -> BackupReport:
    """Open a copy of the backup at `path`, verify every case's chain, and say what it holds.

    The backup file is only read; its schema is not upgraded. `BackupError` if it is not a
    readable cme database.
    """
    if not path.is_file():
        raise BackupError(f"no file {path}")
    _check_header(path)
    with _private_copy(path) as copy:
        with closing(sqlite3.connect(_uri(copy, "rw"), uri=True)) as conn:
            _require_cme(conn, path)
            _quick_check(conn, path)
        return _report(path, copy, jobs)


@contextmanager
def _private_copy(path: Path) -> Iterator[Path]:
    # Opening a database can write beside it (-wal, -shm, a journal rolled back): a copy keeps
    # the backup exactly as it was made. The copy is as private as the backup.
    with tempfile.TemporaryDirectory(prefix="cme-backup-check-") as folder:
        copy = Path(folder) / "backup.db"
        try:
            shutil.copyfile(path, copy)
        except OSError as exc:
            raise BackupError(f"cannot read {path}: {exc.strerror}") from None
        os.chmod(copy, 0o600)
        yield copy


def _report(path: Path, copy: Path, jobs: int) -> BackupReport:
    from sqlalchemy.exc import SQLAlchemyError

    from engine.audit.verify import verify_store
    from engine.errors import CMEError
    from engine.store.database import open_store
    from engine.store.schema import SCHEMA_STEPS

    report = BackupReport(
        path=str(path),
        sha256=_sha256(path),
        schema_steps=_schema_step(copy),
        schema_steps_known=len(SCHEMA_STEPS),
    )
    older = report.schema_steps < report.schema_steps_known
    try:
        # An older backup is checked as a restore would see it: upgraded, on the private copy
        # (the backup itself is never written). A newer one is read as it is.
        store = open_store(f"sqlite:///{copy}", upgrade=older)
    except CMEError as exc:
        raise BackupError(f"{path}: its schema could not be upgraded on a copy: {exc}") from None
    try:
        with store.read() as conn:
            _summarise(conn, report)
        verified = verify_store(store, jobs=jobs)
    except SQLAlchemyError as exc:
        detail = str(getattr(exc, "orig", None) or exc).strip()
        raise BackupError(f"{path} cannot be read as a cme database: {detail}") from None
    finally:
        store.dispose()
    report.ledger_entries = verified.ledger_entries
    report.problems = [str(p) for p in verified.problems]
    report.problem_count = verified.problem_count
    if report.schema_steps > report.schema_steps_known:
        report.notes.append(
            f"made by a newer cme (schema step {report.schema_steps}; this cme knows "
            f"{report.schema_steps_known}): restore and check it with that version"
        )
    elif older:
        report.notes.append(
            f"made by an older cme (schema step {report.schema_steps} of "
            f"{report.schema_steps_known}): checked as upgraded, on a private copy, as a restore "
            "is upgraded when cme first opens it"
        )
    return report


def _schema_step(copy: Path) -> int:
    with closing(sqlite3.connect(_uri(copy, "ro"), uri=True)) as conn:
        try:
            step = conn.execute("SELECT max(step) FROM schema_version").fetchone()[0]
        except sqlite3.DatabaseError as exc:
            raise BackupError(f"cannot read its schema version: {exc}") from None
    return int(step or 0)


def _summarise(conn: Any, report: BackupReport) -> None:
    from sqlalchemy import text

    def rows(sql: str) -> list[Any]:
        return list(conn.execute(text(sql)))

    for process_id, state, terminal, count in rows(
        "SELECT process_id, state, terminal, count(*) FROM cme_case "
        "GROUP BY process_id, state, terminal ORDER BY process_id, state"
    ):
        report.cases_by_state.append(
            {"process": process_id, "state": state, "closed": bool(terminal), "cases": int(count)}
        )
        report.cases += int(count)
    events, last_at, last_day = conn.execute(
        text("SELECT count(*), max(recorded_at), max(effective_date) FROM case_event")
    ).one()
    report.events = int(events)
    report.last_recorded_at = None if last_at is None else _instant(last_at)
    report.last_effective_date = None if last_day is None else str(last_day)[:10]
    report.timers_pending = int(
        conn.execute(text("SELECT count(*) FROM timer WHERE status = 'pending'")).scalar_one()
    )
    report.process_versions = [
        {
            "process": p,
            "version": int(v),
            # None: a pending version, not yet given its date (`cme process commence`).
            "effective_from": None if e is None else str(e)[:10],
            "content_hash": h,
        }
        for p, v, e, h in rows(
            "SELECT process_id, version, effective_from, content_hash FROM process_version "
            "ORDER BY process_id, version"
        )
    ]
    report.calendars = [
        {"name": n, "version": int(v), "content_hash": h}
        for n, v, h in rows(
            "SELECT name, version, content_hash FROM calendar_version ORDER BY name, version"
        )
    ]
    report.master_keys = [
        {"master_key_id": k, "case_keys": int(c)}
        for k, c in rows(
            "SELECT master_key_id, count(*) FROM case_key WHERE wrapped IS NOT NULL "
            "GROUP BY master_key_id ORDER BY master_key_id"
        )
    ]
    report.purged_case_keys = int(
        conn.execute(text("SELECT count(*) FROM case_key WHERE wrapped IS NULL")).scalar_one()
    )


def _instant(value: Any) -> str:
    """A stored UTC time as ISO 8601 (SQLite keeps it as text without a zone)."""
    if isinstance(value, dt.datetime):
        moment = value
    else:
        try:
            moment = dt.datetime.fromisoformat(str(value))
        except ValueError:
            return str(value)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.isoformat()


def require_verified(report: BackupReport) -> None:
    """Raise `IntegrityFailure` when a history in the backup does not verify."""
    if not report.ok:
        raise IntegrityFailure(
            f"{report.path}: {report.problem_count} problem(s) in its histories; first: "
            f"{report.problems[0] if report.problems else '?'}"
        )


__all__ = [
    "BackupError",
    "BackupReport",
    "BackupResult",
    "UsePgDump",
    "check_backup",
    "destination",
    "require_verified",
    "sqlite_path",
    "take_backup",
]
