"""`cme case open` refusing a child with an open case (`--link`, `--override-duplicate --reason`),
`cme case find`, `cme case assign` and `cme case list --mine`, as an officer types them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner, Result

from engine.cli import cli


@pytest.fixture
def db(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'cme.db'}"


def cme(*args: str, actor: str = "sona", role: str = "cme_officer") -> Result:
    return CliRunner().invoke(cli, list(args), env={"CME_ACTOR": actor, "CME_ROLE": role})


def ok(*args: str, **who: str) -> str:
    result = cme(*args, **who)
    assert result.exit_code == 0, result.output
    return result.output


def a_form(tmp_path: Path, name: str, **child: Any) -> Path:
    data = yaml.safe_load(ok("case", "form", "--example"))
    data["children"] = [{**data["children"][0], **child}]
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data))
    return path


def test_a_second_form_for_the_child_is_refused_then_linked(tmp_path: Path, db: str) -> None:
    form = a_form(tmp_path, "ana.yaml")
    assert ok("case", "open", "--form", str(form), "--on", "2024-10-21", "--db", db).split() == [
        "CME-000001"
    ]
    again = cme("case", "open", "--form", str(form), "--on", "2024-10-22", "--db", db, "--json")
    assert again.exit_code != 0
    assert "Traceback" not in again.output
    error = json.loads(again.output)
    assert error["error"] == "duplicate_child"
    assert error["matches"] == {"Ana Silva": [{"case_id": "CME-000001", "how": "the same UPN"}]}
    out = ok(
        "case", "open", "--form", str(form), "--on", "2024-10-22", "--db", db,
        "--link", "CME-000001",
    )  # fmt: skip
    assert out.startswith("CME-000001: the notification is linked")
    refused = cme(
        "case", "open", "--form", str(form), "--on", "2024-10-22", "--db", db,
        "--override-duplicate",
    )  # fmt: skip
    assert refused.exit_code != 0
    assert "needs --reason" in refused.output
    out = ok(
        "case", "open", "--form", str(form), "--on", "2024-10-22", "--db", db,
        "--override-duplicate", "--reason", "a different child: the UPN was mistyped",
    )  # fmt: skip
    assert out.split() == ["CME-000002"]


def test_find_assign_and_my_cases(tmp_path: Path, db: str) -> None:
    jose = a_form(tmp_path, "jose.yaml", full_name="José Núñez", upn=None)
    ana = a_form(tmp_path, "ana.yaml")
    ok("case", "open", "--form", str(jose), "--on", "2024-10-21", "--db", db)
    ok("case", "open", "--form", str(ana), "--on", "2024-10-21", "--db", db, actor="kai")
    out = ok("case", "find", "nunez", "--db", db)
    assert "CME-000001" in out
    assert "José Núñez" in out
    assert "CME-000002" not in out
    found = json.loads(ok("case", "find", "ANA", "--json", "--db", db))
    assert [c["id"] for c in found["cases"]] == ["CME-000002"]
    assert (
        json.loads(ok("case", "find", "ana", "--officer", "sona", "--json", "--db", db))["cases"]
        == []
    )
    assert "no case found" in ok("case", "find", "zed", "--db", db)
    mine = json.loads(ok("case", "list", "--mine", "--json", "--db", db))
    assert [r["id"] for r in mine] == ["CME-000001"]
    out = ok("case", "assign", "CME-000002", "sona", "--on", "2024-10-22", "--db", db, actor="kai")
    assert "CME-000002: assigned to sona" in out
    mine = json.loads(ok("case", "list", "--mine", "--json", "--db", db))
    assert [r["id"] for r in mine] == ["CME-000001", "CME-000002"]
    unknown = cme("case", "assign", "CME-000099", "sona", "--on", "2024-10-22", "--db", db)
    assert unknown.exit_code != 0
    assert "CME-000099" in unknown.output
    assert "Traceback" not in unknown.output


def test_a_case_opened_in_error_is_closed_with_a_reason(tmp_path: Path, db: str) -> None:
    form = a_form(tmp_path, "ana.yaml")
    ok("case", "open", "--form", str(form), "--on", "2024-10-21", "--db", db)
    fire = ("case", "fire", "CME-000001", "close_opened_in_error", "--on", "2024-10-22")
    refused = cme(*fire, "--db", db)
    assert refused.exit_code != 0
    assert "needs a reason" in refused.output
    assert "Traceback" not in refused.output
    out = ok(*fire, "--note", "the school sent the form for the wrong pupil", "--db", db)
    assert "closed_opened_in_error" in out
    shown = json.loads(ok("case", "show", "CME-000001", "--json", "--db", db))
    assert shown["state"] == "closed_opened_in_error"
    # Closed, it no longer stands in the way of the child's own case.
    assert ok("case", "open", "--form", str(form), "--on", "2024-10-22", "--db", db).split() == [
        "CME-000002"
    ]
