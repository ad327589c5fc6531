"""The unit of work: one transaction per command (or per batch), the case loaded for update, the
decided event sealed and appended with a compare-and-set on the case's sequence, timers armed
and cancelled, and outbox rows queued, all or nothing.

Owns every write a command makes. Does not decide anything: what to append comes from
`engine/cases/decide.py` as a `Draft`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, cast

from sqlalchemy import and_, bindparam, insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError, OperationalError

from engine.cases.decide import SCHEDULER, WRITE_PERMISSION, Draft
from engine.cases.events import GENESIS_HASH, CaseEvent, EventKind, Sealed, event_to_row
from engine.cases.projection import CaseState, apply
from engine.cases.reading import SELECT_CASE
from engine.errors import CaseNotFound, ConcurrentUpdate
from engine.language.outline import ESCALATE_CHECK
from engine.language.windows import escalation_id
from engine.protection.access import Actor, Permission, require
from engine.store.integrity import append_opening, refuse_if_marked
from engine.store.tables import (
    case_table,
    counter_table,
    event_table,
    integrity_mark_table,
    outbox_table,
    timer_table,
)
from engine.time.deadlines import plan_state_timers

if TYPE_CHECKING:
    from engine.cases.catalog import Catalog
    from engine.cases.reading import CaseReader
    from engine.language.definition import ActionDefinition, ProcessDefinition
    from engine.language.machine import CompiledProcess
    from engine.time.calendar import SchoolCalendar

# Statements built once: SQLAlchemy caches their compiled SQL, so a command only executes them.
# Building `update(...).values(**row)` afresh per command cost more than the durable commit.
# The case to write, with whether it carries an uncleared integrity mark, in one statement: a
# second query per command for the (almost always absent) mark cost a tenth of a command.
_MARKED = (
    select(integrity_mark_table.c.id)
    .where(
        integrity_mark_table.c.case_id == case_table.c.id,
        integrity_mark_table.c.cleared_at.is_(None),
    )
    .exists()
    .label("marked")
)
_SELECT_CASE_TO_WRITE = select(case_table, _MARKED).where(case_table.c.id == bindparam("case_id"))
_SELECT_CASE_FOR_UPDATE = _SELECT_CASE_TO_WRITE.with_for_update(of=case_table)
_UPDATE_CASE = update(case_table).where(
    and_(case_table.c.id == bindparam("expected_id"), case_table.c.seq == bindparam("expected_seq"))
)
_INSERT_CASE = insert(case_table)
_INSERT_EVENT = insert(event_table)
_INSERT_TIMER = insert(timer_table)
_INSERT_OUTBOX = insert(outbox_table)
_TIMER_CLAIM = update(timer_table).where(
    and_(
        timer_table.c.key == bindparam("timer_key"),
        timer_table.c.status == "pending",
    )
)
_CLOSE_CASE_TIMERS = update(timer_table).where(
    and_(
        timer_table.c.case_id == bindparam("timer_case"),
        timer_table.c.status == "pending",
    )
)
# Leaving a stage cancels its timers, but not the escalations of its checks (`windows`): a
# check missed stays outstanding, and escalated, across stages until recorded, waived or cleared.
_CLOSE_STAGE_TIMERS = update(timer_table).where(
    and_(
        timer_table.c.case_id == bindparam("timer_case"),
        timer_table.c.status == "pending",
        timer_table.c.action != ESCALATE_CHECK,
    )
)
_CLOSE_CLEARED_CHECKS = update(timer_table).where(
    and_(
        timer_table.c.case_id == bindparam("timer_case"),
        timer_table.c.status == "pending",
        timer_table.c.action == ESCALATE_CHECK,
        timer_table.c.state.in_(bindparam("cleared", expanding=True)),
    )
)
# A check recorded or waived by its escalation's due date: the escalation would lapse, so it is
# withdrawn now (one recorded later is left to the sweep, which escalates as it was due).
_CLOSE_CHECK_ESCALATION = update(timer_table).where(
    and_(
        timer_table.c.case_id == bindparam("timer_case"),
        timer_table.c.status == "pending",
        timer_table.c.action == ESCALATE_CHECK,
        timer_table.c.timer_id == bindparam("escalation"),
        timer_table.c.due_date >= bindparam("recorded_on"),
    )
)
ONE_ROW_WRITES = (_UPDATE_CASE, _INSERT_EVENT, _INSERT_TIMER, _INSERT_OUTBOX, _TIMER_CLAIM)
"""Prebuilt statements that write exactly one row per parameter set. A sweep batch may queue
them and send each as one executemany before its next other statement
(engine/scheduling/sweep.py)."""


@dataclass(frozen=True)
class CommandResult:
    """What a command did: the case as it now stands and the event it appended."""

    case: CaseState
    event: CaseEvent


class Transactions:
    """Opens the transaction each command (or batch of commands) writes in."""

    def __init__(self, reader: CaseReader, catalog: Catalog) -> None:
        self.reader = reader
        self.catalog = catalog

    @contextmanager
    def batch(self) -> Iterator[Connection]:
        """Run several commands in one transaction: every one is written, or none is.

        Commands called inside the block (on this thread) join its transaction instead of
        opening their own; leaving the block by an exception rolls all of them back.
        """
        current = self.reader.current
        if current.batch is not None:
            raise RuntimeError("a batch is already open on this thread; batches do not nest")
        with self.catalog.keeping(), self.reader.store.engine.begin() as conn:
            current.batch = conn
            try:
                yield conn
            finally:
                current.batch = None

    @contextmanager
    def begin(self) -> Iterator[UnitOfWork]:
        """The unit of work of one command: the open batch's transaction, else its own."""
        current = self.reader.current
        if current.batch is not None:
            yield UnitOfWork(current.batch, self)
            return
        try:
            with self.reader.store.engine.begin() as conn:
                # Reads this command makes (e.g. of a process version) join its transaction:
                # on SQLite another connection would wait for this one's write lock.
                current.command = conn
                try:
                    yield UnitOfWork(conn, self)
                finally:
                    current.command = None
        except OperationalError as exc:
            if "locked" not in str(exc.orig):
                raise
            # SQLite's busy timeout ran out while another process held the write lock.
            raise ConcurrentUpdate(
                "the database stayed busy with another command; nothing was written — "
                "try again in a moment"
            ) from None


