"""The officer's weekly reports: the CME register, the live RAG report, the weekly MASH file,
on/off-roll returns received and overdue, and escalations raised (policy sections 4.4, 6, 13 and
Appendix 2); and the one safe way to write them as CSV and XLSX.

Owns what each report holds, computed from the event log as of a date (`--on`), so a report for a
past date is the same whenever it is run. Does not own formatting for the terminal (the CLI),
the RAG rules (`rag.py`) or changing anything.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import IO, Any

from sqlalchemy import and_, insert, select

from engine.cases.notification import age_phase
from engine.cases.projection import CaseState, EventKind, as_date
from engine.cases.reading import event_from_row
from engine.cases.service import CaseService
from engine.cases.views import day_of_case
from engine.errors import CalendarError
from engine.protection.access import ActorLike, Permission, log_read, require
from engine.reports.rag import LoadedRag
from engine.store.tables import access_log_table, case_table, event_table, timer_table

REGISTER_PROCESSES = ("untraceable_cme",)
"""Processes whose open cases are children missing education, on the CME register."""
ROLL_RETURNS_PROCESS = "roll_returns"
_CHUNK = 500
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class Column:
    """A report column: the key in each row and the heading people see."""

    key: str
    heading: str
    table: bool = True
    """Shown in the terminal table too (files always have every column)."""


@dataclass(frozen=True)
class Report:
    """A dated report: its columns, rows (plain values) and notes on how it was made."""

    name: str
    title: str
    on: dt.date
    columns: tuple[Column, ...]
    rows: list[dict[str, Any]]
    notes: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        """The report as JSON-ready data (dates as ISO text)."""
        return {
            "report": self.name,
            "title": self.title,
            "on": self.on.isoformat(),
            "columns": [c.key for c in self.columns],
            "rows": [{c.key: _jsonable(r.get(c.key)) for c in self.columns} for r in self.rows],
            "notes": self.notes,
        }


# --- the safe cell ---------------------------------------------------------------------------


def safe_cell(value: Any) -> Any:
    """A value fit for a CSV or spreadsheet cell: text that a spreadsheet would run as a formula
    (starting with = + - @, tab or carriage return) gets a leading apostrophe.

    Numbers and booleans stay numbers; dates become ISO text; None becomes empty text.
    """
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | float):
        return value
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        value = "; ".join(str(v) for v in value)
    text = str(value)
    if text.startswith(_FORMULA_START):
        return "'" + text
    return text


def write_csv(report: Report, stream: IO[str]) -> None:
    """Write the report as CSV with a header row; every cell through `safe_cell`."""
    writer = csv.writer(stream, lineterminator="\r\n")
    writer.writerow([safe_cell(c.heading) for c in report.columns])
    for row in report.rows:
        writer.writerow([safe_cell(row.get(c.key)) for c in report.columns])


def csv_text(report: Report) -> str:
    """The report as CSV text."""
    out = io.StringIO()
    write_csv(report, out)
    return out.getvalue()


def xlsx_bytes(report: Report) -> bytes:
    """The report as an XLSX workbook: one sheet, a header row, notes on a second sheet."""
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.title = report.name[:31]
    # openpyxl stores text starting with "=" as a formula; safe_cell makes sure none does.
    sheet.append([safe_cell(c.heading) for c in report.columns])
    for row in report.rows:
        sheet.append([safe_cell(row.get(c.key)) for c in report.columns])
    notes = book.create_sheet("about")
    notes.append([safe_cell(f"{report.title}, as of {report.on.isoformat()}")])
    for note in report.notes:
        notes.append([safe_cell(note)])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


# --- cases as they stood on a date -------------------------------------------------------------


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
    if processes is not None:
        query = query.where(case_table.c.process_id.in_(sorted(processes)))
    out: list[CaseState] = []
    with service.store.read() as conn:
        rows = conn.execute(query.order_by(case_table.c.id)).all()
        current = [CaseState.from_row(r) for r in rows]
        late = [c.id for c in current if c.last_effective > on]
        rebuilt = _replay_until(conn, late, on)
    for case in current:
        state = rebuilt.get(case.id, case)
        if include_closed or not _closed_by(state, on):
            # Personal data is sealed per case (engine/protection/crypto.py); reports read it
            # opened.
            out.append(service.revealed(state))
    return out


def _closed_by(case: CaseState, on: dt.date) -> bool:
    return case.terminal and case.closed_on is not None and case.closed_on <= on


def _replay_until(conn: Any, case_ids: Sequence[str], on: dt.date) -> dict[str, CaseState]:
    from engine.cases.projection import apply

    out: dict[str, CaseState] = {}
    for chunk in _chunks(case_ids):
        rows = conn.execute(
            select(event_table)
            .where(and_(event_table.c.case_id.in_(chunk), event_table.c.effective_date <= on))
            .order_by(event_table.c.case_id, event_table.c.seq)
        ).all()
        for row in rows:
            ev = event_from_row(row)
            out[ev.case_id] = apply(out.get(ev.case_id), ev)
    return out


def timers_as_of(
    service: CaseService, cases: Sequence[CaseState], on: dt.date
) -> dict[str, list[TimerAsOf]]:
    """The timers pending on each case as it stood on `on`, earliest first."""
    by_id = {c.id: c for c in cases}
    out: dict[str, list[TimerAsOf]] = {c.id: [] for c in cases}
    with service.store.read() as conn:
        for chunk in _chunks(list(by_id)):
            rows = conn.execute(
                select(timer_table).where(timer_table.c.case_id.in_(chunk))
                .order_by(timer_table.c.due_date, timer_table.c.id)
            ).all()
            for t in rows:
                seq = by_id[t.case_id].seq
                # Pending as of the case's event `seq`: armed by then and not yet closed.
                if t.armed_seq <= seq and (t.closed_seq is None or t.closed_seq > seq):
                    out[t.case_id].append(TimerAsOf(
                        case_id=t.case_id, due_date=as_date(t.due_date),
                        what=t.trigger or f"escalate to {t.escalate_role}",
                        explanation=t.explanation,
                    ))
    return out


# --- the reports -------------------------------------------------------------------------------


REGISTER_COLUMNS = (
    Column("case_id", "Case"),
    Column("child", "Child"),
    Column("date_of_birth", "Date of birth", table=False),
    Column("age", "Age"),
    Column("phase", "Phase", table=False),
    Column("school", "School or last school", table=False),
    Column("ground", "Ground", table=False),
    Column("state", "Stage", table=False),
    Column("state_id", "Stage id"),
    Column("school_day", "School day"),
    Column("days_out", "Days out of education", table=False),
    Column("weeks_out", "Weeks out of education"),
    Column("outstanding_checks", "Outstanding checks", table=False),
    Column("next_due", "Next due step"),
    Column("assigned_officer", "Officer"),
    Column("opened_on", "Opened", table=False),
)


def register_report(
    service: CaseService, *, on: dt.date, actor: ActorLike, at: dt.datetime,
    processes: Collection[str] = REGISTER_PROCESSES,
) -> Report:
    """The CME register (sections 4.4 and 6): every open case on `on` with its core information.

    The reader (`actor`) must be allowed to read cases; their read of each case is logged.
    """
    require(actor, Permission.read_case, table=service.roles)
    cases = cases_as_of(service, on, processes=processes)
    _log_reads(service, actor, [c.id for c in cases], action=f"report register on {on}", at=at)
    timers = timers_as_of(service, cases, on)
    rows = [_register_row(service, case, on, timers[case.id]) for case in cases]
    return Report(
        name="register", title="CME register", on=on, columns=REGISTER_COLUMNS, rows=rows,
        notes=[f"open cases of {', '.join(sorted(processes))} as of {on.isoformat()}: {len(rows)}"],
    )


def _register_row(
    service: CaseService, case: CaseState, on: dt.date, timers: list[TimerAsOf]
) -> dict[str, Any]:
    outline = service.outline_for(case)
    child = case.personal.get("child") or {}
    dob = _maybe_date(child.get("date_of_birth"))
    facts = _facts(case)
    day = day_of_case(service, case, on)
    days_out = _days_out(case, facts, on)
    outstanding = [
        c.id for c in outline.states[case.state].checklist
        if c.required and c.id not in case.checks
        and (c.first is None or day is None or day >= c.first)
    ]
    nxt = timers[0] if timers else None
    return {
        "case_id": case.id,
        "child": child.get("full_name"),
        "date_of_birth": dob,
        "age": _age(dob, on) if dob else None,
        "phase": age_phase(dob, on) if dob else None,
        "school": child.get("school") or child.get("previous_school"),
        "ground": facts.get("ground") or child.get("ground"),
        "state": outline.states[case.state].title,
        "state_id": case.state,
        "school_day": day,
        "days_out": days_out,
        "weeks_out": days_out // 7,
        "outstanding_checks": outstanding,
        "next_due": f"{nxt.due_date.isoformat()}: {nxt.what}" if nxt else None,
        "assigned_officer": case.assigned_officer,
        "opened_on": case.opened_on,
    }


RAG_COLUMNS = (
    Column("case_id", "Case"),
    Column("colour", "RAG"),
    Column("child", "Child"),
    Column("phase", "Phase", table=False),
    Column("state", "Stage", table=False),
    Column("weeks_out", "Weeks out of education"),
    Column("reasons", "Why"),
    Column("assigned_officer", "Officer"),
)


def rag_report(
    service: CaseService, *, on: dt.date, rules: LoadedRag, actor: ActorLike, at: dt.datetime
) -> Report:
    """The live RAG report (section 6): each open case's colour and every reason for it."""
    require(actor, Permission.read_case, table=service.roles)
    processes = rules.definition.processes
    cases = cases_as_of(service, on, processes=processes)
    _log_reads(service, actor, [c.id for c in cases], action=f"report rag on {on}", at=at)
    rows: list[dict[str, Any]] = []
    for case in cases:
        outline = service.outline_for(case)
        facts = _facts(case)
        child = case.personal.get("child") or {}
        dob = _maybe_date(child.get("date_of_birth"))
        days_out = _days_out(case, facts, on)
        measures: dict[str, Any] = {
            "weeks_out_of_education": days_out // 7,
            "days_out_of_education": days_out,
            "weeks_since_notification": max(0, (on - case.opened_on).days) // 7,
            "state": case.state,
            "process": case.process_id,
            "notification_text": _notification_text(case),
        }
        rating = rules.rate(
            facts=facts, measures=measures, checks_done=case.checks.keys(),
            case_day=day_of_case(service, case, on) or 0,
            state_day=_state_day(service, case, on), on=on, opened_on=case.opened_on,
        )
        rows.append({
            "case_id": case.id,
            "colour": str(rating.colour),
            "child": child.get("full_name"),
            "phase": age_phase(dob, on) if dob else None,
            "state": outline.states[case.state].title,
            "weeks_out": days_out // 7,
            "reasons": [f"{r.colour}: {r.because}" for r in rating.reasons],
            "assigned_officer": case.assigned_officer,
        })
    order = {"red": 0, "amber": 1, "green": 2}
    rows.sort(key=lambda r: (order.get(r["colour"], 3), -r["weeks_out"], r["case_id"]))
    counts = {c: sum(1 for r in rows if r["colour"] == c) for c in order}
    return Report(
        name="rag", title="Live RAG report", on=on, columns=RAG_COLUMNS, rows=rows,
        notes=[
            f"rules: {rules.path} version {rules.definition.version} "
            f"(sha256 {rules.content_hash[:12]})",
            "red {red}, amber {amber}, green {green}".format(**counts),
        ],
    )


