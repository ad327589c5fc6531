"""Trust in production: the ledger of case openings catches a whole case deleted without any
checkpoint; a re-hashed ledger is caught against a checkpoint; verify counts the events recorded
after the checkpoint; broken cases are marked and an auditor clears them; the day's checkpoint."""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from engine.audit import generate_private_key, load_private_key, make_checkpoint, verify_store
from engine.audit.checkpoint import public_key_text, verify_against
from engine.audit.marks import clear, mark_problems
from engine.cases.service import CaseService
from engine.deployment.checkpoints import sign_daily
from engine.deployment.config import DeploymentConfig, KeySettings
from engine.errors import AccessDenied, InputError
from engine.language.registry import ProcessRegistry
from engine.store.database import open_store
from engine.store.integrity import ledger_hash, open_marks
from engine.store.runs import CHECKPOINT, last_run
from tests.conftest import RECORDED_AT
from tests.engine.audit.test_audit import AUDITOR, five_events, sql
from tests.scenarios.helpers import OFFICER, calendars

RELEASE = Path(__file__).parents[2] / "fixtures" / "releases" / "0.1.0"
LATER = RECORDED_AT + dt.timedelta(days=1)


@pytest.fixture
def svc(db_url: str, registry: ProcessRegistry) -> Iterator[CaseService]:
    store = open_store(db_url)
    yield CaseService(store, registry, calendars=calendars)
    store.dispose()


def ledgered(service: CaseService, count: int = 3) -> list[str]:
    """`count` cases of five events; opening each entered it in the ledger of case openings."""
    ids = five_events(service, count)
    with service.store.read() as conn:
        listed = conn.execute(text("SELECT case_id, source FROM case_ledger ORDER BY seq")).all()
    assert [tuple(r) for r in listed][-count:] == [(i, "opened") for i in ids]
    return ids


def delete_case(service: CaseService, case_id: str) -> None:
    """Everything of one case, as an insider with the database would delete it."""
    for table, column in (
        ("case_event", "case_id"),
        ("cme_case", "id"),
        ("timer", "case_id"),
        ("case_key", "case_id"),
        ("outbox", "case_id"),
    ):
        sql(service, f"DELETE FROM {table} WHERE {column} = :c", c=case_id)


def test_a_whole_case_deleted_is_caught_without_a_checkpoint(svc: CaseService) -> None:
    a, b, c = ledgered(svc)
    assert verify_store(svc.store).ok
    delete_case(svc, b)
    report = verify_store(svc.store)
    assert [(p.case_id, p.seq) for p in report.problems] == [(b, None)]
    assert "the whole case was deleted" in report.problems[0].what
    assert "entry 2 of the ledger" in report.problems[0].what
    assert not verify_store(svc.store, case_id=b).ok


def test_deleting_the_ledger_entry_too_breaks_the_ledger(svc: CaseService) -> None:
    a, b, c = ledgered(svc)
    delete_case(svc, b)
    sql(svc, "DELETE FROM case_ledger WHERE case_id = :c", c=b)
    report = verify_store(svc.store)
    assert [str(p) for p in report.problems] == [
        "ledger of case openings: entry 2 is missing (the ledger jumps from 1 to 3): a case "
        "opening was removed from it"
    ]


def test_a_ledger_rehashed_to_hide_a_deletion_fails_against_the_checkpoint(
    svc: CaseService, tmp_path: Path
) -> None:
    a, b, c = ledgered(svc)
    key = load_private_key(_key(tmp_path))
    checkpoint, _ = make_checkpoint(svc.store, key, at=RECORDED_AT)
    assert checkpoint.ledger is not None
    assert checkpoint.ledger[0] == 3
    # The insider deletes case c (the newest) and rewrites the ledger without it: a clean chain.
    delete_case(svc, c)
    sql(svc, "DELETE FROM case_ledger WHERE case_id = :c", c=c)
    assert verify_store(svc.store).ok
    found = verify_against(svc.store, checkpoint, trusted_key=public_key_text(key))
    whats = {p.case_id: p.what for p in found.problems}
    assert "history is gone" in whats[c]
    assert "the ledger was rewritten after the checkpoint" in whats[""]


