"""Verify stored histories in one streamed pass: every hash chain, and replay against the case rows.

Owns `verify_store`: events are read in (case, seq) order and case rows in id order, both streamed
(never a whole table in memory), merged by case id; each event's hash is checked (`chain.row_hash`)
and folded with `projection.apply`, and the replayed row is compared with the stored one. A
checkpoint's anchors (the head each case had when it was signed) are checked in the same pass.
Reports the first break of each case, naming the event. The ledger of case openings
(`engine/store/integrity.py`) is checked too: its own chain, and that every case it lists still
has its history (so a whole case deleted is caught without a checkpoint) and every case with a
history is listed. Against a checkpoint, counts the events recorded after it (not yet signed).
Does not sign or read checkpoint files (`checkpoint.py`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from itertools import groupby
from operator import itemgetter
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection

from engine.audit.chain import (
    EVENT_COLUMNS,
    NOT_CANONICAL,
    Break,
    event_break,
    iso_instant,
    read_row,
)
from engine.audit.ledger import ledger_break
from engine.cases.projection import GENESIS_HASH, CaseState, apply
from engine.store.database import Store, open_store

Anchor = tuple[int, str]
"""(seq, hash) of a case's head event when a checkpoint was signed."""

_MAX_PROBLEMS = 1000
PARALLEL_FROM = 10_000
"""Fewer cases than this are verified in one process whatever `jobs` says: starting worker
processes costs more than it saves."""


@dataclass(frozen=True)
class Problem:
    """Something that does not verify: the case, the event (when one is to blame) and why."""

    case_id: str
    seq: int | None
    what: str

    def __str__(self) -> str:
        if not self.case_id:
            return f"ledger of case openings: {self.what}"
        where = f"case {self.case_id}" + (f" event {self.seq}" if self.seq is not None else "")
        return f"{where}: {self.what}"


@dataclass
class VerifyReport:
    """What a verification pass saw and found."""

    cases: int = 0
    events: int = 0
    problems: list[Problem] = field(default_factory=list)
    problem_count: int = 0
    """Every problem found; `problems` keeps the first thousand."""
    heads: list[tuple[str, int, str]] = field(default_factory=list)
    """(case id, seq, hash) of each case's last event, when asked for."""
    anchors_checked: int = 0
    signed: bool = False
    """Whether a checkpoint's anchors were checked (the `unsigned_*` counts mean something)."""
    unsigned_events: int = 0
    """Events recorded after the checkpoint: beyond each case's signed head, or in cases it
    did not sign."""
    unsigned_cases: int = 0
    unsigned_since: str | None = None
    """The recorded time (ISO, UTC) of the oldest event the checkpoint does not cover."""
    ledger_entries: int = 0

    @property
    def ok(self) -> bool:
        """Whether everything verified."""
        return self.problem_count == 0

    def note_unsigned(self, events: int, since: str | None) -> None:
        """Count one case's events recorded after the checkpoint."""
        if events:
            self.unsigned_events += events
            self.unsigned_cases += 1
            if since is not None and (self.unsigned_since is None or since < self.unsigned_since):
                self.unsigned_since = since

    def merge(self, part: VerifyReport) -> None:
        """Add a part's counts and problems (a parallel run's range of cases)."""
        self.cases += part.cases
        self.events += part.events
        self.anchors_checked += part.anchors_checked
        self.ledger_entries += part.ledger_entries
        self.heads.extend(part.heads)
        self.unsigned_events += part.unsigned_events
        self.unsigned_cases += part.unsigned_cases
        if part.unsigned_since is not None and (
            self.unsigned_since is None or part.unsigned_since < self.unsigned_since
        ):
            self.unsigned_since = part.unsigned_since
        for problem in part.problems:
            self.add(problem)
        self.problem_count += part.problem_count - len(part.problems)

    def add(self, problem: Problem) -> None:
        """Count a problem, keeping the first thousand."""
        self.problem_count += 1
        if len(self.problems) < _MAX_PROBLEMS:
            self.problems.append(problem)


Span = tuple[str | None, str | None]
"""Case ids from the first (inclusive) to the second (exclusive); None is unbounded."""


def verify_store(
    store: Store,
    *,
    case_id: str | None = None,
    anchors: Mapping[str, Anchor] | None = None,
    collect_heads: bool = False,
    jobs: int = 1,
) -> VerifyReport:
    """Check every case's chain and projection (or one case's), and the ledger of openings.

    With `anchors` (a checkpoint's signed heads, possibly none) each signed head is checked and
    the events recorded after it are counted. With `jobs` > 1 and at least `PARALLEL_FROM`
    cases, they are split into that many ranges of ids, each verified in its own process (the
    work is CPU-bound: hashing and folding).
    """
    if jobs > 1 and case_id is None and _count(store) >= PARALLEL_FROM:
        report = _in_parallel(store, jobs, anchors, collect_heads)
    else:
        report = _verify(store, case_id, (None, None), anchors, collect_heads)
    if case_id is None:
        with store.read() as conn:
            broken = ledger_break(conn)
            if broken is not None:
                report.add(Problem("", None, broken))
    return report


