"""`cme admin backup` and `backup-check`: a backup holds what the WAL holds, is private, never
overwrites, and a damaged or foreign file is refused in words, without a traceback."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import stat
import subprocess
import sys
from collections.abc import Iterator
from contextlib import closing
from importlib.resources import files
from pathlib import Path

import pytest
from click.testing import CliRunner

from engine.cli import cli

FORM = str(files("processes").joinpath("forms", "notification_example.yaml"))
AGAIN = ("--override-duplicate", "--reason", "load: the same form again")
"""Opening the example form once more (one child, one open case, unless the officer says why)."""


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    assert "Traceback" not in result.output
    return result.exit_code, result.stdout, result.stderr


def case_rows(path: Path) -> list[tuple[object, ...]]:
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
        return conn.execute("SELECT * FROM cme_case ORDER BY id").fetchall()


@pytest.fixture
def live(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """A database whose every page sits in its WAL, its main file empty, as a busy deployment's
    can be: a connection held open (as a running scheduler's is) stops the checkpoint that
    closing the last connection would run."""
    built = tmp_path / "built.db"
    for n, day in enumerate(("2024-10-21", "2024-10-22", "2024-10-23")):
        again = AGAIN if n else ()
        assert (
            run("case", "open", "--form", FORM, "--on", day, "--db", f"sqlite:///{built}", *again)[
                0
            ]
            == 0
        )
    check = ["CME-000001", "contact_attempted_by_phone", "--on", "2024-10-22"]
    assert (
        run("case", "check", *check, "--outcome", "no answer", "--db", f"sqlite:///{built}")[0] == 0
    )
    path = tmp_path / "live" / "cme.db"
    path.parent.mkdir()
    keeper = sqlite3.connect(path)
    keeper.execute("PRAGMA journal_mode=WAL")
    keeper.execute("PRAGMA wal_autocheckpoint=0")
    with closing(sqlite3.connect(built)) as source:
        source.backup(keeper)  # written through the WAL, which nothing checkpoints
    keeper.execute("SELECT count(*) FROM cme_case").fetchone()
    yield path, f"sqlite:///{path}"
    keeper.close()


def test_a_backup_holds_what_the_wal_holds_and_restores_the_same_cases(
    live: tuple[Path, str], tmp_path: Path
) -> None:
    path, url = live
    wal = path.with_name("cme.db-wal")
    assert path.stat().st_size <= 4096, "the main file holds (almost) nothing"
    assert wal.stat().st_size > 100_000, "the data sits in the WAL"
    naive = tmp_path / "naive.db"
    naive.write_bytes(path.read_bytes())
    with sqlite3.connect(naive) as conn:  # copying cme.db alone: no cases at all
        assert "cme_case" not in {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}

    code, out, err = run("admin", "backup", str(tmp_path / "b.db"), "--db", url, "--json")
    assert code == 0, err
    taken = json.loads(out)
    backup = Path(taken["path"])
    assert (taken["cases"], backup) == (6, tmp_path / "b.db")
    assert stat.S_IMODE(backup.stat().st_mode) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(("b.db", ".b.db"))) == [
        "b.db"
    ], "one self-contained file: no WAL, no partial file left"

    restored = tmp_path / "restored" / "cme.db"
    restored.parent.mkdir()
    restored.write_bytes(backup.read_bytes())
    assert case_rows(restored) == case_rows(path)
    code, out, _ = run(
        "case",
        "show",
        "CME-000001",
        "--on",
        "2024-10-23",
        "--json",
        "--db",
        f"sqlite:///{restored}",
    )
    assert code == 0
    assert json.loads(out)["id"] == "CME-000001"


def test_backup_check_verifies_and_reports_what_the_backup_holds(
    live: tuple[Path, str], tmp_path: Path
) -> None:
    _, url = live
    assert run("admin", "backup", str(tmp_path), "--db", url)[0] == 0
    (backup,) = tmp_path.glob("cme-*.db")
    before = backup.read_bytes()
    code, out, err = run("admin", "backup-check", str(backup), "--json")
    assert code == 0, err
    report = json.loads(out)
    assert report["ok"]
    assert report["cases"] == 6
    assert report["events"] >= 7
    assert {r["process"] for r in report["cases_by_state"]} == {"untraceable_cme"}
    assert sum(r["cases"] for r in report["cases_by_state"]) == 6
    assert report["last_recorded_at"]
    assert report["last_effective_date"] == "2024-10-23"
    assert report["schema_steps"] == report["schema_steps_known"]
    assert any(p["process"] == "untraceable_cme" for p in report["process_versions"])
    assert report["calendars"]
    assert report["calendars"][0]["name"]
    assert [k["case_keys"] for k in report["master_keys"]] == [6]
    assert "ledger_entries" in report
    assert backup.read_bytes() == before, "checking a backup changes nothing in it"
    assert sorted(p.name for p in tmp_path.glob("cme-*")) == [backup.name]

    code, out, _ = run("admin", "backup-check", str(backup))
    assert code == 0
    assert "verified: every history of the 6 cases is intact" in out
    assert "master keys needed" in out


def test_backups_into_a_folder_in_the_same_second_get_new_names(
    live: tuple[Path, str], tmp_path: Path
) -> None:
    from engine.deployment.backup import take_backup

    _, url = live
    folder = tmp_path / "backups"
    folder.mkdir()
    at = dt.datetime(2026, 12, 3, 2, 15, tzinfo=dt.UTC)
    names = [take_backup(url, folder, at=at).path.name for _ in range(3)]
    assert names == [
        "cme-20261203T021500Z.db",
        "cme-20261203T021500Z-2.db",
        "cme-20261203T021500Z-3.db",
    ]


def test_backup_never_overwrites(live: tuple[Path, str], tmp_path: Path) -> None:
    _, url = live
    dest = tmp_path / "b.db"
    dest.write_text("precious")
    code, _, err = run("admin", "backup", str(dest), "--db", url)
    assert code != 0
    assert "already exists" in err
    assert "never overwrites" in err
    assert dest.read_text() == "precious"


def test_a_tampered_backup_fails_its_check_naming_the_event(
    live: tuple[Path, str], tmp_path: Path
) -> None:
    _, url = live
    assert run("admin", "backup", str(tmp_path / "b.db"), "--db", url)[0] == 0
    with sqlite3.connect(tmp_path / "b.db") as conn:
        conn.execute(
            "UPDATE case_event SET actor = 'someone else' WHERE case_id = 'CME-000001' AND seq = 2"
        )
    code, out, _ = run("admin", "backup-check", str(tmp_path / "b.db"))
    assert code == 4
    assert "NOT VERIFIED" in out
    assert "case CME-000001 event 2" in out


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (b"not a database at all, just text\n" * 40, "is not an SQLite database"),
        (b"", "is not an SQLite database"),
        (b"SQLite format 3\x00" + b"\xff" * 4000, "damaged"),
    ],
)
def test_a_file_that_is_no_database_is_refused_in_words(
    tmp_path: Path, content: bytes, says: str
) -> None:
    bad = tmp_path / "bad.db"
    bad.write_bytes(content)
    code, out, err = run("admin", "backup-check", str(bad))
    assert code == 1, err
    assert says in err
    assert err.startswith("error: ")
    assert not out


def test_a_truncated_backup_is_refused_as_damaged(live: tuple[Path, str], tmp_path: Path) -> None:
    _, url = live
    assert run("admin", "backup", str(tmp_path / "b.db"), "--db", url)[0] == 0
    data = (tmp_path / "b.db").read_bytes()
    (tmp_path / "b.db").write_bytes(data[: len(data) // 2])
    code, _, err = run("admin", "backup-check", str(tmp_path / "b.db"))
    assert code == 1, err
    assert "damaged" in err


def test_an_sqlite_file_of_another_program_is_not_a_cme_backup(tmp_path: Path) -> None:
    other = tmp_path / "other.db"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE t (x)")
    code, _, err = run("admin", "backup-check", str(other))
    assert code == 1
    assert "not a cme one" in err
    code, _, err = run("admin", "backup", str(tmp_path / "b.db"), "--db", f"sqlite:///{other}")
    assert code == 1
    assert "not a cme one" in err
    assert not (tmp_path / "b.db").exists()


def test_a_folder_that_is_not_there_is_refused(live: tuple[Path, str], tmp_path: Path) -> None:
    _, url = live
    code, _, err = run("admin", "backup", f"{tmp_path}/backups/", "--db", url)
    assert code == 1
    assert f"no folder {tmp_path}/backups/" in err
    assert not (tmp_path / "backups").exists()
    code, _, err = run("admin", "backup", f"{tmp_path}/none/b.db", "--db", url)
    assert code == 1
    assert f"no folder {tmp_path}/none" in err


def test_backing_up_a_missing_database_creates_nothing(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "cme.db"
    code, _, err = run("admin", "backup", str(tmp_path / "b.db"), "--db", f"sqlite:///{missing}")
    assert code == 1
    assert "no database at" in err
    assert not missing.exists()
    assert not (tmp_path / "b.db").exists()


def test_postgresql_is_backed_up_with_pg_dump(tmp_path: Path) -> None:
    code, out, err = run(
        "admin", "backup", str(tmp_path / "b.db"), "--db", "postgresql://cme:secret@db.example/cme"
    )
    assert code != 0
    assert not out
    assert "pg_dump --format=custom" in err
    assert "pg_restore" in err
    assert "secret" not in err, "the password is never printed"
    assert not (tmp_path / "b.db").exists()


def test_backups_taken_while_cases_are_being_opened_each_verify(tmp_path: Path) -> None:
    folder = tmp_path / "odd ?#name"
    folder.mkdir()
    url = f"sqlite:///{folder / 'cme.db'}"
    assert run("case", "open", "--form", FORM, "--on", "2024-10-21", "--db", url)[0] == 0
    cme = Path(sys.executable).parent / "cme"
    writer = subprocess.Popen(
        [
            "bash",
            "-c",
            f'for i in 1 2 3 4; do "{cme}" case open --form "{FORM}" '
            f'--on 2024-10-22 --db "{url}" --override-duplicate --reason "load: again" '
            ">/dev/null || exit 1; done",
        ],
    )
    counts: list[int] = []

    def backup_and_check() -> None:
        code, out, err = run("admin", "backup", str(tmp_path), "--db", url, "--json")
        assert code == 0, err
        code, out, err = run("admin", "backup-check", json.loads(out)["path"], "--json")
        assert code == 0, err
        counts.append(json.loads(out)["cases"])

    try:
        while writer.poll() is None:
            backup_and_check()
    finally:
        writer.wait(timeout=600)
    assert writer.returncode == 0
    backup_and_check()
    assert counts == sorted(counts), "each backup holds at least what the one before held"
    assert counts[0] >= 2
    assert counts[-1] == 10


def test_a_backup_from_an_older_release_is_checked_as_upgraded_and_left_unchanged() -> None:
    release = Path(__file__).parents[1] / "fixtures" / "releases" / "0.1.0" / "demo.db"
    before = release.read_bytes()
    code, out, err = run("admin", "backup-check", str(release), "--json")
    assert code == 0, err
    report = json.loads(out)
    assert report["cases"] == 59
    assert report["schema_steps"] < report["schema_steps_known"]
    assert "made by an older cme" in report["notes"][0]
    assert release.read_bytes() == before


def test_a_backup_from_a_newer_release_is_read_as_it_is(
    live: tuple[Path, str], tmp_path: Path
) -> None:
    _, url = live
    assert run("admin", "backup", str(tmp_path / "b.db"), "--db", url)[0] == 0
    with sqlite3.connect(tmp_path / "b.db") as conn:
        conn.execute("INSERT INTO schema_version (step, name) VALUES (99, 'from the future')")
    code, out, err = run("admin", "backup-check", str(tmp_path / "b.db"))
    assert code == 0, err
    assert "note: made by a newer cme (schema step 99" in out


def test_backup_takes_the_database_the_configuration_names(
    live: tuple[Path, str], tmp_path: Path
) -> None:
    path, _ = live
    config = tmp_path / "elsewhere" / "cme.toml"
    config.parent.mkdir()
    config.write_text(f'[database]\nurl = "sqlite:///{path}"\n')
    code, out, err = run(
        "--config", str(config), "admin", "backup", str(tmp_path / "b.db"), "--json"
    )
    assert code == 0, err
    assert json.loads(out)["cases"] == 6