MASH_COLUMNS = (
    Column("case_id", "CME case"),
    Column("full_name", "Child's name"),
    Column("date_of_birth", "Date of birth"),
    Column("gender", "Gender", table=False),
    Column("upn", "UPN"),
    Column("parent_carer", "Parent/carer", table=False),
    Column("address", "Address", table=False),
    Column("postcode", "Postcode"),
    Column("school", "School or last school"),
    Column("cme_since", "CME since"),
)
"""Only what MASH needs to match a child against its records (data minimisation): no ethnicity,
contact numbers, emails, notes, facts or reasons."""


def mash_report(
    service: CaseService, *, on: dt.date, actor: ActorLike, at: dt.datetime,
    processes: Collection[str] = REGISTER_PROCESSES,
) -> Report:
    """The weekly report uploaded for MASH to cross-check (section 13): identifying fields only."""
    require(actor, Permission.read_case, table=service.roles)
    cases = cases_as_of(service, on, processes=processes)
    _log_reads(service, actor, [c.id for c in cases], action=f"report mash on {on}", at=at)
    rows: list[dict[str, Any]] = []
    for case in cases:
        child = case.personal.get("child") or {}
        carer = case.personal.get("parent_carer") or {}
        rows.append({
            "case_id": case.id,
            "full_name": child.get("full_name"),
            "date_of_birth": _maybe_date(child.get("date_of_birth")),
            "gender": child.get("gender"),
            "upn": child.get("upn"),
            "parent_carer": carer.get("names"),
            "address": carer.get("address"),
            "postcode": carer.get("postcode"),
            "school": child.get("school") or child.get("previous_school"),
            "cme_since": case.opened_on,
        })
    return Report(
        name="mash", title="Weekly CME report for MASH", on=on, columns=MASH_COLUMNS, rows=rows,
        notes=[f"children missing education on {on.isoformat()}: {len(rows)}"],
    )


