"""A school's own closure days (INSET, occasional days) laid over its LA's calendar.

A school overlay (`processes/calendars/schools/<key>.yaml`) names its base calendar and lists the
school's INSET and closure days by school year; `load_school_calendar` returns the base calendar
with those days closed, as a `SchoolCalendar` of its own (named `<base>.<key>`), for the processes
a school runs (school checks, removal grounds). Processes the LA runs keep the LA's calendar.
Does not own the calendar format (`engine/time/calendar_file.py`) nor which case uses which.
"""

from __future__ import annotations

import importlib.resources
import re
from importlib.resources.abc import Traversable
from typing import Annotated

import yaml
from pydantic import AfterValidator, Field, ValidationError

from engine.errors import CalendarError, DefinitionError, Issue
from engine.language.definition import ProcessDefinition
from engine.language.yamlsafe import Document, load_yaml, pydantic_issues
from engine.time.calendar import SchoolCalendar
from engine.time.calendar_file import CalendarDefinition, ClosureDefinition, _Strict
from engine.time.words import WEEKDAYS, day_words

_PACKAGE = "processes"
_FOLDER = "calendars/schools"
_KEY = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
# A school overlay's version counts within its base calendar's: base version 2 with overlay
# version 3 is 2003, so raising either raises the overlaid calendar's version.
_VERSION_STEP = 1000


def _urn(value: str) -> str:
    if not value.isdigit():
        raise ValueError(f"URN {value!r} must be the school's unique reference number, in digits")
    return value


class SchoolYearClosures(_Strict):
    """The days one school is closed to pupils in one school year, besides its LA's holidays."""

    inset_days: tuple[ClosureDefinition, ...] = ()
    """Staff training (INSET) days."""
    closures: tuple[ClosureDefinition, ...] = ()
    """Other days the school is closed (occasional days, polling days)."""
    note: str | None = None
    """Where these days were published."""


class SchoolOverlayDefinition(_Strict):
    """A school overlay file: the school, its base calendar, and its own closure days."""

    school: str = Field(min_length=1)
    """The school's name, as notifications write it."""
    urn: Annotated[str, AfterValidator(_urn)] | None = None
    """The school's unique reference number, if known."""
    base: str = Field(min_length=1)
    """The calendar whose terms the school follows (e.g. london)."""
    version: int = Field(ge=1, lt=_VERSION_STEP, strict=True)
    """Raised whenever a day changes."""
    source: str
    """Where the days were published (the school's page, with its address)."""
    years: dict[str, SchoolYearClosures] = Field(min_length=1)
    """School years keyed like 2025-26."""


def school_key(school: str) -> str:
    """The file name (without .yaml) a school's overlay is looked up by: its URN or its name in
    lower case with hyphens, e.g. `livingstone-primary-and-nursery-school`.
    """
    return re.sub(r"[^a-z0-9]+", "-", school.lower()).strip("-")


def _folder() -> Traversable:
    return importlib.resources.files(_PACKAGE).joinpath(_FOLDER)


def available_school_calendars() -> list[str]:
    """Keys of the shipped school overlays, sorted."""
    folder = _folder()
    if not folder.is_dir():
        return []
    return sorted(
        entry.name[: -len(".yaml")]
        for entry in folder.iterdir()
        if entry.name.endswith(".yaml") and entry.is_file()
    )


def parse_school_overlay(text: str, path: str) -> tuple[Document, SchoolOverlayDefinition]:
    """Validate overlay text; raise one `DefinitionError` carrying every issue."""
    doc = load_yaml(text, path)
    if not isinstance(doc.data, dict):
        raise DefinitionError(
            [doc.issue((), "a school overlay is a mapping: school, base, version, source, years")]
        )
    try:
        return doc, SchoolOverlayDefinition.model_validate(doc.data)
    except ValidationError as exc:
        raise DefinitionError(pydantic_issues(doc, exc.errors())) from None


def _check_days(doc: Document, overlay: SchoolOverlayDefinition, base: SchoolCalendar) -> None:
    """Refuse a day the base calendar cannot close: a year it lacks, a weekend, a holiday."""
    issues: list[Issue] = []
    for year, closures in overlay.years.items():
        if year not in base.definition.years:
            issues.append(
                doc.issue(
                    ("years", year),
                    f"school year {year} is not in calendar {base.name}, which covers "
                    f"{', '.join(base.school_years())}; add it there first (`cme calendar new "
                    f"{year}`)",
                )
            )
            continue
        terms = base.definition.years[year].terms
        for field in ("inset_days", "closures"):
            for i, item in enumerate(getattr(closures, field)):
                day, where = item.date, ("years", year, field, i, "date")
                words = f"{field}: {day_words(day)}"
                home = next((t for t in terms if t.first_day <= day <= t.last_day), None)
                half = home.half_term if home is not None else None
                if day.weekday() >= 5:
                    why = f"is a {WEEKDAYS[day.weekday()]}, never a school day"
                elif home is None:
                    why = f"is not in any term of {year} in calendar {base.name}"
                elif half is not None and half.first_day <= day <= half.last_day:
                    why = f"falls in the {home.name} half term in calendar {base.name}"
                elif day in base.bank_holidays:
                    why = f"is a bank holiday ({base.bank_holidays[day]})"
                else:
                    continue
                issues.append(doc.issue(where, f"{words} {why}, so closing it changes nothing"))
    if issues:
        raise DefinitionError(issues)


