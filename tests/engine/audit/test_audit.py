"""Audit: replay reproduces every stored case; verify names the first altered, deleted or
swapped event; a signed checkpoint catches a full re-hash; as-of views; the access log."""

from __future__ import annotations

import base64
import datetime as dt
import json
import string
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select, text, update

from engine.audit import (
    access_entries,
    case_as_of,
    export_bundle,
    generate_private_key,
    make_checkpoint,
    merkle_root,
    render_html,
    replay_case,
    verify_store,
)
from engine.audit.chain import EVENT_COLUMNS, row_hash
from engine.audit.checkpoint import (
    check_signature,
    load_checkpoint,
    load_private_key,
    public_key_text,
    verify_against,
)
from engine.cases.projection import GENESIS_HASH, CaseEvent, EventKind, replay
from engine.cases.service import Actor, CaseService
from engine.errors import AccessDenied, CaseNotFound, InputError, IntegrityFailure
from engine.language.registry import ProcessRegistry
from engine.store.database import open_store
from engine.store.integrity import backfill_ledger
from engine.store.tables import access_log_table, case_table, event_table
from tests.conftest import RECORDED_AT
from tests.scenarios.helpers import (
    LINE_MANAGER,
    OFFICER,
    PAS,
    PRIMARY_DOB,
    SCHOOL,
    Walk,
    calendars,
    notification,
)

AUDITOR = Actor("olu", "auditor")
D = dt.date
MONDAY = D(2024, 10, 21)


@pytest.fixture
def svc(db_url: str, registry: ProcessRegistry) -> Iterator[CaseService]:
    """A case service on each database kind, knowing the made-up 2023-24 test calendar."""
    store = open_store(db_url)
    yield CaseService(store, registry, calendars=calendars)
    store.dispose()


@pytest.fixture
def lite(sqlite_url: str, registry: ProcessRegistry) -> Iterator[CaseService]:
    """The same on SQLite only, for the longer walks."""
    store = open_store(sqlite_url)
    yield CaseService(store, registry, calendars=calendars)
    store.dispose()


def five_events(service: CaseService, count: int = 3) -> list[str]:
    """`count` untraceable cases, each with five events: opened, two checks, a fact, a step
    (no timer is swept, so nothing else is appended)."""
    ids = []
    with service.store.read() as conn:
        before = conn.execute(select(func.count()).select_from(case_table)).scalar_one()
    for n in range(count):
        # Each case another child (one child, one open case): born a day apart.
        born = PRIMARY_DOB - dt.timedelta(days=before + n)
        (case_id,) = service.open_case(
            notification(MONDAY, dob=born), on=MONDAY, at=RECORDED_AT, actor=OFFICER
        )
        for check in ("core_information_checked", "opened_on_cme_register"):
            service.record_check(
                case_id, check, on=MONDAY, at=RECORDED_AT, actor=OFFICER, outcome=f"done {n}"
            )
        service.set_fact(
            case_id, "crime_suspected", False, on=D(2024, 10, 22), at=RECORDED_AT, actor=OFFICER
        )
        result = service.fire(
            case_id, "contact_established", on=D(2024, 10, 22), at=RECORDED_AT, actor=OFFICER
        )
        assert result.case.seq == 5
        ids.append(case_id)
    return ids


def sql(service: CaseService, statement: str, **params: Any) -> None:
    with service.store.engine.begin() as conn:
        conn.execute(text(statement), params)


def problems(service: CaseService, **kwargs: Any) -> dict[str, tuple[int | None, str]]:
    report = verify_store(service.store, **kwargs)
    return {p.case_id: (p.seq, p.what) for p in report.problems}


# --- the fast hash is the hash ------------------------------------------------------------------

_text = st.text(alphabet=string.printable + "éß—“”€😀\u2028", max_size=30)
_json = st.recursive(
    st.none() | st.booleans() | st.integers(-(10**6), 10**6) | _text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_text, inner, max_size=3),
    max_leaves=8,
)


