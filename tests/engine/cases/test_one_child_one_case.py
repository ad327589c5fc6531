"""One child, one open case: a second notification about a child with an open case is refused
naming the case, unless linked to it or opened anyway with a reason; a near match is shown; an
import with such a row writes nothing; a case opened in error is closed with a reason."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from adapters.imports.out_of_school import import_out_of_school
from engine.cases.duplicates import NEAR, SAME_NAME_AND_BIRTH, SAME_UPN, DuplicateChild
from engine.cases.events import EventKind
from engine.cases.imports import ImportRejected
from engine.cases.notification import NotificationForm, parse_form
from engine.cases.service import Actor, CaseService
from engine.errors import CommandRefused, InputError, RoleNotPermitted
from engine.language.registry import ProcessRegistry
from engine.store.tables import case_table, event_table, outbox_table
from tests.conftest import RECORDED_AT

OFFICER = Actor("sona", "cme_officer")
MANAGER = Actor("dylan", "line_manager")
OPENED = dt.date(2024, 10, 21)  # a Monday on london
LATER = dt.date(2024, 10, 23)


def form_for(example_form: NotificationForm, **child: Any) -> NotificationForm:
    """The example notification for its first child (Ana Silva, UPN H801200001001), changed."""
    data = example_form.model_dump(mode="json")
    data["children"] = [{**data["children"][0], **child}]
    return parse_form(data)


def counts(service: CaseService) -> tuple[int, int, int]:
    with service.store.read() as conn:
        return tuple(  # type: ignore[return-value]
            conn.execute(select(func.count()).select_from(t)).scalar_one()
            for t in (case_table, event_table, outbox_table)
        )


@pytest.fixture
def ana(service: CaseService, example_form: NotificationForm) -> str:
    (case_id,) = service.open_case(form_for(example_form), on=OPENED, at=RECORDED_AT, actor=OFFICER)
    return case_id


def test_the_same_upn_is_refused_naming_the_open_case(
    service: CaseService, example_form: NotificationForm, ana: str
) -> None:
    before = counts(service)
    # Another spelling of the name, the same UPN: the same child.
    again = form_for(example_form, full_name="Ana Sofia Silva Costa")
    with pytest.raises(DuplicateChild) as err:
        service.open_case(again, on=LATER, at=RECORDED_AT, actor=OFFICER)
    assert ana in str(err.value)
    assert SAME_UPN in str(err.value)
    assert "--link" in str(err.value)
    assert "--override-duplicate" in str(err.value)
    assert err.value.matches == {"Ana Sofia Silva Costa": [{"case_id": ana, "how": SAME_UPN}]}
    assert counts(service) == before


def test_the_same_name_and_birth_date_is_refused_whatever_the_case_accents_or_spaces(
    service: CaseService, example_form: NotificationForm, ana: str
) -> None:
    before = counts(service)
    again = form_for(example_form, full_name="  ANA   sílva ", upn=None)
    with pytest.raises(DuplicateChild, match=SAME_NAME_AND_BIRTH) as err:
        service.open_case(again, on=LATER, at=RECORDED_AT, actor=OFFICER)
    assert ana in str(err.value)
    assert counts(service) == before


def test_a_linked_notification_is_recorded_on_the_open_case_with_no_second_letter(
    service: CaseService, example_form: NotificationForm, ana: str
) -> None:
    cases, events, letters = counts(service)
    again = form_for(example_form, upn=None)
    assert service.open_case(again, on=LATER, at=RECORDED_AT, actor=OFFICER, link=ana) == [ana]
    assert counts(service) == (cases, events + 1, letters)
    last = service.events(ana)[-1]
    assert (last.kind, last.effective_date, last.actor) == (
        EventKind.notification_linked,
        LATER,
        "sona",
    )
    assert last.body.how == SAME_NAME_AND_BIRTH  # type: ignore[attr-defined]
    linked = service.revealed(service.get(ana)).personal["linked_notification"]
    assert linked["notifier"]["name"] == "Jo Adeyemi"
    assert service.get(ana).state == "establishing_contact"  # the case goes on as it was


def test_linking_to_a_case_the_child_does_not_match_is_refused(
    service: CaseService, example_form: NotificationForm, ana: str
) -> None:
    (other,) = service.open_case(
        form_for(example_form, full_name="Bea Cole", upn=None, date_of_birth="2014-02-02"),
        on=OPENED,
        at=RECORDED_AT,
        actor=OFFICER,
    )
    before = counts(service)
    stranger = form_for(example_form, full_name="Cai Wu", upn=None, date_of_birth="2013-05-05")
    with pytest.raises(CommandRefused, match=f"matches open case {other}"):
        service.open_case(stranger, on=LATER, at=RECORDED_AT, actor=OFFICER, link=other)
    assert counts(service) == before


def test_an_override_opens_a_case_and_records_the_reason_and_the_match(
    service: CaseService, example_form: NotificationForm, ana: str
) -> None:
    twin = form_for(example_form, upn=None)
    with pytest.raises(InputError, match="--reason is required"):
        service.open_case(twin, on=LATER, at=RECORDED_AT, actor=OFFICER, override_reason="  ")
    (new,) = service.open_case(
        twin,
        on=LATER,
        at=RECORDED_AT,
        actor=OFFICER,
        override_reason="a cousin of the same name and birthday; the school confirmed",
    )
    assert new != ana
    data = service.events(new)[0].payload["data"]
    assert data["duplicate_of"] == [ana]
    assert data["override_reason"].startswith("a cousin")


def test_a_near_match_is_shown_for_the_officer_to_decide(
    service: CaseService, example_form: NotificationForm, ana: str
) -> None:
    before = counts(service)
    near = form_for(example_form, full_name="Anna Sylva", upn=None)
    with pytest.raises(DuplicateChild) as err:
        service.open_case(near, on=LATER, at=RECORDED_AT, actor=OFFICER)
    (match,) = err.value.found("Anna Sylva")
    assert (match.case_id, match.how, match.their_name) == (ana, NEAR, "Ana Silva")
    assert "may be the child of an open case" in str(err.value)
    assert "Ana Silva" in str(err.value)
    assert counts(service) == before
    # A different birth date is no match at all; the officer's decision is recorded either way.
    assert service.open_case(near, on=LATER, at=RECORDED_AT, actor=OFFICER, link=ana) == [ana]


def test_an_out_of_school_import_with_a_child_already_open_writes_nothing_and_names_the_row(
    service: CaseService, example_form: NotificationForm, ana: str, tmp_path: Path
) -> None:
    before = counts(service)
    report = tmp_path / "out_of_school.csv"
    report.write_text(
        "child_name,date_of_birth,marked_by,marked_on,parent_carer,postcode\n"
        "Tom Reid,2011-09-09,Housing,2024-10-22,Jo Reid,NW5 1AB\n"
        "Ana Silva,2015-03-14,Early Help,2024-10-22,Maria Silva,NW1 0AA\n",
        encoding="utf-8",
    )
    with pytest.raises(ImportRejected) as err:
        import_out_of_school(service, report, on=LATER, at=RECORDED_AT, actor=OFFICER)
    assert [p.line for p in err.value.problems] == [3]
    assert ana in err.value.problems[0].message
    assert counts(service) == before


def test_the_same_child_twice_in_one_import_is_refused(
    service: CaseService, tmp_path: Path
) -> None:
    report = tmp_path / "out_of_school.csv"
    report.write_text(
        "child_name,date_of_birth,marked_by,marked_on\n"
        "Tom Reid,2011-09-09,Housing,2024-10-22\n"
        "TOM  REID,2011-09-09,Early Help,2024-10-21\n",
        encoding="utf-8",
    )
    with pytest.raises(ImportRejected) as err:
        import_out_of_school(service, report, on=LATER, at=RECORDED_AT, actor=OFFICER)
    assert [p.line for p in err.value.problems] == [3]
    assert counts(service)[0] == 0


def test_a_case_opened_in_error_is_closed_with_a_reason_and_its_history_kept(
    service: CaseService, example_form: NotificationForm, ana: str
) -> None:
    with pytest.raises(InputError, match="needs a reason"):
        service.fire(ana, "close_opened_in_error", on=LATER, at=RECORDED_AT, actor=OFFICER)
    with pytest.raises(RoleNotPermitted):
        service.fire(
            ana,
            "close_opened_in_error",
            on=LATER,
            at=RECORDED_AT,
            actor=Actor("sen", "sen_service"),
            note="wrong child",
        )
    events = len(service.events(ana))
    result = service.fire(
        ana,
        "close_opened_in_error",
        on=LATER,
        at=RECORDED_AT,
        actor=MANAGER,
        note="opened twice from the same form; the first case carries on",
    )
    case = result.case
    assert (case.state, case.terminal, case.closed_on) == ("closed_opened_in_error", True, LATER)
    assert len(service.events(ana)) == events + 1
    assert service.events(ana)[0].kind == EventKind.opened  # the history is kept
    # Closed, the case no longer stands in the way of the child's own case.
    (new,) = service.open_case(form_for(example_form), on=LATER, at=RECORDED_AT, actor=OFFICER)
    assert new != ana


def test_assigning_a_case_is_recorded_and_refused_for_a_closed_or_unknown_case(
    service: CaseService, example_form: NotificationForm, ana: str
) -> None:
    from engine.errors import CaseClosed, CaseNotFound

    result = service.assign(ana, "priya", on=LATER, at=RECORDED_AT, actor=MANAGER)
    assert result.case.assigned_officer == "priya"
    last = service.events(ana)[-1]
    assert (last.kind, last.actor) == (EventKind.assigned, "dylan")
    assert last.payload["data"] == {"assigned_officer": "priya", "from_officer": "sona"}
    with pytest.raises(InputError, match="already assigned to priya"):
        service.assign(ana, "priya", on=LATER, at=RECORDED_AT, actor=MANAGER)
    with pytest.raises(CaseNotFound):
        service.assign("CME-009999", "priya", on=LATER, at=RECORDED_AT, actor=MANAGER)
    service.fire(
        ana, "close_opened_in_error", on=LATER, at=RECORDED_AT, actor=MANAGER, note="duplicate"
    )
    with pytest.raises(CaseClosed):
        service.assign(ana, "kai", on=LATER, at=RECORDED_AT, actor=MANAGER)


def test_every_shipped_process_closes_a_case_opened_in_error_with_a_reason(
    registry: ProcessRegistry,
) -> None:
    for compiled in registry:
        definition = compiled.definition
        step = definition.trigger("close_opened_in_error")
        assert step is not None, definition.id
        assert (step.source, step.requires_reason, step.roles != []) == ("*", True, True)
        assert step.dest is not None
        assert definition.states[step.dest].terminal, definition.id
    one_each = {c.definition.id: c.definition.one_open_case_per_child for c in registry}
    assert one_each["untraceable_cme"] is True
    assert one_each["roll_returns"] is False


@pytest.mark.postgres
def test_two_officers_opening_the_same_child_at_once_on_postgresql_open_one_case(
    pg_url: str, registry: ProcessRegistry, example_form: NotificationForm
) -> None:
    import threading
    import time

    from engine.store.database import open_store

    first, second = (CaseService(open_store(pg_url), registry) for _ in range(2))
    form = form_for(example_form)
    outcome: list[BaseException | list[str]] = []

    def other_officer() -> None:
        try:
            outcome.append(second.open_case(form, on=OPENED, at=RECORDED_AT, actor=MANAGER))
        except DuplicateChild as exc:
            outcome.append(exc)

    try:
        with first.batch():  # the first officer's transaction is still open ...
            first.open_case(form, on=OPENED, at=RECORDED_AT, actor=OFFICER)
            worker = threading.Thread(target=other_officer)
            worker.start()
            time.sleep(0.5)  # ... while the second officer opens the same child
            assert outcome == []  # waiting for the first, not deciding without it
        worker.join(10)
        assert len(outcome) == 1
        assert isinstance(outcome[0], DuplicateChild)
        assert counts(first)[0] == 1
    finally:
        first.store.dispose()
        second.store.dispose()