def overlay_calendar(
    base: SchoolCalendar, text: str, path: str, *, key: str | None = None
) -> SchoolCalendar:
    """`base` with the closure days of the overlay `text` added, as a calendar of its own."""
    doc, overlay = parse_school_overlay(text, path)
    key = key or path.rsplit("/", 1)[-1].removesuffix(".yaml")
    if overlay.base != base.name:
        raise DefinitionError(
            [doc.issue(("base",), f"base {overlay.base!r} is not calendar {base.name!r}")]
        )
    _check_days(doc, overlay, base)
    data = base.definition.model_dump(mode="json", exclude_none=True)
    for year, closures in overlay.years.items():
        extra = closures.model_dump(mode="json", exclude_none=True)
        for field in ("inset_days", "closures"):
            have = {item["date"] for item in data["years"][year].get(field, [])}
            data["years"][year][field] = data["years"][year].get(field, []) + [
                item for item in extra.get(field, []) if item["date"] not in have
            ]
    data["name"] = f"{base.name}.{key}"
    data["version"] = base.version * _VERSION_STEP + overlay.version
    data["description"] = f"{overlay.school}: calendar {base.name} with the school's own closures."
    data["source"] = f"{base.definition.source} School closures: {overlay.source}"
    header = (
        f"# Calendar {base.name} version {base.version} with the closure days of {path} "
        f"version {overlay.version} ({overlay.school}).\n"
    )
    merged = header + yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)
    CalendarDefinition.model_validate(load_yaml(merged, path).data)
    return SchoolCalendar.from_yaml(merged, f"{path} over {base.path}")


def find_school_calendar(school: str) -> str | None:
    """The key of the shipped overlay for `school` (its URN, name or key), or None."""
    known = available_school_calendars()
    key = school_key(school)
    if key in known:
        return key
    for candidate in known:
        text = _folder().joinpath(f"{candidate}.yaml").read_text(encoding="utf-8")
        data = load_yaml(text, candidate).data
        if isinstance(data, dict) and school in (str(data.get("urn")), data.get("school")):
            return candidate
    return None


def _read(key: str) -> tuple[str, str]:
    """(text, path) of the shipped overlay `key`."""
    path = f"{_PACKAGE}/{_FOLDER}/{key}.yaml"
    return _folder().joinpath(f"{key}.yaml").read_text(encoding="utf-8"), path


def school_overlay(key: str) -> SchoolOverlayDefinition:
    """The shipped overlay `key`, validated (not yet laid over its base)."""
    return parse_school_overlay(*_read(key))[1]


def load_school_calendar(school: str | None, base: SchoolCalendar) -> SchoolCalendar:
    """The calendar a school-run process uses for `school`: its overlay over `base` when one is
    shipped for it, else `base` itself (a school with no overlay keeps the LA's calendar).
    """
    if not school:
        return base
    key = find_school_calendar(school)
    if key is None:
        return base
    text, path = _read(key)
    overlay = parse_school_overlay(text, path)[1]
    if overlay.base != base.name:
        raise CalendarError(
            f"school {overlay.school!r} follows calendar {overlay.base!r} ({path}), not "
            f"{base.name!r}; open the case on {overlay.base!r} or change the overlay's base"
        )
    return overlay_calendar(base, text, path, key=key)


def runs_at_school(definition: ProcessDefinition) -> bool:
    """Whether the school runs this process (it has a `school` role: school checks, removal
    grounds), so its days are the pupil's school's; the LA's processes keep the LA's calendar.
    """
    return "school" in definition.roles


def case_calendar(
    definition: ProcessDefinition, base: SchoolCalendar, school: str | None
) -> SchoolCalendar:
    """The calendar a new case of `definition` counts on: `base` overlaid with `school`'s own
    closure days when the school runs the process, else `base` unchanged.
    """
    return load_school_calendar(school, base) if runs_at_school(definition) else base


__all__ = [
    "case_calendar",
    "runs_at_school",
    "school_overlay",
    "SchoolOverlayDefinition",
    "SchoolYearClosures",
    "available_school_calendars",
    "find_school_calendar",
    "load_school_calendar",
    "overlay_calendar",
    "parse_school_overlay",
    "school_key",
]
