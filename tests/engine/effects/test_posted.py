"""A filed letter marked posted (`cme outbox posted`): its check recorded with the letter as
evidence, by the officer who posted it; refused, writing nothing, when it cannot be."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select, update

from engine.cases.notification import NotificationForm
from engine.cases.service import Actor, CaseService
from engine.effects.posted import mark_posted
from engine.errors import CMEError, InputError, UnknownCheck
from engine.store.tables import outbox_table
from tests.conftest import RECORDED_AT
from tests.engine.effects.test_outbox import DAY_4, OFFICER, OPENED, _sender

POSTED = dt.date(2024, 10, 28)  # Monday of half term: letters still go


@pytest.fixture
def filed(service: CaseService, example_form: NotificationForm) -> tuple[str, int]:
    """A case whose 1st formal letter was filed without its check: queued, as before its
    process named the check the letter records, by an action that names none."""
    form = example_form.model_copy(update={"children": [example_form.children[0]]})
    (case_id,) = service.open_case(form, on=OPENED, at=RECORDED_AT, actor=OFFICER)
    service.fire(case_id, "start_reasonable_checks", on=DAY_4, at=RECORDED_AT, actor=OFFICER)
    with service.store.engine.begin() as conn:
        conn.execute(update(outbox_table).values(position=9))  # no action there: no check
    (document_id,) = _sender(service).send_pending(on=DAY_4, at=RECORDED_AT).documents
    assert "first_formal_letter_sent" not in service.get(case_id).checks
    return case_id, document_id


def test_marking_a_letter_posted_records_the_check_it_names(service, filed) -> None:
    case_id, document_id = filed
    with pytest.raises(InputError, match="names no check it records; say which with --check"):
        mark_posted(service, document_id, on=POSTED, at=RECORDED_AT, actor=OFFICER)
    done = mark_posted(
        service,
        document_id,
        check="first_formal_letter_sent",
        on=POSTED,
        at=RECORDED_AT,
        actor=OFFICER,
    )
    assert (done.case_id, done.check) == (case_id, "first_formal_letter_sent")
    assert service.get(case_id).checks["first_formal_letter_sent"] == {
        "on": "2024-10-28",
        "document_id": document_id,
    }
    last = service.events(case_id)[-1]
    assert (last.seq, last.actor, str(last.kind)) == (done.seq, "sona", "check_recorded")


def test_a_letter_whose_check_is_recorded_is_refused_saying_when(service, filed) -> None:
    case_id, document_id = filed
    mark_posted(
        service, document_id, check="first_formal_letter_sent", on=POSTED, at=RECORDED_AT,
        actor=OFFICER,
    )  # fmt: skip
    seq = service.get(case_id).seq
    said = f"already recorded on {case_id}, on 2024-10-28, with document {document_id} as its"
    with pytest.raises(InputError, match=said + " evidence; nothing was written"):
        mark_posted(
            service, document_id, check="first_formal_letter_sent", on=POSTED, at=RECORDED_AT,
            actor=OFFICER,
        )  # fmt: skip
    assert service.get(case_id).seq == seq


def test_unknown_letters_checks_and_roles_are_refused_writing_nothing(service, filed) -> None:
    case_id, document_id = filed
    seq = service.get(case_id).seq
    with pytest.raises(InputError, match="no document 999"):
        mark_posted(service, 999, on=POSTED, at=RECORDED_AT, actor=OFFICER)
    with pytest.raises(UnknownCheck, match="first_formal_letter_sent"):
        mark_posted(
            service, document_id, check="first_letter_sent", on=POSTED, at=RECORDED_AT,
            actor=OFFICER,
        )  # fmt: skip
    with pytest.raises(CMEError, match="line_manager"):
        mark_posted(
            service, document_id, check="first_formal_letter_sent", on=POSTED, at=RECORDED_AT,
            actor=Actor("lee", "line_manager"),
        )  # fmt: skip
    assert service.get(case_id).seq == seq
    with service.store.read() as conn:
        assert conn.execute(select(outbox_table.c.status)).scalars().all() == ["sent"]
