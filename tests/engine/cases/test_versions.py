"""Process versions: diff in a policy owner's words, impact on running cases, publish, and
migration with an explicit state mapping (dry run writes nothing; a real one records an event
per case and recomputes its timers); a 2006-grounds case keeps replaying once 2024 is loaded."""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import and_, func, select

from engine.audit import replay_case, verify_store
from engine.cases.impact import impact
from engine.cases.migration import (
    find_version,
    parse_mapping,
    plan_migration,
    publish_version,
    run_migration,
)
from engine.cases.projection import EventKind
from engine.cases.service import Actor, CaseService
from engine.errors import AccessDenied, DefinitionError, InputError, VersionNotRaised
from engine.language.diff import diff_definitions
from engine.language.loader import load_process_file, load_process_text, load_processes
from engine.language.registry import ProcessRegistry
from engine.store.database import open_store
from engine.store.tables import case_table, event_table, process_version_table, timer_table
from tests.conftest import RECORDED_AT
from tests.scenarios.helpers import (
    LINE_MANAGER,
    OFFICER,
    PRIMARY_DOB,
    SCHOOL,
    TEST_CALENDAR,
    Walk,
    calendars,
    notification,
    sweep,
)

FIXTURES = Path(__file__).parents[2] / "fixtures" / "versions"
V1 = load_process_file(FIXTURES / "tracing_v1.yaml")
V2 = load_process_file(FIXTURES / "tracing_v2.yaml")
OWNER = Actor("pat", "policy_owner")
AUDITOR = Actor("olu", "auditor")
D = dt.date
MONDAY = D(2024, 10, 21)
TUESDAY = D(2024, 10, 22)
MIGRATED_ON = D(2024, 11, 4)
"""The first school day after half term; version 2 is in force from 1 November 2024."""


@functools.cache
def shipped() -> tuple[Any, ...]:
    """The shipped processes, loaded once (loading compiles every guard: slow)."""
    return tuple(load_processes())


def registry_with(*extra: Any) -> ProcessRegistry:
    return ProcessRegistry([*shipped(), *extra])


# --- diff ---------------------------------------------------------------------------------------


def test_diff_names_states_days_checks_guards_and_roles() -> None:
    changes = {(c.area, str(c)) for c in diff_definitions(V1.definition, V2.definition)}
    assert {
        ("states", "state on_hold: removed (On hold)"),
        ("days", "state contact, timer start_checks: day: 5 → 6"),
        ("days", "state checks, timer letter_outstanding: day: 15 → 12"),
        ("checks", "state checks, check visit: added (Visit the home)"),
        ("guards", "trigger close: guard removed: absence_days >= 20"),
        ("guards", "trigger close: guard added: absence_days >= 15"),
        ("roles", "trigger close: roles: + cme_officer"),
        ("triggers", "trigger hold: removed (Put on hold)"),
        ("triggers", "trigger to_decision: source: - on_hold"),
        ("facts", "fact route: values: + phone"),
        ("applies", "effective from: 2024-09-01 → 2024-11-01"),
    } <= changes
    assert diff_definitions(V1.definition, V1.definition) == []


def test_diff_of_the_2006_and_2024_removal_grounds(registry: ProcessRegistry) -> None:
    old = registry.get("removal_grounds", 5).definition
    new = registry.get("removal_grounds", 6).definition
    lines = [str(c) for c in diff_definitions(old, new)]
    # Each restates the law from the day it came into force (2006 as amended; 2024 regulations).
    assert "effective from: 2023-04-01 → 2024-08-19" in lines
    assert any(line.startswith("trigger remove_under_8_1_g: removed") for line in lines)
    assert any(line.startswith("trigger remove_under_ground_i: added") for line in lines)
    assert any(line.startswith("fact ground: values: + Ground A") for line in lines)
    assert any(
        line.startswith("state proposed, check medical_certificate_received: removed")
        for line in lines
    )
    assert not any(
        line.startswith("state ") and ": removed" in line and "check" not in line for line in lines
    ), "both versions have the same states"