def _verify(  # noqa: C901 (the streamed pass over all chains: splitting it would read each row twice)
    store: Store,
    case_id: str | None,
    span: Span,
    anchors: Mapping[str, Anchor] | None,
    collect_heads: bool,
) -> VerifyReport:
    report = VerifyReport(signed=anchors is not None)
    signed = anchors or {}
    seen: set[str] = set()
    gone: list[tuple[str, int]] = []  # ledger entries (case, entry) with no history
    with store.read() as conn:
        events = _stream(conn, "case_event", EVENT_COLUMNS, "case_id", "seq", case_id, span)
        cases = _stream(conn, "cme_case", "*", "id", None, case_id, span)
        ledger = _stream(
            conn, "case_ledger", "case_id, seq, first_hash", "case_id", None, case_id, span
        )
        stored = next(cases, None)
        entry = next(ledger, None)
        for cid, rows in groupby(events, key=itemgetter(0)):
            while stored is not None and stored.id < cid:
                _orphan_row(report, stored.id, seen)
                stored = next(cases, None)
            row = stored if stored is not None and stored.id == cid else None
            if row is not None:
                stored = next(cases, None)
            while entry is not None and entry[0] < cid:
                report.ledger_entries += 1
                gone.append((entry[0], entry[1]))
                entry = next(ledger, None)
            listed = entry if entry is not None and entry[0] == cid else None
            if listed is not None:
                report.ledger_entries += 1
                entry = next(ledger, None)
            seen.add(cid)
            _verify_case(report, cid, rows, row, signed.get(cid), collect_heads, listed)
        while stored is not None:
            _orphan_row(report, stored.id, seen)
            stored = next(cases, None)
        while entry is not None:
            report.ledger_entries += 1
            gone.append((entry[0], entry[1]))
            entry = next(ledger, None)
    for cid, number in gone:
        if cid in seen:
            continue  # its case row is there without events: reported as such
        seen.add(cid)
        report.add(
            Problem(
                cid,
                None,
                (
                    f"was opened (entry {number} of the ledger of case openings) but its history, "
                    "row "
                    "and all are gone: the whole case was deleted"
                ),
            )
        )
    for cid, (seq, _digest) in sorted(signed.items()):
        if cid not in seen and case_id in (None, cid) and _within(cid, span):
            report.add(Problem(cid, seq, "signed in the checkpoint, but its history is gone"))
    return report


def _within(case_id: str, span: Span) -> bool:
    return (span[0] is None or case_id >= span[0]) and (span[1] is None or case_id < span[1])


def _in_parallel(
    store: Store, jobs: int, anchors: Mapping[str, Anchor] | None, collect_heads: bool
) -> VerifyReport:
    from concurrent.futures import ProcessPoolExecutor
    from multiprocessing import get_context

    bounds = _split(store, jobs)
    spans: list[Span] = list(zip([None, *bounds], [*bounds, None], strict=True))
    # "spawn": a fresh interpreter per worker, never a fork of open connections.
    with ProcessPoolExecutor(len(spans), mp_context=get_context("spawn")) as pool:
        parts = list(
            pool.map(
                _verify_url,
                [store.url] * len(spans),
                spans,
                [
                    None
                    if anchors is None
                    else {k: v for k, v in anchors.items() if _within(k, span)}
                    for span in spans
                ],
                [collect_heads] * len(spans),
            )
        )
    report = VerifyReport(signed=anchors is not None)
    for part in parts:
        report.merge(part)
    return report


def _verify_url(
    url: str, span: Span, anchors: Mapping[str, Anchor] | None, collect_heads: bool
) -> VerifyReport:
    store = open_store(url, upgrade=False)
    try:
        return _verify(store, None, span, anchors, collect_heads)
    finally:
        store.dispose()


def _count(store: Store) -> int:
    with store.read() as conn:
        count: int = conn.execute(text("SELECT count(*) FROM cme_case")).scalar_one()
    return count


