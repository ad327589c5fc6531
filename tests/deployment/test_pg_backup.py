"""PostgreSQL backups as docs/deploy.md describes them: `cme admin backup` points to pg_dump; a
dump restored with pg_restore into an empty database verifies and holds the same cases."""

from __future__ import annotations

import json
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from importlib.resources import files
from pathlib import Path

import pytest
from click.testing import CliRunner

from engine.cli import cli
from tests.conftest import PG_ADMIN_URL

FORM = str(files("processes").joinpath("forms", "notification_example.yaml"))
pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(
        shutil.which("pg_dump") is None or shutil.which("pg_restore") is None,
        reason="pg_dump and pg_restore are not installed here (apt-get install "
        "postgresql-client provides them)",
    ),
]


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def libpq(url: str) -> str:
    """The URL as PostgreSQL's own tools write it."""
    return url.replace("postgresql+psycopg://", "postgresql://")


@pytest.fixture
def empty_database() -> Iterator[str]:
    """A second, empty database to restore into (as `createdb` makes one)."""
    import psycopg

    name = f"cme_restored_{uuid.uuid4().hex[:12]}"
    admin = libpq(PG_ADMIN_URL)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_a_pg_dump_restored_into_an_empty_database_verifies(
    pg_url: str, empty_database: str, tmp_path: Path
) -> None:
    assert run("case", "open", "--form", FORM, "--on", "2024-10-21", "--db", pg_url)[0] == 0
    # One child, one open case: the second opening of the same form says why it is deliberate.
    again = ("--override-duplicate", "--reason", "backup test: the same form again")
    assert run("case", "open", "--form", FORM, "--on", "2024-10-22", "--db", pg_url, *again)[0] == 0
    code, out, err = run("admin", "backup", str(tmp_path / "b.db"), "--db", libpq(pg_url))
    assert code != 0
    assert "pg_dump" in err

    dump = tmp_path / "cme.dump"
    subprocess.run(
        ["pg_dump", "--format=custom", f"--file={dump}", libpq(pg_url)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    subprocess.run(
        ["pg_restore", "--no-owner", f"--dbname={libpq(empty_database)}", str(dump)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    code, out, err = run(
        "audit", "verify", "--all", "--role", "auditor", "--json", "--db", empty_database
    )
    assert code == 0, err
    restored = json.loads(out)
    assert restored["ok"]
    assert restored["cases"] == 4
    listed = json.loads(run("case", "list", "--json", "--db", empty_database)[1])
    original = json.loads(run("case", "list", "--json", "--db", pg_url)[1])
    assert listed == original
