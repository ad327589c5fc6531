"""Hostile input: every file of the bad-input corpus is refused clearly, with nothing written.

The corpus is `tests/fixtures/hostile/` (see its README); `expected.yaml` pairs each file with a
fragment of the message it must be refused with. Each is run through the real CLI against a
database that already holds a case, and the database must be byte-for-byte the same afterwards.
Spreadsheet formulas smuggled into imported fields must come out of CSV and XLSX reports inert.
"""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from importlib.resources import files
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import select
from sqlmodel import SQLModel

from engine.cli import cli
from engine.language.yamlsafe import load_yaml
from engine.store.database import open_store

HOSTILE = Path(__file__).parents[1] / "fixtures" / "hostile"
EXPECTED: dict[str, str] = load_yaml((HOSTILE / "expected.yaml").read_text(), "expected").data
FORM = str(files("processes").joinpath("forms", "notification_example.yaml"))
IMPORT_ON = {"s2s": "2024-11-04", "out-of-school": "2024-11-04"}
IMPORT_ROLE = {"roll-return": "school"}


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args))
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout + result.stderr


def snapshot(db_url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, for a before/after comparison."""
    store = open_store(db_url, upgrade=False)
    with store.engine.connect() as conn:
        out = {
            name: sorted(map(tuple, conn.execute(select(table)).all()), key=repr)
            for name, table in SQLModel.metadata.tables.items()
            if store.engine.dialect.has_table(conn, name)
        }
    store.dispose()
    return out


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A database holding the example notification's two cases (copied fresh per test)."""
    path = tmp_path_factory.mktemp("seed") / "cme.db"
    code, out = invoke(
        "case",
        "open",
        "--form",
        FORM,
        "--on",
        "2024-10-21",
        "--db",
        f"sqlite:///{path}",
        "--actor",
        "sona",
    )
    assert code == 0, out
    with sqlite3.connect(path) as conn:  # fold the WAL into the file, so a copy has it all
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return path


@pytest.fixture
def db_url(seeded: Path, tmp_path: Path) -> str:
    copy = tmp_path / "cme.db"
    copy.write_bytes(seeded.read_bytes())
    return f"sqlite:///{copy}"


def command(name: str, path: Path, db_url: str) -> list[str]:
    folder = name.split("/")[0]
    if folder == "processes":
        return ["process", "validate", str(path)]
    if folder == "calendars":
        return ["calendar", "show", "--year", "2024-25", "--calendar", str(path)]
    if folder == "forms":
        return ["case", "open", "--form", str(path), "--on", "2024-10-21", "--db", db_url]
    kind = next(
        k for k in ("out-of-school", "roll-return", "s2s", "enquiry") if path.name.startswith(k)
    )
    args = [
        "import",
        kind,
        str(path),
        "--db",
        db_url,
        "--role",
        IMPORT_ROLE.get(kind, "cme_officer"),
    ]
    return args + (["--on", IMPORT_ON[kind]] if kind in IMPORT_ON else [])


def test_every_corpus_file_has_an_expected_message() -> None:
    on_disk = {str(p.relative_to(HOSTILE)) for p in HOSTILE.glob("*/*") if p.is_file()}
    assert on_disk - set(EXPECTED) == {"csv/out-of-school-formula.csv"}
    assert set(EXPECTED) <= on_disk


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_hostile_file_is_refused_clearly_and_writes_nothing(name: str, db_url: str) -> None:
    before = snapshot(db_url)
    code, out = invoke(*command(name, HOSTILE / name, db_url))
    assert code != 0, out
    assert EXPECTED[name] in out, out
    assert "Traceback" not in out
    assert snapshot(db_url) == before
    assert not Path("/tmp/cme-pwned").exists(), "a guard reached Python"


def test_huge_documents_are_refused_unread(tmp_path: Path, db_url: str) -> None:
    process = tmp_path / "huge.yaml"
    process.write_text("kind: process\nnotes:\n" + "  - padding padding padding\n" * 60_000)
    code, out = invoke("process", "validate", str(process))
    assert code == 1
    assert "over the 1,000,000 read as YAML: refused unread" in out
    form = tmp_path / "huge.json"
    form.write_text(json.dumps({"form": "cme_notification", "padding": ["x" * 100] * 20_000}))
    before = snapshot(db_url)
    code, out = invoke("case", "open", "--form", str(form), "--on", "2024-10-21", "--db", db_url)
    assert code == 1
    assert "too long for a notification form" in out
    assert snapshot(db_url) == before


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["case", "note", "CME-000001", "x", "--on", "2024-02-30"], "'2024-02-30' is not a date"),
        (["case", "note", "CME-000001", "x", "--on", "21/10/2024"], "write it as YYYY-MM-DD"),
        (["case", "note", "CME-000001", "x", "--on", "2024-10-18"], "cannot take effect earlier"),
        (
            ["case", "fact", "CME-000001", "crime_suspected", "perhaps", "--on", "2024-10-22"],
            "crime_suspected is yes/no",
        ),
        (["case", "note", "CME-999999", "x", "--on", "2024-10-22"], "no case with id"),
        (["calendar", "school-age", "--dob", "2015-02-29"], "is not a date"),
    ],
)
def test_bad_dates_and_values_on_the_command_line(
    args: list[str], message: str, db_url: str
) -> None:
    before = snapshot(db_url)
    if args[0] == "case":
        args = [*args, "--db", db_url]
    code, out = invoke(*args)
    assert code != 0
    assert message in out
    assert snapshot(db_url) == before


