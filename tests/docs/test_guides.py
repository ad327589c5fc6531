"""The policy owner's guides do what they say: each recipe of processes/README.md (edit →
validate → lint → diagram → impact → publish → migrate, and a pending version commenced) and of
processes/calendars/README.md (calendar reload) run as written, on a database with running cases,
the edits the prose describes made as it words them."""

from __future__ import annotations

import datetime as dt
import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tests.docs.guide_shell import REPO, GuideShell, commands, section, write_form

PROCESSES = (REPO / "processes" / "README.md").read_text(encoding="utf-8")
CALENDARS = (REPO / "processes" / "calendars" / "README.md").read_text(encoding="utf-8")
RECIPE = section(PROCESSES, "## From an edit to running cases")
PENDING = section(RECIPE, "### A version whose date is not known yet")
RELOAD = section(CALENDARS, "## Changing a calendar under running cases: `cme calendar reload`")
OFFICER = ("--role", "cme_officer", "--actor", "sona")


def edit_to_day_4(path: Path, *, effective_from: str | None) -> None:
    """The guide's edit: reasonable checks from `days: 5-15` to `days: 4-15`, version 3 to 4,
    and the effective date (or, left out, a commencement text)."""
    text = path.read_text(encoding="utf-8")
    assert text.count("\n    days: 5-15\n") == 1
    text = text.replace("\n    days: 5-15\n", "\n    days: 4-15\n")
    text = text.replace("\nversion: 3\n", "\nversion: 4\n")
    dated = (
        f"effective_from: {effective_from}\n"
        if effective_from
        else ("commencement: the day the policy owner's change is agreed\n")
    )
    text = text.replace("effective_from: 2026-12-04\n", dated)
    path.write_text(text, encoding="utf-8")


def open_cases(shell: GuideShell, tmp_path: Path, on: dt.date, count: int) -> None:
    children = [("Bea Costa", "2016-05-02"), ("Rui Costa", "2014-01-20")][:count]
    form = write_form(tmp_path / "form.yaml", on=on, children=children)
    shell.cme("case", "open", "--form", str(form), "--on", on.isoformat(), *OFFICER)