def _split(store: Store, jobs: int) -> list[str]:
    """Case ids that cut the cases into `jobs` ranges of about equal size."""
    collate = ' COLLATE "C"' if store.engine.dialect.name == "postgresql" else ""
    count = _count(store)
    with store.read() as conn:
        bounds = [
            conn.execute(
                text(f"SELECT id FROM cme_case ORDER BY id{collate} LIMIT 1 OFFSET :n"),
                {"n": count * k // jobs},
            ).scalar_one()
            for k in range(1, jobs)
            if count * k // jobs > 0
        ]
    return sorted(set(bounds))


def _stream(
    conn: Connection,
    table: str,
    columns: str,
    key: str,
    then: str | None,
    only: str | None,
    span: Span,
) -> Iterator[Any]:
    # Byte order ("C") on PostgreSQL so its order agrees with Python's string comparison,
    # which the merge of the two streams (and the ranges of a parallel run) rely on.
    collate = ' COLLATE "C"' if conn.dialect.name == "postgresql" else ""
    where, params = [], {}
    if only is not None:
        where.append(f"{key} = :only")
        params["only"] = only
    if span[0] is not None:
        where.append(f"{key}{collate} >= :lo")
        params["lo"] = span[0]
    if span[1] is not None:
        where.append(f"{key}{collate} < :hi")
        params["hi"] = span[1]
    clause = f" WHERE {' AND '.join(where)}" if where else ""
    order = f"{key}{collate}" + (f", {then}" if then else "")
    result = conn.execution_options(stream_results=True, yield_per=5000).execute(
        text(f"SELECT {columns} FROM {table}{clause} ORDER BY {order}"),
        params,
    )
    # Fetched in partitions (fetchmany), not row by row.
    return (row for part in result.partitions(5000) for row in part)


def _orphan_row(report: VerifyReport, case_id: str, seen: set[str]) -> None:
    report.cases += 1
    seen.add(case_id)
    report.add(Problem(case_id, 1, "has a case row but no events: its history was deleted"))


def _verify_case(  # noqa: C901 (every check on one case's chain, in the order a person reads the report)
    report: VerifyReport,
    case_id: str,
    rows: Iterator[Any],
    stored: Any,
    anchor: Anchor | None,
    collect_heads: bool,
    listed: Any = None,
) -> None:
    report.cases += 1
    prev, expected = GENESIS_HASH, 1
    state: CaseState | None = None
    broken: Break | None = None
    last: Any = None
    first: Any = None
    signed_to = anchor[0] if anchor is not None else 0
    unsigned, since = 0, None
    for row in rows:
        report.events += 1
        last = row
        if first is None:
            first = row
        if report.signed and row[1] > signed_to:
            unsigned += 1
            instant = iso_instant(row[3])
            if since is None or instant < since:
                since = instant
        if broken is not None:
            continue
        seq = row[1]
        ev, digest = read_row(row, prev)
        if not (seq == expected and row[11] == prev and digest == row[12]):
            broken = event_break(ev, expected=expected, prev=prev) or Break(seq, NOT_CANONICAL)
            continue
        try:
            state = apply(state, ev)
        except Exception as exc:  # noqa: BLE001 (an altered payload can break the fold in any way)
            broken = Break(seq, f"cannot be replayed ({type(exc).__name__}: {exc})")
            continue
        if anchor is not None and seq == anchor[0]:
            report.anchors_checked += 1
            if ev.hash != anchor[1]:
                broken = Break(
                    seq,
                    (
                        "is not the event the checkpoint signed (its hash differs): the history up "
                        "to it was changed and re-hashed after the checkpoint"
                    ),
                )
        prev, expected = ev.hash, seq + 1
    if collect_heads and last is not None:
        report.heads.append((case_id, last[1], last[12]))
    report.note_unsigned(unsigned, since)
    if broken is not None:
        report.add(Problem(case_id, broken.seq, broken.what))
        return
    if listed is None:
        report.add(
            Problem(
                case_id,
                None,
                (
                    "is not in the ledger of case openings: it was not opened by cme, or its entry "
                    "was "
                    "removed"
                ),
            )
        )
        return
    if listed is not None and first is not None and (first[1] != 1 or first[12] != listed[2]):
        report.add(
            Problem(
                case_id,
                1,
                (
                    "is not the event the ledger of case openings recorded when the case was "
                    "opened "
                    f"(entry {listed[1]}): the case was replaced"
                ),
            )
        )
        return
    assert state is not None
    if anchor is not None and state.seq < anchor[0]:
        report.add(
            Problem(
                case_id,
                state.seq + 1,
                (
                    f"missing: the checkpoint signed this case at event {anchor[0]}, but its "
                    "history "
                    f"now ends at event {state.seq}"
                ),
            )
        )
        return
    if stored is None:
        report.add(Problem(case_id, None, "has events but no case row"))
        return
    _compare_row(report, state, stored._mapping)


def _compare_row(report: VerifyReport, state: CaseState, stored: Mapping[str, Any]) -> None:
    """Report where the stored case row differs from the row its history replays to."""
    if isinstance(stored["seq"], int) and stored["seq"] > state.seq:
        report.add(
            Problem(
                state.id,
                state.seq + 1,
                (
                    f"missing: the case row's head is event {stored['seq']} but the history ends "
                    "at "
                    f"event {state.seq} (events were deleted)"
                ),
            )
        )
        return
    differences = row_differences(state, stored)
    if differences:
        report.add(
            Problem(
                state.id,
                None,
                (
                    "the stored case row differs from what its history replays to: "
                    + "; ".join(differences)
                ),
            )
        )


def row_differences(state: CaseState, stored: Mapping[str, Any]) -> list[str]:
    """Each column where the stored row differs from the replayed state, in words."""
    out = []
    for key, value in state.as_row().items():
        have = stored.get(key)
        if _plain(have) != _plain(value):
            out.append(f"{key} is {_short(have)}, replay gives {_short(value)}")
    return out


def _plain(value: Any) -> Any:
    # SQLite keeps dates as text and booleans as 0/1; PostgreSQL returns date and bool.
    if isinstance(value, dt.date):
        return value.isoformat()[:10]
    if isinstance(value, bool):
        return int(value)
    return value


def _short(value: Any) -> str:
    shown = repr(_plain(value))
    return shown if len(shown) <= 80 else shown[:77] + "..."
