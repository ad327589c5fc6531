"""Reading cases: the case as stored, its events, its personal data opened for a reader, its
school calendar and the outline of the process version it is pinned to.

Owns the reads that views, reports and the commands share (`CaseService` builds on `CaseReader`).
Imports no definition models, guards or machines, so `cme case show` starts fast. Does not own
who may read (that is `access.py`, called by the views) or any change to a case.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

from sqlalchemy import and_, bindparam, select
from sqlalchemy.engine import Connection

from engine.cases.projection import CaseEvent, CaseState, EventKind, as_date
from engine.errors import CaseNotFound, UnknownProcess
from engine.language.outline import ProcessOutline
from engine.protection.access import RoleTable, shipped_role_table
from engine.protection.crypto import CaseKeys, master_key_from_environment
from engine.store.database import Store
from engine.store.tables import (
    calendar_version_table,
    case_table,
    event_table,
    process_version_table,
)
from engine.time.calendar import SchoolCalendar
from engine.time.calendars import available_calendars, load_calendar

# Statements built once: SQLAlchemy caches their compiled SQL, so a read only executes them.
SELECT_CASE = select(case_table).where(case_table.c.id == bindparam("case_id"))
SELECT_EVENTS = (
    select(event_table).where(event_table.c.case_id == bindparam("case_id"))
    .order_by(event_table.c.seq)
)
_SELECT_NEWEST_CALENDAR = (
    select(calendar_version_table.c.version, calendar_version_table.c.content_hash,
           calendar_version_table.c.yaml_text, calendar_version_table.c.bank_holidays)
    .where(calendar_version_table.c.name == bindparam("name"))
    .order_by(calendar_version_table.c.version.desc()).limit(1)
)
_SELECT_OUTLINE = select(
    process_version_table.c.outline, process_version_table.c.yaml_text
).where(and_(process_version_table.c.process_id == bindparam("process_id"),
             process_version_table.c.version == bindparam("version")))

CalendarSource = Callable[[str], SchoolCalendar]


class CaseReader:
    """Reads of cases over one store: rows, events, personal data, calendars and outlines."""

    def __init__(
        self,
        store: Store,
        *,
        calendars: CalendarSource | None = None,
        roles: RoleTable | None = None,
        keys: CaseKeys | None = None,
    ) -> None:
        self.store = store
        # Unless given, a calendar's newest version loaded into this database is the one in
        # force (`cme calendar reload`), else the shipped file (see `calendar_in_force`).
        self.calendars: CalendarSource = calendars or self.calendar_in_force
        self._calendars_in_force: dict[str, SchoolCalendar] = {}
        self._outlines: dict[tuple[str, int], ProcessOutline] = {}
        # The connection of the batch or command this thread is running, if any: reads made
        # inside a command join its transaction (see CaseService.batch and _writing).
        self._batch = threading.local()
        # Who may do what (processes/roles.yaml unless given) and the keys personal data is
        # sealed with (master key from the environment, on first need, unless given).
        self.roles: RoleTable = roles or shipped_role_table()
        self._keys = keys

    @property
    def keys(self) -> CaseKeys:
        """The per-case keys personal data is sealed with."""
        if self._keys is None:
            self._keys = CaseKeys(master_key_from_environment()[0])
        return self._keys

    def revealed(self, case: CaseState, *, conn: Connection | None = None) -> CaseState:
        """The case with its personal data opened, for guards, views and reports only.

        Never write the result back: the stored row keeps the sealed parts. A purged case
        comes back with no personal data.
        """
        if not case.personal:
            return case
        with self._reading(conn or getattr(self._batch, "conn", None)) as c:
            personal = self.keys.reveal(c, case.id, case.personal)
        return replace(case, personal=personal if isinstance(personal, dict) else {})

    def get(self, case_id: str, *, conn: Connection | None = None) -> CaseState:
        """The case as stored; CaseNotFound if there is none."""
        with self._reading(conn) as c:
            row = c.execute(SELECT_CASE, {"case_id": case_id}).first()
        if row is None:
            raise CaseNotFound(case_id)
        return CaseState.from_row(row)

    def events(self, case_id: str, *, conn: Connection | None = None) -> list[CaseEvent]:
        """Every event of the case, in sequence order."""
        with self._reading(conn) as c:
            rows = c.execute(SELECT_EVENTS, {"case_id": case_id}).all()
        return [event_from_row(r) for r in rows]

    def outline_for(self, case: CaseState) -> ProcessOutline:
        """The outline of the process version the case is pinned to (stored when published)."""
        key = (case.process_id, case.process_version)
        outline = self._outlines.get(key)
        if outline is None:
            with self._reading(None) as conn:
                row = conn.execute(
                    _SELECT_OUTLINE, {"process_id": key[0], "version": key[1]}
                ).first()
            if row is None:
                outline = self._unstored_outline(case)
            elif row.outline is None or (outline := ProcessOutline.from_json(row.outline)) is None:
                from engine.language.loader import load_process_text

                # Stored before outlines were, by a text today's language refuses (the
                # schema step could not outline it): say exactly where it no longer fits.
                path = f"stored:{key[0]}@{key[1]}"
                outline = load_process_text(row.yaml_text, path).definition.outline()
            self._outlines[key] = outline
        return outline

    def _unstored_outline(self, case: CaseState) -> ProcessOutline:
        raise UnknownProcess(
            f"case {case.id} is pinned to {case.process_id} version {case.process_version}, "
            "which this database does not hold; was the case written by another tool?"
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
            with self._reading(None) as conn:
                row = conn.execute(_SELECT_NEWEST_CALENDAR, {"name": name}).first()
            if row is None:
                cal = load_calendar(name)
            elif row.bank_holidays is not None:
                # The version as stored, with the bank holidays it was built with: no `holidays`
                # import (~0.1 s) on the way to showing a case.
                cal = SchoolCalendar.from_stored(
                    row.yaml_text, f"stored:{name}@{row.version}",
                    bank_holidays=bank_holidays_from_json(row.bank_holidays),
                )
            else:
                shipped = load_calendar(name) if name in available_calendars() else None
                if shipped is not None and shipped.content_hash == row.content_hash:
                    cal = shipped
                else:
                    cal = SchoolCalendar.from_yaml(row.yaml_text, f"stored:{name}@{row.version}")
            self._calendars_in_force[name] = cal
        return cal

    def forget_calendars(self) -> None:
        """Read calendars afresh on next use (another process may have loaded a new version)."""
        self._calendars_in_force.clear()

    @contextmanager
    def _reading(self, conn: Connection | None) -> Iterator[Connection]:
        if conn is None:
            conn = getattr(self._batch, "writing", None) or getattr(self._batch, "conn", None)
        if conn is not None:
            yield conn
            return
        with self.store.read() as c:
            yield c


def bank_holidays_from_json(text: str) -> dict[dt.date, str]:
    """Bank holidays as pinned with a stored calendar version ({iso date: name})."""
    return {dt.date.fromisoformat(day): name for day, name in json.loads(text).items()}


def event_from_row(row: Any) -> CaseEvent:
    """An event as read back from its stored row."""
    m = row._mapping if hasattr(row, "_mapping") else row
    return CaseEvent(
        case_id=m["case_id"], seq=m["seq"], effective_date=as_date(m["effective_date"]),
        recorded_at=m["recorded_at"], actor=m["actor"], role=m["role"],
        kind=EventKind(m["kind"]), payload=json.loads(m["payload"]),
        process_id=m["process_id"], process_version=m["process_version"], rule=m["rule"],
        prev_hash=m["prev_hash"], hash=m["hash"],
    )

