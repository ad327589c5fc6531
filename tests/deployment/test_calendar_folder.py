"""`[calendars] folder` in cme.toml: the authority's own calendar files, found by name beside the
shipped ones, listed, counted on and used for new cases."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from engine.time.calendars import LONDON_CALENDAR, load_calendar
from tests.deployment.test_init import FORM, cme


def _deployment(tmp_path: Path) -> Path:
    """A deployment whose cme.toml names a calendars folder holding `camden.yaml`, its default."""
    folder = tmp_path / "la"
    made = cme("init", str(folder), cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    shipped = Path(load_calendar(LONDON_CALENDAR).path)
    text = (Path(__file__).resolve().parents[2] / shipped).read_text(encoding="utf-8")
    (folder / "calendars").mkdir()
    (folder / "calendars" / "camden.yaml").write_text(
        text.replace("name: london\n", "name: camden\n", 1), encoding="utf-8"
    )
    config = (folder / "cme.toml").read_text(encoding="utf-8")
    config = config.replace('# folder = "calendars"', 'folder = "calendars"')
    config = config.replace('# default = "london"', 'default = "camden"')
    (folder / "cme.toml").write_text(config, encoding="utf-8")
    form = yaml.safe_load(Path(FORM).read_text(encoding="utf-8"))
    form["date"] = "2026-12-03"
    (folder / "form.yaml").write_text(yaml.safe_dump(form), encoding="utf-8")
    return folder


def test_a_calendar_in_the_deployments_folder_is_listed_counted_on_and_used(
    tmp_path: Path,
) -> None:
    folder = _deployment(tmp_path)
    listed = cme("calendar", "list", cwd=folder)
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.splitlines()[0].startswith("camden  version 1")
    day = cme(
        "calendar",
        "school-day",
        "--from",
        "2026-12-03",
        "--day",
        "5",
        "--calendar",
        "camden",
        cwd=folder,
    )
    assert day.returncode == 0, day.stderr
    assert "Day 5 = 9 Dec 2026" in day.stdout
    assert "calendar camden version 1" in day.stdout
    opened = cme(
        "case", "open", "--form", "form.yaml", "--on", "2026-12-03", cwd=folder, CME_ACTOR="sona"
    )
    assert opened.returncode == 0, opened.stderr
    first = opened.stdout.split()[0]
    shown = cme("case", "show", first, "--json", cwd=folder, CME_ACTOR="sona")
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["calendar"] == "camden"


def test_without_the_folder_setting_the_authoritys_calendar_is_unknown(tmp_path: Path) -> None:
    folder = _deployment(tmp_path)
    config = (folder / "cme.toml").read_text(encoding="utf-8")
    (folder / "cme.toml").write_text(
        config.replace('folder = "calendars"', '# folder = "calendars"'), encoding="utf-8"
    )
    day = cme(
        "calendar",
        "school-day",
        "--from",
        "2026-12-03",
        "--day",
        "5",
        "--calendar",
        "camden",
        cwd=folder,
    )
    assert day.returncode != 0
    assert "no calendar named 'camden'" in day.stderr