def test_diff_shows_a_moved_window_once_and_the_day_of_what_it_generates(
    registry: ProcessRegistry,
) -> None:
    """Day 5–15 → Day 4–15: the stage's window and its start timer's day, not every check's
    window and every generated escalation's wording."""
    shipped = registry.get("untraceable_cme", 2).loaded
    text = shipped.text.replace("\n    days: 5-15\n", "\n    days: 4-15\n").replace(
        "\nversion: 2\n", "\nversion: 3\n"
    )
    edited = load_process_text(text, "untraceable_cme_v3.yaml")
    assert [(c.area, str(c)) for c in diff_definitions(shipped.definition, edited.definition)] == [
        ("days", "state reasonable_checks: days: Day 5–15 → Day 4–15"),
        (
            "days",
            "state establishing_contact, timer reasonable_checks_starts (from the window): "
            "day: 5 → 4",
        ),
    ]


def test_a_stored_version_reads_with_the_timers_its_windows_generate(
    registry: ProcessRegistry,
) -> None:
    """A case on a published version (read back from the database's text) arms, and a calendar
    reload recounts, the same start timers and escalations as the file's loader gives."""
    from engine.cases.catalog import definition_from_text

    loaded = registry.get("untraceable_cme", 2).loaded
    stored = definition_from_text(loaded.text, "stored untraceable_cme version 2")
    assert stored == loaded.definition
    timers = [t.id for t in stored.states["establishing_contact"].timers]
    assert "reasonable_checks_starts" in timers


# --- a database of running cases on version 1 ---------------------------------------------------


@pytest.fixture
def running(db_url: str) -> Iterator[dict[str, Any]]:
    """Four tracing cases opened on version 1 on Monday 21 October 2024 (Day 1):
    A in contact, its Day 2 chase fired; B in checks; C on hold; D closed."""
    store = open_store(db_url)
    old = CaseService(store, registry_with(V1), calendars=calendars)
    a, b, c, d = (
        old.open_case(
            # Four children (one child has one open case): born a day apart.
            notification(MONDAY, dob=PRIMARY_DOB - dt.timedelta(days=i)),
            on=MONDAY,
            at=RECORDED_AT,
            actor=OFFICER,
            process="tracing",
        )[0]
        for i in range(4)
    )
    old.set_fact(a, "route", "letter", on=MONDAY, at=RECORDED_AT, actor=OFFICER)
    for case_id in (b, c, d):
        old.record_check(
            case_id, "phone", on=MONDAY, at=RECORDED_AT, actor=OFFICER, outcome="spoke to mother"
        )
    sweep(old, until=TUESDAY)  # A's call was not recorded: chased on Day 2; B-D's lapse
    for case_id in (b, d):
        old.fire(case_id, "start_checks", on=TUESDAY, at=RECORDED_AT, actor=OFFICER)
    old.fire(c, "hold", on=TUESDAY, at=RECORDED_AT, actor=OFFICER)
    old.fire(d, "to_decision", on=TUESDAY, at=RECORDED_AT, actor=OFFICER)
    old.set_fact(d, "absence_days", 25, on=TUESDAY, at=RECORDED_AT, actor=OFFICER)
    old.fire(d, "close", on=TUESDAY, at=RECORDED_AT, actor=LINE_MANAGER)
    new = CaseService(store, registry_with(V1, V2), calendars=calendars)
    yield {"service": new, "a": a, "b": b, "c": c, "d": d}
    store.dispose()


def pending(service: CaseService, case_id: str) -> dict[str, dt.date]:
    with service.store.engine.connect() as conn:
        rows = conn.execute(
            select(timer_table.c.timer_id, timer_table.c.due_date).where(
                and_(timer_table.c.case_id == case_id, timer_table.c.status == "pending")
            )
        ).all()
    return {r[0]: r[1] if isinstance(r[1], dt.date) else D.fromisoformat(r[1]) for r in rows}


def footprint(service: CaseService) -> tuple[Any, ...]:
    """Every row a migration could touch."""
    with service.store.engine.connect() as conn:
        return tuple(
            tuple(tuple(r) for r in conn.execute(select(t).order_by(*t.primary_key.columns)))
            for t in (case_table, event_table, timer_table, process_version_table)
        )