@settings(max_examples=200, deadline=None)
@given(
    case_id=_text,
    seq=st.integers(1, 10**6),
    day=st.dates(D(2000, 1, 1), D(2100, 1, 1)),
    at=st.datetimes(dt.datetime(2000, 1, 1), dt.datetime(2100, 1, 1)),
    actor=_text,
    role=_text,
    kind=st.sampled_from(list(EventKind)),
    payload=st.dictionaries(_text, _json, max_size=4),
    version=st.integers(1, 99),
    rule=st.none() | _text,
)
def test_row_hash_equals_the_event_hash_for_any_event(
    case_id: str,
    seq: int,
    day: dt.date,
    at: dt.datetime,
    actor: str,
    role: str,
    kind: EventKind,
    payload: dict[str, Any],
    version: int,
    rule: str | None,
) -> None:
    """The streamed verifier hashes the stored columns directly; it must agree with
    `CaseEvent.compute_hash` on every event, both as SQLite stores it and as PostgreSQL does."""
    ev = CaseEvent(
        case_id,
        seq,
        day,
        at.replace(tzinfo=dt.UTC),
        actor,
        role,
        kind,
        payload,
        "p",
        version,
        rule,
        "ab" * 32,
    ).sealed()
    from engine.cases.projection import canonical_json

    sqlite_row = (
        case_id,
        seq,
        day.isoformat(),
        at.strftime("%Y-%m-%d %H:%M:%S.%f"),
        actor,
        role,
        str(kind),
        canonical_json(payload),
        "p",
        version,
        rule,
        ev.prev_hash,
        ev.hash,
    )
    postgres_row = (case_id, seq, day, at, *sqlite_row[4:])
    assert row_hash(sqlite_row, ev.prev_hash) == ev.hash
    assert row_hash(postgres_row, ev.prev_hash) == ev.hash


# --- verify: chains and projections -------------------------------------------------------------


def test_an_untouched_log_verifies_and_counts_every_event(svc: CaseService) -> None:
    ids = five_events(svc)
    report = verify_store(svc.store, collect_heads=True)
    assert report.ok, report.problems
    assert (report.cases, report.events) == (3, 15)
    assert [h[:2] for h in report.heads] == [(i, 5) for i in ids]
    one = verify_store(svc.store, case_id=ids[1])
    assert (one.ok, one.cases, one.events) == (True, 1, 5)


def test_tampering_deleting_and_swapping_are_each_named(svc: CaseService) -> None:
    """Edited directly in the database: a payload altered, an event deleted from the middle, the
    last event deleted, two events swapped, and a case row edited; each case's first broken
    event is named."""
    a, b, c, d, e = five_events(svc, 5)
    sql(
        svc,
        "UPDATE case_event SET payload = replace(payload, 'core_information', 'core_info') "
        "WHERE case_id = :c AND seq = 2",
        c=a,
    )
    sql(svc, "DELETE FROM case_event WHERE case_id = :c AND seq = 3", c=b)
    sql(svc, "DELETE FROM case_event WHERE case_id = :c AND seq = 5", c=c)
    sql(svc, "UPDATE case_event SET seq = -1 WHERE case_id = :c AND seq = 3", c=d)
    sql(svc, "UPDATE case_event SET seq = 3 WHERE case_id = :c AND seq = 4", c=d)
    sql(svc, "UPDATE case_event SET seq = 4 WHERE case_id = :c AND seq = -1", c=d)
    sql(svc, "UPDATE cme_case SET state = 'closed_untraceable' WHERE id = :c", c=e)
    found = problems(svc)
    assert found[a][0] == 2
    assert "altered" in found[a][1]
    assert found[b][0] == 3
    assert "event 3 missing" in found[b][1]
    assert found[c][0] == 5
    assert "history ends at event 4" in found[c][1]
    assert found[d] == (3, "holds what was recorded as event 4: events were swapped or reordered")
    assert found[e][0] is None
    assert "state is 'closed_untraceable', replay gives 'supporting_to_school_place'" in found[e][1]
    assert len(found) == 5


def test_a_changed_prev_hash_or_lost_case_row_is_named(svc: CaseService) -> None:
    a, b = five_events(svc, 2)
    sql(svc, "UPDATE case_event SET prev_hash = :h WHERE case_id = :c AND seq = 4", h="f" * 64, c=a)
    sql(svc, "DELETE FROM cme_case WHERE id = :c", c=b)
    found = problems(svc)
    assert found[a][0] == 4
    assert "altered" in found[a][1]
    assert found[b] == (None, "has events but no case row")


