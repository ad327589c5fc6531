"""`cme import …` through the CLI: counts, per-row errors with exit code 1, nothing written."""

from __future__ import annotations

import json
from importlib.resources import files
from pathlib import Path

from click.testing import CliRunner
from sqlalchemy import func, select

from engine.cli import cli
from engine.store.database import open_store
from engine.store.tables import case_table

FORM = str(files("processes").joinpath("forms", "notification_example.yaml"))


def run(db: str, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, [*args, "--db", db, "--actor", "sona"])
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def cases(db: str) -> int:
    store = open_store(db)
    with store.engine.connect() as conn:
        n = conn.execute(select(func.count()).select_from(case_table)).scalar_one()
    store.dispose()
    return int(n)


def test_forms_import_then_import_again(sqlite_url: str) -> None:
    code, out, _ = run(sqlite_url, "import", "form", FORM, "--on", "2024-10-21")
    assert code == 0
    assert "line 1: CME-000001, CME-000002" in out
    assert "forms: 1 imported, 0 already imported before" in out
    code, out, _ = run(sqlite_url, "import", "form", FORM, "--on", "2024-10-22", "--json")
    assert code == 0
    assert json.loads(out)["already_imported"] == [1]
    assert cases(sqlite_url) == 2


def test_a_roll_return_file_with_a_bad_row_is_refused_whole(
    sqlite_url: str, tmp_path: Path
) -> None:
    path = tmp_path / "returns.csv"
    path.write_text(
        "school,change,change_date,child_name,date_of_birth,received_on\n"
        "Kentish Town Primary,addition,2024-11-01,Ana Silva,2015-03-14,2024-11-04\n"
        "Kentish Town Primary,transfer,2024-11-01,Ben Okoro,2013-06-02,\n"
        "Regent High School,addition,2024-13-01,Chloe Park,2010-01-20,\n",
        encoding="utf-8",
    )
    code, out, err = run(sqlite_url, "import", "roll-return", str(path))
    assert code == 1
    assert out == ""
    assert f"{path}: 2 bad rows; nothing was imported" in err
    assert f"{path} line 3: change must be one of addition, deletion, not 'transfer'" in err
    assert f"{path} line 4: change_date '2024-13-01' is not a date" in err
    assert cases(sqlite_url) == 0
    path.write_text("\n".join(path.read_text().splitlines()[:2]) + "\n", encoding="utf-8")
    code, out, _ = run(sqlite_url, "import", "roll-return", str(path))
    assert code == 0
    assert "1 imported" in out
    assert "return received 2024-11-04" in out


def test_a_missing_column_and_a_wrong_encoding_are_named(sqlite_url: str, tmp_path: Path) -> None:
    path = tmp_path / "s2s.csv"
    path.write_text("upn,surname,forename,date_of_birth,last_school\n", encoding="utf-8")
    code, _, err = run(sqlite_url, "import", "s2s", str(path), "--on", "2024-11-04")
    assert code == 1
    assert "line 1 (the header): missing column: date_left" in err
    path.write_bytes(
        "child_name,date_of_birth,marked_by,marked_on\nZoë,2015-01-01,YOS,2024-11-01\n".encode(
            "cp1252"
        )
    )
    code, _, err = run(sqlite_url, "import", "out-of-school", str(path), "--on", "2024-11-04")
    assert code == 1
    assert "not UTF-8 text (byte 0xeb at line 2)" in err
    assert "CSV UTF-8" in err


def test_enquiry_results_for_unknown_cases_are_refused(sqlite_url: str, tmp_path: Path) -> None:
    assert run(sqlite_url, "case", "open", "--form", FORM, "--on", "2024-10-21")[0] == 0
    path = tmp_path / "enquiries.csv"
    path.write_text(
        "case_id,system,checked_on,outcome,officer\n"
        "CME-000001,housing,2024-10-28,not a council tenant,sona\n"
        "CME-000099,giap,2024-10-28,no record,sona\n",
        encoding="utf-8",
    )
    code, _, err = run(sqlite_url, "import", "enquiry", str(path))
    assert code == 1
    assert "line 3: no case with id 'CME-000099'" in err
    path.write_text("\n".join(path.read_text().splitlines()[:2]) + "\n", encoding="utf-8")
    code, out, _ = run(sqlite_url, "import", "enquiry", str(path))
    assert code == 0
    assert "CME-000001: housing_check" in out
