"""The declared event log: one model per kind describes every payload ever written, the format
stamp, the upgrade chain applied on read (never to what is hashed), and the stored row."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pydantic
import pytest

from engine.cases import event_formats
from engine.cases.event_formats import payload_format, upgraded
from engine.cases.events import (
    BODIES,
    FORMAT,
    GENESIS_HASH,
    CaseEvent,
    CheckRecorded,
    EventKind,
    FactChanged,
    Note,
    Opened,
    StepTaken,
    TimerFired,
    body_of,
    check_body,
    event_from_row,
    event_to_row,
)
from engine.cases.projection import apply, replay

FIXTURES = Path(__file__).parents[2] / "fixtures"
HISTORIES = sorted((FIXTURES / "histories").glob("*.json"))
RELEASE_DB = FIXTURES / "releases" / "0.1.0" / "demo.db"
AT = dt.datetime(2024, 10, 21, 9, 30, tzinfo=dt.UTC)


def stored_payloads() -> Iterator[tuple[EventKind, dict[str, Any]]]:
    """Every payload of the golden histories and of the previous release's demo database."""
    for path in HISTORIES:
        for e in json.loads(path.read_text())["events"]:
            yield EventKind(e["kind"]), e["payload"]
    with sqlite3.connect(f"file:{RELEASE_DB}?mode=ro", uri=True) as conn:
        for kind, text in conn.execute("SELECT kind, payload FROM case_event"):
            yield EventKind(kind), json.loads(text)


def note_event(payload: dict[str, Any]) -> CaseEvent:
    return CaseEvent(
        case_id="CME-000001",
        seq=2,
        effective_date=AT.date(),
        recorded_at=AT,
        actor="sona",
        role="cme_officer",
        kind=EventKind.note,
        payload=payload,
        process_id="untraceable_cme",
        process_version=1,
        rule=None,
        prev_hash=GENESIS_HASH,
    ).sealed()


def test_every_kind_has_a_model() -> None:
    assert set(BODIES) == set(EventKind)


def test_every_stored_payload_is_format_1_and_its_model_writes_it_back_unchanged() -> None:
    seen: set[EventKind] = set()
    for kind, payload in stored_payloads():
        assert payload_format(payload) == 1
        body = body_of(kind, payload)
        assert type(body) is BODIES[kind]
        assert body.data() == payload["data"], kind
        assert check_body(kind, payload) == body  # pydantic agrees with the fast reader
        expected = {**payload, "v": FORMAT}
        assert body.payload() == expected
        seen.add(kind)
    assert len(seen) >= 7  # opened, steps, timers, checks, facts, escalations at least


def test_a_stamped_payload_reads_as_the_unstamped_one() -> None:
    payload = {
        "data": {"check": "mash_check", "wording": "Ask MASH"},
        "personal": {"enc": "x", "key": "k"},
    }
    old = body_of(EventKind.check_recorded, payload)
    new = body_of(EventKind.check_recorded, {**payload, "v": FORMAT})
    assert (
        old
        == new
        == CheckRecorded(check="mash_check", wording="Ask MASH", personal={"enc": "x", "key": "k"})
    )


def test_models_write_what_the_writers_wrote() -> None:
    plain = FactChanged(facts={"ehc_plan": True}, previous=None)
    assert plain.data() == {"facts": {"ehc_plan": True}, "previous": None}
    sealed = FactChanged(personal_fact="safeguarding_concern", personal={"enc": "e", "key": "k"})
    assert sealed.payload() == {
        "v": FORMAT,
        "data": {"personal_fact": "safeguarding_concern"},
        "personal": {"enc": "e", "key": "k"},
    }
    step = StepTaken(trigger="refer", from_state="a", to_state="a", stays=True)
    assert step.data()["stays"] is True
    assert "stays" not in StepTaken(trigger="go", from_state="a", to_state="b").data()
    assert Note().payload() == {"v": FORMAT, "data": {}}


def test_the_body_is_read_once_and_follows_a_replaced_payload() -> None:
    from dataclasses import replace

    ev = note_event({"data": {}, "personal": {"last_note": "rang"}})
    assert ev.body is ev.body
    assert isinstance(ev.body, Note)
    other = replace(ev, payload={"data": {}, "personal": {"last_note": "wrote"}})
    assert other.body.personal == {"last_note": "wrote"}


def test_an_unknown_or_missing_key_is_refused_on_read() -> None:
    with pytest.raises(TypeError, match="surprise"):
        body_of(EventKind.note, {"data": {"surprise": 1}})
    with pytest.raises(TypeError, match="check"):
        body_of(EventKind.check_recorded, {"data": {"wording": "w"}})