class UnitOfWork:
    """The writes of one command, on one connection inside its transaction."""

    __slots__ = ("catalog", "conn", "reader")

    def __init__(self, conn: Connection, transactions: Transactions) -> None:
        self.conn = conn
        self.reader = transactions.reader
        self.catalog = transactions.catalog

    # -- reading the case -------------------------------------------------------------------

    def load_for_update(self, case_id: str, expected_seq: int | None) -> CaseState:
        """The case, locked for this transaction; ConcurrentUpdate if it is not at
        `expected_seq` (when given).
        """
        # PostgreSQL: lock the row, so a second writer waits and then sees the new sequence.
        # SQLite: BEGIN IMMEDIATE (the store) has already serialised writers.
        query = _SELECT_CASE_TO_WRITE if self.reader.store.is_sqlite else _SELECT_CASE_FOR_UPDATE
        row = self.conn.execute(query, {"case_id": case_id}).first()
        if row is None:
            raise CaseNotFound(case_id)
        case = CaseState.from_row(row)
        if expected_seq is not None and case.seq != expected_seq:
            raise ConcurrentUpdate(case_id=case_id, expected_seq=expected_seq, found_seq=case.seq)
        # A case whose history failed verification takes nothing new until an auditor has
        # seen it (engine/store/integrity.py; the sweep skips its timers the same way).
        if row.marked:
            refuse_if_marked(self.conn, case_id)
        return case

    def load(self, case_id: str) -> CaseState:
        """The case as stored (a timer's case: the sweep claims the timer, not the case)."""
        return CaseState.from_row(self.conn.execute(SELECT_CASE, {"case_id": case_id}).one())

    # -- writing events -----------------------------------------------------------------------

    def append(
        self,
        case: CaseState,
        definition: ProcessDefinition,
        draft: Draft,
        *,
        actor: Actor,
        on: dt.date,
        at: dt.datetime,
    ) -> CommandResult:
        """Seal and write the drafted event, update the case row if no one else has, re-arm
        timers on a change of stage (or a migration), and queue the draft's actions.
        """
        if actor.role != SCHEDULER:
            # The backstop: no event is written for a role that may not write it.
            require(
                actor,
                WRITE_PERMISSION.get(draft.kind, Permission.change_case),
                table=self.reader.roles,
            )
        ev = self._event(
            case.id, case.seq + 1, case.head_hash, definition, draft, actor=actor, on=on, at=at
        )
        new = apply(case, ev)
        row = new.as_row()
        del row["id"]
        row["expected_id"] = case.id
        row["expected_seq"] = case.seq
        done = self.conn.execute(_UPDATE_CASE, row)
        if done.rowcount != 1:
            raise ConcurrentUpdate(
                f"case {case.id} changed while you were working on it (it was at event "
                f"{case.seq}); nothing was written — look at it again and retry",
                case_id=case.id,
                expected_seq=case.seq,
            )
        try:
            self.conn.execute(_INSERT_EVENT, event_to_row(ev))
        except IntegrityError:
            raise ConcurrentUpdate(
                f"case {case.id} event {ev.seq} was written by someone else; nothing was written",
                case_id=case.id,
                expected_seq=case.seq,
            ) from None
        if (draft.touch_timers and new.state != case.state) or draft.kind == EventKind.migration:
            closing = {"timer_case": case.id, "status": "cancelled", "closed_seq": new.seq}
            if new.terminal or draft.kind == EventKind.migration:
                self.conn.execute(_CLOSE_CASE_TIMERS, closing)
            else:
                self.conn.execute(_CLOSE_STAGE_TIMERS, closing)
                cleared = new.progress.get("cleared", [])
                if cleared:
                    self.conn.execute(_CLOSE_CLEARED_CHECKS, {**closing, "cleared": cleared})
            self.arm_timers(definition, new, self.reader.calendar_for(new))
        elif draft.kind in (EventKind.check_recorded, EventKind.check_waived):
            self.conn.execute(
                _CLOSE_CHECK_ESCALATION,
                {
                    "timer_case": case.id,
                    "status": "cancelled",
                    "closed_seq": new.seq,
                    "escalation": escalation_id(getattr(draft.body, "check", "")),
                    "recorded_on": on,
                },
            )
        self.queue_actions(new, ev, draft.actions)
        return CommandResult(case=new, event=ev)

    def open(
        self,
        number: str,
        definition: ProcessDefinition,
        cal: SchoolCalendar,
        draft: Draft,
        *,
        actor: Actor,
        on: dt.date,
        at: dt.datetime,
    ) -> CaseState:
        """Write a new case's first event and row, arm its first stage's timers, queue its
        letters.
        """
        ev = self._event(number, 1, GENESIS_HASH, definition, draft, actor=actor, on=on, at=at)
        case = apply(None, ev)
        self.conn.execute(_INSERT_CASE, case.as_row())
        self.conn.execute(_INSERT_EVENT, event_to_row(ev))
        # In the ledger of case openings, with the case: deleting it later leaves this behind.
        append_opening(self.conn, number, ev.hash, at=at)
        self.arm_timers(definition, case, cal)
        self.queue_actions(case, ev, draft.actions)
        return case

    def _event(
        self,
        case_id: str,
        seq: int,
        prev_hash: str,
        definition: ProcessDefinition,
        draft: Draft,
        *,
        actor: Actor,
        on: dt.date,
        at: dt.datetime,
    ) -> CaseEvent:
        body = draft.body
        if body.personal:
            # Sealed before hashing, so the chain covers the ciphertext and survives a purge.
            sealed = self.reader.keys.seal(self.conn, case_id, seq, dict(body.personal), at=at)
            body = replace(body, personal=cast("Sealed", sealed))
        return CaseEvent(
            case_id=case_id,
            seq=seq,
            effective_date=on,
            recorded_at=at,
            actor=actor.name,
            role=actor.role,
            kind=draft.kind,
            payload=body.payload(),
            process_id=definition.id,
            process_version=definition.version,
            rule=draft.rule,
            prev_hash=prev_hash,
        ).sealed()

    def next_case_numbers(self, count: int) -> list[str]:
        """`count` new case numbers (CME-000001, …), never reused."""
        prefix = "CME"
        done = self.conn.execute(
            update(counter_table)
            .where(counter_table.c.prefix == prefix)
            .values(last=counter_table.c.last + count)
        )
        if done.rowcount == 0:
            self.conn.execute(insert(counter_table).values(prefix=prefix, last=count))
        last = self.conn.execute(
            select(counter_table.c.last).where(counter_table.c.prefix == prefix)
        ).scalar_one()
        return [f"{prefix}-{n:06d}" for n in range(last - count + 1, last + 1)]

    def publish(self, compiled: CompiledProcess, at: dt.datetime) -> None:
        """Store a process version's text in this transaction unless the database has it."""
        self.catalog.publish(self.conn, compiled, at)

    def publish_calendar(self, cal: SchoolCalendar, at: dt.datetime) -> bool:
        """Store a calendar version in this transaction unless the database has it."""
        return self.catalog.publish_calendar(self.conn, cal, at)

    # -- timers and the outbox -----------------------------------------------------------------

    def arm_timers(
        self, definition: ProcessDefinition, case: CaseState, cal: SchoolCalendar
    ) -> None:
        """Arm the timers of the case's stage, due on the calendar's school days; a check's
        escalation only the first time the case enters its stage, while the check is expected.
        """
        planned = [
            p
            for p in plan_state_timers(definition, case, calendar=cal)
            if p.action != ESCALATE_CHECK or _still_expected(definition, case, p.timer_id)
        ]
        if planned:
            self.conn.execute(
                _INSERT_TIMER,
                [
                    {
                        "key": p.key,
                        "case_id": case.id,
                        "timer_id": p.timer_id,
                        "state": p.state,
                        "action": p.action,
                        "trigger": p.trigger,
                        "escalate_role": p.escalate_role,
                        "due_date": p.due_date,
                        "status": "pending",
                        "explanation": p.explanation,
                        "calendar": p.calendar,
                        "calendar_version": p.calendar_version,
                        "armed_seq": case.seq,
                        "closed_seq": None,
                    }
                    for p in planned
                ],
            )

    def settle_timer(self, key: str, status: str, seq: int) -> bool:
        """Close a pending timer with `status` at event `seq`; False if it was no longer
        pending (another sweeper dealt with it), so nothing fires twice.
        """
        done = self.conn.execute(
            _TIMER_CLAIM, {"timer_key": key, "status": status, "closed_seq": seq}
        )
        return bool(done.rowcount == 1)

    def cancel_armed(self, case_id: str, seq: int, timer_ids: Collection[str]) -> None:
        """Cancel the timers armed at event `seq` among `timer_ids` (already dealt with)."""
        self.conn.execute(
            update(timer_table)
            .where(
                and_(
                    timer_table.c.case_id == case_id,
                    timer_table.c.armed_seq == seq,
                    timer_table.c.timer_id.in_(list(timer_ids)),
                )
            )
            .values(status="cancelled", closed_seq=seq)
        )

    def queue_actions(
        self, case: CaseState, ev: CaseEvent, actions: Collection[ActionDefinition]
    ) -> None:
        """Queue the event's letters and notifications in the outbox."""
        if not actions:
            return
        self.conn.execute(
            _INSERT_OUTBOX,
            [
                {
                    "case_id": case.id,
                    "event_seq": ev.seq,
                    "position": i,
                    "kind": a.kind,
                    "recipient": a.to,
                    "template": a.template,
                    "channel": a.channel,
                    "wording": a.wording,
                    "status": "pending",
                    "attempts": 0,
                    "created_on": ev.effective_date,
                }
                for i, a in enumerate(actions)
            ],
        )


def _still_expected(definition: ProcessDefinition, case: CaseState, timer_id: str) -> bool:
    """Whether a check's escalation is to be armed now: its check neither satisfied, escalated
    nor cleared, and the case entering its stage for the first time (a case brought back to a
    stage keeps the escalation armed, or raised, on its first visit).
    """
    from engine.language.windows import check_escalations

    esc = check_escalations(definition).get(timer_id)
    if esc is None:
        return True
    progress = case.progress
    if (
        esc.check in case.satisfied_checks()
        or esc.check in progress.get("escalated", {})
        or esc.stage in progress.get("cleared", ())
    ):
        return False
    entered = progress.get("entered", {}).get(esc.stage)
    return entered is None or entered == case.state_entered_on.isoformat()


__all__ = ["ONE_ROW_WRITES", "CommandResult", "Transactions", "UnitOfWork"]