RETURNS_COLUMNS = (
    Column("case_id", "Case"),
    Column("status", "Status"),
    Column("school", "School"),
    Column("child", "Child"),
    Column("upn", "UPN", table=False),
    Column("roll_change", "Change"),
    Column("change_date", "Date of change"),
    Column("received_on", "Return received"),
    Column("overdue_since", "Overdue since"),
    Column("deletion_ground", "Ground", table=False),
)


def returns_report(
    service: CaseService, *, on: dt.date, since: dt.date, actor: ActorLike, at: dt.datetime
) -> Report:
    """Statutory on/off-roll returns (Appendix 2) received from `since` to `on`, and overdue on
    `on` (not received and escalated, or past the day they were due).
    """
    require(actor, Permission.read_case, table=service.roles)
    cases = cases_as_of(service, on, processes=[ROLL_RETURNS_PROCESS], include_closed=True)
    received = _events_between(
        service, [c.id for c in cases], since, on, kind=EventKind.trigger, trigger="submit_return"
    )
    timers = timers_as_of(service, [c for c in cases if c.state == "return_due"], on)
    escalated = _events_between(
        service, [c.id for c in cases], dt.date.min, on, kind=EventKind.escalation
    )
    rows: list[dict[str, Any]] = []
    for case in cases:
        status = None
        received_on = received.get(case.id)
        overdue_since = None
        if received_on is not None:
            status = "received"
        elif case.state == "return_due":
            past = [t.due_date for t in timers.get(case.id, []) if t.due_date <= on]
            when = escalated.get(case.id) or (min(past) if past else None)
            if case.overdue or when is not None:
                status, overdue_since = "overdue", when
        if status is None:
            continue
        child = case.personal.get("child") or {}
        notifier = case.personal.get("notifier") or {}
        facts = _facts(case)
        rows.append({
            "case_id": case.id, "status": status,
            "school": notifier.get("school_or_service") or child.get("school"),
            "child": child.get("full_name"), "upn": child.get("upn"),
            "roll_change": facts.get("roll_change"), "change_date": case.opened_on,
            "received_on": received_on, "overdue_since": overdue_since,
            "deletion_ground": facts.get("deletion_ground"),
        })
    rows.sort(key=lambda r: (r["status"] != "overdue", r["case_id"]))
    _log_reads(service, actor, [r["case_id"] for r in rows], action=f"report returns on {on}",
               at=at)
    n_over = sum(1 for r in rows if r["status"] == "overdue")
    return Report(
        name="returns", title="Statutory on/off roll returns", on=on, columns=RETURNS_COLUMNS,
        rows=rows,
        notes=[f"received {since.isoformat()} to {on.isoformat()}: {len(rows) - n_over}; "
               f"overdue on {on.isoformat()}: {n_over}"],
    )