def test_a_changed_ledger_entry_or_a_replaced_case_is_named(svc: CaseService) -> None:
    a, b, c = ledgered(svc)
    sql(
        svc,
        "UPDATE case_ledger SET first_hash = :h, hash = :d WHERE seq = 3",
        h="0" * 64,
        d="1" * 64,
    )
    problems = {p.case_id: p.what for p in verify_store(svc.store).problems}
    assert "entry 3 (case" in problems[""]
    assert "the case was replaced" in problems[c]


def test_verify_counts_the_events_recorded_after_the_checkpoint(
    svc: CaseService, tmp_path: Path
) -> None:
    a, b = ledgered(svc, 2)
    key = load_private_key(_key(tmp_path))
    checkpoint, _ = make_checkpoint(svc.store, key, at=RECORDED_AT)
    ours = public_key_text(key)
    report = verify_against(svc.store, checkpoint, trusted_key=ours)
    assert (report.unsigned_events, report.unsigned_cases, report.unsigned_since) == (0, 0, None)
    svc.add_note(a, "seen at the library", on=dt.date(2024, 10, 23), at=LATER, actor=OFFICER)
    svc.add_note(a, "and again", on=dt.date(2024, 10, 23), at=LATER, actor=OFFICER)
    (c,) = ledgered(svc, 1)  # five events in a case the checkpoint never saw
    report = verify_against(svc.store, checkpoint, trusted_key=ours)
    assert report.ok, report.problems
    assert (report.unsigned_events, report.unsigned_cases) == (7, 2)
    assert report.unsigned_since == RECORDED_AT.replace(tzinfo=None).isoformat(
        timespec="microseconds"
    )
    assert verify_store(svc.store).unsigned_events == 0  # no checkpoint: nothing to count from


def _key(tmp_path: Path, name: str = "audit.key") -> Path:
    path = tmp_path / name
    path.write_bytes(generate_private_key())
    return path


def test_a_broken_case_is_marked_once_and_an_auditor_clears_it_with_a_reason(
    svc: CaseService,
) -> None:
    a, b = ledgered(svc, 2)
    sql(svc, "UPDATE case_event SET actor = 'someone else' WHERE case_id = :c AND seq = 3", c=a)
    report = verify_store(svc.store)
    assert mark_problems(svc.store, report, at=LATER, by="olu (auditor)") == [a]
    assert mark_problems(svc.store, report, at=LATER, by="olu (auditor)") == []  # once
    with svc.store.read() as conn:
        (mark,) = open_marks(conn)
    assert (mark.case_id, mark.seq) == (a, 3)
    with pytest.raises(AccessDenied):
        clear(svc.store, a, actor=OFFICER, reason="looked", at=LATER)
    with pytest.raises(InputError, match="say why"):
        clear(svc.store, a, actor=AUDITOR, reason="  ", at=LATER)
    cleared = clear(svc.store, a, actor=AUDITOR, reason="restored from backup", at=LATER)
    assert [m.seq for m in cleared] == [3]
    with svc.store.read() as conn:
        assert open_marks(conn) == []
        logged = (
            conn.execute(text("SELECT action FROM access_log WHERE case_id = :c"), {"c": a})
            .scalars()
            .all()
        )
    assert "cleared integrity mark: restored from backup" in logged
    # The same problem, found again, is not marked again: an auditor has seen it.
    assert mark_problems(svc.store, verify_store(svc.store), at=LATER, by="scheduler") == []
    with pytest.raises(InputError, match="no integrity mark"):
        clear(svc.store, b, actor=AUDITOR, reason="nothing there", at=LATER)


def test_the_days_checkpoint_is_signed_recorded_and_refused_over_a_broken_log(
    svc: CaseService, tmp_path: Path
) -> None:
    a, _ = ledgered(svc, 2)
    config = DeploymentConfig(keys=KeySettings(checkpoint_signing_key_file=_key(tmp_path)))
    folder = tmp_path / "checkpoints"
    done = sign_daily(svc.store, config, folder=folder, at=LATER)
    assert done.path is not None
    assert done.path.parent == folder
    assert done.path.name == "checkpoint-2025-09-02T090000Z.json"
    with svc.store.read() as conn:
        run = last_run(conn, CHECKPOINT)
    assert run is not None
    assert run.detail["file"] == str(done.path)
    assert sign_daily(svc.store, DeploymentConfig(), folder=folder, at=LATER).why_not == (
        "no keys.checkpoint_signing_key_file in cme.toml"
    )
    sql(svc, "DELETE FROM case_event WHERE case_id = :c AND seq = 2", c=a)
    broken = sign_daily(svc.store, config, folder=folder, at=LATER + dt.timedelta(days=1))
    assert (broken.path, broken.marked) == (None, [a])
    assert len(list(folder.iterdir())) == 1


