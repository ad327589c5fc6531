"""Deliberate repeats only (issue 15), in the engine: a step that keeps the stage taken twice the
same day, two officers at once, a check amended keeping both outcomes, and free text checked by
the service itself (not only the CLI)."""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any

import pytest
from sqlalchemy import func, select

from engine.cases.free_text import MAX_FREE_TEXT_CHARS, UnsafeText
from engine.cases.notification import NotificationForm, parse_form
from engine.cases.projection import replay
from engine.cases.service import Actor, CaseService
from engine.cases.unit_of_work import UnitOfWork
from engine.errors import CheckAlreadyRecorded, ConcurrentUpdate, InputError, RepeatRefused
from engine.language.registry import ProcessRegistry
from engine.store.database import open_store
from engine.store.tables import event_table, outbox_table
from tests.conftest import RECORDED_AT

SONA = Actor("sona", "cme_officer")
MARCUS = Actor("marcus", "cme_officer")
OPENED = dt.date(2024, 10, 21)
TUESDAY = dt.date(2024, 10, 22)
CONCERN = "Neighbour reports the children have not been seen since half term"


def one_child(form: NotificationForm) -> NotificationForm:
    data = form.model_dump(mode="json")
    data["children"] = data["children"][:1]
    return parse_form(data)


def open_for_referral(service: CaseService, form: NotificationForm) -> str:
    (case_id,) = service.open_case(one_child(form), on=OPENED, at=RECORDED_AT, actor=SONA)
    service.set_fact(
        case_id, "safeguarding_concern", CONCERN, on=TUESDAY, at=RECORDED_AT, actor=SONA
    )
    return case_id


def counts(service: CaseService) -> tuple[int, int]:
    with service.store.read() as conn:
        return (
            conn.execute(select(func.count()).select_from(event_table)).scalar_one(),
            conn.execute(select(func.count()).select_from(outbox_table)).scalar_one(),
        )


@pytest.fixture
def case_id(service: CaseService, example_form: NotificationForm) -> str:
    return open_for_referral(service, example_form)


def test_a_second_referral_the_same_day_is_refused_and_writes_nothing(
    service: CaseService, case_id: str
) -> None:
    service.fire(case_id, "refer_to_mash", on=TUESDAY, at=RECORDED_AT, actor=SONA)
    before = counts(service)
    with pytest.raises(RepeatRefused) as refused:
        service.fire(case_id, "refer_to_mash", on=TUESDAY, at=RECORDED_AT, actor=MARCUS)
    assert (refused.value.by, refused.value.on) == ("sona", TUESDAY)
    assert counts(service) == before
    with pytest.raises(InputError, match="needs a reason"):
        service.fire(
            case_id, "refer_to_mash", on=TUESDAY, at=RECORDED_AT, actor=MARCUS, deliberate=True
        )
    result = service.fire(
        case_id,
        "refer_to_mash",
        on=TUESDAY,
        at=RECORDED_AT,
        actor=MARCUS,
        deliberate=True,
        reason="MASH asked for a second referral naming the sibling",
    )
    assert result.event.body.deliberate is True  # type: ignore[attr-defined]
    opened = service.revealed(service.get(case_id))
    assert opened.personal["reason"] == "MASH asked for a second referral naming the sibling"
    assert counts(service)[1] == before[1] + 1  # the deliberate second referral is queued


def test_two_officers_referring_at_the_same_moment_make_one_referral(
    db_url: str, registry: ProcessRegistry, example_form: NotificationForm
) -> None:
    services = [CaseService(open_store(db_url), registry) for _ in range(2)]
    try:
        case_id = open_for_referral(services[0], example_form)
        _, letters = counts(services[0])
        start = threading.Barrier(2)
        outcomes: list[str] = []

        def act(service: CaseService, actor: Actor) -> None:
            start.wait()
            try:
                service.fire(case_id, "refer_to_mash", on=TUESDAY, at=RECORDED_AT, actor=actor)
                outcomes.append("written")
            except (RepeatRefused, ConcurrentUpdate):
                outcomes.append("refused")

        threads = [
            threading.Thread(target=act, args=(s, a))
            for s, a in zip(services, (SONA, MARCUS), strict=True)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=30)
        assert sorted(outcomes) == ["refused", "written"]
        assert counts(services[0])[1] == letters + 1  # one referral queued, not two
    finally:
        for s in services:
            s.store.dispose()


def test_the_repeat_rule_reads_the_history_inside_the_transaction(
    service: CaseService, case_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A case row read before another officer's referral cannot let a second one through."""
    stale = service.get(case_id)
    service.fire(case_id, "refer_to_mash", on=TUESDAY, at=RECORDED_AT, actor=SONA)
    monkeypatch.setattr(UnitOfWork, "load_for_update", lambda self, cid, expected: stale)
    with pytest.raises((RepeatRefused, ConcurrentUpdate)):
        service.fire(case_id, "refer_to_mash", on=TUESDAY, at=RECORDED_AT, actor=MARCUS)


def test_an_amended_check_keeps_every_outcome_and_replays(
    service: CaseService, case_id: str
) -> None:
    check = "contact_attempted_by_phone"
    service.record_check(
        case_id, check, on=TUESDAY, at=RECORDED_AT, actor=SONA, outcome="no answer"
    )
    with pytest.raises(CheckAlreadyRecorded) as refused:
        service.record_check(
            case_id, check, on=TUESDAY, at=RECORDED_AT, actor=MARCUS, outcome="spoke to mother"
        )
    assert "22 Oct 2024 by sona (cme_officer)" in str(refused.value)
    for n, outcome in enumerate(("spoke to mother", "spoke to father")):
        service.record_check(
            case_id,
            check,
            on=TUESDAY + dt.timedelta(days=1 + n),
            at=RECORDED_AT,
            actor=MARCUS,
            outcome=outcome,
            amend=True,
            reason=f"correction {n + 1}",
        )
    case = service.get(case_id)
    assert [(e["on"], e["by"]) for e in case.checks[check]["earlier"]] == [
        ("2024-10-22", "sona"),
        ("2024-10-23", "marcus"),
    ]
    opened = service.revealed(case)
    assert opened.check_outcome(check) == "spoke to father"
    assert opened.personal["earlier_outcomes"] == {check: ["no answer", "spoke to mother"]}
    assert replay(service.events(case_id)).as_row() == case.as_row()


def _long(n: int) -> str:
    return ("x" * 79 + "\n") * (n // 80) + "x" * (n % 80)


@pytest.mark.parametrize(
    ("command", "kwargs"),
    [
        ("add_note", {"text": _long(MAX_FREE_TEXT_CHARS + 1)}),
        ("record_check", {"check_id": "contact_attempted_by_phone", "outcome": "a\x1b[2Jb"}),
        ("fire", {"trigger_id": "refer_to_mash", "note": "see \u202eevil"}),
    ],
)
def test_the_service_refuses_unsafe_text_itself_and_writes_nothing(
    service: CaseService, case_id: str, command: str, kwargs: dict[str, Any]
) -> None:
    before = counts(service)
    with pytest.raises(UnsafeText):
        getattr(service, command)(case_id, on=TUESDAY, at=RECORDED_AT, actor=SONA, **kwargs)
    assert counts(service) == before
