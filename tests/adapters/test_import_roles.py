"""Imports obey who may record each check and fact (`recorded_by`) as commands do: a row that
records one in another role is refused naming the role used and the roles that may, and a file
with one such row writes nothing."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from sqlalchemy import func, select

from adapters.enquiry.csvfile import import_enquiries
from adapters.imports.forms import import_forms
from engine.cases.imports import ImportRejected, every_reason
from engine.cases.service import Actor
from engine.errors import Refusal, RoleNotPermitted, UnknownFact
from engine.store.tables import case_table, event_table, import_ledger_table
from tests.conftest import RECORDED_AT
from tests.scenarios.helpers import notification

OFFICER = Actor("sona", "cme_officer")
SCHOOL = Actor("attendance-lead", "school")


def _counts(service) -> tuple[int, int, int]:
    with service.store.read() as conn:
        return tuple(
            conn.execute(select(func.count()).select_from(t)).scalar_one()
            for t in (case_table, event_table, import_ledger_table)
        )


def test_an_enquiry_file_in_another_role_records_no_check(
    service, example_form, tmp_path: Path
) -> None:
    (ana, tiago) = service.open_case(
        example_form, on=dt.date(2024, 10, 21), at=RECORDED_AT, actor=OFFICER
    )
    path = tmp_path / "enquiries.csv"
    path.write_text(
        "case_id,system,checked_on,outcome,officer\n"
        f"{ana},mash,2024-10-28,not known to MASH,dylan\n"
        f"{tiago},nhs_spine,2024-10-29,registered with a GP in Leeds,dylan\n",
        encoding="utf-8",
    )
    before = _counts(service)
    with pytest.raises(ImportRejected) as info:
        import_enquiries(service, path, at=RECORDED_AT, role="line_manager")
    assert [p.line for p in info.value.problems] == [2, 3]
    assert info.value.problems[0].message == (
        "check mash_check (Start checks – MASH) may be recorded only by School Inclusion and "
        "Children Missing Education Officer (cme_officer); you are acting as School Inclusion "
        "Team Manager (line_manager)"
    )
    assert _counts(service) == before
    assert "mash_check" not in service.get(ana).checks
    # In the role that records them, the same file is imported whole.
    result = import_enquiries(service, path, at=RECORDED_AT)
    assert [what for _, what in result.written] == [
        f"{ana}: mash_check",
        f"{tiago}: nhs_spine_check",
    ]


def test_a_form_giving_a_fact_another_role_records_opens_nothing(service, tmp_path: Path) -> None:
    """Of two removal notifications imported by the CME Officer, one gives the removal ground,
    which only the school records: neither case is opened."""
    on = dt.date(2024, 9, 9)
    plain = tmp_path / "a.json"
    plain.write_text(json.dumps(notification(on).model_dump(mode="json")), encoding="utf-8")
    with_ground = tmp_path / "b.json"
    form = notification(on, ground="Ground I")
    child = form.children[0].model_copy(update={"full_name": "Ben Okoro"})
    with_ground.write_text(
        json.dumps(form.model_copy(update={"children": [child]}).model_dump(mode="json")),
        encoding="utf-8",
    )
    before = _counts(service)
    with pytest.raises(ImportRejected) as info:
        import_forms(
            service,
            [plain, with_ground],
            on=on,
            at=RECORDED_AT,
            actor=OFFICER,
            process="removal_grounds",
        )
    (problem,) = info.value.problems
    assert problem.file == str(with_ground)
    assert "fact ground (" in problem.message
    assert "may be recorded only by School (designated staff) (school)" in problem.message
    assert _counts(service) == before
    result = import_forms(
        service,
        [plain, with_ground],
        on=on,
        at=RECORDED_AT,
        actor=SCHOOL,
        process="removal_grounds",
    )
    assert len(result.written) == 2


def test_a_rows_independent_commands_are_all_judged() -> None:
    """Two facts of one row refused for different reasons, and one recorded: the row's problem
    names both refusals (none hides the other)."""
    done: list[str] = []

    def refused_role() -> None:
        raise RoleNotPermitted(role="school", allowed={"cme_officer": "CME Officer"}, doing="x")

    def refused_twice() -> None:
        raise Refusal.of([UnknownFact(name="roll_chnage"), UnknownFact(name="groud")])

    with pytest.raises(Refusal) as info:
        every_reason([refused_role, lambda: done.append("recorded"), refused_twice])
    assert [type(r) for r in info.value.reasons] == [RoleNotPermitted, UnknownFact, UnknownFact]
    assert done == ["recorded"]
    every_reason([lambda: done.append("again")])
    assert done == ["recorded", "again"]