def test_the_previous_release_is_entered_in_the_ledger_at_upgrade_and_a_deletion_then_shows(
    tmp_path: Path, registry: ProcessRegistry
) -> None:
    shutil.copy2(RELEASE / "demo.db", tmp_path / "demo.db")
    store = open_store(f"sqlite:///{tmp_path / 'demo.db'}")
    try:
        with store.read() as conn:
            rows = conn.execute(
                text(
                    "SELECT seq, case_id, first_hash, prev_hash, hash, source FROM case_ledger "
                    "ORDER BY seq"
                )
            ).all()
        assert len(rows) == 59
        assert {r.source for r in rows} == {"upgrade"}
        assert rows[1].hash == ledger_hash(2, rows[1].case_id, rows[1].first_hash, rows[0].hash)
        report = verify_store(store)
        assert report.ok
        assert report.ledger_entries == 59
        with store.engine.begin() as conn:
            for table, column in (("case_event", "case_id"), ("cme_case", "id")):
                conn.execute(text(f"DELETE FROM {table} WHERE {column} = 'CME-000007'"))
        (problem,) = verify_store(store).problems
        assert problem.case_id == "CME-000007"
    finally:
        store.dispose()


def test_the_sweep_leaves_a_marked_cases_timers_pending_until_the_mark_is_cleared(
    service: CaseService,
) -> None:
    from engine.scheduling.sweep import sweep
    from engine.store.integrity import add_mark
    from tests.engine.scheduling.test_timers import OPENED, form

    (marked,) = service.open_case(form(OPENED), on=OPENED, at=RECORDED_AT, actor=OFFICER)
    (other,) = service.open_case(form(OPENED, "Ben Cole"), on=OPENED, at=RECORDED_AT, actor=OFFICER)
    with service.store.engine.begin() as conn:
        add_mark(
            conn,
            marked,
            2,
            "its content does not match its hash",
            at=RECORDED_AT,
            by="olu (auditor)",
        )
    until = dt.date(2024, 10, 25)
    first = sweep(service, until=until, at=RECORDED_AT, keep_firings=True)
    assert {f.case_id for f in first.firings} == {other}
    assert first.blocked
    assert all(f"case {marked} takes no new changes" in why for why in first.blocked.values())
    assert f"cme audit clear {marked}" in next(iter(first.blocked.values()))
    clear(service.store, marked, actor=AUDITOR, reason="examined: a test mark", at=LATER)
    second = sweep(service, until=until, at=RECORDED_AT, keep_firings=True)
    assert {f.case_id for f in second.firings} == {marked}
    assert len(second.firings) == len(first.firings)


def test_a_marked_case_takes_no_change_until_an_auditor_clears_it(svc: CaseService) -> None:
    from engine.errors import IntegrityFailure

    a, b = ledgered(svc, 2)
    sql(svc, "UPDATE case_event SET actor = 'x' WHERE case_id = :c AND seq = 2", c=a)
    mark_problems(svc.store, verify_store(svc.store), at=LATER, by="olu (auditor)")
    sql(svc, "UPDATE case_event SET actor = 'sona' WHERE case_id = :c AND seq = 2", c=a)
    with pytest.raises(IntegrityFailure) as refused:
        svc.add_note(a, "rang the school", on=dt.date(2024, 10, 23), at=LATER, actor=OFFICER)
    message = str(refused.value)
    assert f"case {a} takes no new changes" in message
    assert "event 2: its content does not match its hash" in message
    assert f"cme audit clear {a} --reason TEXT --role auditor" in message
    assert [e.seq for e in svc.events(a)] == [1, 2, 3, 4, 5]  # nothing was written
    svc.add_note(b, "rang the school", on=dt.date(2024, 10, 23), at=LATER, actor=OFFICER)
    clear(svc.store, a, actor=AUDITOR, reason="restored event 2 from the backup", at=LATER)
    svc.add_note(a, "rang the school", on=dt.date(2024, 10, 23), at=LATER, actor=OFFICER)
    assert verify_store(svc.store).ok