def test_verifying_in_parallel_finds_what_one_pass_finds(
    lite: CaseService, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import engine.audit.verify

    ids = five_events(lite, 5)
    key = load_private_key(_key(tmp_path))
    checkpoint, _ = make_checkpoint(lite.store, key, at=RECORDED_AT)
    sql(lite, "UPDATE case_event SET rule = 'forged' WHERE case_id = :c AND seq = 3", c=ids[0])
    sql(lite, "DELETE FROM case_event WHERE case_id = :c", c=ids[4])
    sql(lite, "DELETE FROM cme_case WHERE id = :c", c=ids[4])
    one = verify_store(lite.store, anchors=checkpoint.anchors(), collect_heads=True)
    monkeypatch.setattr(engine.audit.verify, "PARALLEL_FROM", 2)  # 4 cases, 2 workers
    two = verify_store(lite.store, anchors=checkpoint.anchors(), collect_heads=True, jobs=2)
    assert (two.cases, two.events, two.anchors_checked) == (
        one.cases,
        one.events,
        one.anchors_checked,
    )
    assert (one.cases, one.events, one.anchors_checked) == (4, 20, 3)
    assert two.heads == one.heads
    assert two.problems == one.problems
    # The deleted case is named by its ledger entry, checkpoint or not.
    assert [(p.case_id, p.seq) for p in two.problems] == [(ids[0], 3), (ids[4], None)]


def test_verify_and_replay_read_without_holding_up_an_officer(lite: CaseService) -> None:
    """A verification of millions of events runs for minutes: it must not take SQLite's write
    lock. Here an officer's transaction holds that lock throughout, and verify still runs."""
    (a,) = five_events(lite, 1)
    with lite.store.engine.begin() as writer:  # BEGIN IMMEDIATE: the write lock
        writer.execute(text("UPDATE cme_case SET assigned_officer = assigned_officer"))
        assert verify_store(lite.store).ok
        from engine.audit.replay import read_history

        with lite.store.read() as reader:  # what replay and export read through
            events, _row, broken = read_history(reader, a)
        assert (len(events), broken) == (5, None)


def rehash(service: CaseService, case_id: str, change: dict[str, Any], seq: int) -> None:
    """What an attacker with database access does: alter an event's payload, then re-hash the
    whole chain from it and rewrite the case row to match, so the chain check passes."""
    events = service.events(case_id)
    sealed: list[CaseEvent] = []
    prev = GENESIS_HASH
    for ev in events:
        payload = (
            {**ev.payload, "data": {**ev.payload["data"], **change}}
            if ev.seq == seq
            else ev.payload
        )
        new = replace(ev, payload=payload, prev_hash=prev).sealed()
        sealed.append(new)
        prev = new.hash
    from engine.cases.projection import canonical_json

    with service.store.engine.begin() as conn:
        for ev in sealed:
            conn.execute(
                update(event_table)
                .where((event_table.c.case_id == case_id) & (event_table.c.seq == ev.seq))
                .values(payload=canonical_json(ev.payload), prev_hash=ev.prev_hash, hash=ev.hash)
            )
        row = replay(sealed).as_row()
        del row["id"]
        conn.execute(update(case_table).where(case_table.c.id == case_id).values(**row))


def test_a_full_rehash_passes_the_chain_check_but_fails_against_an_earlier_checkpoint(
    svc: CaseService, tmp_path: Path
) -> None:
    a, b = five_events(svc, 2)
    key_file = tmp_path / "audit.key"
    key_file.write_bytes(generate_private_key())
    key = load_private_key(key_file)
    checkpoint, report = make_checkpoint(svc.store, key, at=RECORDED_AT)
    assert report.ok
    assert (checkpoint.case_count, checkpoint.event_count) == (2, 10)
    assert checkpoint.root == merkle_root(checkpoint.heads)
    saved = tmp_path / "checkpoint.json"
    saved.write_text(checkpoint.to_json())
    ours = public_key_text(key)
    # Work after the checkpoint is fine: a new event on top of a signed head.
    svc.add_note(b, "seen at the library", on=D(2024, 10, 23), at=RECORDED_AT, actor=OFFICER)
    assert verify_against(svc.store, load_checkpoint(saved), trusted_key=ours).ok

    rehash(svc, a, {"outcome": "forged outcome"}, seq=2)
    assert verify_store(svc.store).ok  # the chain and projections hold: a clean re-hash
    after = verify_against(svc.store, load_checkpoint(saved), trusted_key=ours)
    assert [(p.case_id, p.seq) for p in after.problems] == [(a, 5)]
    assert "re-hashed after the checkpoint" in after.problems[0].what
    assert not verify_against(svc.store, load_checkpoint(saved), case_id=a, trusted_key=ours).ok
    assert verify_against(svc.store, load_checkpoint(saved), case_id=b, trusted_key=ours).ok


def test_a_deleted_case_and_a_truncated_history_fail_against_the_checkpoint(
    svc: CaseService, tmp_path: Path
) -> None:
    a, b, c = five_events(svc, 3)
    key = load_private_key(_key(tmp_path))
    checkpoint, _ = make_checkpoint(svc.store, key, at=RECORDED_AT)
    sql(svc, "DELETE FROM case_event WHERE case_id = :c", c=a)
    sql(svc, "DELETE FROM cme_case WHERE id = :c", c=a)
    # Truncate b to four events and rewrite its row: a clean chain, but shorter than signed.
    sql(svc, "DELETE FROM case_event WHERE case_id = :c AND seq = 5", c=b)
    with svc.store.engine.begin() as conn:
        row = replay(svc.events(b, conn=conn)).as_row()
        del row["id"]
        conn.execute(update(case_table).where(case_table.c.id == b).values(**row))
    # The deleted case is named by the ledger of case openings even without the checkpoint;
    # the truncated history only against it.
    assert {p.case_id for p in verify_store(svc.store).problems} == {a}
    found = {
        p.case_id: p
        for p in verify_against(svc.store, checkpoint, trusted_key=public_key_text(key)).problems
    }
    assert set(found) == {a, b}
    assert "the whole case was deleted" in found[a].what
    assert found[b].seq == 5
    assert "signed this case at event 5" in found[b].what


def _key(tmp_path: Path, name: str = "audit.key") -> Path:
    path = tmp_path / name
    path.write_bytes(generate_private_key())
    return path


def test_a_forged_or_edited_checkpoint_is_refused(lite: CaseService, tmp_path: Path) -> None:
    five_events(lite, 2)
    key = load_private_key(_key(tmp_path))
    checkpoint, _ = make_checkpoint(lite.store, key, at=RECORDED_AT)
    check_signature(checkpoint, trusted_key=public_key_text(key))
    edited = replace(checkpoint, heads=[(c, s, "0" * 64) for c, s, _ in checkpoint.heads])
    with pytest.raises(IntegrityFailure, match="signature does not verify"):
        check_signature(edited, trusted_key=public_key_text(key))
    other = load_private_key(_key(tmp_path, "other.key"))
    forged, _ = make_checkpoint(lite.store, other, at=RECORDED_AT)
    check_signature(forged, trusted_key=public_key_text(other))  # self-consistent …
    with pytest.raises(IntegrityFailure, match="not the pinned key"):
        check_signature(forged, trusted_key=public_key_text(key))  # … but not ours
    bad_sig = replace(checkpoint, signature=base64.b64encode(b"x" * 64).decode())
    with pytest.raises(IntegrityFailure):
        verify_against(lite.store, bad_sig, trusted_key=public_key_text(key))


def test_no_checkpoint_is_signed_over_a_log_that_does_not_verify(
    lite: CaseService, tmp_path: Path
) -> None:
    (a,) = five_events(lite, 1)
    sql(lite, "DELETE FROM case_event WHERE case_id = :c AND seq = 2", c=a)
    with pytest.raises(IntegrityFailure, match="event 2 missing"):
        make_checkpoint(lite.store, load_private_key(_key(tmp_path)), at=RECORDED_AT)


def test_a_bad_key_or_checkpoint_file_is_a_clear_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="cme audit keygen"):
        load_private_key(tmp_path / "missing.key")
    (tmp_path / "junk.key").write_text("not a key")
    with pytest.raises(InputError, match="not an unencrypted PEM private key"):
        load_private_key(tmp_path / "junk.key")
    (tmp_path / "junk.json").write_text(json.dumps({"format": "something else"}))
    with pytest.raises(InputError, match="not a CME audit checkpoint"):
        load_checkpoint(tmp_path / "junk.json")


