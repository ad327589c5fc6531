"""What an officer types, made safe (issue 15): the actor always known, long free text from a
file or standard input, control characters refused on input and neutralised on output, repeats
only when deliberate, check amendments keeping both outcomes, and the reasons shown."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner, Result

from engine.cli import cli

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def db(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'cme.db'}"


def cme(*args: str, env: dict[str, str] | None = None, stdin: str | None = None) -> Result:
    return CliRunner().invoke(
        cli, list(args), env={"CME_ACTOR": "sona", **(env or {})}, input=stdin
    )


def ok(*args: str, env: dict[str, str] | None = None, stdin: str | None = None) -> str:
    result = cme(*args, env=env, stdin=stdin)
    assert result.exit_code == 0, result.output
    return result.output


def refused(*args: str, env: dict[str, str] | None = None, stdin: str | None = None) -> str:
    result = cme(*args, env=env, stdin=stdin)
    assert result.exit_code != 0, result.output
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    return result.output


def form(tmp_path: Path) -> Path:
    data = yaml.safe_load(ok("case", "form", "--example"))
    path = tmp_path / "form.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.fixture
def opened(tmp_path: Path, db: str) -> str:
    out = ok(
        "case", "open", "--form", str(form(tmp_path)), "--on", "2024-10-21", "--db", db, "--json"
    )
    case_ids: list[str] = json.loads(out)["case_ids"]
    return case_ids[0]


def show(db: str, case_id: str, *extra: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(ok("case", "show", case_id, "--json", "--db", db, *extra))
    return data


# -- the actor is always known ------------------------------------------------------------------


def test_a_command_without_an_actor_is_refused_saying_how_to_set_one(
    tmp_path: Path, db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CME_ACTOR", raising=False)
    monkeypatch.setenv("USER", "svc-cme")  # a login name is no officer's name
    args = ["case", "open", "--form", str(form(tmp_path)), "--on", "2024-10-21", "--db", db]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code != 0, result.output
    assert "Traceback" not in result.output
    assert "--actor" in result.output
    assert "CME_ACTOR" in result.output
    # Nothing was written: the same command with an actor opens CME-000001, not CME-000003.
    out = ok(*args, "--json", env={"CME_ACTOR": "sona.k"})
    assert json.loads(out)["case_ids"][0] == "CME-000001"
    shown = show(db, "CME-000001")
    assert shown["assigned_officer"] == "sona.k"
    assert {e["actor"] for e in shown["history"]} == {"sona.k"}


def test_reads_without_an_actor_are_refused_too(
    opened: str, db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CME_ACTOR", raising=False)
    for args in (["case", "show", opened], ["case", "list"], ["due", "--on", "2024-10-22"]):
        result = CliRunner().invoke(cli, [*args, "--db", db])
        assert result.exit_code != 0, result.output
        assert "CME_ACTOR" in result.output
        assert "unknown" not in result.output


def test_an_actor_name_with_an_escape_sequence_is_refused(opened: str, db: str) -> None:
    out = refused("case", "show", opened, "--db", db, "--actor", "sona\x1b[2J")
    assert "ESC (U+001B)" in out


def test_the_readme_short_session_names_its_actor_before_any_command() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    session = readme.split("A short session:", 1)[1].split("```bash", 1)[1].split("```", 1)[0]
    lines = [line for line in session.splitlines() if line.strip()]
    assert lines[0].startswith("export CME_ACTOR=")
    for line in lines[1:]:
        if "CME_ROLE=" in line:  # another person: named too
            assert re.search(r"CME_ACTOR=\S+ CME_ROLE=", line), line


# -- deliberate repeats only --------------------------------------------------------------------


def test_a_step_that_keeps_the_stage_taken_again_the_same_day_is_refused(
    opened: str, db: str
) -> None:
    concern = "Neighbour reports the children have not been seen since half term"
    ok("case", "fact", opened, "safeguarding_concern", concern, "--on", "2024-10-22", "--db", db)
    ok("case", "fire", opened, "refer_to_mash", "--on", "2024-10-22", "--db", db)
    out = refused(
        "case",
        "fire",
        opened,
        "refer_to_mash",
        "--on",
        "2024-10-22",
        "--db",
        db,
        env={"CME_ACTOR": "marcus.b"},
    )
    assert "already taken" in out
    assert "by sona (cme_officer" in out
    assert "22 Oct 2024" in out
    assert "--deliberate --reason" in out
    referrals = [e for e in show(db, opened)["history"] if "refer_to_mash" in json.dumps(e)]
    assert len(referrals) == 1
    # Another day is another referral; the same day, said to be deliberate, is recorded as such.
    ok("case", "fire", opened, "refer_to_mash", "--on", "2024-10-23", "--db", db)
    refused(
        "case", "fire", opened, "refer_to_mash", "--on", "2024-10-23", "--deliberate", "--db", db
    )
    ok(
        "case",
        "fire",
        opened,
        "refer_to_mash",
        "--on",
        "2024-10-23",
        "--deliberate",
        "--reason",
        "MASH asked for a second referral naming the sibling",
        "--db",
        db,
    )
    history = show(db, opened)["history"]
    assert sum("refer_to_mash" in json.dumps(e) for e in history) == 3
    assert history[-1]["reason"] == "MASH asked for a second referral naming the sibling"
    assert history[-1]["summary"].endswith("(again the same day, deliberately)")


def test_a_reason_without_deliberate_is_refused(opened: str, db: str) -> None:
    out = refused(
        "case", "fire", opened, "refer_to_mash", "--on", "2024-10-22", "--reason", "x", "--db", db
    )
    assert "--deliberate" in out


# -- a check recorded twice is an amendment keeping both outcomes --------------------------------


def test_a_check_recorded_again_is_refused_naming_when_and_by_whom(opened: str, db: str) -> None:
    check = "contact_attempted_by_phone"
    ok("case", "check", opened, check, "--on", "2024-10-22", "--outcome", "no answer", "--db", db)
    out = refused(
        "case",
        "check",
        opened,
        check,
        "--on",
        "2024-10-23",
        "--outcome",
        "spoke to mother",
        "--db",
        db,
        env={"CME_ACTOR": "marcus.b"},
    )
    assert "already recorded" in out
    assert "22 Oct 2024 by sona (cme_officer)" in out
    assert "--amend --reason" in out
    assert show(db, opened)["checks_recorded"][check]["outcome"] == "no answer"
    refused(
        "case",
        "check",
        opened,
        check,
        "--on",
        "2024-10-23",
        "--outcome",
        "spoke to mother",
        "--amend",
        "--db",
        db,
    )
    ok(
        "case",
        "check",
        opened,
        check,
        "--on",
        "2024-10-23",
        "--outcome",
        "spoke to mother",
        "--amend",
        "--reason",
        "the first call was to a wrong number",
        "--db",
        db,
        env={"CME_ACTOR": "marcus.b"},
    )
    shown = show(db, opened)
    recorded = shown["checks_recorded"][check]
    assert recorded["outcome"] == "spoke to mother"
    assert recorded["on"] == "2024-10-23"
    assert [(e["on"], e["by"], e["outcome"]) for e in recorded["earlier"]] == [
        ("2024-10-22", "sona", "no answer")
    ]
    assert shown["history"][-1]["reason"] == "the first call was to a wrong number"
    assert shown["history"][-1]["summary"].startswith("Amended: Contact attempted by phone")
    assert "recorded before on 22 Oct 2024 by sona" in shown["history"][-1]["summary"]
    text = ok("case", "show", opened, "--db", db, env={"COLUMNS": "100"})
    assert "no answer" in text
    assert "spoke to mother" in text
    assert "the first call was to a wrong number" in text


def test_amending_a_check_never_recorded_is_refused(opened: str, db: str) -> None:
    out = refused(
        "case",
        "check",
        opened,
        "contact_attempted_by_phone",
        "--on",
        "2024-10-22",
        "--outcome",
        "x",
        "--amend",
        "--reason",
        "y",
        "--db",
        db,
    )
    assert "nothing to amend" in out


# -- free text from a file or standard input, checked, and made safe on output --------------------


def test_a_long_note_comes_from_a_file_or_standard_input(
    tmp_path: Path, opened: str, db: str
) -> None:
    visit = "Home visit, 12 Acacia Road.\r\n" + "Neighbour spoke at length. " * 300 + "\n"
    (tmp_path / "visit.txt").write_bytes(visit.encode("utf-8"))
    ok(
        "case",
        "note",
        opened,
        "--note-file",
        str(tmp_path / "visit.txt"),
        "--on",
        "2024-10-22",
        "--db",
        db,
    )
    ok("case", "note", opened, "-", "--on", "2024-10-22", "--db", db, stdin="Rang the school.\n")
    ok(
        "case",
        "check",
        opened,
        "contact_attempted_by_phone",
        "--outcome-file",
        "-",
        "--on",
        "2024-10-22",
        "--db",
        db,
        stdin="no answer; voicemail full\n",
    )
    shown = show(db, opened)
    notes = [e["summary"] for e in shown["history"] if e["kind"] == "note"]
    assert any("Neighbour spoke at length. Neighbour" in n for n in notes)
    assert any(n.endswith("Rang the school.") for n in notes)
    assert not any("\r" in n for n in notes)
    recorded = shown["checks_recorded"]["contact_attempted_by_phone"]
    assert recorded["outcome"] == "no answer; voicemail full"


def test_the_size_cap_is_stated_and_nothing_is_written(
    tmp_path: Path, opened: str, db: str
) -> None:
    (tmp_path / "huge.txt").write_text("word " * 5000, encoding="utf-8")
    seq = show(db, opened)["seq"]
    out = refused(
        "case",
        "note",
        opened,
        "--note-file",
        str(tmp_path / "huge.txt"),
        "--on",
        "2024-10-22",
        "--db",
        db,
    )
    assert "20,000" in out
    assert show(db, opened)["seq"] == seq


def test_control_characters_are_refused_with_their_place(opened: str, db: str) -> None:
    out = refused(
        "case",
        "check",
        opened,
        "contact_attempted_by_phone",
        "--on",
        "2024-10-22",
        "--outcome",
        "no answer\x1b]0;owned\x07",
        "--db",
        db,
    )
    assert "ESC (U+001B) at line 1, column 10" in out
    out = refused(
        "case", "note", opened, "-", "--on", "2024-10-22", "--db", db, stdin="ok\nsee \u202eevil"
    )
    assert "line 2, column 5" in out
    out = refused(
        "case",
        "fire",
        opened,
        "refer_to_mash",
        "--on",
        "2024-10-22",
        "--note",
        "x\x9by",
        "--db",
        db,
    )
    assert "U+009B" in out


def test_a_note_given_twice_or_a_missing_file_is_refused_in_words(
    tmp_path: Path, opened: str, db: str
) -> None:
    out = refused(
        "case",
        "note",
        opened,
        "text",
        "--note-file",
        str(tmp_path / "x.txt"),
        "--on",
        "2024-10-22",
        "--db",
        db,
    )
    assert "not both" in out
    out = refused(
        "case",
        "note",
        opened,
        "--note-file",
        str(tmp_path / "gone.txt"),
        "--on",
        "2024-10-22",
        "--db",
        db,
    )
    assert "cannot read the note" in out
    (tmp_path / "latin1.txt").write_bytes("caf\xe9".encode("latin-1"))
    out = refused(
        "case",
        "note",
        opened,
        "--note-file",
        str(tmp_path / "latin1.txt"),
        "--on",
        "2024-10-22",
        "--db",
        db,
    )
    assert "not UTF-8" in out


def test_text_stored_before_the_rule_is_printed_harmlessly(
    opened: str, db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Escape sequences an earlier release stored raw are shown, never obeyed."""
    import engine.cases.free_text as free_text

    monkeypatch.setattr(free_text, "UNSAFE_CHARACTERS", re.compile("(?!x)x"))
    concern = "Neighbour reports the children have not been seen"
    ok("case", "fact", opened, "safeguarding_concern", concern, "--on", "2024-10-22", "--db", db)
    ok(
        "case",
        "fire",
        opened,
        "refer_to_mash",
        "--on",
        "2024-10-22",
        "--db",
        db,
        "--note",
        "pwned\x1b[2J by phone \u202eevil",
    )
    ok(
        "case",
        "note",
        opened,
        "pwned\x1b[2J\x1b]0;title\x07 \u202eevil",
        "--on",
        "2024-10-22",
        "--db",
        db,
    )
    ok(
        "case",
        "check",
        opened,
        "contact_attempted_by_phone",
        "--outcome",
        "red\x1b[31m",
        "--on",
        "2024-10-22",
        "--db",
        db,
    )
    monkeypatch.undo()
    for args in (
        ["case", "show", opened],
        ["case", "show", opened, "--all"],
        ["case", "list"],
        ["due", "--on", "2024-10-22"],
    ):
        out = ok(*args, "--db", db, env={"COLUMNS": "100"})
        for raw in ("\x1b", "\x07", "\u202e"):
            assert raw not in out, args
    assert "\\x1b[2J" in ok("case", "show", opened, "--db", db, env={"COLUMNS": "100"})
    page = ok("audit", "export", opened, "--format", "html", "--db", db)
    shown = page.split('<script type="application/json"', 1)[0]
    for raw in ("\x1b", "\x07", "\u202e"):
        assert raw not in shown
    assert "pwned\\u001b[2J by phone \\u202eevil" in shown


