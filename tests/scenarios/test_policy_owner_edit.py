"""Issue 13, done when: a policy owner moves Appendix 7's "Day 5–15" to "Day 4–15" by changing
one number in a copy of the untraceable_cme version running cases are on (version 2, kept in
untraceable_cme_v2.yaml since version 3 of 4 December 2026) and raising its version (to 4, past
the shipped 3), with the date it comes into force; validate, lint, impact (naming each affected
open case and its new dates), publish from the file, and a case opened after that date all agree
the reasonable checks start on Day 4.

Real dates on the real `london` calendar (Ealing's 2026-27 terms): version 4 is in force from
Monday 23 November 2026. Cases notified on Wednesday 18 November start their checks on Day 5,
Tuesday 24 November, under version 2, and would start on Day 4, Monday 23 November, under 4.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from tests.docs.guide_shell import REPO, GuideShell, write_form

OFFICER = ("--role", "cme_officer", "--actor", "sona")
EDITED = "untraceable_cme_v4.yaml"
IN_FORCE = "2026-11-23"


def edited_copy(folder: Path) -> Path:
    """The shipped file with one number changed, its version raised and its date given."""
    text = (REPO / "processes" / "untraceable_cme_v2.yaml").read_text(encoding="utf-8")
    window = "\n  reasonable_checks:\n"
    assert text.count("\n    days: 5-15\n") == 1
    edited = text.replace("\n    days: 5-15\n", "\n    days: 4-15\n")
    changed = [(a, b) for a, b in zip(text, edited, strict=True) if a != b]
    assert changed == [("5", "4")], "the window moves by one number"
    assert edited.index("\n    days: 4-15\n") > edited.index(window)
    edited = edited.replace("\nversion: 2\n", "\nversion: 4\n").replace(
        "\neffective_from: 2023-04-01\n", f"\neffective_from: {IN_FORCE}\n"
    )
    path = folder / EDITED
    path.write_text(edited, encoding="utf-8")
    return path


def open_case(shell: GuideShell, folder: Path, on: str, name: str, born: str) -> str:
    form = write_form(
        folder / f"{name}.yaml", on=dt.date.fromisoformat(on), children=[(name, born)]
    )
    opened = json.loads(
        shell.cme("case", "open", "--form", str(form), "--on", on, "--json", *OFFICER)
    )
    (case_id,) = opened["case_ids"]
    return str(case_id)


def show(shell: GuideShell, case_id: str) -> dict[str, Any]:
    return json.loads(  # type: ignore[no-any-return]
        shell.cme("case", "show", case_id, "--json", *OFFICER)
    )


def pending(shown: dict[str, Any]) -> dict[str, str]:
    return {t["timer"]: t["due_date"] for t in shown["timers"] if t["status"] == "pending"}


def test_moving_day_5_to_day_4_agrees_from_validate_to_a_new_case(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shell = GuideShell(tmp_path, monkeypatch)
    shell.run("export CME_ACTOR=pat.owner")
    # Running cases on version 2: two notified on Wednesday 18 November (Day 5 = 24 November),
    # one on Monday 9 November already in its reasonable checks since Day 5, 13 November.
    first = open_case(shell, tmp_path, "2026-11-18", "Bea Costa", "2016-05-02")
    second = open_case(shell, tmp_path, "2026-11-18", "Rui Costa", "2014-01-20")
    checking = open_case(shell, tmp_path, "2026-11-09", "Ines Lopes", "2015-09-30")
    shell.cme("tick", "--until", "2026-11-13")
    assert show(shell, checking)["state"] == "reasonable_checks"
    assert pending(show(shell, first))["reasonable_checks_starts"] == "2026-11-24"

    path = edited_copy(tmp_path)

    # validate and lint: the window is Day 4–15, and so are the start and every check's window.
    assert f"{EDITED}: ok: untraceable_cme version 4" in shell.cme("process", "validate", EDITED)
    assert f"{EDITED}: lint clean" in shell.cme("process", "lint", EDITED)
    definition = json.loads(shell.cme("process", "show", EDITED, "--json"))["definition"]
    checks = definition["states"]["reasonable_checks"]
    assert checks["days"] == {"first": 4, "last": 15}
    assert {c["id"]: c["days"]["first"] for c in checks["checklist"]} == dict.fromkeys(
        [c["id"] for c in checks["checklist"]], 4
    )
    (start,) = [
        t
        for t in definition["states"]["establishing_contact"]["timers"]
        if t["fire"] == "start_reasonable_checks"
    ]
    assert start["day"] == 4

    # impact: each open case by id, its start 24 → 23 November, its check window's new dates.
    text = shell.cme(
        "process", "impact", "untraceable_cme", "4", "--file", EDITED, "--on", IN_FORCE
    )
    for case_id in (first, second):
        assert f"  {case_id} (version 2, in establishing_contact)\n" in text
    assert (
        "    timer reasonable_checks_starts: 24 Nov 2026 → 23 Nov 2026 (1 school day earlier)"
        in (text)
    )
    assert "2 deadlines would already have passed on 2026-11-23 and fall due at once." in text
    report = json.loads(
        shell.cme(
            "process",
            "impact",
            "untraceable_cme",
            "4",
            "--file",
            EDITED,
            "--on",
            IN_FORCE,
            "--json",
        )
    )
    cases = {c["case_id"]: c for c in report["cases"]}
    assert set(cases) == {first, second, checking}
    for case_id in (first, second):
        assert cases[case_id]["deadlines"] == [
            {
                "timer": "reasonable_checks_starts",
                "old": "2026-11-24",
                "new": "2026-11-23",
                "school_days": -1,
            }
        ]
        assert cases[case_id]["due_at_once"] == [
            {"timer": "reasonable_checks_starts", "due": "2026-11-23"}
        ]
        windows = {w["check"]: w for w in cases[case_id]["check_windows"]}
        assert windows["mash_check"] == {
            "check": "mash_check",
            "stage": "reasonable_checks",
            "old": "Day 5–15",
            "new": "Day 4–15",
            "old_dates": ["2026-11-24", "2026-12-08"],
            "new_dates": ["2026-11-23", "2026-12-08"],
        }
    # Already in its checks: no deadline moves, its window now starts a day earlier.
    assert cases[checking]["deadlines"] == []
    assert {w["check"]: w["new_dates"] for w in cases[checking]["check_windows"]}["mash_check"] == [
        "2026-11-12",
        "2026-11-27",
    ]

    # publish from the file: stored, in force from its date; show reads the stored version.
    published = shell.cme("process", "publish", "untraceable_cme", "--file", str(path))
    assert "stored untraceable_cme version 4" in published
    assert "untraceable_cme version 4: in force, from 2026-11-23" in shell.cme("process", "list")
    stored = json.loads(shell.cme("process", "show", "untraceable_cme", "--version", "4", "--json"))
    assert stored["definition"]["states"]["reasonable_checks"]["days"] == {"first": 4, "last": 15}

    # A case notified before the date stays on version 2 (Day 5); one after it takes version 4:
    # notified Tuesday 24 November, its checks start on Day 4, Friday 27 November.
    before = open_case(shell, tmp_path, "2026-11-20", "Ana Reis", "2015-02-11")
    after = open_case(shell, tmp_path, "2026-11-24", "Tom Reis", "2013-06-05")
    assert show(shell, before)["process"]["version"] == 2
    assert pending(show(shell, before))["reasonable_checks_starts"] == "2026-11-26"
    assert show(shell, after)["process"]["version"] == 4
    assert pending(show(shell, after))["reasonable_checks_starts"] == "2026-11-27"
    shell.cme("tick", "--until", "2026-11-26")
    assert show(shell, after)["state"] == "establishing_contact"
    shell.cme("tick", "--until", "2026-11-27")
    on_day_4 = show(shell, after)
    assert on_day_4["state"] == "reasonable_checks"
    (started,) = [e for e in on_day_4["history"] if e["kind"] == "timer_fired"]
    assert started["effective_date"] == "2026-11-27"
    assert "start reasonable checks" in started["summary"]
    assert {c["days"] for c in on_day_4["checklist"]} == {"Day 4–15"}
    windows = {c["id"]: c["window"] for c in on_day_4["outstanding_checks"]}
    assert windows["mash_check"] == "Day 4–15"
