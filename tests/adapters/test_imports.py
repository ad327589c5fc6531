"""Importers: every row checked first, all written or none, bad rows named, no duplicates."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import pytest
from sqlalchemy import func, select

from adapters.enquiry.csvfile import import_enquiries
from adapters.imports.forms import import_forms
from adapters.imports.out_of_school import import_out_of_school
from adapters.imports.roll_returns import import_roll_returns
from adapters.imports.s2s import import_s2s
from engine.cases.imports import ImportRejected
from engine.cases.service import Actor
from engine.errors import InputError
from engine.store.tables import case_table, event_table
from tests.conftest import RECORDED_AT

OFFICER = Actor("sona", "cme_officer")
ON = dt.date(2024, 11, 4)


def _counts(service) -> tuple[int, int]:
    with service.store.read() as conn:
        return (
            conn.execute(select(func.count()).select_from(case_table)).scalar_one(),
            conn.execute(select(func.count()).select_from(event_table)).scalar_one(),
        )


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


ROLL_RETURNS = """school,change,change_date,child_name,date_of_birth,upn,ground,received_on
Kentish Town Primary,addition,2024-11-01,Ana Silva,2015-03-14,H801200001001,,2024-11-04
Kentish Town Primary,deletion,01/11/2024,Ben Okoro,2013-06-02,,8(1)(b),
Regent High School,addition,2024-10-28,Chloe Park,2010-01-20,B801200005001,,2024-10-30
"""


def test_roll_returns_open_cases_and_record_returns_once(service, tmp_path) -> None:
    path = _write(tmp_path, "returns.csv", ROLL_RETURNS)
    result = import_roll_returns(service, path, at=RECORDED_AT, actor=OFFICER)
    assert [line for line, _ in result.written] == [2, 3, 4]
    ana, ben, chloe = (what.split(":")[0] for _, what in result.written)
    assert service.get(ana).state == "return_received"
    assert service.get(ana).facts["roll_change"] == "addition"
    assert service.get(ben).state == "return_due"
    assert service.get(ben).facts["deletion_ground"] == "8(1)(b)"
    assert service.get(ben).opened_on == dt.date(2024, 11, 1)
    assert service.get(chloe).process_id == "roll_returns"
    before = _counts(service)
    again = import_roll_returns(service, path, at=RECORDED_AT, actor=OFFICER)
    assert again.written == []
    assert again.already_imported == [2, 3, 4]
    assert _counts(service) == before


def test_one_bad_row_rejects_the_whole_file_and_names_it(service, tmp_path) -> None:
    bad = ROLL_RETURNS.replace("B801200005001", "A801200005001").replace("8(1)(b)", "")
    path = _write(tmp_path, "returns.csv", bad)
    with pytest.raises(ImportRejected) as err:
        import_roll_returns(service, path, at=RECORDED_AT, actor=OFFICER)
    assert [p.line for p in err.value.problems] == [3, 4]
    text = str(err.value)
    assert "2 bad rows; nothing was imported" in text
    assert f"{path} line 3: ground is blank" in text
    assert f"{path} line 4: UPN 'A801200005001' has check letter 'A'" in text
    assert _counts(service) == (0, 0)


def test_a_row_the_service_refuses_rolls_back_the_rows_before_it(service, tmp_path) -> None:
    # Line 3 answers a case that does not exist: lines 2 and 4 were fine but are not kept.
    text = ROLL_RETURNS.replace("upn,ground,received_on", "upn,ground,received_on,case_id")
    lines = text.splitlines()
    lines[1] += ","
    lines[2] = lines[2].removesuffix(",") + ",2024-11-04,CME-009999"
    lines[3] += ","
    path = _write(tmp_path, "returns.csv", "\n".join(lines) + "\n")
    with pytest.raises(ImportRejected) as err:
        import_roll_returns(service, path, at=RECORDED_AT, actor=OFFICER)
    assert [(p.line, p.message) for p in err.value.problems] == [
        (3, "no case with id 'CME-009999'; `cme case list` shows the open cases")
    ]
    assert _counts(service) == (0, 0)
    # Nothing of the failed import is in the ledger: the corrected file imports in full.
    lines[2] = lines[2].removesuffix("CME-009999")  # a blank case_id: open a new case
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert len(import_roll_returns(service, path, at=RECORDED_AT, actor=OFFICER).written) == 3


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "the file is empty"),
        (b"school,change\n", "missing columns: change_date, child_name, date_of_birth"),
        (
            b"school,change,change_date,child_name,date_of_birth,recieved_on\n",
            "unknown column 'recieved_on' (did you mean 'received_on'?)",
        ),
        (b"school,change,change_date,child_name,date_of_birth\n", "header row but no rows"),
        (
            "school,change,change_date,child_name,date_of_birth\nÉcole,addition,2024-11-01,A,2015-01-01\n".encode(
                "latin-1"
            ),
            "not UTF-8 text (byte 0xc9 at line 2)",
        ),
    ],
)
def test_file_level_problems_are_clear(service, tmp_path, content, message) -> None:
    path = tmp_path / "returns.csv"
    path.write_bytes(content)
    with pytest.raises(InputError, match=re.escape(message)):
        import_roll_returns(service, path, at=RECORDED_AT, actor=OFFICER)
    assert _counts(service) == (0, 0)


S2S = """upn,surname,forename,date_of_birth,gender,last_school,date_left,postcode
H801200001001,Silva,Ana,2015-03-14,F,Kentish Town Primary (2023456),2024-10-11,NW1 0AA
G80120000101A,Nowak,Jan,2012-05-30,M,Acland Burghley (2024001),2024-10-18,
"""


def test_s2s_lost_pupils_open_cme_cases(service, tmp_path) -> None:
    result = import_s2s(
        service, _write(tmp_path, "s2s.csv", S2S), on=ON, at=RECORDED_AT, actor=OFFICER
    )
    ana = service.revealed(service.get(result.written[0][1]))
    assert ana.process_id == "untraceable_cme"
    assert ana.opened_on == ON
    assert ana.personal["child"]["upn"] == "H801200001001"
    assert ana.personal["child"]["previous_school"] == "Kentish Town Primary (2023456)"
    assert ana.facts["date_of_last_attendance"] == "2024-10-11"


def test_s2s_child_outside_school_age_rejects_the_file(service, tmp_path) -> None:
    text = S2S.replace("2012-05-30", "2007-05-30")
    with pytest.raises(ImportRejected, match=r"line 3: born 2007-05-30: of compulsory school age"):
        import_s2s(service, _write(tmp_path, "s2s.csv", text), on=ON, at=RECORDED_AT, actor=OFFICER)
    assert _counts(service) == (0, 0)


def test_next_weeks_out_of_school_report_opens_only_new_children(service, tmp_path) -> None:
    week1 = (
        "child_name,date_of_birth,marked_by,marked_on,parent_carer,postcode\n"
        "Ana Silva,2015-03-14,Early Help,2024-10-30,Maria Silva,NW1 0AA\n"
    )
    week2 = week1 + "Tom Reid,2011-09-09,Housing,2024-11-06,Jo Reid,NW5 1AB\n"
    first = import_out_of_school(
        service, _write(tmp_path, "w1.csv", week1), on=ON, at=RECORDED_AT, actor=OFFICER
    )
    second = import_out_of_school(
        service,
        _write(tmp_path, "w2.csv", week2),
        on=dt.date(2024, 11, 11),
        at=RECORDED_AT,
        actor=OFFICER,
    )
    assert len(first.written) == 1
    assert second.already_imported == [2]
    assert [line for line, _ in second.written] == [3]
    tom = service.revealed(service.get(second.written[0][1]))
    assert tom.personal["notifier"]["school_or_service"] == "Housing"
    assert _counts(service)[0] == 2


def test_enquiry_results_are_recorded_as_the_cases_checks(service, example_form, tmp_path) -> None:
    (ana, tiago) = service.open_case(
        example_form, on=dt.date(2024, 10, 21), at=RECORDED_AT, actor=OFFICER
    )
    text = (
        "case_id,system,checked_on,outcome,officer\n"
        f"{ana},mash,2024-10-28,not known to MASH,sona\n"
        f"{tiago},nhs_spine,2024-10-29,registered with a GP in Leeds,sona\n"
    )
    result = import_enquiries(service, _write(tmp_path, "enq.csv", text), at=RECORDED_AT)
    assert [what for _, what in result.written] == [
        f"{ana}: mash_check",
        f"{tiago}: nhs_spine_check",
    ]
    assert service.get(ana).checks["mash_check"]["on"] == "2024-10-28"
    assert service.events(tiago)[-1].actor == "sona"
    bad = text + "CME-009999,giap,2024-10-29,no record,sona\n" + f"{ana},census,2024-10-29,x,y\n"
    before = _counts(service)
    with pytest.raises(ImportRejected) as err:
        import_enquiries(service, _write(tmp_path, "enq2.csv", bad), at=RECORDED_AT)
    assert [p.line for p in err.value.problems] == [5]  # a parse problem stops before any write
    assert "system must be one of mash, resident_index" in err.value.problems[0].message
    with pytest.raises(ImportRejected, match="line 4: no case with id 'CME-009999'"):
        import_enquiries(
            service, _write(tmp_path, "enq3.csv", "\n".join(bad.splitlines()[:4])), at=RECORDED_AT
        )
    assert _counts(service) == before


def test_forms_import_all_or_none_and_never_twice(service, example_form, tmp_path) -> None:
    good = tmp_path / "a.json"
    good.write_text(json.dumps(example_form.model_dump(mode="json")), encoding="utf-8")
    # Another family's child (one child, one open case: Tiago is on the first form).
    rui = example_form.children[1].model_copy(
        update={"full_name": "Rui Costa", "date_of_birth": dt.date(2013, 1, 5)}
    )
    other = example_form.model_copy(update={"children": [rui]})
    second = tmp_path / "b.json"
    second.write_text(json.dumps(other.model_dump(mode="json")), encoding="utf-8")
    broken = tmp_path / "c.yaml"
    broken.write_text("form: cme_notification\ndate: 2024-10-21\n", encoding="utf-8")
    with pytest.raises(ImportRejected) as err:
        import_forms(service, [good, second, broken], on=ON, at=RECORDED_AT, actor=OFFICER)
    assert "notifier: Field required" in str(err.value)
    assert str(broken) in str(err.value)
    assert _counts(service) == (0, 0)
    result = import_forms(service, [good, second], on=ON, at=RECORDED_AT, actor=OFFICER)
    assert len(result.written) == 2
    assert _counts(service)[0] == 3
    renamed = tmp_path / "copy.json"
    renamed.write_text(good.read_text(), encoding="utf-8")
    again = import_forms(service, [renamed], on=ON, at=RECORDED_AT, actor=OFFICER)
    assert again.already_imported == [1]
    assert _counts(service)[0] == 3