def test_impact_says_in_plain_words_what_version_2_does_to_running_cases(
    running: dict[str, Any],
) -> None:
    svc = running["service"]
    before = footprint(svc)
    result = impact(svc, svc.registry.get("tracing", 2), on=MIGRATED_ON)
    assert footprint(svc) == before
    assert dict(result.running) == {1: 3}
    assert result.removed == {"on_hold": [running["c"]]}
    moves = {(m.case_id, m.timer_id): (m.old, m.new, m.school_days) for m in result.deadlines}
    assert moves == {
        (running["a"], "start_checks"): (D(2024, 10, 25), D(2024, 11, 4), 1),
        (running["b"], "letter_outstanding"): (D(2024, 11, 15), D(2024, 11, 12), -3),
    }
    assert result.sentences() == [
        "3 open cases of tracing are on another version (3 on version 1).",
        "Version 2 applies to cases opened from 2024-11-01; open cases are expected to migrate "
        "to it.",
        "1 open case is in states that version 2 removes: on_hold (1); give each a --map to "
        "migrate them, or they stay where they are.",
        "2 deadlines move (1 earlier, earliest by 3 school days; 1 later, by up to 1 school day).",
        # A's start_checks was due 25 Oct under version 1 as well: past, but not caused by v2.
        "1 deadline had already passed on 2024-11-04 under its own version too, so the change "
        "does not cause it.",
        "1 case is in states whose checklist changes: checks (1).",
        "2 cases have next steps whose conditions, checks or roles change: checks (1), "
        "contact (1).",
    ]
    a, b, c = running["a"], running["b"], running["c"]
    assert result.case_lines() == [
        "Case by case, as of 2024-11-04 (dates on each case's calendar):",
        f"  {a} (version 1, in contact)",
        "    timer start_checks: 25 Oct 2024 → 4 Nov 2024 (1 school day later)",
        "    check visit (checks): added, Day 5–15, 25 Oct – 15 Nov 2024",
        f"  {b} (version 1, in checks)",
        "    timer letter_outstanding: 15 Nov 2024 → 12 Nov 2024 (3 school days earlier)",
        "    check visit (checks): added, Day 5–15, 25 Oct – 15 Nov 2024",
        f"  {c} (version 1, in on_hold): stage on_hold is removed in version 2; a migration "
        "needs --map on_hold=STAGE, or the case stays on version 1",
    ]
    assert [c.checks_added for c in result.cases] == [["visit"], ["visit"], []]
    assert all(c.child is None for c in result.cases), "no personal data unless asked"
    mapped = impact(
        svc, svc.registry.get("tracing", 2), on=MIGRATED_ON, mapping={"on_hold": "checks"}
    )
    assert mapped.removed == {}
    assert (running["c"], "letter_outstanding") in {
        (m.case_id, m.timer_id) for m in mapped.deadlines
    }


def test_impact_counts_only_the_deadlines_the_change_makes_fall_due(
    running: dict[str, Any],
) -> None:
    """On Wednesday 13 November B's letter chase, due Friday 15th under version 1, would be
    due on the 12th under version 2: passed, because of the change. A's start, due 25 October
    under version 1, is past under either version, so it is not counted as caused."""
    svc = running["service"]
    result = impact(svc, svc.registry.get("tracing", 2), on=D(2024, 11, 13))
    by_case = {c.case_id: c for c in result.cases}
    assert by_case[running["b"]].due_at_once == [("letter_outstanding", D(2024, 11, 12))]
    assert by_case[running["a"]].due_at_once == []
    assert by_case[running["a"]].already_past == [("start_checks", D(2024, 11, 4))]
    assert result.due_at_once == 1
    assert "1 deadline would already have passed on 2024-11-13 and fall due at once." in (
        result.sentences()
    )
    assert "    falls due at once: letter_outstanding (due 12 Nov 2024)" in result.case_lines()


