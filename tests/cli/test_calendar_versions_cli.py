"""Calendars are refused like processes (issue 13): a calendar file that holds the version a
database stores, with other dates, is refused by `cme case open` and `cme calendar school-day`
alike, saying to raise the version and run `cme calendar reload`; so one version label never
gives two answers."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml

from engine.time.calendars import LONDON_CALENDAR, load_calendar
from tests.deployment.test_init import FORM, cme

ROOT = Path(__file__).resolve().parents[2]


def _deployment(tmp_path: Path) -> Path:
    """A deployment whose own calendars folder holds `london.yaml`, as shipped."""
    folder = tmp_path / "la"
    made = cme("init", str(folder), cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    text = (ROOT / load_calendar(LONDON_CALENDAR).path).read_text(encoding="utf-8")
    (folder / "calendars").mkdir()
    (folder / "calendars" / "london.yaml").write_text(text, encoding="utf-8")
    config = (folder / "cme.toml").read_text(encoding="utf-8")
    (folder / "cme.toml").write_text(
        config.replace('# folder = "calendars"', 'folder = "calendars"'), encoding="utf-8"
    )
    return folder


def _form(folder: Path, name: str, child: str, dob: str) -> str:
    form = yaml.safe_load(Path(FORM).read_text(encoding="utf-8"))
    form["date"] = "2024-10-21"
    form["children"] = [{**form["children"][0], "full_name": child, "date_of_birth": dob}]
    form["children"][0].pop("upn", None)
    (folder / name).write_text(yaml.safe_dump(form), encoding="utf-8")
    return name


def _edit(folder: Path, *, version: int) -> None:
    """A polling-day closure on Tuesday 5 November 2024 (in 2024-25), at `version`."""
    path = folder / "calendars" / "london.yaml"
    text = path.read_text(encoding="utf-8")
    head, year, rest = text.partition("  2024-25:\n")
    if "polling day" not in rest:
        rest = rest.replace(
            "    closures: []\n",
            "    closures:\n      - date: 2024-11-05\n        note: polling day\n",
            1,
        )
    head = head.replace("\nversion: 1\n", f"\nversion: {version}\n", 1)
    path.write_text(head + year + rest, encoding="utf-8")


def test_an_edited_calendar_file_is_refused_until_its_version_is_raised_and_reloaded(
    tmp_path: Path,
) -> None:
    folder = _deployment(tmp_path)
    first = _form(folder, "first.yaml", "Ana Silva", "2015-03-14")
    opened = cme("case", "open", "--form", first, "--on", "2024-10-21", cwd=folder)
    assert opened.returncode == 0, opened.stderr
    case_id = opened.stdout.split()[0]
    # Day 5 (25 Oct 2024) moves the case into its checks, whose deadlines fall after 5 Nov.
    ticked = cme("tick", "--until", "2024-10-25", cwd=folder)
    assert ticked.returncode == 0, ticked.stderr
    day26 = ("calendar", "school-day", "--from", "2024-10-21", "--day", "26")
    before = cme(*day26, cwd=folder)
    assert before.returncode == 0, before.stderr

    _edit(folder, version=1)  # the dates change, the version does not
    second = _form(folder, "second.yaml", "Ben Okoro", "2016-01-20")
    refused = cme("case", "open", "--form", second, "--on", "2024-10-25", cwd=folder)
    assert refused.returncode == 1
    assert "calendars/london.yaml changed since calendar london version 1 was loaded" in (
        refused.stderr
    )
    assert "set `version: 2` and run `cme calendar reload london`" in refused.stderr
    listed = cme("case", "list", "--json", cwd=folder)
    assert listed.stdout.count('"id"') == 1, "nothing was written"
    asked = cme(*day26, cwd=folder)
    assert asked.returncode == 1
    assert "set `version: 2` and run `cme calendar reload london`" in asked.stderr

    _edit(folder, version=2)
    reloaded = cme("calendar", "reload", "london", "--on", "2024-10-25", cwd=folder)
    assert reloaded.returncode == 0, reloaded.stderr
    # The journal says who loaded which version and each deadline's old and new date.
    shown = cme("case", "show", case_id, "--json", cwd=folder)
    assert shown.returncode == 0, shown.stderr
    (moved,) = [h for h in json.loads(shown.stdout)["history"] if h["kind"] == "deadline_moved"]
    assert moved["summary"].startswith(
        "deadlines moved: calendar london version 1 → version 2, loaded by jo.admin "
        "(policy_owner): "
    )
    assert re.search(r"\d+ \w{3} 2024 → \d+ \w{3} 2024", moved["summary"])
    assert moved["summary"].endswith("no longer school days: 5 Nov 2024")
    opened = cme("case", "open", "--form", second, "--on", "2024-10-25", cwd=folder)
    assert opened.returncode == 0, opened.stderr
    after = cme(*day26, cwd=folder)
    assert after.returncode == 0, after.stderr
    assert "version 2" in after.stdout
    assert after.stdout.splitlines()[0] != before.stdout.splitlines()[0]