def test_the_process_guide_walks_a_change_from_edit_to_migration(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert "change `reasonable_checks`' `days: 5-15` to `days: 4-15`" in RECIPE
    assert "raise\n`version: 3` to `version: 4`, and set `effective_from: 2026-11-23`" in RECIPE
    shell = GuideShell(tmp_path, monkeypatch)
    # Two children notified on Wednesday 18 November 2026: Day 5 is Tuesday 24 November.
    open_cases(shell, tmp_path, dt.date(2026, 11, 18), 2)
    blocks = commands(RECIPE.split("### A version")[0])
    assert [b[0].split()[0:3] for b in blocks] == [
        ["cp", "processes/untraceable_cme.yaml", "untraceable_cme_v4.yaml"],
        ["cme", "process", "validate"],
        ["cme", "process", "diff"],
        ["export", "CME_ACTOR=pat.owner"],
        ["cme", "process", "publish"],
        ["cme", "process", "migrate"],
    ]
    out = []
    for n, block in enumerate(blocks):
        for line in block:
            out.append(shell.run(line))
        if n == 0:
            edit_to_day_4(tmp_path / "untraceable_cme_v4.yaml", effective_from="2026-11-23")
    text = "\n".join(out)
    assert "untraceable_cme_v4.yaml: ok: untraceable_cme version 4" in text
    assert "untraceable_cme_v4.yaml: lint clean" in text
    assert "  state reasonable_checks: days: Day 5–15 → Day 4–15" in text
    drawn = ET.parse(tmp_path / "changes.svg").getroot()
    assert "(changed in version 4)" in {
        t.text for t in drawn.iter("{http://www.w3.org/2000/svg}text")
    }
    for case_id in ("CME-000001", "CME-000002"):
        assert f"  {case_id} (version 2, in establishing_contact)" in text
    assert (
        "    timer reasonable_checks_starts: 24 Nov 2026 → 23 Nov 2026 (1 school day earlier)"
        in text
    )
    # Cases on version 2 also get version 3's changes: one Day 1-3 contact check, phone or email.
    assert (
        "    falls due at once: contact_attempted_outstanding (due 23 Nov 2026), "
        "reasonable_checks_starts (due 23 Nov 2026)" in text
    )
    assert "stored untraceable_cme version 4" in text
    assert "untraceable_cme version 4: in force" in text
    assert "2 cases would move." in text
    assert "migrated 2 cases" in text
    shown = json.loads(shell.cme("case", "show", "CME-000001", "--json", *OFFICER))
    assert shown["process"]["version"] == 4
    starts = [t for t in shown["timers"] if t["timer"] == "reasonable_checks_starts"]
    assert [t["due_date"] for t in starts if t["status"] == "pending"] == ["2026-11-23"]


def test_the_process_guide_s_pending_version_is_commenced_once_its_date_is_known(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert "Leave `effective_from` out and say what brings it into force in `commencement:`" in (
        PENDING
    )
    shell = GuideShell(tmp_path, monkeypatch)
    shell.run("export CME_ACTOR=pat.owner")
    shell.run("cp processes/untraceable_cme.yaml untraceable_cme_v4.yaml")
    edit_to_day_4(tmp_path / "untraceable_cme_v4.yaml", effective_from=None)
    (block,) = commands(PENDING)
    publish, commence = block
    shell.run(publish)
    assert "untraceable_cme version 4: pending" in shell.cme("process", "list")
    impact = ("process", "impact", "untraceable_cme", "4", "--file", "untraceable_cme_v4.yaml")
    assert "Version 4 is pending: it applies to no case until a policy owner gives its date" in (
        shell.cme(*impact, "--on", "2026-11-23")
    )
    shell.run(commence)
    assert "untraceable_cme version 4: in force" in shell.cme("process", "list")
    assert "Version 4 applies to cases opened from 2026-11-23" in (
        shell.cme(*impact, "--on", "2026-11-23")
    )
    # A child notified on Tuesday 24 November 2026 is on version 4: checks start on Day 4.
    open_cases(shell, tmp_path, dt.date(2026, 11, 24), 1)
    shown = json.loads(shell.cme("case", "show", "CME-000001", "--json", *OFFICER))
    assert shown["process"]["version"] == 4
    assert {t["timer"]: t["due_date"] for t in shown["timers"]}["reasonable_checks_starts"] == (
        "2026-11-27"
    )


def test_the_calendar_guide_reloads_a_changed_calendar_under_running_cases(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert 'change `closures: []` to\n`closures: [{date: 2026-11-26, note: "polling day"}]`' in (
        RELOAD
    )
    shell = GuideShell(tmp_path, monkeypatch)
    # Notified on Tuesday 24 November 2026: Day 5 is Monday 30 November, or Tuesday 1
    # December once Thursday 26 November is closed.
    open_cases(shell, tmp_path, dt.date(2026, 11, 24), 1)
    before = json.loads(shell.cme("case", "show", "CME-000001", "--json", *OFFICER))
    assert {t["timer"]: t["due_date"] for t in before["timers"]}["reasonable_checks_starts"] == (
        "2026-11-30"
    )
    cp, rest = commands(RELOAD)
    for line in cp:
        shell.run(line)
    calendar = tmp_path / "london.yaml"
    text = calendar.read_text(encoding="utf-8")
    last = text.rindex("    closures: []\n")
    text = (
        text[:last]
        + '    closures: [{date: 2026-11-26, note: "polling day"}]\n'
        + text[last + len("    closures: []\n") :]
    ).replace("\nversion: 1\n", "\nversion: 2\n", 1)
    calendar.write_text(text, encoding="utf-8")
    out = "\n".join(shell.run(line) for line in rest)
    assert "polling day" in out
    assert "2026-11-30" in out
    assert "2026-12-01" in out
    after = json.loads(shell.cme("case", "show", "CME-000001", "--json", *OFFICER))
    pending = {t["timer"]: t["due_date"] for t in after["timers"] if t["status"] == "pending"}
    assert pending["reasonable_checks_starts"] == "2026-12-01"