def test_impact_names_checks_removed_and_windows_moved_only_where_the_case_has_not_done_them(
    running: dict[str, Any],
) -> None:
    """Version 3 asks the phone call within Days 1–2 and no longer requires the letter: A, who
    has neither, is told both; B has made the call, so only the letter is named."""
    text = (
        V1.text.replace("version: 1", "version: 3", 1)
        .replace(
            "{id: phone, wording: Phone the family, days: 1-3}",
            "{id: phone, wording: Phone the family, days: 1-2}",
        )
        .replace(
            "{id: letter, wording: Send the first letter, days: 5-15}",
            "{id: letter, wording: Send the first letter, days: 5-15, required: false}",
        )
    )
    svc = CaseService(
        running["service"].store,
        registry_with(V1, load_process_text(text, "tracing_v3.yaml")),
        calendars=calendars,
    )
    result = impact(svc, svc.registry.get("tracing", 3), on=MIGRATED_ON)
    by_case = {c.case_id: c for c in result.cases}
    a, b = by_case[running["a"]], by_case[running["b"]]
    assert (a.checks_removed, b.checks_removed) == (["letter"], ["letter"])
    assert [w.words() for w in a.windows] == [
        "check phone (contact): Day 1–3, 21–23 Oct 2024 → Day 1–2, 21–22 Oct 2024",
        "check letter (checks): removed (was Day 5–15, 25 Oct – 15 Nov 2024)",
    ]
    assert [w.check for w in b.windows] == ["letter"]


def test_impact_names_a_renamed_stage_and_the_map_it_needs(running: dict[str, Any]) -> None:
    text = V1.text.replace("version: 1", "version: 3", 1).replace("on_hold", "paused")
    renamed = load_process_text(text, "tracing_v3.yaml")
    svc = CaseService(running["service"].store, registry_with(V1, renamed), calendars=calendars)
    result = impact(svc, svc.registry.get("tracing", 3), on=MIGRATED_ON)
    assert result.removed == {}
    assert result.renamed == {"on_hold": "paused"}
    assert (
        "Version 3 renames on_hold to paused; a migration moves their cases with "
        "--map on_hold=paused." in result.sentences()
    )
    held = next(c for c in result.cases if c.case_id == running["c"])
    assert (held.to_state, held.renamed) == ("paused", True)
    assert "    stage on_hold → paused (renamed: --map on_hold=paused)" in result.case_lines()


def test_a_dry_run_changes_nothing(running: dict[str, Any]) -> None:
    svc = running["service"]
    before = footprint(svc)
    plan = plan_migration(
        svc,
        "tracing",
        from_version=1,
        to=svc.registry.get("tracing", 2),
        mapping={},
        on=MIGRATED_ON,
        actor=OWNER,
    )
    assert [m.case.id for m in plan.moves] == [running["a"], running["b"]]
    assert plan.unmapped == [(running["c"], "on_hold")]
    assert footprint(svc) == before


