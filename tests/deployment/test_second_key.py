"""The second-key accident (issue 17): run from another folder against the same database, no
command makes a new master key; each refuses, naming the key the database expects and where it
looked, and writes nothing."""

from __future__ import annotations

import os
import subprocess
import sys
from importlib.resources import files
from pathlib import Path

from sqlalchemy import func, select

from engine.protection.crypto import MasterKey
from engine.protection.masterkeys import read_master_key_file
from engine.store.database import open_store
from engine.store.tables import case_key_table, event_table

ROOT = Path(__file__).resolve().parents[2]
FORM = str(files("processes").joinpath("forms", "notification_example.yaml"))


def cme(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """`cme` in a fresh process, with no test master key in its environment."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("CME_")}
    environment["CME_ACTOR"] = "jo.admin"  # every command names who runs it
    environment.update(env, PYTHONPATH=str(ROOT))
    return subprocess.run(
        [sys.executable, "-c", "from engine.cli import main; main()", *args],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def _counts(url: str) -> tuple[int, int]:
    store = open_store(url, upgrade=False)
    with store.read() as conn:
        counts = (
            conn.execute(select(func.count()).select_from(event_table)).scalar_one(),
            conn.execute(select(func.count()).select_from(case_key_table)).scalar_one(),
        )
    store.dispose()
    return counts


def test_another_folder_with_the_same_database_makes_no_second_key(tmp_path: Path) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir()
    second.mkdir()
    (tmp_path / "data").mkdir()
    url = f"sqlite:///{tmp_path / 'data' / 'cme.db'}"
    # The old engine's way: the key in .cme/ of the folder the first command ran in.
    key = MasterKey.generate()
    (first / ".cme").mkdir()
    (first / ".cme" / "master.key").write_text(key.text() + "\n", encoding="ascii")
    opened = cme(
        "case",
        "open",
        "--form",
        FORM,
        "--on",
        "2024-10-21",
        "--db",
        url,
        cwd=first,
        CME_MASTER_KEY_FILE=str(first / ".cme" / "master.key"),
    )
    assert opened.returncode == 0, opened.stderr
    before = _counts(url)

    for args in (
        ("case", "show", "CME-000001", "--on", "2024-10-21"),
        ("case", "open", "--form", FORM, "--on", "2024-10-22"),
        ("case", "list"),
        ("due", "--on", "2024-10-22"),
    ):
        refused = cme(*args, "--db", url, cwd=second)
        assert refused.returncode != 0, args
        assert f"wrapped by master key {key.id}" in refused.stderr, refused.stderr
        assert f"{tmp_path / 'data' / 'master.key'} (no such file)" in refused.stderr
        assert "Nothing was written and no key was made" in refused.stderr
        assert _counts(url) == before, "nothing written"
        assert not list(second.rglob("*.key")), "no key in the working directory"
        assert not (tmp_path / "data" / "master.key").exists(), "nor beside the database"

    # With the key named, the same command works from anywhere.
    shown = cme(
        "case",
        "show",
        "CME-000001",
        "--on",
        "2024-10-21",
        "--db",
        url,
        cwd=second,
        CME_MASTER_KEY_FILE=str(first / ".cme" / "master.key"),
    )
    assert shown.returncode == 0, shown.stderr


def test_a_new_database_gets_its_development_key_beside_it(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "work").mkdir()
    url = f"sqlite:///{tmp_path / 'data' / 'cme.db'}"
    opened = cme(
        "case", "open", "--form", FORM, "--on", "2024-10-21", "--db", url, cwd=tmp_path / "work"
    )
    assert opened.returncode == 0, opened.stderr
    dev = tmp_path / "data" / "master.key"
    assert f"made a development master key at {dev}" in opened.stderr
    assert not (tmp_path / "work" / ".cme").exists()
    store = open_store(url, upgrade=False)
    with store.read() as conn:
        ids = {r[0] for r in conn.execute(select(case_key_table.c.master_key_id))}
    store.dispose()
    assert ids == {read_master_key_file(dev).id}
