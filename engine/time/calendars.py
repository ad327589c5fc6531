"""The catalog of shipped school calendars (`processes/calendars/*.yaml`) and loading a calendar
by name or from a file.

Owns which calendars ship, the default one, and the cache of those loaded. Does not own the file
format (`engine/time/calendar_file.py`) nor day arithmetic (`engine/time/calendar.py`).
"""

from __future__ import annotations

import importlib.resources
from importlib.resources.abc import Traversable
from pathlib import Path

from engine.errors import CalendarError, DefinitionError, Issue, VersionNotRaised, close_matches
from engine.time.calendar import SchoolCalendar
from engine.time.calendar_file import parse_calendar

# The shipped calendar covering the most school years (2023-24 to 2026-27): what `cme calendar`
# answers on unless told otherwise, and the one a deployment's new cases should use
# (`[calendars] default` in cme.toml).
LONDON_CALENDAR = "london"
# The engine's fallback for a new case whose process names no calendar and whose deployment sets
# no `[calendars] default`. Cases already opened on `london-2024-25` keep it: the calendar (and
# its version) is stored with each case (see processes/calendars/README.md).
DEFAULT_CALENDAR = LONDON_CALENDAR
_PACKAGE = "processes"
_FOLDER = "calendars"


_CACHE: dict[str, SchoolCalendar] = {}
_LOCAL: list[Path] = []
"""Folders of the authority's own calendar files (`[calendars] folder` in cme.toml), searched
before the shipped ones: set once by the composition root, so nothing below reads the config."""


def use_local_folder(folder: Path) -> None:
    """Search `folder` for calendar files (`<name>.yaml`) before the shipped calendars."""
    if folder not in _LOCAL:
        _LOCAL.insert(0, folder)
        _CACHE.clear()


def _local_file(name: str) -> Path | None:
    for folder in _LOCAL:
        candidate = folder / f"{name}.yaml"
        if candidate.is_file():
            return candidate
    return None


def _calendar_dir() -> Traversable:
    """The shipped calendars folder, read as package data whatever the working directory."""
    return importlib.resources.files(_PACKAGE).joinpath(_FOLDER)


def available_calendars() -> list[str]:
    """Names of the calendars in the authority's folder and in `processes/calendars/`, sorted."""
    shipped = {
        entry.name[: -len(".yaml")]
        for entry in _calendar_dir().iterdir()
        if entry.name.endswith(".yaml") and entry.is_file()
    }
    local = {p.stem for folder in _LOCAL if folder.is_dir() for p in folder.glob("*.yaml")}
    return sorted(shipped | local)


def load_calendar(name: str) -> SchoolCalendar:
    """The shipped calendar called `name` (cached); CalendarError listing known names if none."""
    cached = _CACHE.get(name)
    if cached is not None:
        return cached
    known = available_calendars()
    if name not in known and "." in name:
        overlaid = _school_calendar(name, known)
        if overlaid is not None:
            _CACHE[name] = overlaid
            return overlaid
    if name not in known:
        close = close_matches(name, known, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise CalendarError(
            f"no calendar named {name!r}.{hint} Known calendars: {', '.join(known) or 'none'}; "
            f"or give the path of a calendar YAML file"
        )
    local = _local_file(name)
    if local is not None:
        path, text = str(local), local.read_text(encoding="utf-8")
    else:
        path = f"{_PACKAGE}/{_FOLDER}/{name}.yaml"
        text = _calendar_dir().joinpath(f"{name}.yaml").read_text(encoding="utf-8")
    definition = parse_calendar(text, path, expected_name=name)
    calendar = SchoolCalendar(definition, source_text=text, path=path)
    _CACHE[name] = calendar
    return calendar


def shipped_years(name: str) -> list[str]:
    """The school years shipped calendar `name` lists, read without building it (no bank
    holidays, no validation): for advice in error messages, which must stay cheap.
    """
    from engine.language.yamlsafe import load_yaml

    local = _local_file(name)
    source = local if local is not None else _calendar_dir().joinpath(f"{name}.yaml")
    text = source.read_text(encoding="utf-8")
    data = load_yaml(text, name).data
    years = data.get("years") if isinstance(data, dict) else None
    return [str(key) for key in years] if isinstance(years, dict) else []


def _school_calendar(name: str, known: list[str]) -> SchoolCalendar | None:
    """Calendar `<base>.<school key>`: a shipped school overlay over shipped `base`, or None."""
    from engine.time.school_calendars import (
        available_school_calendars,
        load_school_calendar,
        school_overlay,
    )

    base, _, key = name.partition(".")
    if base not in known or key not in available_school_calendars():
        return None
    if school_overlay(key).base != base:
        return None
    return load_school_calendar(key, load_calendar(base))


def load_calendar_file(path: str | Path) -> SchoolCalendar:
    """A calendar read from a YAML file anywhere (not cached: the file may be being edited)."""
    where = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise DefinitionError([Issue(where, 1, 1, f"not UTF-8 text: {exc.reason}")]) from None
    except OSError as exc:
        raise CalendarError(f"cannot read calendar file {where}: {exc.strerror}") from None
    return SchoolCalendar.from_yaml(text, where)


def refuse_unreloaded(file: SchoolCalendar, stored: SchoolCalendar | None) -> None:
    """Refuse (VersionNotRaised) a calendar file that holds the version a database stores, with
    other dates: one version label must never give two answers (`cme case open` counting on the
    stored dates, `cme calendar` on the file's). Raise its version and run `cme calendar reload`.
    """
    if (
        stored is not None
        and stored.name == file.name
        and stored.version == file.version
        and stored.content_hash != file.content_hash
    ):
        raise VersionNotRaised(
            kind="calendar", name=file.name, version=file.version, path=str(file.path)
        )


def load_calendar_or_file(spec: str) -> SchoolCalendar:
    """A shipped calendar by name, or a calendar file if `spec` looks like a path (`.yaml`, `/`)."""
    if spec.endswith((".yaml", ".yml")) or "/" in spec or "\\" in spec:
        return load_calendar_file(spec)
    return load_calendar(spec)


__all__ = [
    "DEFAULT_CALENDAR",
    "LONDON_CALENDAR",
    "available_calendars",
    "load_calendar",
    "load_calendar_file",
    "load_calendar_or_file",
    "refuse_unreloaded",
    "use_local_folder",
    "shipped_years",
]
