"""The attendance returns importer: each row opens a case on its first day with the school's
facts and records the return; the engine counts the school days, so a return received before it
is due is refused naming its row; a file with any bad row writes nothing; no row twice."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import func, select

from adapters.imports.attendance_returns import import_attendance_returns
from engine.cases.imports import ImportRejected
from engine.cases.service import Actor
from engine.store.tables import case_table, event_table, import_ledger_table
from tests.conftest import RECORDED_AT

PAS = Actor("ed", "pupil_attendance_service")

HEADER = (
    "school,return,first_day,child_name,date_of_birth,upn,absence_unauthorised,"
    "expects_fifteen_days,replacement_code,replaced_on,received_on\n"
)
RETURNS = (
    HEADER
    + """\
Kentish Town Primary,unauthorised_absence,2024-10-07,Ana Silva,2015-03-14,,yes,,,,2024-10-21
Kentish Town Primary,sickness,03/02/2025,Ben Okoro,2013-06-02,,,no,,,
Regent High School,code_n,2024-11-14,Chloe Park,2010-01-20,B801200005001,,,i,2024-11-18,
"""
)


def _counts(service) -> tuple[int, int, int]:
    with service.store.read() as conn:
        return tuple(
            conn.execute(select(func.count()).select_from(t)).scalar_one()
            for t in (case_table, event_table, import_ledger_table)
        )


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "attendance.csv"
    path.write_text(text, encoding="utf-8")
    return path


def test_each_row_opens_a_case_on_its_first_day_and_records_its_return(service, tmp_path) -> None:
    path = _write(tmp_path, RETURNS)
    result = import_attendance_returns(service, path, at=RECORDED_AT, actor=PAS)
    assert [line for line, _ in result.written] == [2, 3, 4]
    ana, ben, chloe = (service.get(what.split(":")[0]) for _, what in result.written)
    assert (ana.process_id, ana.state, ana.opened_on) == (
        "attendance_returns",
        "return_received",
        dt.date(2024, 10, 7),
    )
    assert ana.facts["first_day_of_absence"] == "2024-10-07"
    assert (ben.state, ben.facts["return_kind"]) == ("awaiting_school", "sickness")
    assert (chloe.state, chloe.facts["replacement_code"]) == ("code_n_resolved", "I")
    before = _counts(service)
    again = import_attendance_returns(service, path, at=RECORDED_AT, actor=PAS)
    assert (again.written, again.already_imported) == ([], [2, 3, 4])
    assert _counts(service) == before


def test_bad_rows_are_named_and_nothing_is_written(service, tmp_path) -> None:
    bad = RETURNS.replace(
        # Received on the 10th school day: only 9 have passed, so the return is not due yet.
        "yes,,,,2024-10-21",
        "yes,,,,2024-10-18",
    ).replace(",code_n,2024-11-14", ",coden,2024-11-14")
    bad += "Regent High School,code_n,2024-11-14,Dee Patel,2011-04-02,,,,O,,\n"
    before = _counts(service)
    with pytest.raises(ImportRejected) as info:
        import_attendance_returns(service, _write(tmp_path, bad), at=RECORDED_AT, actor=PAS)
    problems = {p.line: p.message for p in info.value.problems}
    assert [p.line for p in info.value.problems] == [4, 5]
    assert "return must be one of unauthorised_absence, sickness, code_n" in problems[4]
    assert "needs both replacement_code and replaced_on" in problems[5]
    assert _counts(service) == before
    # With the parse errors corrected, the early return is refused by the engine, by its line.
    early = RETURNS.replace("yes,,,,2024-10-21", "yes,,,,2024-10-18")
    with pytest.raises(ImportRejected) as info:
        import_attendance_returns(service, _write(tmp_path, early), at=RECORDED_AT, actor=PAS)
    ((line, message),) = [(p.line, p.message) for p in info.value.problems]
    assert line == 2
    assert "at least 10 school days" in message
    assert _counts(service) == before


def test_a_school_may_import_its_own_returns_but_a_line_manager_may_not(service, tmp_path) -> None:
    path = _write(tmp_path, RETURNS)
    before = _counts(service)
    with pytest.raises(ImportRejected) as info:
        import_attendance_returns(
            service, path, at=RECORDED_AT, actor=Actor("dylan", "line_manager")
        )
    assert {p.line for p in info.value.problems} == {2, 3, 4}
    assert _counts(service) == before
    school = Actor("attendance-lead", "school")
    assert len(import_attendance_returns(service, path, at=RECORDED_AT, actor=school).written) == 3