def test_merkle_root_changes_with_any_head_and_with_their_order() -> None:
    heads = [(f"CME-{i:06d}", i, f"{i:064x}") for i in range(1, 8)]
    root = merkle_root(heads)
    assert merkle_root(list(heads)) == root
    assert merkle_root(heads[:-1]) != root
    assert merkle_root([*heads[:3], (heads[3][0], 5, heads[3][2]), *heads[4:]]) != root
    assert merkle_root(list(reversed(heads))) != root


# --- replay of every scenario case of the shipped processes -------------------------------------


def walk_every_process(service: CaseService) -> None:
    """Cases of every shipped process, walked on real dates through timers and steps."""
    from tests.scenarios.removal import walk_to_removal
    from tests.scenarios.test_removal_grounds import GROUNDS as GROUNDS_2006
    from tests.scenarios.test_removal_grounds import T as T_2006
    from tests.scenarios.test_removal_grounds_2024 import GROUNDS as GROUNDS_2024
    from tests.scenarios.test_removal_grounds_2024 import T as T_2024
    from tests.scenarios.test_untraceable_cme import DAY, opened, traced

    for ground in GROUNDS_2006:
        walk_to_removal(service, ground, T_2006)
    for ground in GROUNDS_2024:
        walk_to_removal(service, ground, T_2024)
    closed = opened(service)
    traced(closed)
    closed.sweep(DAY[26])
    closed.check("day_26_closure_form", on=DAY[26])
    closed.fire("close_untraceable", on=DAY[26], actor=LINE_MANAGER)
    # Each case another child (one child, one open case): born a day apart.
    chased = opened(service, dob=PRIMARY_DOB - dt.timedelta(days=1))  # every escalation fires
    chased.sweep(DAY[27])
    placed = opened(service, ehc_plan=True, dob=PRIMARY_DOB - dt.timedelta(days=2))
    placed.fire("contact_established", on=DAY[3])
    placed.facts({"ehc_plan": True}, on=DAY[4])
    placed.fire("refer_to_sen_service", on=DAY[4])  # the clock stops
    placed.facts({"placement_provision": "special school"}, on=DAY[12])
    placed.fire("placed_by_sen_service", on=DAY[12])
    returns = Walk.open(
        service, notification(MONDAY), on=MONDAY, actor=SCHOOL, process="roll_returns"
    )
    returns.facts(
        {"roll_change": "addition", "non_standard_transition_point": True}, on=MONDAY, actor=SCHOOL
    )
    returns.sweep(D(2024, 10, 28))  # Day 8: the overdue return is escalated
    returns.fire("submit_return", on=D(2024, 10, 28), actor=SCHOOL)
    checks = Walk.open(
        service, notification(MONDAY), on=MONDAY, actor=SCHOOL, process="school_checks"
    )
    checks.check("first_day_call_text", on=MONDAY, actor=SCHOOL)
    checks.check("pas_notified", on=D(2024, 10, 23), actor=PAS)
    checks.fire("pupil_returned_to_school", on=D(2024, 11, 4), actor=SCHOOL)


