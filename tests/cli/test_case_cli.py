"""`cme case …` and `cme due` through click's runner: what officers type, what they see, the exit
codes of every refusal, and that a refusal writes nothing."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner, Result

from engine.cases.notification import parse_form
from engine.cli import cli
from engine.time.calendars import load_calendar

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def db(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'cme.db'}"


def cme(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(cli, list(args), env={"CME_ACTOR": "sona", **(env or {})})


def ok(*args: str, env: dict[str, str] | None = None) -> str:
    result = cme(*args, env=env)
    assert result.exit_code == 0, result.output
    return result.output


def refused(code: int, *args: str, env: dict[str, str] | None = None) -> str:
    result = cme(*args, env=env)
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    return result.output


def example_form(tmp_path: Path, name: str = "form.yaml", **child: Any) -> Path:
    data = yaml.safe_load(ok("case", "form", "--example"))
    if child:
        data["children"] = [{**data["children"][0], **child}]
    path = tmp_path / name
    if name.endswith(".json"):
        path.write_text(json.dumps(data, default=str))
    else:
        path.write_text(yaml.safe_dump(data))
    return path


def show(db: str, case_id: str, *extra: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(ok("case", "show", case_id, "--json", "--db", db, *extra))
    return data


@pytest.fixture
def opened(tmp_path: Path, db: str) -> str:
    out = ok(
        "case",
        "open",
        "--form",
        str(example_form(tmp_path)),
        "--on",
        "2024-10-21",
        "--db",
        db,
        "--json",
    )
    case_ids: list[str] = json.loads(out)["case_ids"]
    return case_ids[0]


# -- the form ---------------------------------------------------------------------------------


def test_the_blank_form_is_commented_yaml_and_the_example_is_valid() -> None:
    blank = ok("case", "form")
    assert blank.startswith("# Children Missing Education (CME) Notification Form")
    assert "cme case open --form" in blank
    assert yaml.safe_load(blank)["form"] == "cme_notification"
    form = parse_form(yaml.safe_load(ok("case", "form", "--example")))
    assert len(form.children) == 2


# -- opening, showing, listing ----------------------------------------------------------------


def test_open_prints_the_new_ids_one_per_sibling(tmp_path: Path, db: str) -> None:
    form = example_form(tmp_path)
    assert (
        ok("case", "open", "--form", str(form), "--on", "2024-10-21", "--db", db)
        == "CME-000001\nCME-000002\n"
    )
    out = ok(
        "case",
        "open",
        "--form",
        str(example_form(tmp_path, "f.json")),
        "--on",
        "2024-10-21",
        "--db",
        db,
        "--json",
        # The same children again: one child, one open case, unless the officer says why.
        "--override-duplicate",
        "--reason",
        "another family with the same names (a test of the output)",
    )
    assert json.loads(out) == {"case_ids": ["CME-000003", "CME-000004"]}


def test_without_a_configuration_a_case_opened_today_counts_on_london(
    tmp_path: Path, db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # No cme.toml anywhere (so no `[calendars] default`): the engine's fallback calendar decides.
    # It covers 2026-27, so a case opened on Thursday 3 December 2026 is not refused.
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CME_CONFIG", raising=False)
    monkeypatch.delenv("CME_DATABASE_URL", raising=False)
    data = yaml.safe_load((ROOT / "processes/forms/notification_example.yaml").read_text())
    data["date"] = "2026-12-03"  # Ana (born 2015-03-14) is 11, Tiago (2012-11-02) is 14
    form = tmp_path / "notification.yaml"
    form.write_text(yaml.safe_dump(data))
    opened = ok("case", "open", "--form", str(form), "--on", "2026-12-03", "--db", db, "--json")
    assert not (tmp_path / "cme.toml").exists()
    (case_id, _) = json.loads(opened)["case_ids"]
    s = show(db, case_id, "--on", "2026-12-03")
    assert (s["calendar"], s["day"]) == ("london", 1)
    (day_5,) = [t for t in s["timers"] if t["timer"] == "reasonable_checks_starts"]
    # Ealing's autumn term 2026 (2 Sep – 18 Dec, half term 26–30 Oct): Thu 3, Fri 4, Mon 7,
    # Tue 8, Wed 9 December.
    assert day_5["due_date"] == "2026-12-09"
    assert load_calendar("london").is_school_day(dt.date(2026, 12, 9))
    assert day_5["explanation"] == (
        "Day 5 = 9 Dec 2026: 5th school day from 3 Dec 2026, calendar london version 1"
    )
    text = ok("case", "show", case_id, "--on", "2026-12-03", "--db", db, env={"COLUMNS": "200"})
    assert "Day 1 on 2026-12-03" in text
    assert "2026-12-09" in text


def test_show_as_json_and_as_tables(db: str, opened: str) -> None:
    s = show(db, opened, "--on", "2024-11-04")
    assert (s["id"], s["state"], s["day"]) == (opened, "establishing_contact", 6)
    assert s["child"]["full_name"] == "Ana Silva"
    assert {c["id"] for c in s["checklist"]} >= {"core_information_checked"}
    assert s["history"][0]["summary"] == (
        "Case opened: Notification received, case opened, establishing contact"
    )
    text = ok("case", "show", opened, "--on", "2024-11-04", "--db", db, env={"COLUMNS": "200"})
    for words in (
        "CME-000001",
        "Ana Silva",
        "Day 6 on 2024-11-04",
        "Checklist",
        "outstanding",
        "Next deadlines",
        "History",
        "Case opened: Notification received, case opened, establishing contact",
    ):
        assert words in text, words


def test_list_and_filter(db: str, opened: str) -> None:
    rows = json.loads(ok("case", "list", "--json", "--db", db))
    assert [r["id"] for r in rows] == ["CME-000001", "CME-000002"]
    assert json.loads(ok("case", "list", "--json", "--state", "placed", "--db", db)) == []
    assert json.loads(ok("case", "list", "--json", "--overdue", "--db", db)) == []
    assert "Ana Silva" in ok("case", "list", "--db", db)


def test_an_officer_advances_a_case(db: str, opened: str) -> None:
    out = ok(
        "case",
        "check",
        opened,
        "contact_attempted_by_phone",
        "--on",
        "2024-10-22",
        "--outcome",
        "no answer",
        "--db",
        db,
    )
    assert out == f"{opened}: establishing_contact (event 2)\n"
    ok("case", "fact", opened, "crime_suspected", "false", "--on", "2024-10-22", "--db", db)
    ok("case", "note", opened, "Neighbour says they moved", "--on", "2024-10-22", "--db", db)
    out = json.loads(
        ok(
            "case",
            "fire",
            opened,
            "contact_established",
            "--on",
            "2024-10-23",
            "--note",
            "mother called back",
            "--db",
            db,
            "--json",
        )
    )
    assert (out["state"], out["seq"], out["event"]["kind"]) == (
        "supporting_to_school_place",
        5,
        "trigger",
    )
    assert len(out["event"]["hash"]) == 64
    s = show(db, opened, "--on", "2024-10-23")
    assert [h["summary"] for h in s["history"][1:]] == [
        "Recorded: Contact attempted by phone — no answer",
        "Recorded crime_suspected: no",
        "note: Neighbour says they moved",
        "Contact established — support the parent/carer to source a school place — now: "
        "Supporting the parent/carer to source a school place",
    ]
    assert {h["actor"] for h in s["history"]} == {"sona"}


def test_the_actor_and_role_come_from_the_environment_or_flags(db: str, opened: str) -> None:
    ok(
        "case",
        "note",
        opened,
        "from env",
        "--on",
        "2024-10-22",
        "--db",
        db,
        env={"CME_ACTOR": "kai", "CME_ROLE": "line_manager"},
    )
    ok(
        "case",
        "note",
        opened,
        "from flags",
        "--on",
        "2024-10-22",
        "--db",
        db,
        "--actor",
        "priya",
        "--role",
        "cme_officer",
    )
    history = show(db, opened)["history"]
    assert [(h["actor"], h["role"]) for h in history[1:]] == [
        ("kai", "line_manager"),
        ("priya", "cme_officer"),
    ]


def test_due_lists_what_each_officer_must_do(db: str, opened: str) -> None:
    items = json.loads(ok("due", "--on", "2024-10-22", "--db", db, "--json"))
    assert {i["case_id"] for i in items} == {"CME-000001", "CME-000002"}
    assert {i["officer"] for i in items} == {"sona"}
    # Day 2: each check owed is named (id and wording); the Day 1 register entry is late.
    late = {(i["case_id"], i["check"]) for i in items if i["kind"] == "overdue check"}
    assert ("CME-000001", "opened_on_cme_register") in late
    assert all(i["wording"] for i in items if "check" in i)
    text = ok("due", "--on", "2024-10-22", "--db", db)
    assert "Due on 2024-10-22" in text
    assert "opened_on_cme_register" in text


# -- bad input: a message a person can act on, a non-zero exit, nothing written ---------------


def seq_of(db: str, case_id: str) -> int:
    seq: int = show(db, case_id)["seq"]
    return seq


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (
            ("case", "fire", "CME-999999", "contact_established", "--on", "2024-10-22"),
            1,
            "error: no case with id 'CME-999999'; `cme case list` shows the open cases",
        ),
        (
            ("case", "fire", "CME-000001", "contact_establised", "--on", "2024-10-22"),
            1,
            "has no step 'contact_establised'; did you mean 'contact_established'",
        ),
        (
            (
                "case",
                "fire",
                "CME-000001",
                "close_untraceable",
                "--on",
                "2024-10-22",
                "--role",
                "line_manager",
            ),
            1,
            "close_untraceable cannot be taken from establishing_contact",
        ),
        (
            (
                "case",
                "fire",
                "CME-000001",
                "contact_established",
                "--on",
                "2024-10-22",
                "--role",
                "line_manager",
            ),
            1,
            "may be taken only by School Inclusion and Children Missing Education Officer "
            "(cme_officer); you are acting as School Inclusion Team Manager (line_manager)",
        ),
        (
            ("case", "fire", "CME-000001", "start_reasonable_checks", "--on", "2024-10-22"),
            1,
            "condition not met: the Day 1–3 window for establishing contact has passed "
            "(it is Day 2 of the case)",
        ),
        (
            ("case", "fire", "CME-000001", "moved_to_another_la", "--on", "2024-10-22"),
            1,
            "needs these facts recorded first: destination_la",
        ),
        (
            ("case", "fact", "CME-000001", "crime_suspected", "maybe", "--on", "2024-10-22"),
            1,
            "crime_suspected is yes/no: write true or false, not 'maybe'",
        ),
        (
            ("case", "check", "CME-000001", "mash_check", "--on", "2024-13-01", "--outcome", "x"),
            2,
            "'2024-13-01' is not a date; write it as YYYY-MM-DD",
        ),
        (
            ("case", "note", "CME-000001", "late", "--on", "2024-10-20"),
            1,
            "this cannot take effect earlier (20 Oct 2024): history runs forwards",
        ),
        (
            ("case", "note", "CME-000001", "x", "--on", "2024-10-22", "--role", "janitor"),
            5,
            "janitor",
        ),
        (
            ("case", "note", "CME-000001", "x", "--on", "2024-10-22", "--expect-seq", "7"),
            3,
            "is at event 1, not 7 as you expected",
        ),
    ],
)
def test_refusals(db: str, opened: str, args: tuple[str, ...], code: int, message: str) -> None:
    output = refused(code, *args, "--db", db)
    assert message in output
    assert seq_of(db, opened) == 1


def test_missing_required_checks_at_closure(db: str, opened: str) -> None:
    for trigger, on in (
        ("start_reasonable_checks", "2024-10-24"),
        ("start_further_checks", "2024-11-18"),  # Day 16
        ("start_closure_decision", "2024-12-02"),
    ):  # Day 26
        ok("case", "fire", opened, trigger, "--on", on, "--db", db)
    output = refused(
        1,
        "case",
        "fire",
        opened,
        "close_untraceable",
        "--on",
        "2024-12-02",
        "--role",
        "line_manager",
        "--db",
        db,
    )
    assert "close_untraceable needs these checks recorded first: core_information_checked" in (
        output
    )
    assert seq_of(db, opened) == 4


@pytest.mark.parametrize(
    ("child", "message"),
    [
        ({"upn": "A801200005001"}, "children.0.upn: UPN 'A801200005001'"),
        ({"date_of_birth": "2021-01-01"}, "outside compulsory school age"),
        ({"date_of_birth": "2015-02-30"}, "children.0.date_of_birth"),
    ],
)
def test_a_bad_form_opens_nothing(
    tmp_path: Path, db: str, child: dict[str, Any], message: str
) -> None:
    output = refused(
        1,
        "case",
        "open",
        "--form",
        str(example_form(tmp_path, **child)),
        "--on",
        "2024-10-21",
        "--db",
        db,
    )
    assert message in output
    assert json.loads(ok("case", "list", "--json", "--all", "--db", db)) == []


def test_an_unreadable_form_says_where(tmp_path: Path, db: str) -> None:
    broken = tmp_path / "form.json"
    broken.write_text('{"form": "cme_notification",\n "date": }')
    assert f"{broken}:2:10: not valid JSON" in refused(
        1, "case", "open", "--form", str(broken), "--on", "2024-10-21", "--db", db
    )
    assert "cannot read" in refused(
        1, "case", "open", "--form", str(tmp_path / "none.yaml"), "--on", "2024-10-21", "--db", db
    )


def test_a_database_that_is_not_there(tmp_path: Path) -> None:
    output = refused(1, "case", "list", "--db", f"sqlite:///{tmp_path}/missing/dir/cme.db")
    assert "cannot open the database" in output


# -- reading a database made elsewhere, and staying light -------------------------------------


def test_show_works_from_another_working_directory(
    tmp_path: Path, db: str, opened: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert show(db, opened, "--on", "2024-10-22")["day"] == 2
    assert not (elsewhere / ".cme").exists()


def test_help_and_light_commands_do_not_import_the_database_layer() -> None:
    code = (
        "import sys\n"
        "from click.testing import CliRunner\n"
        "from engine.cli import cli\n"
        "for args in (['--help'], ['case', '--help'], ['case', 'form']):\n"
        "    assert CliRunner().invoke(cli, args).exit_code == 0, args\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'sqlalchemy', 'sqlmodel', "
        "'cel', 'transitions'}))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"


def test_reading_a_case_builds_no_definition_guards_or_machine(opened: str, db: str) -> None:
    # `cme case show` starts within 1.3x of importing sqlmodel (benchmarks/cold_start.py): it
    # reads the outline stored with the case's process version, not the definition models.
    code = (
        "import sys, json\n"
        "from click.testing import CliRunner\n"
        "from engine.cli import cli\n"
        f"for args in (['case', 'show', {opened!r}, '--json'], ['case', 'list'],\n"
        "             ['due', '--on', '2024-11-01']):\n"
        f"    r = CliRunner().invoke(cli, [*args, '--db', {db!r}], env={{'CME_ACTOR': 'sona'}})\n"
        "    assert r.exit_code == 0, r.output\n"
        "print(json.dumps(sorted(m for m in sys.modules if m in ('engine.language.definition', "
        "'engine.cases.service', 'engine.language.loader', 'engine.language.expressions', "
        "'cel', 'transitions', "
        "'holidays'))))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []


def test_the_entry_point_spares_start_up_objects_from_the_collector() -> None:
    # Measured in benchmarks/cold_start.py: about a fifth of `cme case show`'s cold start.
    code = (
        "import gc, json\n"
        "from engine.cli import GC_FIRST_GENERATION, main\n"
        "try:\n"
        "    main(['--help'])\n"
        "except SystemExit as done:\n"
        "    assert done.code == 0\n"
        "print(json.dumps([gc.get_threshold()[0], GC_FIRST_GENERATION, gc.get_freeze_count()]))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    threshold, expected, frozen = json.loads(out.stdout.strip().splitlines()[-1])
    assert threshold == expected > 700
    assert frozen > 10_000