ESCALATION_COLUMNS = (
    Column("on", "Raised on"),
    Column("case_id", "Case"),
    Column("process", "Process", table=False),
    Column("to_role", "To"),
    Column("message", "Message"),
    Column("still_open", "Not acted on yet"),
    Column("assigned_officer", "Officer"),
)


def escalations_report(
    service: CaseService, *, on: dt.date, since: dt.date, actor: ActorLike, at: dt.datetime
) -> Report:
    """Escalations raised from `since` to `on`, and whether each was still not acted on by `on`.

    Holds no personal data; the read is logged once, not per case.
    """
    require(actor, Permission.read_case, table=service.roles)
    _log_reads(service, actor, [None], action=f"report escalations on {on}", at=at)
    cases = {c.id: c for c in cases_as_of(service, on, include_closed=True)}
    rows: list[dict[str, Any]] = []
    with service.store.read() as conn:
        events = conn.execute(
            select(event_table).where(and_(
                event_table.c.kind == str(EventKind.escalation),
                event_table.c.effective_date >= since, event_table.c.effective_date <= on,
            )).order_by(event_table.c.effective_date, event_table.c.case_id, event_table.c.seq)
        ).all()
    for row in events:
        ev = event_from_row(row)
        case = cases.get(ev.case_id)
        data = ev.payload.get("data", {})
        rows.append({
            "on": ev.effective_date, "case_id": ev.case_id, "process": ev.process_id,
            "to_role": data.get("to_role"), "message": data.get("message"),
            "still_open": bool(case and case.overdue and not case.terminal),
            "assigned_officer": case.assigned_officer if case else None,
        })
    return Report(
        name="escalations", title="Escalations raised", on=on, columns=ESCALATION_COLUMNS,
        rows=rows, notes=[f"raised {since.isoformat()} to {on.isoformat()}: {len(rows)}"],
    )


