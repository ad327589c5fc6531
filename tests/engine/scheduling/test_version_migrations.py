"""`applies.migrate_open_cases` does what it says (issue 13): the daily run migrates open cases
onto a published version on its effective date, through the audited migration (one event per
case, by the scheduler, the rule naming why), with the stage map rules of `cme process migrate`;
a case whose stage cannot be mapped is reported and left alone, never guessed."""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path

import pytest
from sqlalchemy import select

from engine.cases.migration import publish_version
from engine.cases.projection import EventKind
from engine.cases.service import Actor, CaseService
from engine.cases.views import event_summary, history_rows
from engine.errors import DefinitionError
from engine.language.loader import (
    LoadedProcess,
    load_process_file,
    load_process_text,
    load_processes,
)
from engine.language.registry import ProcessRegistry
from engine.scheduling.scheduler import ScheduleSettings, SweepJob
from engine.store.database import open_store
from engine.store.runs import SWEEP, last_run
from engine.store.tables import case_table, timer_table
from tests.conftest import RECORDED_AT
from tests.scenarios.helpers import LINE_MANAGER, OFFICER, calendars, notification

FIXTURES = Path(__file__).parents[2] / "fixtures" / "versions"
V1 = load_process_file(FIXTURES / "tracing_v1.yaml")
V2_TEXT = (FIXTURES / "tracing_v2.yaml").read_text(encoding="utf-8")
V2 = load_process_text(V2_TEXT, "tracing_v2.yaml")
OWNER = Actor("pat", "policy_owner")
D = dt.date
MONDAY, TUESDAY = D(2024, 10, 21), D(2024, 10, 22)
EFFECTIVE = D(2024, 11, 1)
"""Version 2's effective_from (a Friday in half term)."""


def with_stage_map() -> LoadedProcess:
    """Version 2 as a policy owner would write it to say where on-hold cases go."""
    text = V2_TEXT.replace(
        "applies: {migrate_open_cases: true}",
        "applies: {migrate_open_cases: true, stage_map: {on_hold: checks}}",
    )
    assert text != V2_TEXT
    return load_process_text(text, "tracing_v2_mapped.yaml")


@pytest.fixture
def running(sqlite_url: str) -> CaseService:
    """Three open tracing cases on version 1 (in contact, in checks, on hold) and one closed."""
    store = open_store(sqlite_url)
    svc = CaseService(store, ProcessRegistry([*load_processes(), V1]), calendars=calendars)
    ids = [
        svc.open_case(
            notification(MONDAY),
            on=MONDAY,
            at=RECORDED_AT,
            actor=OFFICER,
            process="tracing",
            override_reason=None if n == 0 else f"a different child, number {n}",
        )[0]
        for n in range(4)
    ]
    a, b, c, d = ids
    svc.set_fact(a, "route", "letter", on=MONDAY, at=RECORDED_AT, actor=OFFICER)
    for case_id in (b, c, d):
        svc.record_check(case_id, "phone", on=MONDAY, at=RECORDED_AT, actor=OFFICER, outcome="ok")
    svc.fire(b, "start_checks", on=TUESDAY, at=RECORDED_AT, actor=OFFICER)
    svc.fire(c, "hold", on=TUESDAY, at=RECORDED_AT, actor=OFFICER)
    svc.fire(d, "start_checks", on=TUESDAY, at=RECORDED_AT, actor=OFFICER)
    svc.fire(d, "to_decision", on=TUESDAY, at=RECORDED_AT, actor=OFFICER)
    svc.set_fact(d, "absence_days", 25, on=TUESDAY, at=RECORDED_AT, actor=OFFICER)
    svc.fire(d, "close", on=TUESDAY, at=RECORDED_AT, actor=LINE_MANAGER)
    return svc


def daily_run(svc: CaseService, today: dt.date) -> None:
    SweepJob(svc, ScheduleSettings(today=today), clock=lambda: RECORDED_AT)()


def cases(svc: CaseService) -> list[str]:
    with svc.store.read() as conn:
        return list(conn.execute(select(case_table.c.id).order_by(case_table.c.id)).scalars())


def pending(svc: CaseService, case_id: str) -> dict[str, dt.date]:
    with svc.store.read() as conn:
        rows = conn.execute(
            select(timer_table.c.timer_id, timer_table.c.due_date).where(
                (timer_table.c.case_id == case_id) & (timer_table.c.status == "pending")
            )
        ).all()
    return {r[0]: r[1] for r in rows}


