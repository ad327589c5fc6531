"""What an officer reads, at the widths officers' terminals have (issue 15): `case show`, `cme
due` and `case list` at 100 and 80 columns print every id whole; `cme due` names each check and
groups a case's items; `outbox list` shows document ids; the first formal letter, once sent,
records its check; a history reads in words, its unneeded reminders folded unless `--all`.

One real case (two siblings) on real dates on the `london` calendar: opened Monday 21 Oct 2024,
half term 28 Oct – 1 Nov, looked at on Wednesday 20 Nov 2024 (Day 18) after the scheduler ran.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from importlib.resources import files
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from engine.cli import cli, wiring

FORM = str(files("processes").joinpath("forms", "notification_example.yaml"))
CASE = "CME-000001"
ON = "2024-11-20"
RELEASE = Path(__file__).parents[1] / "fixtures" / "releases" / "0.1.0"
EXPRESSION = re.compile(r"!checks\.|checks\.\w|==|&&|\|\|")


def cme(db: str, *args: str, width: int = 100) -> str:
    result = CliRunner().invoke(
        cli, [*args, "--db", db], env={"CME_ACTOR": "sona", "COLUMNS": str(width)}
    )
    assert result.exit_code == 0, result.output
    return result.stdout


def whole(identifier: str, text: str) -> bool:
    """`identifier` printed unbroken, not as part of a longer word."""
    return re.search(rf"(?<![\w]){re.escape(identifier)}(?![\w])", text) is not None


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('officer') / 'cme.db'}"
    cme(url, "case", "open", "--form", FORM, "--on", "2024-10-21")
    cme(url, "case", "check", CASE, "core_information_checked", "--on", "2024-10-21",
        "--outcome", "all there")  # fmt: skip
    cme(url, "case", "fire", CASE, "start_reasonable_checks", "--on", "2024-10-24")
    cme(url, "case", "check", CASE, "mash_check", "--on", "2024-10-25",
        "--outcome", "not known to MASH")  # fmt: skip
    cme(url, "tick", "--until", ON)
    return url


def shown(db: str, *extra: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(cme(db, "case", "show", CASE, "--on", ON, "--json", *extra))
    return data


def fits(text: str, width: int) -> None:
    assert "…" not in text
    too_wide = [line for line in text.splitlines() if len(line.rstrip()) > width]
    assert too_wide == []


@pytest.mark.parametrize("width", [100, 80])
def test_case_show_due_and_list_print_every_id_whole(db: str, width: int) -> None:
    summary = shown(db)
    outstanding = [c["id"] for c in summary["outstanding_checks"]]
    assert len(outstanding) >= 10  # overdue from three stages, and the Day 16–25 ones
    checklist = [c["id"] for c in summary["checklist"]]
    steps = [n["trigger"] for n in summary["next_steps"]]

    show = cme(db, "case", "show", CASE, "--on", ON, width=width)
    fits(show, width)
    for identifier in [CASE, *outstanding, *checklist, *steps]:
        assert whole(identifier, show), identifier

    due = cme(db, "due", "--on", ON, width=width)
    fits(due, width)
    for identifier in [CASE, "CME-000002", *outstanding]:
        assert whole(identifier, due), identifier

    listed = cme(db, "case", "list", width=width)
    fits(listed, width)
    assert whole(CASE, listed)
    assert whole("CME-000002", listed)
    assert "Ana Silva" in listed
    assert "Tiago Silva" in listed


def test_due_names_each_check_and_groups_a_cases_items(db: str) -> None:
    due = cme(db, "due", "--on", ON)
    items = json.loads(cme(db, "due", "--on", ON, "--json"))
    mine = [i for i in items if i["case_id"] == CASE and i.get("check")]
    assert mine
    # Each case's id heads its items once; every item names its check by id and wording.
    assert len(re.findall(rf"(?<!\w){CASE}(?!\w)", due)) == 1
    first, then = due.index(CASE), due.index("CME-000002")
    for item in mine:
        at = due.index(f"  {item['check']} ")
        assert first < at < then, item["check"]
        assert item["wording"].split()[0] in due[at : at + 300]
    assert "escalate to cme_officer" not in due
    # The Day 5–15 checks, escalated on Day 16 (the morning after Day 15, Friday 15 Nov).
    row = due.index("  first_formal_letter_sent ")
    assert "escalated" in due[row : due.index("\n", row)]
    assert "was due 2024-11-15" in due[row : row + 400]


def test_history_reads_in_words(db: str) -> None:
    history = shown(db)["history"]
    assert [h["summary"] for h in history if EXPRESSION.search(h["summary"])] == []
    assert not EXPRESSION.search(cme(db, "case", "show", CASE, "--on", ON, "--all"))


@pytest.fixture
def release(tmp_path: Path) -> Iterator[str]:
    """A copy of the database 0.1.0's demo wrote: its histories hold the reminders that lapsed,
    stored as guards (`!checks.core_information_checked`)."""
    shutil.copy2(RELEASE / "demo.db", tmp_path / "demo.db")
    shutil.copy2(RELEASE / "master.key", tmp_path / "master.key")
    wiring.keys.cache_clear()
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("CME_MASTER_KEY", raising=False)
        patch.setenv("CME_MASTER_KEY_FILE", str(tmp_path / "master.key"))
        yield f"sqlite:///{tmp_path / 'demo.db'}"
    wiring.keys.cache_clear()


def test_reminders_not_needed_are_folded_unless_all(release: str) -> None:
    case = "CME-000007"  # 13 of its 38 events are reminders that lapsed
    data = json.loads(cme(release, "case", "show", case, "--on", "2024-10-16", "--json"))
    history = data["history"]
    assert [h["summary"] for h in history if EXPRESSION.search(h["summary"])] == []
    folded = [h for h in history if h["not_needed"]]
    assert len(folded) == 13
    assert all(h["summary"].startswith("Reminder not needed: ") for h in folded)
    assert re.fullmatch(
        r"Reminder not needed: Core information checked was recorded on \d{1,2} Sep 2024",
        folded[0]["summary"],
    )

    text = cme(release, "case", "show", case, "--on", "2024-10-16")
    fits(text, 100)
    assert "13 reminders not needed, hidden; --all shows them" in text
    assert "Reminder not needed" not in text
    assert not EXPRESSION.search(text)
    everything = " ".join(cme(release, "case", "show", case, "--on", "2024-10-16", "--all").split())
    assert everything.count("Reminder not needed: ") == 13
    assert "hidden" not in everything


def test_the_first_formal_letter_once_sent_records_its_check_and_lists_its_document(
    tmp_path: Path,
) -> None:
    db = f"sqlite:///{tmp_path / 'cme.db'}"
    cme(db, "case", "open", "--form", FORM, "--on", "2024-10-21")
    cme(db, "case", "fire", CASE, "start_reasonable_checks", "--on", "2024-10-24")
    assert "first_formal_letter_sent" in [c["id"] for c in shown(db)["outstanding_checks"]]
    sent = json.loads(cme(db, "outbox", "send", "--on", "2024-10-25", "--json"))
    (document_id,) = sent["documents"]

    rows = json.loads(cme(db, "outbox", "list", "--case", CASE, "--json"))
    (letter,) = [r for r in rows if r["kind"] == "letter"]
    assert letter["document_ids"] == [document_id]
    listed = cme(db, "outbox", "list", width=80)
    fits(listed, 80)
    row = next(line for line in listed.splitlines() if line.startswith(f"{letter['id']} "))
    assert row.split()[-1] == str(document_id)

    # Marking it posted as well is refused, saying when and with what it was recorded.
    again = CliRunner().invoke(
        cli, ["outbox", "posted", str(document_id), "--on", "2024-10-28", "--db", db],
        env={"CME_ACTOR": "sona"},
    )  # fmt: skip
    assert again.exit_code == 1
    assert (
        f"first_formal_letter_sent is already recorded on {CASE}, on 2024-10-25, with document "
        f"{document_id} as its evidence; nothing was written"
    ) in again.stderr

    summary = shown(db)
    assert summary["checks_recorded"]["first_formal_letter_sent"]["document_id"] == document_id
    assert "first_formal_letter_sent" not in [c["id"] for c in summary["outstanding_checks"]]
    recorded = summary["history"][-1]
    assert (recorded["kind"], recorded["actor"]) == ("check_recorded", "sona")
    assert recorded["summary"] == (
        "Recorded: First formal letter sent — letter first_formal_cme_letter sent "
        f"(document {document_id})"
    )


def test_stored_text_is_printed_neutralised(db: str, capsys: pytest.CaptureFixture[str]) -> None:
    from engine.cli.case_views import print_summary

    summary = shown(db)
    raw = "moved\x1b[2J\x1b]0;pwned\x07 \u202eaway"
    summary["child"]["full_name"] = raw
    summary["history"][1]["summary"] = raw
    summary["checklist"][0].update(on="2024-11-19", outcome=raw)
    print_summary(summary)
    out = capsys.readouterr().out
    for char in ("\x1b", "\x07", "\u202e"):
        assert char not in out
    assert out.count("\\x1b[2J") == 3


def test_wide_prints_wider_than_the_terminal(db: str) -> None:
    assert CASE in cme(db, "case", "list", "--wide", width=80)
    for args in (("case", "show", CASE, "--on", ON), ("due", "--on", ON)):
        narrow = cme(db, *args, width=80)
        wide = cme(db, *args, "--wide", width=80)
        assert max(len(line.rstrip()) for line in narrow.splitlines()) <= 80
        assert max(len(line.rstrip()) for line in wide.splitlines()) > 80, args
        assert len(wide.splitlines()) < len(narrow.splitlines()), args