# --- helpers -----------------------------------------------------------------------------------


def _events_between(
    service: CaseService, case_ids: Sequence[str], since: dt.date, on: dt.date, *,
    kind: EventKind, trigger: str | None = None,
) -> dict[str, dt.date]:
    """The first effective date of a matching event in [since, on], by case."""
    out: dict[str, dt.date] = {}
    with service.store.read() as conn:
        for chunk in _chunks(case_ids):
            rows = conn.execute(
                select(event_table).where(and_(
                    event_table.c.case_id.in_(chunk), event_table.c.kind == str(kind),
                    event_table.c.effective_date >= since, event_table.c.effective_date <= on,
                )).order_by(event_table.c.seq)
            ).all()
            for row in rows:
                ev = event_from_row(row)
                if trigger is not None and ev.payload.get("data", {}).get("trigger") != trigger:
                    continue
                out.setdefault(ev.case_id, ev.effective_date)
    return out


def _log_reads(
    service: CaseService, actor: ActorLike, case_ids: Sequence[str | None], *, action: str,
    at: dt.datetime,
) -> None:
    if not case_ids:
        return
    if len(case_ids) == 1:
        with service.store.engine.begin() as conn:
            log_read(conn, actor, case_id=case_ids[0], action=action, at=at)
        return
    # One statement for the whole report: a register of thousands of cases logs as many reads.
    with service.store.engine.begin() as conn:
        conn.execute(insert(access_log_table), [
            {"case_id": c, "actor": actor.name, "role": actor.role, "action": action, "at": at}
            for c in case_ids
        ])


def _facts(case: CaseState) -> dict[str, Any]:
    """Every fact of the case, including those kept with its personal data."""
    personal = case.personal.get("facts")
    return {**case.facts, **personal} if isinstance(personal, dict) else dict(case.facts)


def _days_out(case: CaseState, facts: dict[str, Any], on: dt.date) -> int:
    """Calendar days out of education: from the last attendance if known, else the case's Day 1."""
    start = _maybe_date(facts.get("date_of_last_attendance")) or case.opened_on
    return max(0, (on - start).days)


def _state_day(service: CaseService, case: CaseState, on: dt.date) -> int:
    try:
        return service.calendar_for(case).day_number(case.state_entered_on, on)
    except CalendarError:
        return 0


def _notification_text(case: CaseState) -> str:
    involvement = case.personal.get("involvement") or {}
    parts = [
        case.personal.get("explanation"),
        case.personal.get("additional_information"),
        involvement.get("other_details") if isinstance(involvement, dict) else None,
    ]
    return " ".join(p for p in parts if isinstance(p, str)).lower()


def _age(dob: dt.date, on: dt.date) -> int:
    return on.year - dob.year - ((on.month, on.day) < (dob.month, dob.day))


def _maybe_date(value: Any) -> dt.date | None:
    if value is None or value == "":
        return None
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        return None



def _jsonable(value: Any) -> Any:
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, tuple):
        return list(value)
    return value


def _chunks(items: Sequence[str] | Iterable[str]) -> Iterator[list[str]]:
    items = list(items)
    for i in range(0, len(items), _CHUNK):
        yield items[i:i + _CHUNK]


__all__ = [
    "Column",
    "Report",
    "cases_as_of",
    "csv_text",
    "escalations_report",
    "mash_report",
    "rag_report",
    "register_report",
    "returns_report",
    "safe_cell",
    "write_csv",
    "xlsx_bytes",
]