# -- reasons shown in case show, replay and export, to roles that may read personal data ----------


def test_reasons_and_notes_are_shown_in_show_replay_and_export(
    tmp_path: Path, opened: str, db: str
) -> None:
    concern = "Neighbour reports the children have not been seen since half term"
    ok("case", "fact", opened, "safeguarding_concern", concern, "--on", "2024-10-22", "--db", db)
    ok(
        "case",
        "fire",
        opened,
        "refer_to_mash",
        "--on",
        "2024-10-22",
        "--db",
        db,
        "--note",
        "MASH duty desk took the referral by phone",
    )
    ok(
        "case",
        "fire",
        opened,
        "refer_to_mash",
        "--on",
        "2024-10-22",
        "--db",
        db,
        "--deliberate",
        "--reason",
        "a second referral for the sibling, at MASH's request",
    )
    shown = show(db, opened)
    said = [
        (e.get("note"), e.get("reason"))
        for e in shown["history"]
        if e.get("note") or e.get("reason")
    ]
    assert said == [
        ("MASH duty desk took the referral by phone", None),
        (None, "a second referral for the sibling, at MASH's request"),
    ]
    text = ok("case", "show", opened, "--db", db, env={"COLUMNS": "100"})
    assert "note: MASH duty desk" in text
    assert "reason: a second referral" in text

    auditor = {"CME_ROLE": "auditor"}
    timeline = json.loads(ok("audit", "replay", opened, "--json", "--db", db, env=auditor))[
        "timeline"
    ]
    assert [t["said"] for t in timeline if t["said"]] == [
        {"note": "MASH duty desk took the referral by phone"},
        {"reason": "a second referral for the sibling, at MASH's request"},
    ]
    assert "reason: a second referral" in ok("audit", "replay", opened, "--db", db, env=auditor)
    bundle = json.loads(ok("audit", "export", opened, "--db", db, env=auditor))
    assert [t["said"] for t in bundle["timeline"] if t["said"]] == [
        {"note": "MASH duty desk took the referral by phone"},
        {"reason": "a second referral for the sibling, at MASH's request"},
    ]
    page = ok("audit", "export", opened, "--format", "html", "--db", db, env=auditor)
    assert "a second referral for the sibling, at MASH&#39;s request" in page

    # A role that audits but may not read personal data is not shown what was said.
    manager = {"CME_ROLE": "records_manager"}
    timeline = json.loads(ok("audit", "replay", opened, "--json", "--db", db, env=manager))[
        "timeline"
    ]
    assert not any(t["said"] for t in timeline)


