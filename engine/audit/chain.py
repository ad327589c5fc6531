"""The hash chain read straight from stored rows: the fast hash, and where a chain breaks.

`CaseEvent.compute_hash` is the definition of an event's hash. Verifying millions of events
through it re-parses and re-serialises every payload, so `row_hash` builds the same canonical
text from the stored columns directly (the payload column already holds canonical JSON); a
property test pins the two to the same result. A row whose payload text is not canonical
fails `row_hash` even if its meaning is unchanged: the stored bytes are what was signed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

from engine.cases.projection import GENESIS_HASH, CaseEvent, EventKind

EVENT_COLUMNS = (
    "case_id, seq, effective_date, recorded_at, actor, role, kind, payload, process_id, "
    "process_version, rule, prev_hash, hash"
)
"""The event columns, in the order `row_hash` and `row_event` take them."""

_dumped: dict[str | None, str] = {}


def _dump(value: str | None) -> str:
    # Actors, roles, kinds, rules and process ids repeat across millions of events.
    out = _dumped.get(value)
    if out is None:
        out = json.dumps(value, ensure_ascii=False)
        if len(_dumped) < 100_000:
            _dumped[value] = out
    return out


def iso_day(value: Any) -> str:
    """A stored date (text in SQLite, a date in PostgreSQL) as YYYY-MM-DD."""
    if isinstance(value, str):
        return value[:10]
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    assert isinstance(value, dt.date)
    return value.isoformat()


def iso_instant(value: Any) -> str:
    """A stored recorded time as the hash sees it: naive UTC, microseconds, `T` separator."""
    if isinstance(value, str):
        if len(value) == 26 and value[10] == " ":
            return f"{value[:10]}T{value[11:]}"  # SQLAlchemy's SQLite format, already UTC
        value = dt.datetime.fromisoformat(value)
    assert isinstance(value, dt.datetime)
    instant: dt.datetime = value
    if instant.tzinfo is not None:
        instant = instant.astimezone(dt.UTC).replace(tzinfo=None)
    return instant.isoformat(timespec="microseconds")


def row_hash(row: tuple[Any, ...], prev_hash: str) -> str:
    """The hash of an event row (columns as `EVENT_COLUMNS`), chained to `prev_hash`."""
    return _hash(row, iso_day(row[2]), iso_instant(row[3]), prev_hash)


def row_event(row: tuple[Any, ...]) -> CaseEvent:
    """The event of a stored row (columns as `EVENT_COLUMNS`)."""
    return _event(row, iso_day(row[2]), iso_instant(row[3]))


def read_row(row: tuple[Any, ...], prev_hash: str) -> tuple[CaseEvent, str]:
    """The event of a stored row and its hash chained to `prev_hash`, reading the row once."""
    day, instant = iso_day(row[2]), iso_instant(row[3])
    return _event(row, day, instant), _hash(row, day, instant, prev_hash)


def _hash(row: tuple[Any, ...], day: str, instant: str, prev_hash: str) -> str:
    (
        case_id,
        seq,
        _day,
        _at,
        actor,
        role,
        kind,
        payload,
        process_id,
        version,
        rule,
        _prev,
        _hash,
    ) = row
    text = (
        f'{{"actor":{_dump(actor)},"case_id":{_dump(case_id)},'
        f'"effective_date":"{day}","kind":{_dump(kind)},"payload":{payload},'
        f'"process_id":{_dump(process_id)},"process_version":{int(version)},'
        f'"recorded_at":"{instant}","role":{_dump(role)},"rule":{_dump(rule)},'
        f'"seq":{int(seq)}}}'
    )
    return hashlib.sha256((prev_hash + text).encode()).hexdigest()


_KINDS = {str(k): k for k in EventKind}
_days: dict[str, dt.date] = {}


def _event(row: tuple[Any, ...], day: str, instant: str) -> CaseEvent:
    (
        case_id,
        seq,
        _day,
        _at,
        actor,
        role,
        kind,
        payload,
        process_id,
        version,
        rule,
        prev,
        digest,
    ) = row
    effective = _days.get(day)
    if effective is None:  # effective dates repeat: a school year has under 400 of them
        effective = dt.date.fromisoformat(day)
        if len(_days) < 100_000:
            _days[day] = effective
    # CaseEvent is a frozen dataclass with no __post_init__: filling its __dict__ directly is the
    # same event without thirteen frozen __setattr__ calls (verify builds millions of them).
    ev = object.__new__(CaseEvent)
    ev.__dict__.update(
        case_id=case_id,
        seq=seq,
        effective_date=effective,
        recorded_at=dt.datetime.fromisoformat(instant).replace(tzinfo=dt.UTC),
        actor=actor,
        role=role,
        kind=_KINDS.get(kind) or EventKind(kind),
        payload=json.loads(payload),
        process_id=process_id,
        process_version=version,
        rule=rule,
        prev_hash=prev,
        hash=digest,
    )
    return ev


@dataclass(frozen=True)
class Break:
    """Where a case's chain first fails to verify, and why, in words."""

    seq: int
    what: str


NOT_CANONICAL = "its payload is not stored as the exact text that was hashed: it was rewritten"


def checked_rows(rows: Iterable[tuple[Any, ...]]) -> tuple[list[CaseEvent], Break | None]:
    """One case's stored rows (columns as `EVENT_COLUMNS`, in seq order) as events, and the
    first break in their chain (None if it holds), hashing the stored text directly.
    """
    events: list[CaseEvent] = []
    prev, expected = GENESIS_HASH, 1
    broken: Break | None = None
    for row in rows:
        ev, digest = read_row(row, prev)
        events.append(ev)
        if broken is not None:
            continue
        if not (ev.seq == expected and ev.prev_hash == prev and digest == ev.hash):
            broken = event_break(ev, expected=expected, prev=prev) or Break(ev.seq, NOT_CANONICAL)
        prev, expected = ev.hash, ev.seq + 1
    return events, broken


def chain_break(events: Iterable[CaseEvent]) -> Break | None:
    """The first event of one case's history (in stored order) that breaks its chain, or None."""
    prev, expected = GENESIS_HASH, 1
    for ev in events:
        found = event_break(ev, expected=expected, prev=prev)
        if found is not None:
            return found
        prev, expected = ev.hash, ev.seq + 1
    return None


def event_break(ev: CaseEvent, *, expected: int, prev: str) -> Break | None:
    """Why `ev` cannot be event number `expected` following hash `prev`, or None if it can."""
    if ev.seq > expected:
        gap = f"event {expected}" if ev.seq == expected + 1 else f"events {expected}-{ev.seq - 1}"
        return Break(expected, f"{gap} missing: the history jumps from {expected - 1} to {ev.seq}")
    if ev.seq < expected:
        return Break(ev.seq, f"event {ev.seq} appears twice or out of order")
    if ev.compute_hash() != ev.hash:
        return Break(ev.seq, _altered(ev))
    if ev.prev_hash != prev:
        return Break(
            ev.seq,
            "does not follow the event before it (its prev_hash is not that event's hash): "
            "events before it were altered, deleted, inserted or reordered",
        )
    return None


def _altered(ev: CaseEvent) -> str:
    """Why an event's content fails its hash: it was moved from another position, or altered."""
    for other in range(1, ev.seq + 50):
        if other != ev.seq and ev.hash == replace(ev, seq=other).compute_hash():
            return f"holds what was recorded as event {other}: events were swapped or reordered"
    return "its content does not match its hash: it was altered after it was recorded"