def test_a_migration_records_an_event_per_case_and_recomputes_timers(
    running: dict[str, Any],
) -> None:
    svc, a, b, c, d = (running[k] for k in ("service", "a", "b", "c", "d"))
    assert pending(svc, a) == {"start_checks": D(2024, 10, 25)}
    to = svc.registry.get("tracing", 2)
    plan = plan_migration(
        svc, "tracing", from_version=1, to=to, mapping={}, on=MIGRATED_ON, actor=OWNER
    )
    result = run_migration(svc, plan, at=RECORDED_AT, actor=OWNER)
    assert [r.case.id for r in result.migrated] == [a, b]
    assert result.failed == []
    for r in result.migrated:
        ev = r.event
        assert (ev.kind, ev.process_version, ev.effective_date) == (
            EventKind.migration,
            2,
            MIGRATED_ON,
        )
        assert ev.payload["data"]["from_version"] == 1
        assert (ev.actor, ev.role) == ("pat", "policy_owner")
        assert "from version 1 to 2" in (ev.rule or "")
        assert r.case.process_version == 2
    # A stays in contact (same name): its Day 5 step is now Day 6; the Day 2 chase, already
    # fired in this stay, is not armed again.
    assert svc.get(a).state == "contact"
    assert pending(svc, a) == {"start_checks": D(2024, 11, 4)}
    assert pending(svc, b) == {"letter_outstanding": D(2024, 11, 12), "decide": D(2024, 12, 2)}
    # C's state is gone in version 2 and had no mapping: left alone on version 1. D is closed.
    assert (svc.get(c).process_version, svc.get(c).state) == (1, "on_hold")
    assert svc.get(d).process_version == 1
    with svc.store.engine.connect() as conn:
        stored = (
            conn.execute(
                select(process_version_table.c.version).where(
                    process_version_table.c.process_id == "tracing"
                )
            )
            .scalars()
            .all()
        )
    assert sorted(stored) == [1, 2]
    # The timers now fire under version 2, and every history still verifies and replays.
    sweep(svc, until=MIGRATED_ON)
    assert svc.get(a).state == "checks"
    fired = svc.events(a)[-1]
    assert (fired.kind, fired.process_version) == (EventKind.timer_fired, 2)
    assert verify_store(svc.store).ok
    timeline = replay_case(svc, a, actor=AUDITOR, at=RECORDED_AT).timeline
    assert [t.process_version for t in timeline] == [1, 1, 1, 2, 2]
    assert timeline[3].summary == "migrated from version 1 to 2"
    assert timeline[3].content_hash == V2.content_hash
    assert timeline[0].content_hash == V1.content_hash


def test_a_mapped_state_moves_the_case_and_arms_the_new_states_timers(
    running: dict[str, Any],
) -> None:
    svc, c = running["service"], running["c"]
    to = svc.registry.get("tracing", 2)
    plan = plan_migration(
        svc,
        "tracing",
        from_version=1,
        to=to,
        mapping={"on_hold": "checks"},
        on=MIGRATED_ON,
        actor=OWNER,
    )
    assert plan.unmapped == []
    run_migration(svc, plan, at=RECORDED_AT, actor=OWNER)
    case = svc.get(c)
    assert (case.state, case.state_entered_on, case.process_version) == ("checks", MIGRATED_ON, 2)
    data = svc.events(c)[-1].payload["data"]
    assert (data["from_state"], data["to_state"], data["mapping"]) == (
        "on_hold",
        "checks",
        "on_hold=checks",
    )
    # Day 12 (5 November... counted from Day 1) is still ahead; Day 26 is 2 December.
    assert pending(svc, c) == {"letter_outstanding": D(2024, 11, 12), "decide": D(2024, 12, 2)}
    assert replay_case(svc, c, actor=AUDITOR, at=RECORDED_AT).ok


def test_bad_migration_requests_are_refused_before_anything_is_written(
    running: dict[str, Any],
) -> None:
    svc = running["service"]
    to = svc.registry.get("tracing", 2)
    before = footprint(svc)

    def plan(**kw: Any) -> Any:
        args: dict[str, Any] = {
            "from_version": 1,
            "to": to,
            "mapping": {},
            "on": MIGRATED_ON,
            "actor": OWNER,
            **kw,
        }
        return plan_migration(svc, "tracing", **args)

    with pytest.raises(InputError, match="version 1 has no stage 'on_hodl'.*on_hold"):
        plan(mapping={"on_hodl": "checks"})
    with pytest.raises(InputError, match="version 2 has no stage 'chekcs'.*checks"):
        plan(mapping={"on_hold": "chekcs"})
    with pytest.raises(InputError, match="closing stage"):
        plan(mapping={"on_hold": "closed"})
    with pytest.raises(InputError, match="in force from 2024-11-01"):
        plan(on=D(2024, 10, 31))
    with pytest.raises(InputError, match="both version 2"):
        plan(from_version=2)
    with pytest.raises(AccessDenied, match="may not migrate"):
        plan(actor=OFFICER)
    with pytest.raises(InputError, match="not OLD=NEW"):
        parse_mapping(["on_hold"])
    with pytest.raises(InputError, match="twice"):
        parse_mapping(["on_hold=checks", "on_hold=decision"])
    assert footprint(svc) == before


