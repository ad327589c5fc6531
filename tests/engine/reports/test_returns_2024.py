"""The returns report under roll_returns version 3 (from 4 December 2026): a deletion return
taken by its ground's step counts as received, with its ground."""

from __future__ import annotations

import datetime as dt

from engine.cases.service import Actor
from engine.reports.returns import returns_report
from tests.scenarios.helpers import notification
from tests.scenarios.late import LATE_RECORDED_AT

OFFICER = Actor("sona", "cme_officer")
DELETED = dt.date(2026, 12, 7)


def test_a_version_3_deletion_return_is_received_with_its_ground(service) -> None:
    (case_id,) = service.open_case(
        notification(DELETED),
        on=DELETED,
        at=LATE_RECORDED_AT,
        actor=OFFICER,
        process="roll_returns",
    )
    facts = {
        "roll_change": "deletion",
        "non_standard_transition_point": True,
        "ground": "Ground K",
        "pupil_address": "12 Example Road, London NW5 1AA",
        "parents_living_with": "Maria Silva, 12 Example Road, London NW5 1AA",
        "emergency_telephone": "07700 900123",
    }
    for name, value in facts.items():
        service.set_fact(case_id, name, value, on=DELETED, at=LATE_RECORDED_AT, actor=OFFICER)
    service.fire(case_id, "submit_deletion_return", on=DELETED, at=LATE_RECORDED_AT, actor=OFFICER)
    report = returns_report(
        service, actor=OFFICER, at=LATE_RECORDED_AT, on=dt.date(2026, 12, 11), since=DELETED
    )
    ((row),) = report.rows
    assert (row["case_id"], row["status"], row["received_on"]) == (case_id, "received", DELETED)
    assert row["deletion_ground"] == "Ground K"
