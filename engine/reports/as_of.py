"""Cases and their pending timers as they stood on a date, read from the event log.

Every report is computed as of a date (`--on`), so a report for a past date is the same whenever
it is run: a case with nothing effective after that date is read from its row, any other is
rebuilt from its events up to it; a timer counts as pending if it was armed by, and not closed
before, the case's last event on that date.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, or_, select

from engine.cases.projection import CaseState, as_date
from engine.cases.reading import event_from_row
from engine.cases.service import CaseService
from engine.store.tables import case_table, event_table, timer_table

_CHUNK = 500


@dataclass(frozen=True)
class TimerAsOf:
    """A timer that was pending on the report date."""

    case_id: str
    due_date: dt.date
    what: str
    explanation: str


def cases_as_of(
    service: CaseService,
    on: dt.date,
    *,
    processes: Collection[str] | None = None,
    include_closed: bool = False,
) -> list[CaseState]:
    """Every case opened by `on`, as its events with effective dates up to `on` leave it.

    A case with nothing effective after `on` is read from its row; any other is rebuilt from its
    events, so a report for a past date does not see later steps.
    """
    query = select(case_table).where(case_table.c.opened_on <= on)
    if not include_closed:
        # A case closed on or before `on` (closed_on is the day it entered its terminal stage)
        # was closed as of `on` too: left in the database, not read and dropped here (at
        # 150,000 cases, 2,000 open, reading the closed ones was most of a report's time).
        query = query.where(
            or_(
                case_table.c.terminal.is_(False),
                case_table.c.closed_on.is_(None),
                case_table.c.closed_on > on,
            )
        )
    if processes is not None:
        query = query.where(case_table.c.process_id.in_(sorted(processes)))
    with service.store.read() as conn:
        rows = conn.execute(query.order_by(case_table.c.id)).all()
        current = [CaseState.from_row(r) for r in rows]
        late = [c.id for c in current if c.last_effective > on]
        rebuilt = _replay_until(conn, late, on)
        states = [rebuilt.get(case.id, case) for case in current]
        kept = [s for s in states if include_closed or not _closed_by(s, on)]
        # Personal data is sealed per case (engine/protection/crypto.py); reports read it
        # opened, every case's key read in the same read (one query per 500 cases).
        return service.reader.revealed_all(kept, conn=conn)


def _closed_by(case: CaseState, on: dt.date) -> bool:
    return case.terminal and case.closed_on is not None and case.closed_on <= on


def _replay_until(conn: Any, case_ids: Sequence[str], on: dt.date) -> dict[str, CaseState]:
    from engine.cases.projection import apply

    out: dict[str, CaseState] = {}
    for chunk in in_chunks(case_ids):
        rows = conn.execute(
            select(event_table)
            .where(and_(event_table.c.case_id.in_(chunk), event_table.c.effective_date <= on))
            .order_by(event_table.c.case_id, event_table.c.seq)
        ).all()
        for row in rows:
            ev = event_from_row(row)
            out[ev.case_id] = apply(out.get(ev.case_id), ev)
    return out


def timers_as_of(service: CaseService, cases: Sequence[CaseState]) -> dict[str, list[TimerAsOf]]:
    """The timers pending on each case as it stands (e.g. from `cases_as_of`), earliest first."""
    by_id = {c.id: c for c in cases}
    out: dict[str, list[TimerAsOf]] = {c.id: [] for c in cases}
    with service.store.read() as conn:
        for chunk in in_chunks(list(by_id)):
            rows = conn.execute(
                select(timer_table)
                .where(timer_table.c.case_id.in_(chunk))
                .order_by(timer_table.c.due_date, timer_table.c.id)
            ).all()
            for t in rows:
                seq = by_id[t.case_id].seq
                # Pending as of the case's event `seq`: armed by then and not yet closed.
                if t.armed_seq <= seq and (t.closed_seq is None or t.closed_seq > seq):
                    out[t.case_id].append(
                        TimerAsOf(
                            case_id=t.case_id,
                            due_date=as_date(t.due_date),
                            what=t.trigger or f"escalate to {t.escalate_role}",
                            explanation=t.explanation,
                        )
                    )
    return out


def in_chunks(items: Sequence[str] | Iterable[str]) -> Iterator[list[str]]:
    """`items` in lists short enough for one `IN (...)` query."""
    items = list(items)
    for i in range(0, len(items), _CHUNK):
        yield items[i : i + _CHUNK]


__all__ = ["TimerAsOf", "cases_as_of", "in_chunks", "timers_as_of"]