def test_the_daily_run_migrates_open_cases_on_the_effective_date(
    running: CaseService, caplog: pytest.LogCaptureFixture
) -> None:
    svc = running
    a, b, c, d = cases(svc)
    publish_version(svc, ProcessRegistry([V2]).get("tracing", 2), at=RECORDED_AT, actor=OWNER)
    daily_run(svc, D(2024, 10, 31))
    before_b = pending(svc, b)
    assert {svc.get(x).process_version for x in (a, b, c, d)} == {1}
    with caplog.at_level(logging.INFO):
        daily_run(svc, D(2024, 11, 4))
    for case_id in (a, b):
        case = svc.get(case_id)
        assert case.process_version == 2
        (moved,) = [e for e in svc.events(case_id) if e.kind == EventKind.migration]
        assert (moved.effective_date, moved.actor, moved.process_version) == (
            EFFECTIVE,
            "scheduler",
            2,
        )
        assert moved.payload["data"]["from_version"] == 1
        assert "applies.migrate_open_cases" in (moved.rule or "")
    # A's Day 5 step fell due under version 1 (25 October) and fired under it first.
    assert [e.kind for e in svc.events(a)].index(EventKind.timer_fired) < [
        e.kind for e in svc.events(a)
    ].index(EventKind.migration)
    # C is on hold, a stage version 2 removed, and nothing maps it: reported, left alone.
    assert (svc.get(c).process_version, svc.get(c).state) == (1, "on_hold")
    assert any(f"{c} (on_hold)" in r.getMessage() for r in caplog.records)
    with svc.store.read() as conn:
        run = last_run(conn, SWEEP)
    assert run is not None
    (recorded,) = run.detail["migrations"]
    assert recorded["migrated"] == [a, b]
    assert recorded["unmapped"] == [{"case_id": c, "stage": "on_hold"}]
    assert svc.get(d).process_version == 1  # closed: never migrated
    # B's deadlines were recomputed under version 2 (its letter chase moved from Day 15 to 12).
    assert pending(svc, b) != before_b
    # Running again migrates nothing twice.
    before = {x: len(svc.events(x)) for x in (a, b, c)}
    daily_run(svc, D(2024, 11, 5))
    assert all(
        sum(e.kind == EventKind.migration for e in svc.events(x)) == (1 if x != c else 0)
        for x in before
    )


def test_a_stage_the_version_maps_migrates_with_the_map(running: CaseService) -> None:
    svc = running
    a, b, c, d = cases(svc)
    mapped = ProcessRegistry([with_stage_map()]).get("tracing", 2)
    publish_version(svc, mapped, at=RECORDED_AT, actor=OWNER)
    daily_run(svc, D(2024, 11, 4))
    case = svc.get(c)
    assert (case.process_version, case.state) == (2, "checks")
    (moved,) = [e for e in svc.events(c) if e.kind == EventKind.migration]
    assert moved.payload["data"]["mapping"] == "on_hold=checks"
    # The journal (`cme case show`) says which versions and which stage map.
    assert event_summary(moved.body, str(moved.kind)) == (
        "migrated from version 1 to 2, stage map on_hold=checks: on_hold → checks"
    )
    rows = history_rows(svc.events(c), svc.outline_for(svc.get(c)))
    (row,) = [r for r in rows if r["kind"] == "migration"]
    assert (row["summary"], row["actor"]) == (
        "migrated from version 1 to 2, stage map on_hold=checks: on_hold → checks",
        "scheduler",
    )
    assert "applies.migrate_open_cases" in row["rule"]


def test_a_version_that_does_not_say_so_migrates_nothing(running: CaseService) -> None:
    svc = running
    text = V2_TEXT.replace("applies: {migrate_open_cases: true}\n", "")
    quiet = ProcessRegistry([load_process_text(text, "tracing_v2_quiet.yaml")]).get("tracing", 2)
    publish_version(svc, quiet, at=RECORDED_AT, actor=OWNER)
    daily_run(svc, D(2024, 11, 4))
    assert {svc.get(x).process_version for x in cases(svc)} == {1}


@pytest.mark.parametrize(
    ("target", "says"),
    [
        ("nowhere", "applies.stage_map: unknown state 'nowhere'"),
        ("closed", "applies.stage_map: on_hold: closed is a closing stage"),
    ],
)
def test_a_stage_map_names_an_open_stage_of_its_version(target: str, says: str) -> None:
    text = V2_TEXT.replace(
        "applies: {migrate_open_cases: true}",
        f"applies: {{migrate_open_cases: true, stage_map: {{on_hold: {target}}}}}",
    )
    with pytest.raises(DefinitionError) as refused:
        load_process_text(text, "tracing_v2_bad_map.yaml")
    (issue,) = refused.value.issues
    assert (issue.line, says in issue.message) == (7, True)
