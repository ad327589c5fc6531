"""`cme init DIR`: a working deployment from an empty folder, refused over an existing one."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from importlib.resources import files
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from engine.deployment.config import load_config
from engine.protection.masterkeys import read_master_key_file
from engine.store.database import open_store
from engine.store.tables import case_key_table, process_version_table

ROOT = Path(__file__).resolve().parents[2]
FORM = str(files("processes").joinpath("forms", "notification_example.yaml"))


def cme(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """Run `cme` as a person would: a fresh process, no test master key in the environment."""
    environment = {
        k: v for k, v in os.environ.items() if not k.startswith("CME_") or k == "CME_TEST_PG_URL"
    }
    environment["CME_ACTOR"] = "jo.admin"  # every command names who runs it
    environment.update(env)
    environment["PYTHONPATH"] = str(ROOT)
    return subprocess.run(
        [sys.executable, "-c", "from engine.cli import main; main()", *args],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def _files(folder: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


def test_init_makes_a_working_deployment_and_says_what_is_left(tmp_path: Path) -> None:
    here = tmp_path / "work"
    here.mkdir()
    made = cme("init", "deployment", "--actor", "ines", cwd=here)
    assert made.returncode == 0, made.stderr
    folder = here / "deployment"
    assert (
        "left to fill in, in cme.toml: local_authority.name, local_authority.code, "
        "smtp.host, smtp.from" in made.stdout
    )
    keys = folder / "keys"
    assert stat.S_IMODE(keys.stat().st_mode) == 0o700
    for private in ("master.key", "checkpoint.key", "session.secret"):
        assert stat.S_IMODE((keys / private).stat().st_mode) == 0o600
    assert stat.S_IMODE((folder / "cme.db").stat().st_mode) == 0o600, "sealed personal data"
    config = load_config(folder / "cme.toml")
    assert config.database_url == f"sqlite:///{folder}/cme.db"
    assert config.keys.master_key_file == keys / "master.key"
    assert config.keys.checkpoint_signing_key_file == keys / "checkpoint.key"
    assert config.web.session_secret_file == keys / "session.secret"
    assert "session.secret  (signs the web service's session cookies" in made.stdout
    assert len(config.web.session_secret() or "") >= 48, "the session secret is made, not blank"
    pub = (keys / "checkpoint.key.pub").read_text(encoding="utf-8").strip()
    assert config.keys.checkpoint_public_key == pub
    text = (folder / "cme.toml").read_text(encoding="utf-8")
    assert "# The master key wrapping every case's data key" in text
    master = read_master_key_file(keys / "master.key")
    assert f"master key {master.id}" in made.stdout
    store = open_store(config.database_url)
    with store.read() as conn:
        published = conn.execute(select(func.count()).select_from(process_version_table))
        assert published.scalar_one() >= 4
    store.dispose()

    # Open a case in it, from another folder, with the database and key it names.
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    opened = cme(
        "case",
        "open",
        "--form",
        FORM,
        "--on",
        "2024-10-21",
        "--db",
        config.database_url,
        cwd=elsewhere,
        CME_MASTER_KEY_FILE=str(keys / "master.key"),
    )
    assert opened.returncode == 0, opened.stderr
    shown = cme(
        "case",
        "show",
        "CME-000001",
        "--json",
        "--db",
        config.database_url,
        cwd=elsewhere,
        CME_MASTER_KEY_FILE=str(keys / "master.key"),
    )
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["id"] == "CME-000001"
    store = open_store(config.database_url)
    with store.read() as conn:
        ids = {r[0] for r in conn.execute(select(case_key_table.c.master_key_id))}
    store.dispose()
    assert ids == {master.id}
    assert not list(elsewhere.rglob("*.key")), "no key was made where cme ran"


def test_init_refuses_a_folder_that_holds_a_deployment(tmp_path: Path) -> None:
    assert cme("init", "d", cwd=tmp_path).returncode == 0
    before = _files(tmp_path / "d")
    again = cme("init", "d", cwd=tmp_path)
    assert again.returncode != 0
    assert "already holds a deployment (cme.toml, cme.db, keys found)" in again.stderr
    assert _files(tmp_path / "d") == before
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "cme.toml").write_text("", encoding="utf-8")
    assert (
        "already holds a deployment (cme.toml found)" in cme("init", "other", cwd=tmp_path).stderr
    )


def test_init_that_fails_part_way_leaves_nothing_behind(tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "README").write_text("keep me", encoding="utf-8")
    failed = cme("init", "d", "--role", "cme_officer", cwd=tmp_path)
    assert failed.returncode != 0
    assert "may not" in failed.stderr
    assert _files(tmp_path / "d") == {"README": b"keep me"}
    assert sorted(p.name for p in (tmp_path / "d").iterdir()) == ["README"]


def test_init_json_report(tmp_path: Path) -> None:
    made = cme("init", "d", "--json", cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    report: dict[str, Any] = json.loads(made.stdout)
    assert report["database_url"] == f"sqlite:///{tmp_path}/d/cme.db"
    assert {"process": "untraceable_cme", "version": 2} in report["published"]
    assert "smtp.host" in report["missing"]


def test_commands_find_the_deployment_by_config_environment_or_beside_the_database(
    tmp_path: Path,
) -> None:
    assert cme("init", "d", cwd=tmp_path).returncode == 0
    folder = tmp_path / "d"
    master = read_master_key_file(folder / "keys" / "master.key")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    by_option = cme(
        "--config",
        str(folder / "cme.toml"),
        "case",
        "open",
        "--form",
        FORM,
        "--on",
        "2024-10-21",
        cwd=elsewhere,
    )
    assert by_option.returncode == 0, by_option.stderr
    by_environment = cme(
        "case", "show", "CME-000001", "--json", cwd=elsewhere, CME_CONFIG=str(folder / "cme.toml")
    )
    assert by_environment.returncode == 0, by_environment.stderr
    beside = cme(
        "case",
        "show",
        "CME-000002",
        "--json",
        "--db",
        f"sqlite:///{folder / 'cme.db'}",
        cwd=elsewhere,
    )
    assert beside.returncode == 0, beside.stderr
    in_folder = cme("case", "list", "--json", cwd=folder)
    assert in_folder.returncode == 0, in_folder.stderr
    assert {c["id"] for c in json.loads(in_folder.stdout)} >= {"CME-000001", "CME-000002"}
    store = open_store(f"sqlite:///{folder / 'cme.db'}")
    with store.read() as conn:
        ids = {r[0] for r in conn.execute(select(case_key_table.c.master_key_id))}
    store.dispose()
    assert ids == {master.id}
    assert not list(elsewhere.rglob("*")), "nothing made where cme ran"
    bad = cme("--config", str(tmp_path / "missing.toml"), "case", "list", cwd=elsewhere)
    assert bad.returncode != 0
    assert "--config names" in bad.stderr


def test_a_new_case_takes_the_calendar_the_configuration_names(tmp_path: Path) -> None:
    assert cme("init", "d", cwd=tmp_path).returncode == 0
    config = tmp_path / "d" / "cme.toml"
    text = config.read_text(encoding="utf-8")
    assert '# default = "london"' in text
    config.write_text(text.replace('# default = "london"', 'default = "london"'), encoding="utf-8")
    opened = cme(
        "case", "open", "--form", FORM, "--on", "2026-12-03", cwd=tmp_path, CME_CONFIG=str(config)
    )
    assert opened.returncode == 0, opened.stderr
    shown = cme("case", "show", "CME-000001", "--json", cwd=tmp_path, CME_CONFIG=str(config))
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["calendar"] == "london"


def test_publishing_goes_to_the_configured_database(tmp_path: Path) -> None:
    assert cme("init", "d", cwd=tmp_path).returncode == 0
    (tmp_path / "work").mkdir()
    again = cme(
        "process",
        "publish",
        "untraceable_cme",
        "--version",
        "2",
        cwd=tmp_path / "work",
        CME_CONFIG=str(tmp_path / "d" / "cme.toml"),
    )
    assert again.returncode == 0, again.stderr
    assert "already stored, unchanged: untraceable_cme version 2" in again.stdout
    assert not list((tmp_path / "work").iterdir()), "no development database where cme ran"