# --- versions are pinned ------------------------------------------------------------------------


def test_a_case_opened_under_the_2006_grounds_replays_under_them_after_2024_is_loaded(
    sqlite_url: str,
) -> None:
    store = open_store(sqlite_url)
    only_2006 = ProcessRegistry(
        [p for p in shipped() if (p.id, p.version) != ("removal_grounds", 6)]
    )
    before = CaseService(store, only_2006, calendars=calendars)
    walk = Walk.open(
        before,
        notification(D(2024, 6, 3), ground="8(1)(j)"),
        on=D(2024, 6, 3),
        actor=SCHOOL,
        process="removal_grounds",
        calendar=TEST_CALENDAR,
    )
    walk.fire("notify_la_of_removal", on=D(2024, 6, 3), actor=SCHOOL)
    # The 2024 regulations are loaded: new cases take them; the 2006 case keeps its rules.
    after = CaseService(store, registry_with(), calendars=calendars)
    later = Walk.open(
        after,
        # Another child (one child has one open case): born a day earlier.
        notification(D(2024, 9, 9), dob=PRIMARY_DOB - dt.timedelta(days=1), ground="Ground K"),
        on=D(2024, 9, 9),
        actor=SCHOOL,
        process="removal_grounds",
    )
    assert later.case.process_version == 6
    old = Walk(after, walk.case_id)
    old.check("notification_of_death_received", on=D(2024, 9, 10), actor=SCHOOL)
    old.facts({"off_roll_date": D(2024, 9, 10)}, on=D(2024, 9, 10), actor=SCHOOL)
    old.fire("remove_under_8_1_j", on=D(2024, 9, 10), actor=SCHOOL)  # a 2006 step
    result = replay_case(after, walk.case_id, actor=AUDITOR, at=RECORDED_AT)
    assert result.ok
    assert {t.process_version for t in result.timeline} == {5}
    assert result.replayed is not None
    assert result.replayed.state == "removed_from_roll"
    assert result.timeline[-1].rule
    assert "8(1)(j)" in result.timeline[-1].rule
    store.dispose()


def test_a_changed_file_whose_version_was_not_raised_is_refused(
    sqlite_url: str,
    tmp_path: Path,
) -> None:
    store = open_store(sqlite_url)
    svc = CaseService(store, registry_with(V1), calendars=calendars)
    assert publish_version(svc, svc.registry.get("tracing", 1), at=RECORDED_AT, actor=OWNER)
    assert not publish_version(svc, svc.registry.get("tracing", 1), at=RECORDED_AT, actor=OWNER)
    edited = load_process_text(V1.text.replace("day: 5, fire", "day: 7, fire"), "tracing.yaml")
    with pytest.raises(DefinitionError, match="raise the version"):
        registry_with(V1, edited)
    other = CaseService(store, registry_with(edited), calendars=calendars)
    with pytest.raises(VersionNotRaised, match=r"set `version: 2`"):
        publish_version(other, other.registry.get("tracing", 1), at=RECORDED_AT, actor=OWNER)
    with pytest.raises(VersionNotRaised):
        other.open_case(
            notification(MONDAY), on=MONDAY, at=RECORDED_AT, actor=OFFICER, process="tracing"
        )
    with pytest.raises(AccessDenied):
        publish_version(svc, svc.registry.get("tracing", 1), at=RECORDED_AT, actor=OFFICER)
    with store.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(case_table)).scalar_one() == 0
    store.dispose()


def test_a_version_only_the_database_still_holds_is_found(sqlite_url: str) -> None:
    store = open_store(sqlite_url)
    CaseService(store, registry_with(V1)).publish(
        registry_with(V1).get("tracing", 1), at=RECORDED_AT, actor=OWNER
    )
    fresh = CaseService(store, registry_with(V2))
    assert find_version(fresh, "tracing", 1).content_hash == V1.content_hash
    assert find_version(fresh, "tracing", 2).content_hash == V2.content_hash
    with pytest.raises(Exception, match="known versions: 1, 2"):
        find_version(fresh, "tracing", 3)
    store.dispose()
