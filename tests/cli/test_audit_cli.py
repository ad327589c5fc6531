"""`cme audit …` and `cme process diff/impact/publish/migrate` through click's runner: exit
codes, the text people read, and integrity failures named by case and event."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from engine.cases.service import CaseService
from engine.cli import cli
from engine.language.loader import load_process_file
from engine.language.registry import ProcessRegistry
from engine.store.database import open_store
from tests.conftest import RECORDED_AT
from tests.scenarios.helpers import LINE_MANAGER, OFFICER, PRIMARY_DOB, notification

VERSIONS = Path(__file__).parents[1] / "fixtures" / "versions"
V1, V2 = VERSIONS / "tracing_v1.yaml", VERSIONS / "tracing_v2.yaml"
MONDAY = dt.date(2024, 10, 21)
AS_AUDITOR = ("--role", "auditor", "--actor", "olu")


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "cme.db"


def cme(db: Path, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), env={"CME_DATABASE_URL": f"sqlite:///{db}"})
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def open_cases(db: Path, registry: ProcessRegistry, count: int = 2) -> list[str]:
    """Untraceable cases with five events each, through the service."""
    store = open_store(f"sqlite:///{db}")
    svc = CaseService(store, registry)
    ids = []
    for n in range(count):
        # Each case another child (one child, one open case): born a day apart.
        born = PRIMARY_DOB - dt.timedelta(days=n)
        (case_id,) = svc.open_case(
            notification(MONDAY, dob=born), on=MONDAY, at=RECORDED_AT, actor=OFFICER
        )
        svc.record_check(
            case_id,
            "core_information_checked",
            on=MONDAY,
            at=RECORDED_AT,
            actor=OFFICER,
            outcome="checked",
        )
        svc.record_check(
            case_id,
            "opened_on_cme_register",
            on=MONDAY,
            at=RECORDED_AT,
            actor=OFFICER,
            outcome="done",
        )
        svc.set_fact(case_id, "crime_suspected", False, on=MONDAY, at=RECORDED_AT, actor=OFFICER)
        svc.fire(
            case_id, "contact_established", on=dt.date(2024, 10, 22), at=RECORDED_AT, actor=OFFICER
        )
        ids.append(case_id)
    store.dispose()
    return ids


def raw(db: Path, statement: str, *params: Any) -> None:
    with sqlite3.connect(db) as conn:
        conn.execute(statement, params)


@pytest.mark.parametrize(
    "command", ["replay", "verify", "keygen", "checkpoint", "export", "access-log"]
)
def test_each_audit_help_ends_with_an_example(db: Path, command: str) -> None:
    code, out, _ = cme(db, "audit", command, "--help")
    assert code == 0
    body = out.split("Options:")[0].strip().splitlines()
    assert body[-2].strip() == "Example:"
    assert body[-1].strip().startswith(f"cme audit {command}")


@pytest.mark.parametrize("command", ["diff", "impact", "publish", "migrate"])
def test_each_version_command_help_ends_with_an_example(db: Path, command: str) -> None:
    code, out, _ = cme(db, "process", command, "--help")
    assert code == 0
    body = [line for line in out.split("Options:")[0].strip().splitlines() if line.strip()]
    example = next(i for i, line in enumerate(body) if line.strip() == "Example:")
    assert body[example + 1].strip().startswith(f"cme process {command}")


def test_replay_prints_the_timeline_and_records_the_read(
    db: Path, registry: ProcessRegistry
) -> None:
    (case_id, _) = open_cases(db, registry)
    code, out, _ = cme(db, "audit", "replay", case_id, *AS_AUDITOR)
    assert code == 0
    assert "#1  2024-10-21 (Day 1)  opened in establishing_contact" in out
    assert "state: establishing_contact → supporting_to_school_place" in out
    assert "definition: untraceable_cme version 2, sha256" in out
    assert "replay reproduces the stored case exactly" in out
    code, out, _ = cme(db, "audit", "replay", case_id, "--json", *AS_AUDITOR)
    data = json.loads(out)
    assert data["ok"]
    assert len(data["timeline"]) == 5
    assert "personal" not in data["replayed"]
    code, out, _ = cme(db, "audit", "replay", case_id, "--as-of", "2024-10-21", *AS_AUDITOR)
    assert code == 0
    assert out.startswith(f"{case_id} at the end of 2024-10-21: establishing_contact")
    assert "reasonable_checks_starts: start_reasonable_checks" in out
    code, out, _ = cme(db, "audit", "access-log", "--case", case_id, *AS_AUDITOR)
    assert code == 0
    actions = [line.split("olu (auditor)")[1].strip() for line in out.splitlines()]
    assert actions == ["replay", "replay", "replay as of 2024-10-21"]


def test_a_role_without_audit_rights_and_an_unknown_case_are_refused(
    db: Path, registry: ProcessRegistry
) -> None:
    (case_id, _) = open_cases(db, registry)
    code, _, err = cme(db, "audit", "replay", case_id, "--role", "school")
    assert code == 5
    assert "may not replay" in err
    code, _, err = cme(db, "audit", "replay", "CME-999999", *AS_AUDITOR)
    assert code == 1
    assert "no case with id 'CME-999999'" in err
    code, _, err = cme(db, "audit", "verify", *AS_AUDITOR)
    assert code == 1
    assert "--case ID or --all" in err
    code, out, _ = cme(db, "audit", "access-log", *AS_AUDITOR)
    assert out.strip() == "no reads recorded"


def test_verify_names_the_first_broken_event_and_exits_4(
    db: Path, registry: ProcessRegistry
) -> None:
    a, b = open_cases(db, registry)
    code, out, _ = cme(db, "audit", "verify", "--all", *AS_AUDITOR)
    assert code == 0
    assert "2 case(s), 10 event(s)" in out
    assert "verified" in out
    raw(db, "UPDATE case_event SET role = 'line_manager' WHERE case_id = ? AND seq = 4", b)
    code, _, err = cme(db, "audit", "verify", "--all", *AS_AUDITOR)
    assert code == 4
    assert f"first: case {b} event 4: its content does not match its hash" in err
    code, _, _ = cme(db, "audit", "verify", "--case", a, *AS_AUDITOR)
    assert code == 0
    code, out, _ = cme(db, "audit", "verify", "--case", b, "--json", *AS_AUDITOR)
    assert code == 4
    assert json.loads(out)["problems"][0]["seq"] == 4
    code, _, err = cme(db, "audit", "replay", b, *AS_AUDITOR)
    assert code == 4
    assert "INTEGRITY FAILURE: event 4" in err


def test_checkpoint_catches_a_full_rehash(
    db: Path, registry: ProcessRegistry, tmp_path: Path
) -> None:
    a, b = open_cases(db, registry)
    key = tmp_path / "keys" / "audit.key"
    key.parent.mkdir()
    code, out, _ = cme(db, "audit", "keygen", "--out", str(key))
    assert code == 0
    assert "key id" in out
    assert key.stat().st_mode & 0o777 == 0o600
    assert Path(f"{key}.pub").exists()
    code, _, err = cme(db, "audit", "keygen", "--out", str(key))
    assert code == 1
    assert "never overwritten" in err
    signed = tmp_path / "checkpoint.json"
    code, out, _ = cme(
        db, "audit", "checkpoint", "--key", str(key), "--out", str(signed), *AS_AUDITOR
    )
    assert code == 0
    assert "2 case(s), 10 event(s)" in out
    # A full re-hash of case a, as an attacker with the database would do it.
    from tests.engine.audit.test_audit import rehash

    store = open_store(f"sqlite:///{db}")
    rehash(CaseService(store, registry), a, {"outcome": "forged"}, seq=2)
    store.dispose()
    code, _, _ = cme(db, "audit", "verify", "--all", *AS_AUDITOR)
    assert code == 0  # the chain alone cannot tell
    code, out, err = cme(
        db,
        "audit",
        "verify",
        "--all",
        "--checkpoint",
        str(signed),
        "--public-key",
        f"{key}.pub",
        *AS_AUDITOR,
    )
    assert code == 4
    assert "signature good; 2 of 2 signed heads checked" in out
    assert f"first: case {a} event 5: is not the event the checkpoint signed" in err
    other = tmp_path / "other.key"
    cme(db, "audit", "keygen", "--out", str(other))
    code, _, err = cme(
        db,
        "audit",
        "verify",
        "--all",
        "--checkpoint",
        str(signed),
        "--public-key",
        f"{other}.pub",
        *AS_AUDITOR,
    )
    assert code == 4
    assert "not the pinned key" in err
    code, _, err = cme(
        db,
        "audit",
        "checkpoint",
        "--key",
        str(tmp_path / "none.key"),
        "--out",
        str(tmp_path / "x.json"),
        *AS_AUDITOR,
    )
    assert code == 1
    assert "cannot read the signing key" in err


def test_export_writes_a_bundle_an_auditor_can_check(
    db: Path, registry: ProcessRegistry, tmp_path: Path
) -> None:
    (case_id, _) = open_cases(db, registry)
    code, out, _ = cme(db, "audit", "export", case_id, *AS_AUDITOR)
    assert code == 0
    bundle = json.loads(out)
    assert bundle["format"] == "cme-case-history/1"
    assert bundle["chain"]["verified"]
    assert bundle["chain"]["events"] == 5
    assert bundle["definitions"][0]["yaml_text"].startswith("# yaml-language-server")
    page = tmp_path / "case.html"
    code, _, err = cme(
        db, "audit", "export", case_id, "--format", "html", "-o", str(page), *AS_AUDITOR
    )
    assert code == 0
    assert "holds personal data" in err
    html = page.read_text()
    assert html.startswith("<!DOCTYPE html>")
    assert bundle["chain"]["final_hash"] in html


# --- process versions ---------------------------------------------------------------------------


def test_diff_shows_what_changed(db: Path) -> None:
    code, out, _ = cme(
        db, "process", "diff", "tracing", "1", "2", "--file", str(V1), "--file", str(V2)
    )
    assert code == 0
    assert out.startswith("tracing: version 1 → version 2: 13 changes")
    assert "states:\n  state on_hold: removed (On hold)" in out
    assert "  state checks, timer letter_outstanding: day: 15 → 12" in out
    assert "  trigger close: roles: + cme_officer" in out
    code, out, _ = cme(db, "process", "diff", "removal_grounds", "5", "6", "--json")
    assert code == 0
    areas = {c["area"] for c in json.loads(out)["changes"]}
    assert {"applies", "checks", "guards", "triggers", "facts"} <= areas
    code, _, err = cme(db, "process", "diff", "removal_grounds", "3", "8")
    assert code == 1
    assert "has no version 8" in err
    assert "known versions: 3, 4, 5, 6, 7" in err


def tracing_cases(db: Path, registry: ProcessRegistry) -> list[str]:
    """Three tracing cases on version 1: one in contact, one in checks, one on hold."""
    store = open_store(f"sqlite:///{db}")
    svc = CaseService(
        store, ProcessRegistry([*(c.loaded for c in registry), load_process_file(V1)])
    )
    ids = [
        svc.open_case(
            notification(MONDAY), on=MONDAY, at=RECORDED_AT, actor=OFFICER, process="tracing"
        )[0]
        for _ in range(3)
    ]
    tuesday = dt.date(2024, 10, 22)
    svc.fire(ids[1], "start_checks", on=tuesday, at=RECORDED_AT, actor=OFFICER)
    svc.fire(ids[2], "hold", on=tuesday, at=RECORDED_AT, actor=OFFICER)
    assert LINE_MANAGER.role == "line_manager"
    store.dispose()
    return ids


def test_impact_and_migrate_through_the_command_line(db: Path, registry: ProcessRegistry) -> None:
    a, b, c = tracing_cases(db, registry)
    files = ("--file", str(V1), "--file", str(V2))
    code, out, _ = cme(db, "process", "impact", "tracing", "2", *files, "--on", "2024-11-04")
    assert code == 0
    assert "3 open cases of tracing are on another version (3 on version 1)." in out
    assert "1 open case is in states that version 2 removes: on_hold (1)" in out
    assert "1 earlier, earliest by 3 school days" in out
    code, out, _ = cme(
        db,
        "process",
        "migrate",
        "tracing",
        "--from",
        "1",
        "--to",
        "2",
        *files,
        "--on",
        "2024-11-04",
        "--dry-run",
    )
    assert code == 0
    assert "(dry run: nothing written)" in out
    assert (
        f"  {a}: contact → contact (same name); deadlines: start_checks 2024-10-25 → "
        "2024-11-04 (+1 school days)" in out
    )
    assert f"  {c}: on_hold (version 2 has no such state; add --map on_hold=NEW)" in out
    assert "2 cases would move." in out
    code, _, err = cme(
        db,
        "process",
        "migrate",
        "tracing",
        "--from",
        "1",
        "--to",
        "2",
        *files,
        "--on",
        "2024-11-04",
        "--role",
        "cme_officer",
    )
    assert code == 5
    assert "may not migrate" in err
    code, _, err = cme(
        db,
        "process",
        "migrate",
        "tracing",
        "--from",
        "1",
        "--to",
        "2",
        *files,
        "--on",
        "2024-11-04",
        "--map",
        "on_hold=nowhere",
    )
    assert code == 1
    assert "version 2 has no stage 'nowhere'" in err
    code, out, _ = cme(
        db,
        "process",
        "migrate",
        "tracing",
        "--from",
        "1",
        "--to",
        "2",
        *files,
        "--on",
        "2024-11-04",
        "--map",
        "on_hold=checks",
        "--json",
    )
    assert code == 0
    done = json.loads(out)
    assert done["migrated"] == [a, b, c]
    assert done["left_alone"] == []
    assert not done["dry_run"]
    code, out, _ = cme(db, "audit", "replay", c, *AS_AUDITOR)
    assert "migrated from version 1 to 2, on_hold → checks" in out
    code, out, _ = cme(db, "audit", "verify", "--all", *AS_AUDITOR)
    assert code == 0


def test_publish_stores_a_version_once_and_refuses_an_edit_without_a_new_number(
    db: Path, tmp_path: Path
) -> None:
    code, out, _ = cme(db, "process", "publish", "tracing", "--file", str(V1))
    assert code == 0
    assert out.startswith("stored tracing version 1")
    code, out, _ = cme(db, "process", "publish", "tracing", "--file", str(V1))
    assert code == 0
    assert out.startswith("already stored, unchanged: tracing version 1")
    edited = tmp_path / "tracing.yaml"
    edited.write_text(V1.read_text().replace("day: 5, fire", "day: 7, fire"))
    code, _, err = cme(db, "process", "publish", "tracing", "--file", str(edited))
    assert code == 1
    assert "changed since tracing version 1 was loaded, but its version was not raised" in err
    code, _, err = cme(db, "process", "publish", "tracing", "--file", str(V1), "--role", "school")
    assert code == 5
