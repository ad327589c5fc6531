"""The outbox sender with stand-in adapters: letters filed and recorded, failures retried."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import pytest
from sqlalchemy import select

from engine.cases.notification import NotificationForm
from engine.cases.service import Actor, CaseService
from engine.effects.outbox import OutboxSender, list_outbox, retry, waiting_ids
from engine.effects.ports import DeliveryFailed, OutgoingMessage, RenderedLetter
from engine.errors import InputError
from engine.store.tables import document_table
from tests.conftest import RECORDED_AT

OFFICER = Actor("sona", "cme_officer")
OPENED = dt.date(2024, 10, 21)
DAY_4 = dt.date(2024, 10, 24)


class FakeRenderer:
    def __init__(self) -> None:
        self.rendered: list[tuple[str, dict[str, Any]]] = []

    def has_template(self, template: str) -> bool:
        return template.endswith("_letter") or template == "untraceable_closure_notifier"

    def render(self, template: str, context: dict[str, Any]) -> RenderedLetter:
        self.rendered.append((template, context))
        text = f"{template} for {context['child']['full_name']}".encode()
        return RenderedLetter(
            template=template,
            template_version="v-" + template,
            filename=f"{template}.pdf",
            content=text,
            media_type="application/pdf",
        )


class FakeComposer:
    def compose(self, template: str, context: Mapping[str, Any]) -> tuple[str, str]:
        return f"[{template}] {context['case']['id']}", context["action"]["wording"]


class FakeDirectory:
    def addresses(self, recipient: str, context: Mapping[str, Any]) -> list[str]:
        if recipient == "nobody":
            raise DeliveryFailed("no address for 'nobody'")
        return [f"{recipient}@camden.example"]


class FakeNotifier:
    def __init__(self, *, fail: bool = False) -> None:
        self.fail = fail
        self.sent: list[OutgoingMessage] = []

    def send(self, message: OutgoingMessage) -> None:
        if self.fail:
            raise DeliveryFailed("connection refused")
        self.sent.append(message)


def _sender(service, notifier=None, renderer=None, max_attempts=5):
    return OutboxSender(
        service=service,
        notifier=notifier or FakeNotifier(),
        renderer=renderer or FakeRenderer(),
        composer=FakeComposer(),
        directory=FakeDirectory(),
        actor=OFFICER,
        max_attempts=max_attempts,
    )


@pytest.fixture
def ana(service: CaseService, example_form: NotificationForm) -> str:
    form = example_form.model_copy(update={"children": [example_form.children[0]]})
    (case_id,) = service.open_case(form, on=OPENED, at=RECORDED_AT, actor=OFFICER)
    return case_id


def test_a_letter_is_filed_with_the_case_and_recorded_with_its_template_version(
    service, ana
) -> None:
    service.fire(ana, "start_reasonable_checks", on=DAY_4, at=RECORDED_AT, actor=OFFICER)
    (row,) = list_outbox(service, status=["pending"])
    assert (row.kind, row.template, row.recipient) == (
        "letter",
        "first_formal_cme_letter",
        "parent_carer",
    )
    renderer = FakeRenderer()
    summary = _sender(service, renderer=renderer).send_pending(on=DAY_4, at=RECORDED_AT)
    assert summary.sent == [row.id]
    assert len(summary.documents) == 1
    context = renderer.rendered[0][1]
    assert context["child"]["full_name"] == "Ana Silva"
    assert context["parent_carer"]["names"] == "Maria Silva"
    assert context["case"]["state"] == "reasonable_checks"
    (sent,) = list_outbox(service, case_id=ana)
    assert (sent.status, sent.attempts, sent.sent_at is not None) == ("sent", 1, True)
    with service.store.engine.connect() as conn:
        doc = conn.execute(select(document_table)).one()
    assert doc.case_id == ana
    assert doc.template_version == "v-first_formal_cme_letter"
    assert doc.content == b"first_formal_cme_letter for Ana Silva"
    # The letter's check (first_formal_letter_sent) is recorded after it: see below.
    last = service.events(ana)[-2]
    assert str(last.kind) == "letter_filed"
    assert last.payload["data"]["template_version"] == "v-first_formal_cme_letter"
    assert last.payload["data"]["document_id"] == doc.id
    assert service.get(ana).state == "reasonable_checks"  # filing a letter moves nothing
    # Sent rows are not sent again.
    assert _sender(service).send_pending(on=DAY_4, at=RECORDED_AT).sent == []


def test_a_failed_send_stays_in_the_outbox_and_is_retried(service, ana) -> None:
    service.fire(ana, "start_reasonable_checks", on=DAY_4, at=RECORDED_AT, actor=OFFICER)
    service.fire(
        ana, "contact_established", on=dt.date(2024, 10, 25), at=RECORDED_AT, actor=OFFICER
    )
    service.set_fact(
        ana, "destination_la", "Islington", on=dt.date(2024, 10, 28), at=RECORDED_AT, actor=OFFICER
    )
    service.fire(
        ana, "moved_to_another_la", on=dt.date(2024, 10, 28), at=RECORDED_AT, actor=OFFICER
    )
    down = FakeNotifier(fail=True)
    first = _sender(service, notifier=down).send_pending(on=dt.date(2024, 10, 28), at=RECORDED_AT)
    assert len(first.sent) == 1  # the letter needs no mail server
    (failed,) = list_outbox(service, status=["failed"])
    assert failed.template == "cme_notification_to_destination_la"
    assert (failed.attempts, failed.last_error) == (1, "connection refused")
    up = FakeNotifier()
    second = _sender(service, notifier=up).send_pending(on=dt.date(2024, 10, 28), at=RECORDED_AT)
    assert second.sent == [failed.id]
    (message,) = up.sent
    assert message.recipient == "destination_la@camden.example"
    assert message.subject == f"[cme_notification_to_destination_la] {ana}"
    (done,) = [r for r in list_outbox(service) if r.id == failed.id]
    assert (done.status, done.attempts, done.last_error) == ("sent", 2, None)


def test_after_max_attempts_a_row_is_dead_until_retried_by_hand(service, ana) -> None:
    service.fire(ana, "contact_established", on=OPENED, at=RECORDED_AT, actor=OFFICER)
    service.set_fact(
        ana, "safeguarding_concern", "bruising seen", on=OPENED, at=RECORDED_AT, actor=OFFICER
    )
    service.fire(ana, "refer_to_mash", on=OPENED, at=RECORDED_AT, actor=OFFICER)
    down = FakeNotifier(fail=True)
    for _ in range(3):
        _sender(service, notifier=down, max_attempts=3).send_pending(on=OPENED, at=RECORDED_AT)
    (dead,) = list_outbox(service, status=["dead"])
    assert dead.attempts == 3
    assert dead.template == "mash_referral"
    assert waiting_ids(service, max_attempts=3) == []
    assert retry(service) == [dead.id]
    (again,) = list_outbox(service, status=["pending"])
    assert again.attempts == 0
    assert again.last_error == "connection refused"
    up = FakeNotifier()
    assert _sender(service, notifier=up).send_pending(on=OPENED, at=RECORDED_AT).sent == [dead.id]
    assert up.sent[0].body.startswith("If any safeguarding issues are raised")


def test_an_unknown_recipient_fails_the_row_with_a_reason(service, ana) -> None:
    from sqlalchemy import update

    from engine.store.tables import outbox_table

    service.fire(ana, "contact_established", on=OPENED, at=RECORDED_AT, actor=OFFICER)
    service.set_fact(ana, "safeguarding_concern", "x", on=OPENED, at=RECORDED_AT, actor=OFFICER)
    service.fire(ana, "refer_to_mash", on=OPENED, at=RECORDED_AT, actor=OFFICER)
    with service.store.engine.begin() as conn:
        conn.execute(update(outbox_table).values(recipient="nobody"))
    summary = _sender(service).send_pending(on=OPENED, at=RECORDED_AT)
    assert summary.failed[0][1] == "no address for 'nobody'"


def test_retry_refuses_rows_that_are_not_failed(service, ana) -> None:
    service.fire(ana, "start_reasonable_checks", on=DAY_4, at=RECORDED_AT, actor=OFFICER)
    (row,) = list_outbox(service)
    with pytest.raises(InputError, match=f"not failed or dead.*{row.id}"):
        retry(service, [row.id])
    with pytest.raises(InputError, match="no outbox status lost"):
        list_outbox(service, status=["lost"])


def test_a_letter_on_a_date_before_the_cases_last_step_fails_without_writing(service, ana) -> None:
    service.fire(ana, "start_reasonable_checks", on=DAY_4, at=RECORDED_AT, actor=OFFICER)
    summary = _sender(service).send_pending(on=OPENED, at=RECORDED_AT)
    assert summary.sent == []
    assert "history runs forwards" in summary.failed[0][1]
    with service.store.engine.connect() as conn:
        assert conn.execute(select(document_table)).all() == []
    assert str(service.events(ana)[-1].kind) == "trigger"


# -- a letter records its check (issue 15) ------------------------------------------------------


def test_sending_the_first_formal_letter_records_its_check_with_the_letter_as_evidence(
    service, ana
) -> None:
    service.fire(ana, "start_reasonable_checks", on=DAY_4, at=RECORDED_AT, actor=OFFICER)
    sent_on = dt.date(2024, 10, 25)
    summary = _sender(service).send_pending(on=sent_on, at=RECORDED_AT)
    (document_id,) = summary.documents
    case = service.get(ana)
    assert case.checks["first_formal_letter_sent"] == {
        "on": "2024-10-25",
        "document_id": document_id,
    }
    filed, recorded = service.events(ana)[-2:]
    assert (str(filed.kind), str(recorded.kind)) == ("letter_filed", "check_recorded")
    assert (recorded.actor, recorded.role) == ("sona", "cme_officer")
    assert recorded.payload["data"]["check"] == "first_formal_letter_sent"
    assert recorded.payload["data"]["document_id"] == document_id
    assert service.revealed(case).check_outcome("first_formal_letter_sent") == (
        f"letter first_formal_cme_letter sent (document {document_id})"
    )


def test_a_letter_whose_check_is_already_recorded_leaves_it_as_it_was(service, ana) -> None:
    service.fire(ana, "start_reasonable_checks", on=DAY_4, at=RECORDED_AT, actor=OFFICER)
    service.record_check(
        ana,
        "first_formal_letter_sent",
        on=DAY_4,
        at=RECORDED_AT,
        actor=OFFICER,
        outcome="posted by hand",
    )
    summary = _sender(service).send_pending(on=dt.date(2024, 10, 25), at=RECORDED_AT)
    assert len(summary.documents) == 1
    assert [str(e.kind) for e in service.events(ana)[-2:]] == ["check_recorded", "letter_filed"]
    case = service.revealed(service.get(ana))
    assert case.check_outcome("first_formal_letter_sent") == "posted by hand"


def test_a_letter_the_sender_may_not_record_the_check_of_is_not_filed(service, ana) -> None:
    service.fire(ana, "start_reasonable_checks", on=DAY_4, at=RECORDED_AT, actor=OFFICER)
    sender = _sender(service)
    sender.actor = Actor("lee", "line_manager")  # first_formal_letter_sent: recorded_by cme_officer
    summary = sender.send_pending(on=dt.date(2024, 10, 25), at=RECORDED_AT)
    assert summary.sent == []
    assert summary.documents == []
    assert "line_manager" in summary.failed[0][1]
    with service.store.engine.connect() as conn:
        assert conn.execute(select(document_table)).all() == []
    assert str(service.events(ana)[-1].kind) == "trigger"
    assert "first_formal_letter_sent" not in service.get(ana).checks