def test_replay_equals_the_stored_case_for_every_scenario_case(lite: CaseService) -> None:
    walk_every_process(lite)
    with lite.store.engine.connect() as conn:
        rows = conn.execute(select(case_table.c.id, case_table.c.process_id)).all()
    assert {r.process_id for r in rows} == {
        "untraceable_cme",
        "removal_grounds",
        "roll_returns",
        "school_checks",
    }
    report = verify_store(lite.store)
    assert report.ok, report.problems[:3]
    assert report.cases == len(rows) >= 34
    kinds: set[str] = set()
    for row in rows:
        result = replay_case(lite, row.id, actor=AUDITOR, at=RECORDED_AT)
        assert result.ok, result.problems()
        stored = lite.get(row.id)
        assert result.replayed is not None
        assert result.replayed.as_row() == stored.as_row()
        assert [t.seq for t in result.timeline] == list(range(1, stored.seq + 1))
        assert result.timeline[-1].state_after == stored.state
        assert all(t.content_hash == result.versions[t.process_version] for t in result.timeline)
        kinds |= {t.kind for t in result.timeline}
    assert {
        "opened",
        "trigger",
        "check_recorded",
        "fact_changed",
        "timer_fired",
        "timer_lapsed",
        "escalation",
    } <= kinds


def test_timeline_says_who_when_which_day_which_rule_and_which_version(
    svc: CaseService,
) -> None:
    walk = Walk.open(svc, notification(MONDAY), on=MONDAY)
    walk.check("core_information_checked", on=MONDAY, outcome="address confirmed")
    walk.sweep(D(2024, 10, 25))  # Day 2 and 3 escalations, then Day 5: reasonable checks
    walk.facts({"crime_suspected": True}, on=D(2024, 11, 4))
    walk.fire("involve_police", on=D(2024, 11, 4))
    result = replay_case(svc, walk.case_id, actor=AUDITOR, at=RECORDED_AT)
    assert result.ok
    first, check = result.timeline[:2]
    assert (first.kind, first.school_day, first.state_before, first.state_after) == (
        "opened",
        1,
        None,
        "establishing_contact",
    )
    assert (first.actor, first.role, first.recorded_at) == ("sona", "cme_officer", RECORDED_AT)
    assert first.source
    assert "Camden" in first.source
    assert first.process_version == 2
    assert first.content_hash == result.versions[2]
    assert check.recorded["check"] == "core_information_checked"
    moved = next(t for t in result.timeline if t.kind == "timer_fired")
    assert (moved.effective_date, moved.school_day) == (D(2024, 10, 25), 5)
    assert (moved.state_before, moved.state_after) == ("establishing_contact", "reasonable_checks")
    assert moved.rule
    assert moved.rule.startswith("start_reasonable_checks: Appendix 7")
    police = result.timeline[-1]
    assert (police.effective_date, police.school_day) == (D(2024, 11, 4), 6)  # after half term
    assert police.state_before == police.state_after == "reasonable_checks"
    fact = result.timeline[-2]
    assert fact.recorded == {"facts": {"crime_suspected": True}, "previous": None}


