"""The emails attendance_returns asks for: each template it names exists and renders the case's
school, child and first day."""

from __future__ import annotations

import datetime as dt

import pytest

from adapters.notify.compose import TemplateComposer
from engine.cases.service import Actor
from engine.effects.outbox import OutboxItem, message_context
from tests.conftest import RECORDED_AT
from tests.scenarios.helpers import notification

PAS = Actor("ed", "pupil_attendance_service")
FIRST = dt.date(2024, 10, 7)


@pytest.mark.parametrize(
    ("template", "kind", "first_day_fact"),
    [
        ("attendance_return_received", "unauthorised_absence", "first_day_of_absence"),
        ("sickness_return_received", "sickness", "first_day_of_sickness"),
    ],
)
def test_the_return_emails_render(service, template: str, kind: str, first_day_fact: str) -> None:
    (case_id,) = service.open_case(
        notification(FIRST), on=FIRST, at=RECORDED_AT, actor=PAS, process="attendance_returns"
    )
    for name, value in (("return_kind", kind), (first_day_fact, FIRST)):
        service.set_fact(case_id, name, value, on=FIRST, at=RECORDED_AT, actor=PAS)
    item = OutboxItem(
        id=1,
        case_id=case_id,
        event_seq=2,
        kind="notify",
        recipient="pupil_attendance_service",
        template=template,
        channel="email",
        wording="Return received.",
        status="pending",
        attempts=0,
        last_error=None,
        created_on=FIRST,
        sent_at=None,
    )
    context = message_context(service, service.revealed(service.get(case_id)), item, on=FIRST)
    composer = TemplateComposer()
    assert composer.has_template(template)
    subject, body = composer.compose(template, context)
    assert "Kentish Town Primary School" in subject
    assert "Ana Silva" in body
    assert "2024-10-07" in body


def test_the_pupil_attendance_service_has_an_address() -> None:
    from adapters.notify.recipients import load_recipients

    assert load_recipients().addresses("pupil_attendance_service", {}) == [
        "pupil.attendance@camden.example"
    ]
