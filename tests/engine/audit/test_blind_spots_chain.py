"""The hash chain read straight from stored rows, without a database: the date and time forms
each database hands back, and each kind of break named at the right event.

`tests/engine/audit/test_audit.py` checks the same through SQLite and PostgreSQL; these pin the
edges (a time without microseconds, a date with a time, several events missing, a break after
a break).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from typing import Any

import pytest

from engine.audit.chain import (
    NOT_CANONICAL,
    Break,
    chain_break,
    checked_rows,
    event_break,
    iso_day,
    iso_instant,
    read_row,
    row_event,
    row_hash,
)
from engine.cases.projection import GENESIS_HASH, CaseEvent, EventKind, canonical_json

AT = dt.datetime(2024, 10, 21, 9, 30, 15, 250000, tzinfo=dt.UTC)


def history(n: int) -> list[CaseEvent]:
    """`n` chained events of one case (notes after the opening)."""
    out: list[CaseEvent] = []
    for seq in range(1, n + 1):
        kind = EventKind.opened if seq == 1 else EventKind.note
        data: dict[str, Any] = {"state": "s", "calendar": "c"} if seq == 1 else {}
        out.append(
            CaseEvent(
                case_id="CME-000001",
                seq=seq,
                effective_date=dt.date(2024, 10, 20 + seq),
                recorded_at=AT,
                actor="sona",
                role="cme_officer",
                kind=kind,
                payload={"data": data},
                process_id="p",
                process_version=1,
                rule=None,
                prev_hash=out[-1].hash if out else GENESIS_HASH,
            ).sealed()
        )
    return out


def sqlite_row(ev: CaseEvent, *, payload: str | None = None) -> tuple[Any, ...]:
    """The event as SQLite stores it (dates and times as text)."""
    return (
        ev.case_id,
        ev.seq,
        ev.effective_date.isoformat(),
        ev.recorded_at.replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f"),
        ev.actor,
        ev.role,
        str(ev.kind),
        canonical_json(ev.payload) if payload is None else payload,
        ev.process_id,
        ev.process_version,
        ev.rule,
        ev.prev_hash,
        ev.hash,
    )


# --- dates and times as each database returns them ------------------------------------------


@pytest.mark.parametrize(
    "stored",
    [
        "2024-10-21",
        "2024-10-21 00:00:00",
        "2024-10-21T00:00:00.000000",
        dt.date(2024, 10, 21),
        dt.datetime(2024, 10, 21, 23, 59),
    ],
)
def test_iso_day_of_every_stored_form(stored: object) -> None:
    assert iso_day(stored) == "2024-10-21"


@pytest.mark.parametrize(
    "stored",
    [
        "2024-10-21 09:30:15.250000",  # SQLAlchemy's SQLite text, already UTC
        "2024-10-21T09:30:15.250000",  # ISO text
        "2024-10-21 09:30:15.25",  # short fraction: parsed, not sliced
        "2024-10-21 09:30:15.25000",  # 25 characters: not the SQLite fast path
        "2024-10-21 09:30:15.250000Z",  # 27 characters, a zone letter: parsed
        "2024-10-21T10:30:15.250000+01:00",  # with a zone: converted to UTC
        dt.datetime(2024, 10, 21, 9, 30, 15, 250000),
        dt.datetime(2024, 10, 21, 11, 30, 15, 250000, tzinfo=dt.timezone(dt.timedelta(hours=2))),
    ],
)
def test_iso_instant_of_every_stored_form(stored: object) -> None:
    assert iso_instant(stored) == "2024-10-21T09:30:15.250000"


@pytest.mark.parametrize("stored", ["2024-10-21 09:30:15", "2024-10-21T09:30:15"])
def test_iso_instant_without_microseconds_still_writes_them(stored: str) -> None:
    assert iso_instant(stored) == "2024-10-21T09:30:15.000000"


# --- rows and events ----------------------------------------------------------------------------


def test_a_row_reads_back_as_its_event_and_hashes_to_its_hash() -> None:
    for ev in history(3):
        row = sqlite_row(ev)
        assert row_event(row) == ev
        assert row_hash(row, ev.prev_hash) == ev.hash
        assert read_row(row, ev.prev_hash) == (ev, ev.hash)
        assert row_hash(row, "f" * 64) != ev.hash


def test_an_intact_chain_has_no_break() -> None:
    events = history(5)
    assert chain_break(events) is None
    assert checked_rows([sqlite_row(e) for e in events]) == (events, None)
    assert chain_break([]) is None


def test_one_missing_event_is_named() -> None:
    events = history(5)
    del events[2]
    assert chain_break(events) == Break(3, "event 3 missing: the history jumps from 2 to 4")
    assert checked_rows([sqlite_row(e) for e in events])[1] == chain_break(events)


def test_several_missing_events_are_named_as_a_range() -> None:
    events = history(6)
    kept = [events[0], events[4], events[5]]
    assert chain_break(kept) == Break(2, "events 2-4 missing: the history jumps from 1 to 5")
    assert chain_break(events[1:]) == Break(1, "event 1 missing: the history jumps from 0 to 2")


def test_a_repeated_event_is_named() -> None:
    events = history(3)
    assert chain_break([*events, events[2]]) == Break(3, "event 3 appears twice or out of order")


def test_an_altered_event_is_named() -> None:
    events = history(4)
    events[1] = replace(events[1], actor="mallory")
    found = chain_break(events)
    assert found == Break(
        2, "its content does not match its hash: it was altered after it was recorded"
    )


def test_swapped_events_are_named_as_swapped() -> None:
    events = history(4)
    # Event 3's content stored as event 2: its hash matches seq 3's, not 2's.
    moved = replace(events[2], seq=2)
    found = event_break(moved, expected=2, prev=events[0].hash)
    assert found == Break(2, "holds what was recorded as event 3: events were swapped or reordered")


def test_a_wrong_prev_hash_is_named() -> None:
    events = history(3)
    forged = replace(events[2], prev_hash="f" * 64).sealed()  # a re-hash to hide an edit
    found = chain_break([*events[:2], forged])
    assert found is not None
    assert found.seq == 3
    assert found.what.startswith("does not follow the event before it")


def test_a_non_canonical_payload_breaks_only_the_fast_hash() -> None:
    events = history(3)
    rows = [sqlite_row(e) for e in events]
    rows[1] = sqlite_row(events[1], payload='{"data": {}}')  # same meaning, other bytes
    read, broken = checked_rows(rows)
    assert broken == Break(2, NOT_CANONICAL)
    assert read == events  # every row is still read


def test_the_first_break_is_kept_when_later_ones_follow() -> None:
    events = history(5)
    events[1] = replace(events[1], role="auditor")
    events[3] = replace(events[3], role="auditor")
    found = checked_rows([sqlite_row(e) for e in events])[1]
    assert found is not None
    assert found.seq == 2


def test_a_break_is_a_value() -> None:
    found = Break(3, "event 3 missing")
    assert found == Break(3, "event 3 missing")
    assert {found: "kept"}[Break(3, "event 3 missing")] == "kept"  # hashable: frozen