def test_replay_reports_a_stored_row_that_differs_as_an_integrity_failure(
    lite: CaseService,
) -> None:
    (a,) = five_events(lite, 1)
    sql(lite, "UPDATE cme_case SET overdue = 1 WHERE id = :c", c=a)
    result = replay_case(lite, a, actor=AUDITOR, at=RECORDED_AT)
    assert not result.ok
    assert result.problems() == [
        "the stored case row differs from its replayed history: overdue is 1, replay gives 0"
    ]
    sql(lite, "UPDATE case_event SET actor = 'someone else' WHERE case_id = :c AND seq = 3", c=a)
    assert (
        replay_case(lite, a, actor=AUDITOR, at=RECORDED_AT)
        .problems()[0]
        .startswith("event 3: its content does not match its hash")
    )


# --- as of a day --------------------------------------------------------------------------------


def test_as_of_gives_the_state_on_the_day_before_and_after_each_transition(
    svc: CaseService,
) -> None:
    walk = Walk.open(svc, notification(MONDAY), on=MONDAY)
    walk.check(
        "core_information_checked",
        "opened_on_cme_register",
        "contact_attempted_by_phone",
        "contact_attempted_by_email",
        on=MONDAY,
    )
    walk.sweep(D(2024, 10, 25))  # Day 5 (Friday): start_reasonable_checks fires
    walk.fire("contact_established", on=D(2024, 11, 5))
    walk.facts(
        {
            "placement_route": "in_year_admissions",
            "placement_provision": "Gospel Oak",
            "age_phase": "primary",
        },
        on=D(2024, 11, 7),
    )
    walk.fire("child_placed", on=D(2024, 11, 7))
    moves = [(e.effective_date, e.payload["data"]) for e in walk.events()]
    transitions = [
        (day, data["from_state"], data["to_state"]) for day, data in moves if "to_state" in data
    ]
    assert [t[2] for t in transitions] == [
        "reasonable_checks",
        "supporting_to_school_place",
        "placed",
    ]

    def state_on(day: dt.date) -> str:
        return case_as_of(svc, walk.case_id, day, actor=AUDITOR, at=RECORDED_AT).case.state

    for day, before, after in transitions:
        assert state_on(day - dt.timedelta(days=1)) == before
        assert state_on(day) == after
    assert state_on(D(2025, 1, 6)) == "placed"
    with pytest.raises(InputError, match="it did not exist on 2024-10-20"):
        state_on(D(2024, 10, 20))