def test_pydantic_checks_types_where_events_are_written() -> None:
    for hold in ("maybe", "true", 1):  # strict: nothing is coerced into what is written
        with pytest.raises(pydantic.ValidationError):
            check_body(EventKind.legal_hold, {"data": {"hold": hold, "reason": "x"}})
    with pytest.raises(TypeError, match="text"):
        check_body(EventKind.note, {"data": {"text": "x"}})
    action = {"kind": "letter", "to": "parent_carer", "wording": "Write", "sent": True}
    with pytest.raises(pydantic.ValidationError, match="sent"):
        check_body(
            EventKind.trigger,
            {"data": {"trigger": "t", "from_state": "a", "to_state": "b", "actions": [action]}},
        )
    with pytest.raises(pydantic.ValidationError, match="pets"):
        check_body(EventKind.note, {"data": {}, "personal": {"last_note": "x", "pets": 1}})
    child = {"child": {"full_name": "Ana", "upn": "A123"}, "last_note": "rang"}
    assert check_body(EventKind.note, {"data": {}, "personal": child}).personal == child
    ok = check_body(EventKind.legal_hold, {"v": FORMAT, "data": {"hold": True, "reason": "x"}})
    assert ok.data() == {"hold": True, "reason": "x"}


def test_a_payload_from_a_newer_release_is_refused() -> None:
    with pytest.raises(ValueError, match="newer than this release"):
        body_of(EventKind.note, {"v": FORMAT + 1, "data": {}})


# -- the upgrade chain, on a synthetic history of formats ----------------------------------


@pytest.fixture
def three_formats(monkeypatch: pytest.MonkeyPatch) -> list[Mapping[str, Any]]:
    """Pretend format 2 wrote a note's text in `data` and format 3 moved it to `personal`."""

    def two_to_three(payload: Mapping[str, Any]) -> dict[str, Any]:
        data = dict(payload["data"])
        out = {**payload, "v": 3, "data": data}
        if "text" in data:
            out["personal"] = {"last_note": data.pop("text")}
        return out

    calls: list[Mapping[str, Any]] = []

    def traced(payload: Mapping[str, Any]) -> dict[str, Any]:
        calls.append(payload)
        return two_to_three(payload)

    monkeypatch.setattr(event_formats, "FORMAT", 3)
    monkeypatch.setitem(event_formats.UPGRADES, 2, traced)
    monkeypatch.setattr(event_formats, "READ_AS_IS", event_formats.read_as_is())
    return calls


def test_reading_runs_every_upgrade_from_the_stored_format(
    three_formats: list[Mapping[str, Any]],
) -> None:
    assert {3} == event_formats.READ_AS_IS
    stored = {"v": 2, "data": {"text": "rang the school"}}
    kept = json.dumps(stored)
    ev = note_event(stored)
    assert ev.body == Note(personal={"last_note": "rang the school"})
    assert len(three_formats) == 1
    # A format-1 payload goes 1 -> 2 (stamp only) -> 3.
    assert upgraded({"data": {"text": "t"}}) == {"v": 3, "data": {}, "personal": {"last_note": "t"}}
    # Today's format is read as it is, and nothing stored was touched: it still verifies.
    assert body_of(EventKind.note, {"v": 3, "data": {}}) == Note()
    assert json.dumps(ev.payload) == kept
    assert ev.compute_hash() == ev.hash
    assert apply(replay_opened(), ev).personal["last_note"] == "rang the school"


def replay_opened() -> Any:
    opened = CaseEvent(
        case_id="CME-000001",
        seq=1,
        effective_date=AT.date(),
        recorded_at=AT,
        actor="sona",
        role="cme_officer",
        kind=EventKind.opened,
        payload={"data": Opened(state="establishing_contact", calendar="london-2024-25").data()},
        process_id="untraceable_cme",
        process_version=1,
        rule=None,
        prev_hash=GENESIS_HASH,
    ).sealed()
    return replay([opened])


# -- the stored row --------------------------------------------------------------------------


def test_an_event_round_trips_through_its_row() -> None:
    body = TimerFired(
        trigger="chase", from_state="a", to_state="b", timer="t", key="k", explanation="Day 10"
    )
    ev = CaseEvent(
        case_id="CME-000001",
        seq=2,
        effective_date=AT.date(),
        recorded_at=AT,
        actor="scheduler",
        role="scheduler",
        kind=EventKind.timer_fired,
        payload=body.payload(),
        process_id="untraceable_cme",
        process_version=1,
        rule="r",
        prev_hash=GENESIS_HASH,
    ).sealed()
    row = event_to_row(ev)
    assert (
        row["payload"] == '{"data":{"actions":[],"explanation":"Day 10","from_state":"a",'
        '"key":"k","stops_clock":false,"terminal":false,"timer":"t","to_state":"b",'
        '"trigger":"chase"},"v":2}'
    )
    back = event_from_row(row)
    assert back == ev
    assert back.body == body
    assert back.compute_hash() == ev.hash
