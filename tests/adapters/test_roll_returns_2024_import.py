"""Roll returns from CSV under version 3 (from 4 December 2026): a deletion return's regulation
13(4) details are recorded and the return taken by its ground's step; a row missing what its
ground needs is refused naming the row, and nothing in the file is written."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from adapters.imports.roll_returns import import_roll_returns
from engine.cases.imports import ImportRejected
from engine.cases.service import Actor
from engine.store.tables import case_table, event_table
from tests.scenarios.late import LATE_RECORDED_AT

OFFICER = Actor("sona", "cme_officer")
HEADER = (
    "school,change,change_date,child_name,date_of_birth,ground,pupil_address,parents,"
    "emergency_telephone,new_school,new_school_start,left_the_country,destination,received_on\n"
)
ADDRESS = '"12 Example Road, NW5 1AA","Maria Silva, 12 Example Road, NW5 1AA",07700 900123'
ROWS = (
    f"Kentish Town Primary,deletion,2026-12-07,Ana Silva,2015-03-14,Ground A,{ADDRESS},"
    "Haverstock School,2026-12-08,,,2026-12-07\n"
    f"Kentish Town Primary,deletion,2026-12-08,Ben Okoro,2013-06-02,Ground G,{ADDRESS},"
    ",,yes,Portugal,2026-12-08\n"
    f"Regent High School,deletion,2026-12-09,Chloe Park,2012-01-20,Ground K,{ADDRESS},"
    ",,,,2026-12-09\n"
)


def _counts(service) -> tuple[int, int]:
    with service.store.read() as conn:
        return (
            conn.execute(select(func.count()).select_from(case_table)).scalar_one(),
            conn.execute(select(func.count()).select_from(event_table)).scalar_one(),
        )


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "returns.csv"
    path.write_text(text, encoding="utf-8")
    return path


def test_deletion_returns_carry_regulation_13_4_and_take_their_grounds_step(
    service, tmp_path
) -> None:
    path = _write(tmp_path, HEADER + ROWS)
    result = import_roll_returns(service, path, at=LATE_RECORDED_AT, actor=OFFICER)
    cases = [service.get(what.split(":")[0]) for _, what in result.written]
    assert [(c.process_version, c.state) for c in cases] == [(3, "return_received")] * 3
    steps = [
        next(e for e in service.events(c.id) if e.kind == "trigger").payload["data"]["trigger"]
        for c in cases
    ]
    assert steps == [
        "submit_deletion_return_new_school",
        "submit_deletion_return_left_country",
        "submit_deletion_return",
    ]


def test_a_deletion_return_missing_what_its_ground_needs_writes_nothing(service, tmp_path) -> None:
    # Ana's new school's first day and Chloe's emergency telephone are missing.
    bad = ROWS.replace("Haverstock School,2026-12-08", "Haverstock School,").replace(
        '12 Example Road, NW5 1AA",07700 900123,,,,,2026-12-09',
        '12 Example Road, NW5 1AA",,,,,,2026-12-09',
    )
    before = _counts(service)
    with pytest.raises(ImportRejected) as info:
        import_roll_returns(
            service, _write(tmp_path, HEADER + bad), at=LATE_RECORDED_AT, actor=OFFICER
        )
    problems = {p.line: p.message for p in info.value.problems}
    assert sorted(problems) == [2, 4]
    assert "new_school_first_attendance" in problems[2]
    assert "emergency_telephone" in problems[4]
    assert _counts(service) == before


def test_details_on_a_return_before_version_3_are_refused(service, tmp_path) -> None:
    early = ROWS.splitlines()[0].replace("2026-12-07", "2026-12-01") + "\n"
    with pytest.raises(ImportRejected) as info:
        import_roll_returns(
            service, _write(tmp_path, HEADER + early), at=LATE_RECORDED_AT, actor=OFFICER
        )
    ((problem),) = info.value.problems
    assert "takes only the ground" in problem.message