def test_as_of_lists_outstanding_checks_and_the_timers_pending_then(svc: CaseService) -> None:
    walk = Walk.open(svc, notification(MONDAY), on=MONDAY)
    walk.check("core_information_checked", on=MONDAY)
    walk.sweep(D(2024, 11, 4))  # Day 2 and 4 chases fire, Day 5 starts reasonable checks
    day1 = case_as_of(svc, walk.case_id, MONDAY, actor=AUDITOR, at=RECORDED_AT)
    assert (day1.case.state, day1.day, day1.events) == ("establishing_contact", 1, 2)
    assert [c["id"] for c in day1.outstanding_checks] == [
        "opened_on_cme_register",
        "contact_attempted_by_phone",
        "contact_attempted_by_email",
    ]
    # The core information check, recorded on Day 1, withdrew its own reminder.
    assert [(t["timer"], t["due_date"], t["due"]) for t in day1.timers] == [
        ("opened_on_cme_register_outstanding", D(2024, 10, 22), False),
        ("contact_attempted_by_phone_outstanding", D(2024, 10, 24), False),
        ("contact_attempted_by_email_outstanding", D(2024, 10, 24), False),
        ("reasonable_checks_starts", D(2024, 10, 25), False),
    ]
    day3 = case_as_of(svc, walk.case_id, D(2024, 10, 23), actor=AUDITOR, at=RECORDED_AT)
    assert [t["timer"] for t in day3.timers] == [
        "contact_attempted_by_phone_outstanding",
        "contact_attempted_by_email_outstanding",
        "reasonable_checks_starts",
    ]
    assert day3.case.overdue  # the Day 2 chase was raised by then
    day5 = case_as_of(svc, walk.case_id, D(2024, 10, 25), actor=AUDITOR, at=RECORDED_AT)
    assert day5.case.state == "reasonable_checks"
    assert {t["timer"] for t in day5.timers} >= {
        "first_formal_letter_sent_outstanding",
        "further_checks_starts",
    }
    assert all(not t["due"] for t in day5.timers)


# --- who reads is recorded ----------------------------------------------------------------------


def test_every_audit_read_is_recorded_and_a_role_without_audit_rights_is_refused(
    svc: CaseService,
) -> None:
    (a,) = five_events(svc, 1)
    replay_case(svc, a, actor=AUDITOR, at=RECORDED_AT)
    case_as_of(svc, a, MONDAY, actor=AUDITOR, at=RECORDED_AT + dt.timedelta(minutes=1))
    export_bundle(svc, a, actor=AUDITOR, at=RECORDED_AT + dt.timedelta(minutes=2), fmt="html")
    entries = access_entries(svc.store, case_id=a)
    assert [(e["actor"], e["role"], e["action"]) for e in entries] == [
        ("olu", "auditor", "replay"),
        ("olu", "auditor", "replay as of 2024-10-21"),
        ("olu", "auditor", "export html"),
    ]
    assert entries[0]["case_id"] == a
    with pytest.raises(AccessDenied, match="may not replay"):
        replay_case(svc, a, actor=SCHOOL, at=RECORDED_AT)
    with pytest.raises(CaseNotFound):
        replay_case(svc, "CME-999999", actor=AUDITOR, at=RECORDED_AT)
    with svc.store.engine.connect() as conn:
        assert len(conn.execute(select(access_log_table)).all()) == 3  # refusals wrote nothing


# --- export -------------------------------------------------------------------------------------


