"""Reading cases: the case as stored, its events, its personal data opened for a reader, its
school calendar and the outline of the process version it is pinned to.

Owns the reads that views, reports and the commands share (a `CaseService` holds a `CaseReader`).
Imports no definition models, guards or machines, so `cme case show` starts fast. Does not own
who may read (that is `access.py`, called by the views) or any change to a case.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from typing import Protocol

from sqlalchemy import bindparam, select
from sqlalchemy.engine import Connection

from engine.cases.catalog import newest_calendar, stored_outline
from engine.cases.events import CaseEvent, event_from_row
from engine.cases.projection import CaseState
from engine.errors import CaseNotFound, UnknownProcess
from engine.language.outline import ProcessOutline
from engine.protection.access import RoleTable, shipped_role_table
from engine.protection.crypto import CaseKeys
from engine.protection.masterkeys import keys_for_store
from engine.store.database import Store
from engine.store.tables import case_table, event_table
from engine.time.calendar import SchoolCalendar
from engine.time.calendars import available_calendars, load_calendar, refuse_unreloaded

# Statements built once: SQLAlchemy caches their compiled SQL, so a read only executes them.
SELECT_CASE = select(case_table).where(case_table.c.id == bindparam("case_id"))
SELECT_EVENTS = (
    select(event_table)
    .where(event_table.c.case_id == bindparam("case_id"))
    .order_by(event_table.c.seq)
)

CalendarSource = Callable[[str], SchoolCalendar]


class Reads(Protocol):
    """What views and reports read through: a `CaseReader`, or a `CaseService` (which holds
    one).
    """

    @property
    def store(self) -> Store:
        """The database read."""

    @property
    def roles(self) -> RoleTable:
        """Who may read what."""

    @property
    def keys(self) -> CaseKeys:
        """The keys personal data is sealed with."""

    def get(self, case_id: str, *, conn: Connection | None = None) -> CaseState:
        """The case as stored."""

    def events(self, case_id: str, *, conn: Connection | None = None) -> list[CaseEvent]:
        """Every event of the case, in order."""

    def revealed(self, case: CaseState, *, conn: Connection | None = None) -> CaseState:
        """The case with its personal data opened."""

    def outline_for(self, case: CaseState) -> ProcessOutline:
        """The outline of the case's process version."""

    def calendar_for(self, case: CaseState) -> SchoolCalendar:
        """The case's school calendar."""


class Current(threading.local):
    """The connections this thread is running a batch or a command on, if any: reads made
    inside a command join its transaction (on SQLite another connection would wait for its
    write lock).
    """

    batch: Connection | None = None
    command: Connection | None = None


