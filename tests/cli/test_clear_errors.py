"""Clear errors, exit non-zero, no traceback (issue 15): a file that is not a database or is
damaged, a database cme does not run on, an output folder missing or unwritable; and documents
holding personal data written readable by their owner only."""

from __future__ import annotations

import json
import os
import sqlite3
import stat
from importlib.resources import files
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from engine.cli import cli

FORM = str(files("processes").joinpath("forms", "notification_example.yaml"))


def cme(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(cli, list(args), env={"CME_ACTOR": "sona", **(env or {})})


def refused(*args: str, env: dict[str, str] | None = None) -> str:
    result = cme(*args, env=env)
    assert result.exit_code != 0, result.output
    assert isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    return result.output


def ok(*args: str, env: dict[str, str] | None = None) -> str:
    result = cme(*args, env=env)
    assert result.exit_code == 0, result.output
    return result.output


def damaged(path: Path) -> Path:
    """An SQLite file whose schema page is overwritten: the header is right, the rest is not."""
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE t (x)")
    data = bytearray(path.read_bytes())
    data[100:4000] = b"\xab" * 3900
    path.write_bytes(bytes(data))
    return path


@pytest.mark.parametrize(
    ("content", "said"),
    [
        (b"name,upn\nAna,H801200001001\n", "is not a cme database"),
        (os.urandom(512), "is not a cme database"),
        (None, "is damaged (database disk image is malformed)"),
    ],
)
@pytest.mark.parametrize(
    "command",
    [["case", "list"], ["case", "show", "CME-000001"], ["due"], ["audit", "verify", "--all"]],
)
def test_a_file_that_is_not_a_usable_database_is_refused_in_words(
    tmp_path: Path, content: bytes | None, said: str, command: list[str]
) -> None:
    path = tmp_path / "cme.db"
    if content is None:
        damaged(path)
    else:
        path.write_bytes(content)
    before = path.read_bytes()
    out = refused(*command, "--db", f"sqlite:///{path}", env={"CME_ROLE": "auditor"})
    assert said in out
    assert path.read_bytes() == before  # nothing written, not even a WAL switch
    assert not (tmp_path / "cme.db-wal").exists()


@pytest.mark.parametrize(
    ("url", "kind"),
    [
        ("mysql://cme:secret@db.example/cme", "mysql"),
        ("mysql+pymysql://cme@db.example/cme", "mysql"),
        ("postgresql+psycopg2://cme@db.example/cme", "postgresql through psycopg2"),
        ("oracle://cme@db.example/cme", "oracle"),
    ],
)
def test_a_database_cme_does_not_run_on_is_refused_naming_those_it_does(
    url: str, kind: str
) -> None:
    out = refused("case", "list", "--db", url)
    assert f"cme does not run on {kind}" in out
    assert "sqlite:///path/to/cme.db" in out
    assert "postgresql://user@host/dbname" in out
    assert "secret" not in out


def test_damage_met_after_opening_is_said_in_words(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sqlalchemy.exc import DatabaseError

    import engine.cases.views as views

    db = f"sqlite:///{tmp_path / 'cme.db'}"
    ok("case", "open", "--form", FORM, "--on", "2024-10-21", "--db", db)

    def malformed(*_: object, **__: object) -> None:
        raise DatabaseError("SELECT", {}, sqlite3.DatabaseError("database disk image is malformed"))

    monkeypatch.setattr(views, "list_cases", malformed)
    out = refused("case", "list", "--db", db)
    assert "the database is damaged (database disk image is malformed)" in out


@pytest.fixture
def with_letter(tmp_path: Path) -> str:
    db = f"sqlite:///{tmp_path / 'cme.db'}"
    ok("case", "open", "--form", FORM, "--on", "2024-10-21", "--db", db)
    ok("case", "fire", "CME-000001", "start_reasonable_checks", "--on", "2024-10-24", "--db", db)
    ok("outbox", "send", "--on", "2024-10-24", "--db", db)
    return db


def test_a_letter_to_a_missing_or_unwritable_folder_is_refused_in_words(
    tmp_path: Path, with_letter: str
) -> None:
    out = refused(
        "outbox", "document", "1", "-o", str(tmp_path / "nope" / "l.pdf"), "--db", with_letter
    )
    assert f"the folder {tmp_path / 'nope'} does not exist" in out
    out = refused("outbox", "document", "1", "-o", str(tmp_path), "--db", with_letter)
    assert "is a directory" in out
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    if os.access(locked, os.W_OK):  # root writes anywhere: nothing to show here
        return
    out = refused("outbox", "document", "1", "-o", str(locked / "l.pdf"), "--db", with_letter)
    assert "permission denied" in out


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_documents_holding_personal_data_are_written_0600(tmp_path: Path, with_letter: str) -> None:
    os.umask(0o022)
    letter = tmp_path / "letter.pdf"
    letter.write_bytes(b"old")
    os.chmod(letter, 0o644)  # an existing, world-readable file keeps none of its mode
    ok("outbox", "document", "1", "-o", str(letter), "--db", with_letter)
    assert letter.read_bytes().startswith(b"%PDF-")
    assert _mode(letter) == 0o600
    bundle = tmp_path / "export.json"
    ok(
        "audit",
        "export",
        "CME-000001",
        "-o",
        str(bundle),
        "--db",
        with_letter,
        env={"CME_ROLE": "auditor"},
    )
    assert json.loads(bundle.read_text())["case_id"] == "CME-000001"
    assert _mode(bundle) == 0o600
    register = tmp_path / "register.csv"
    ok(
        "report",
        "register",
        "--on",
        "2024-10-24",
        "--format",
        "csv",
        "--output",
        str(register),
        "--db",
        with_letter,
    )
    assert "Ana" in register.read_text()
    assert _mode(register) == 0o600
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".partial")] == []


def test_exports_reports_and_diagrams_to_a_missing_folder_are_refused(
    tmp_path: Path, with_letter: str
) -> None:
    gone = tmp_path / "gone"
    for args in (
        ["audit", "export", "CME-000001", "-o", str(gone / "e.json"), "--db", with_letter],
        [
            "report",
            "register",
            "--on",
            "2024-10-24",
            "--format",
            "csv",
            "--output",
            str(gone / "r.csv"),
            "--db",
            with_letter,
        ],
        ["process", "diagram", "untraceable_cme", "-o", str(gone / "d.mmd")],
    ):
        out = refused(*args, env={"CME_ROLE": "auditor"})
        assert "does not exist" in out, args