def test_a_fact_holding_an_escape_sequence_or_an_override_is_refused(opened: str, db: str) -> None:
    args = ("case", "fact", opened, "safeguarding_concern")
    out = refused(*args, "seen \x1b[8mhidden", "--on", "2024-10-22", "--db", db)
    assert "contains a control character" in out
    out = refused(*args, "seen \u202ehidden", "--on", "2024-10-22", "--db", db)
    assert "value of safeguarding_concern holds RIGHT-TO-LEFT OVERRIDE (U+202E)" in out
    assert "line 1, column 6" in out


def test_a_waiver_reason_comes_from_standard_input_and_is_shown(opened: str, db: str) -> None:
    args = ("case", "waive", opened, "contact_attempted_by_email", "--on", "2024-10-24")
    manager = {"CME_ACTOR": "dylan", "CME_ROLE": "line_manager"}
    out = refused(*args, "--reason-file", "-", "--db", db, env=manager, stdin="bad\x1b[2J\n")
    assert "ESC (U+001B)" in out
    ok(*args, "--reason-file", "-", "--db", db, env=manager, stdin="No email address given.\n")
    history = show(db, opened, "--on", "2024-10-24")["history"]
    assert history[-1]["reason"] == "No email address given."


def test_a_duplicate_override_reason_is_shown_on_the_new_case(
    tmp_path: Path, opened: str, db: str
) -> None:
    out = ok(
        "case",
        "open",
        "--form",
        str(form(tmp_path)),
        "--on",
        "2024-10-22",
        "--db",
        db,
        "--json",
        "--override-duplicate",
        "--reason-file",
        "-",
        stdin="A cousin of the same name and birthday, at another address.\n",
    )
    new = json.loads(out)["case_ids"][0]
    assert show(db, new)["history"][0]["reason"] == (
        "A cousin of the same name and birthday, at another address."
    )