def test_formulas_in_imported_fields_come_out_of_reports_inert(db_url: str, tmp_path: Path) -> None:
    code, out = invoke(
        "import",
        "out-of-school",
        str(HOSTILE / "csv/out-of-school-formula.csv"),
        "--on",
        "2024-11-04",
        "--db",
        db_url,
    )
    assert code == 0, out
    code, text = invoke(
        "report", "register", "--format", "csv", "--on", "2024-11-04", "--db", db_url
    )
    assert code == 0, text
    cells = [c for row in csv.reader(io.StringIO(text)) for c in row]
    assert any("HYPERLINK" in c for c in cells), "the imported name is in the register"
    dangerous = [c for c in cells if c[:1] in ("=", "+", "-", "@")]
    assert dangerous == [], dangerous
    assert '\'=HYPERLINK("http://evil.example/x","Click for details")' in cells
    xlsx = tmp_path / "register.xlsx"
    code, out = invoke(
        "report",
        "register",
        "--format",
        "xlsx",
        "--on",
        "2024-11-04",
        "--output",
        str(xlsx),
        "--db",
        db_url,
    )
    assert code == 0, out
    from openpyxl import load_workbook

    values = [c for row in load_workbook(xlsx).active.iter_rows() for c in row]
    assert not [c.coordinate for c in values if c.data_type == "f"], "a cell is a formula"
    assert any(str(c.value).startswith("'=HYPERLINK") for c in values)


@pytest.mark.parametrize(
    ("fact", "value", "message"),
    [
        ("destination_la", "Lee\x00ds", "contains a control character"),
        ("destination_la", "Leeds\x1b[2J", "contains a control character"),
        ("crime_suspected", "\x00", "is yes/no"),
    ],
)
def test_control_characters_never_reach_the_database(
    service, example_form, fact: str, value: str, message: str
) -> None:
    import datetime as dt

    from engine.cases.service import Actor
    from engine.errors import InputError
    from tests.conftest import RECORDED_AT

    officer = Actor("sona", "cme_officer")
    (case_id, _) = service.open_case(
        example_form,
        on=dt.date(2024, 10, 21),
        at=RECORDED_AT,
        actor=officer,
        # The seeded database holds these children already (one child, one open case).
        override_reason="a second case for the test's own commands",
    )
    with pytest.raises(InputError, match=message):
        service.set_fact(
            case_id, fact, value, on=dt.date(2024, 10, 22), at=RECORDED_AT, actor=officer
        )
    assert service.get(case_id).seq == 1


def test_a_json_form_with_a_nul_in_a_name_is_refused(tmp_path: Path, db_url: str) -> None:
    form = load_yaml(Path(FORM).read_text(), "form").data
    form["children"][0]["full_name"] = "Ana\u0000Silva"
    path = tmp_path / "nul.json"
    path.write_text(json.dumps(form, default=str))
    before = snapshot(db_url)
    code, out = invoke("case", "open", "--form", str(path), "--on", "2024-10-21", "--db", db_url)
    assert code == 1
    assert "children.0.full_name: contains a control character" in out
    assert snapshot(db_url) == before


def test_a_quoted_nul_escape_does_not_crash_the_loader(tmp_path: Path) -> None:
    # Found by fuzz/fuzz_loader.py: the value "\0" reached PyYAML's reader outside the
    # loader's error handling and escaped as a ReaderError traceback.
    path = tmp_path / "nul.yaml"
    path.write_text('kind: process\nid: nul\ntitle: "Bad\\0title"\n')
    code, out = invoke("process", "validate", str(path))
    assert code == 1
    assert "missing required key" in out
    assert "Traceback" not in out