def test_export_carries_the_definitions_text_and_the_final_hash(svc: CaseService) -> None:
    (a,) = five_events(svc, 1)
    bundle = export_bundle(svc, a, actor=AUDITOR, at=RECORDED_AT)
    events = svc.events(a)
    assert bundle["chain"] == {
        "events": 5,
        "final_hash": events[-1].hash,
        "verified": True,
        "problems": [],
    }
    (definition,) = bundle["definitions"]
    assert (definition["process_id"], definition["version"]) == ("untraceable_cme", 2)
    import hashlib

    assert (
        hashlib.sha256(definition["yaml_text"].encode()).hexdigest() == definition["content_hash"]
    )
    # An auditor can re-check every hash from the bundle alone, as `how_to_verify` says.
    from engine.cases.projection import canonical_json

    prev = GENESIS_HASH
    for ev in bundle["events"]:
        content = {k: v for k, v in ev.items() if k not in ("prev_hash", "hash")}
        assert ev["prev_hash"] == prev
        digest = hashlib.sha256(prev.encode())
        digest.update(canonical_json(content).encode())
        assert digest.hexdigest() == ev["hash"]
        prev = ev["hash"]
    html = render_html(bundle)
    assert "<script src" not in html
    assert "<link" not in html
    assert events[-1].hash in html
    assert "Verified" in html
    embedded = html.split('<script type="application/json" id="bundle">')[1].split("</script>")[0]
    assert json.loads(embedded)["chain"]["final_hash"] == events[-1].hash


def test_event_columns_are_what_the_table_has() -> None:
    names = [c.strip() for c in EVENT_COLUMNS.split(",")]
    assert set(names) <= {c.name for c in event_table.columns}
    assert names[-2:] == ["prev_hash", "hash"]


# --- golden histories: the persisted format -----------------------------------------------------

HISTORIES = sorted((Path(__file__).parents[2] / "fixtures" / "histories").glob("*.json"))


def golden_events(data: dict[str, Any]) -> list[CaseEvent]:
    return [
        CaseEvent(
            case_id=e["case_id"],
            seq=e["seq"],
            effective_date=D.fromisoformat(e["effective_date"]),
            recorded_at=dt.datetime.fromisoformat(e["recorded_at"]).replace(tzinfo=dt.UTC),
            actor=e["actor"],
            role=e["role"],
            kind=EventKind(e["kind"]),
            payload=e["payload"],
            process_id=e["process_id"],
            process_version=e["process_version"],
            rule=e["rule"],
            prev_hash=e["prev_hash"],
            hash=e["hash"],
        )
        for e in data["events"]
    ]


def test_there_are_golden_histories_of_several_processes() -> None:
    processes = {json.loads(p.read_text())["events"][0]["process_id"] for p in HISTORIES}
    assert processes == {"untraceable_cme", "removal_grounds", "tracing"}


@pytest.mark.parametrize("path", HISTORIES, ids=[p.stem for p in HISTORIES])
def test_a_golden_history_still_hashes_and_replays_to_its_recorded_row(path: Path) -> None:
    """Recorded once (tests/fixtures/histories/record.py); if this fails, the persisted format
    or `apply` changed, and old histories would no longer replay."""
    from engine.audit.chain import chain_break
    from engine.audit.export import _jsonable

    data = json.loads(path.read_text())
    events = golden_events(data)
    assert chain_break(events) is None
    assert _jsonable(replay(events).as_row()) == data["case"]


@pytest.mark.parametrize("path", HISTORIES, ids=[p.stem for p in HISTORIES])
def test_a_golden_history_stored_in_a_database_verifies(path: Path, db_url: str) -> None:
    from engine.cases.service import event_to_row

    events = golden_events(json.loads(path.read_text()))
    store = open_store(db_url)
    with store.engine.begin() as conn:
        conn.execute(event_table.insert(), [event_to_row(e) for e in events])
        conn.execute(case_table.insert().values(replay(events).as_row()))
        backfill_ledger(conn)  # as the upgrade that added the ledger enters cases already there
    report = verify_store(store)
    assert report.ok, report.problems
    assert report.events == len(events)
    store.dispose()