class CaseReader:
    """Reads of cases over one store: rows, events, personal data, calendars and outlines."""

    def __init__(
        self,
        store: Store,
        *,
        calendars: CalendarSource | None = None,
        roles: RoleTable | None = None,
        keys: CaseKeys | None = None,
        unstored: Callable[[CaseState], ProcessOutline] | None = None,
    ) -> None:
        self.store = store
        # The outline of a version this database lacks (the commands' registry has it).
        self._unstored = unstored
        # Unless given, a calendar's newest version loaded into this database is the one in
        # force (`cme calendar reload`), else the shipped file (see `calendar_in_force`).
        self.calendars: CalendarSource = calendars or self.calendar_in_force
        self._calendars_in_force: dict[str, SchoolCalendar] = {}
        self._outlines: dict[tuple[str, int], ProcessOutline] = {}
        # The batch or command this thread is running (see unit_of_work.Transactions).
        self.current = Current()
        # Who may do what (processes/roles.yaml unless given) and the keys personal data is
        # sealed with (the master key found for this store, on first need, unless given).
        self.roles: RoleTable = roles or shipped_role_table()
        self._keys = keys

    @property
    def keys(self) -> CaseKeys:
        """The per-case keys personal data is sealed with."""
        if self._keys is None:
            # Beside the store's SQLite file, and never made for a database holding cases.
            self._keys = keys_for_store(self.store)[0]
        return self._keys

    def revealed(self, case: CaseState, *, conn: Connection | None = None) -> CaseState:
        """The case with its personal data opened, for guards, views and reports only.

        Never write the result back: the stored row keeps the sealed parts. A purged case
        comes back with no personal data.
        """
        if not case.personal:
            return case
        with self.reading(conn or self.current.batch) as c:
            personal = self.keys.reveal(c, case.id, case.personal)
        return replace(case, personal=personal if isinstance(personal, dict) else {})

    def revealed_all(
        self, cases: Sequence[CaseState], *, conn: Connection | None = None
    ) -> list[CaseState]:
        """Each case as `revealed` gives it, their keys read together (for reports over many
        cases: one query per 500 cases, not one a case).
        """
        sealed = [case for case in cases if case.personal]
        with self.reading(conn or self.current.batch) as c:
            opened = iter(self.keys.reveal_many(c, [(case.id, case.personal) for case in sealed]))
        out = []
        for case in cases:
            if case.personal:
                personal = next(opened)
                case = replace(case, personal=personal if isinstance(personal, dict) else {})
            out.append(case)
        return out

    def get(self, case_id: str, *, conn: Connection | None = None) -> CaseState:
        """The case as stored; CaseNotFound if there is none."""
        with self.reading(conn) as c:
            row = c.execute(SELECT_CASE, {"case_id": case_id}).first()
        if row is None:
            raise CaseNotFound(case_id)
        return CaseState.from_row(row)

    def events(self, case_id: str, *, conn: Connection | None = None) -> list[CaseEvent]:
        """Every event of the case, in sequence order."""
        with self.reading(conn) as c:
            rows = c.execute(SELECT_EVENTS, {"case_id": case_id}).all()
        return [event_from_row(r) for r in rows]

    def outline_for(self, case: CaseState) -> ProcessOutline:
        """The outline of the process version the case is pinned to (stored when published)."""
        key = (case.process_id, case.process_version)
        outline = self._outlines.get(key)
        if outline is None:
            with self.reading(None) as conn:
                outline = stored_outline(conn, *key)
            if outline is None:
                outline = self._unstored_outline(case)
            self._outlines[key] = outline
        return outline

    def _unstored_outline(self, case: CaseState) -> ProcessOutline:
        if self._unstored is not None:
            return self._unstored(case)
        raise UnknownProcess(
            f"case {case.id} is pinned to {case.process_id} version {case.process_version}, "
            "which this database does not hold; was the case written by another tool?",
            process=case.process_id,
            version=case.process_version,
        )

    def calendar_for(self, case: CaseState) -> SchoolCalendar:
        """The school calendar the case's clock uses."""
        return self.calendars(case.calendar)

    def calendar_in_force(self, name: str) -> SchoolCalendar:
        """Calendar `name` as this database uses it: its newest version loaded with
        `cme calendar reload` (stored in calendar_version), else the shipped file.
        """
        cal = self._calendars_in_force.get(name)
        if cal is None:
            with self.reading(None) as conn:
                cal = newest_calendar(conn, name)
            if cal is None:
                cal = load_calendar(name)
            self._calendars_in_force[name] = cal
        return cal

    def calendar_for_new_case(self, name: str) -> SchoolCalendar:
        """Calendar `name` for a case about to open: the one in force, refused (VersionNotRaised)
        while its file holds the version in force with other dates, so a new case never counts
        days other than `cme calendar` says under the same version.
        """
        cal = self.calendars(name)
        if self.calendars == self.calendar_in_force and name in available_calendars():
            refuse_unreloaded(load_calendar(name), cal)
        return cal

    def forget_calendars(self, name: str | None = None) -> None:
        """Read calendars (or calendar `name`) afresh on next use (another process may have
        loaded a new version).
        """
        if name is None:
            self._calendars_in_force.clear()
        else:
            self._calendars_in_force.pop(name, None)

    @contextmanager
    def reading(self, conn: Connection | None = None) -> Iterator[Connection]:
        """A connection to read on: `conn`, else the running command's or batch's, else a new
        read.
        """
        if conn is None:
            conn = self.current.command or self.current.batch
        if conn is not None:
            yield conn
            return
        with self.store.read() as c:
            yield c


__all__ = [
    "SELECT_CASE",
    "SELECT_EVENTS",
    "CalendarSource",
    "CaseReader",
    "Current",
    "Reads",
    "event_from_row",
]
