"""Retention: the rules, the audited purge that keeps the chain verifiable, and legal hold."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, insert, select

from engine.cases.projection import EventKind, is_sealed
from engine.cases.purge import (
    LegalHoldRefused,
    apply_retention,
    due_for_purge,
    place_hold,
    purge_case,
    release_hold,
)
from engine.cases.service import Actor
from engine.cases.views import case_summary
from engine.errors import AccessDenied, DefinitionError, InputError
from engine.protection.crypto import PURGED, PersonalDataPurged
from engine.protection.retention import (
    load_retention,
    parse_retention,
    purge_after,
    shipped_retention,
)
from engine.store.tables import case_key_table, document_table, event_table
from tests.conftest import RECORDED_AT
from tests.reliability.invariants import verify_chains

OFFICER = Actor("sona", "cme_officer")
RECORDS = Actor("rita", "records_manager")
OPENED = dt.date(2024, 10, 21)
CLOSED = dt.date(2024, 10, 23)
KEPT_UNTIL = dt.date(2030, 10, 23)
LATER = dt.datetime(2031, 1, 6, 9, 0, tzinfo=dt.UTC)
PURGE_ON = dt.date(2031, 1, 6)


@pytest.fixture
def closed_and_open(service, example_form) -> tuple[str, str]:
    """Two sibling cases: the first closed (left the country) on 23 Oct 2024, the second open."""
    first, second = service.open_case(example_form, on=OPENED, at=RECORDED_AT, actor=OFFICER)
    service.set_fact(
        first,
        "left_the_country_evidence",
        "Aunt confirms a move to Portugal",
        on=CLOSED,
        at=RECORDED_AT,
        actor=OFFICER,
    )
    service.fire(first, "child_left_the_country", on=CLOSED, at=RECORDED_AT, actor=OFFICER)
    return first, second


def test_shipped_rules_cover_every_shipped_process(registry) -> None:
    policy = shipped_retention()
    assert policy.check_processes(registry.ids()) == []
    assert all(policy.rule_for(pid) is not None for pid in registry.ids())


def test_the_period_runs_from_closure_and_29_february_counts_as_28() -> None:
    assert purge_after(CLOSED, 6) == KEPT_UNTIL
    assert purge_after(dt.date(2024, 2, 29), 6) == dt.date(2030, 2, 28)


def test_where_two_rules_cover_a_process_the_longer_keeps_the_data() -> None:
    policy = parse_retention(
        "kind: retention\nversion: 1\nrules:\n"
        "  - {id: all, title: All, closed_more_than_years: 6, says: s, source: x}\n"
        "  - {id: cme, title: CME, processes: [untraceable_cme], closed_more_than_years: 25,"
        " says: s, source: x}\n",
        "r.yaml",
    )
    assert getattr(policy.rule_for("untraceable_cme"), "id", None) == "cme"
    assert getattr(policy.rule_for("roll_returns"), "id", None) == "all"


def test_a_bad_rules_file_names_every_problem_with_its_place(tmp_path) -> None:
    path = tmp_path / "retention.yaml"
    path.write_text(
        "kind: retention\nversion: 1\nrules:\n"
        "  - id: a\n    title: A\n    closed_more_than_years: 0\n    says: s\n    source: x\n"
        "    delete_everything: true\n"
    )
    with pytest.raises(DefinitionError) as err:
        load_retention(path)
    text = str(err.value)
    assert "invalid for 2 reasons" in text
    assert (
        f"{path}:6:29: rules.0.closed_more_than_years: Input should be greater than or equal"
        in text
    )
    assert "unknown key 'delete_everything'" in text


def test_a_rule_naming_an_unknown_process_is_reported(registry) -> None:
    policy = parse_retention(
        "kind: retention\nversion: 1\nrules:\n"
        "  - {id: a, title: A, processes: [untraceable_cm], closed_more_than_years: 6,"
        " says: s, source: x}\n",
        "r.yaml",
    )
    (issue,) = policy.check_processes(registry.ids())
    assert "no process 'untraceable_cm'; did you mean 'untraceable_cme'" in issue.message


def test_only_closed_cases_past_their_period_are_due(service, closed_and_open) -> None:
    closed, _open = closed_and_open
    policy = shipped_retention()
    assert due_for_purge(service, policy, on=KEPT_UNTIL, actor=RECORDS) == []
    (due,) = due_for_purge(service, policy, on=KEPT_UNTIL + dt.timedelta(days=1), actor=RECORDS)
    assert (due.case_id, due.closed_on, due.purge_after, due.legal_hold) == (
        closed,
        CLOSED,
        KEPT_UNTIL,
        False,
    )


def test_purge_destroys_the_key_records_who_and_why_and_the_chain_still_verifies(
    service, closed_and_open
) -> None:
    closed, other = closed_and_open
    with service.store.engine.begin() as conn:
        conn.execute(
            insert(document_table).values(
                case_id=closed,
                template="first_formal_cme_letter",
                template_version="t1",
                filename="letter.pdf",
                media_type="application/pdf",
                content=b"Dear Maria Silva",
                sha256="x",
                created_on=CLOSED,
                created_at=RECORDED_AT,
            )
        )
    report = apply_retention(service, shipped_retention(), on=PURGE_ON, at=LATER, actor=RECORDS)
    assert [c.case_id for c in report.purged] == [closed]
    assert report.held == []
    ev = service.events(closed)[-1]
    assert ev.kind == EventKind.purge
    assert (ev.actor, ev.role) == ("rita", "records_manager")
    assert ev.payload["data"]["rule"] == "closed_cme_cases"
    assert ev.payload["data"]["documents_emptied"] == 1
    assert ev.rule.startswith("retention closed_cme_cases: ")
    # The history keeps its ciphertext; without the key it is unreadable.
    assert is_sealed(service.events(closed)[0].payload["personal"])
    assert service.get(closed).personal == {}
    with service.store.engine.connect() as conn:
        key = conn.execute(select(case_key_table).where(case_key_table.c.case_id == closed)).one()
        letter = conn.execute(select(document_table.c.content)).scalar_one()
    assert key.wrapped is None
    assert key.destroyed_by == "rita (records_manager)"
    assert letter == b""
    assert verify_chains(service.store) == 2
    shown = case_summary(service, closed, on=PURGE_ON, actor=OFFICER, at=LATER)
    assert shown["child"]["full_name"] == PURGED
    assert shown["personal_data"] == "purged"
    # The open sibling is untouched and still readable.
    assert service.revealed(service.get(other)).personal["child"]["full_name"] == "Tiago Silva"
    with pytest.raises(PersonalDataPurged, match="purged on 2031-01-06"):
        service.add_note(closed, "late note", on=PURGE_ON, at=LATER, actor=OFFICER)
    again = apply_retention(service, shipped_retention(), on=PURGE_ON, at=LATER, actor=RECORDS)
    assert again.purged == [], "a purged case is not purged twice"


def test_a_dry_run_changes_nothing(service, closed_and_open) -> None:
    closed, _ = closed_and_open
    report = apply_retention(
        service, shipped_retention(), on=PURGE_ON, at=LATER, actor=RECORDS, dry_run=True
    )
    assert [c.case_id for c in report.purged] == [closed]
    assert service.get(closed).seq == 3
    assert service.revealed(service.get(closed)).personal["child"]["full_name"] == "Ana Silva"


def test_a_case_on_legal_hold_is_never_purged_until_released(service, closed_and_open) -> None:
    closed, _ = closed_and_open
    held = place_hold(
        service,
        closed,
        reason="subject access request SAR-17",
        on=PURGE_ON,
        at=LATER,
        actor=RECORDS,
    )
    assert held.case.legal_hold
    assert held.event.kind == EventKind.legal_hold
    report = apply_retention(service, shipped_retention(), on=PURGE_ON, at=LATER, actor=RECORDS)
    assert report.purged == []
    assert [c.case_id for c in report.held] == [closed]
    rule = shipped_retention().definition.rules[0]
    with pytest.raises(LegalHoldRefused, match="on legal hold"):
        purge_case(service, closed, rule, on=PURGE_ON, at=LATER, actor=RECORDS)
    assert service.get(closed).seq == 4, "the refused purge wrote nothing"
    with pytest.raises(LegalHoldRefused, match="already on legal hold"):
        place_hold(service, closed, reason="again", on=PURGE_ON, at=LATER, actor=RECORDS)
    release_hold(service, closed, reason="SAR answered", on=PURGE_ON, at=LATER, actor=RECORDS)
    assert not service.get(closed).legal_hold
    report = apply_retention(service, shipped_retention(), on=PURGE_ON, at=LATER, actor=RECORDS)
    assert [c.case_id for c in report.purged] == [closed]
    assert verify_chains(service.store) == 2


def test_purge_refuses_an_open_case_and_one_still_in_its_period(service, closed_and_open) -> None:
    closed, still_open = closed_and_open
    rule = shipped_retention().definition.rules[0]
    with pytest.raises(InputError, match="is open"):
        purge_case(service, still_open, rule, on=PURGE_ON, at=LATER, actor=RECORDS)
    with pytest.raises(InputError, match="kept until 2030-10-23"):
        purge_case(service, closed, rule, on=KEPT_UNTIL, at=LATER, actor=RECORDS)
    with service.store.engine.connect() as conn:
        assert (
            conn.execute(
                select(func.count()).select_from(event_table).where(event_table.c.kind == "purge")
            ).scalar_one()
            == 0
        )


def test_only_a_records_manager_may_purge_or_hold_and_they_may_not_read_cases(
    service, closed_and_open
) -> None:
    closed, _ = closed_and_open
    with pytest.raises(AccessDenied, match="may not apply retention or legal holds"):
        apply_retention(service, shipped_retention(), on=PURGE_ON, at=LATER, actor=OFFICER)
    with pytest.raises(AccessDenied):
        place_hold(service, closed, reason="x", on=PURGE_ON, at=LATER, actor=OFFICER)
    with pytest.raises(AccessDenied, match="may not read case records"):
        case_summary(service, closed, on=PURGE_ON, actor=RECORDS, at=LATER)
    with pytest.raises(AccessDenied, match="may not change case records"):
        service.add_note(closed, "x", on=PURGE_ON, at=LATER, actor=RECORDS)
    assert service.get(closed).seq == 3
