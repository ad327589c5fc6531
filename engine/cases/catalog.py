"""The catalog of stored process and calendar versions: what this database holds, and the one way
to turn a stored text back into a definition, a compiled process or a calendar.

A case is pinned to the process version and calendar it opened under; the text of each is
stored (`process_version`, `calendar_version`) when first used, so a case reads and advances on
the rules it started under whatever the files say today. Owns the newest stored calendar,
publishing (refusing a changed text whose version was not raised) and the per-version caches;
stored texts are reported under `stored_path` (engine/store/tables.py). Imports no loader,
guards or machines at module level: a reader (`cme case show`) pays for none of them.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, bindparam, insert, select, update
from sqlalchemy.engine import Connection

from engine.errors import UnknownProcess, VersionNotRaised
from engine.store.tables import calendar_version_table, process_version_table, stored_path
from engine.time.calendar import SchoolCalendar, bank_holidays_json

__all__ = [
    "Catalog",
    "StoredVersion",
    "calendar_from_row",
    "compile_text",
    "definition_from_text",
    "newest_calendar",
    "outline_from_row",
    "stored_outline",
    "stored_path",
]

if TYPE_CHECKING:
    from engine.cases.projection import CaseState
    from engine.language.definition import CheckDefinition, ProcessDefinition
    from engine.language.machine import CompiledProcess
    from engine.language.outline import ProcessOutline
    from engine.language.registry import ProcessRegistry

# Statements built once: SQLAlchemy caches their compiled SQL, so a read only executes them.
_SELECT_STORED_VERSION = select(
    process_version_table.c.content_hash, process_version_table.c.yaml_text
).where(
    and_(
        process_version_table.c.process_id == bindparam("process_id"),
        process_version_table.c.version == bindparam("version"),
    )
)
_SELECT_OUTLINE = select(process_version_table.c.outline, process_version_table.c.yaml_text).where(
    and_(
        process_version_table.c.process_id == bindparam("process_id"),
        process_version_table.c.version == bindparam("version"),
    )
)
_SELECT_VERSIONS = (
    select(
        process_version_table.c.version,
        process_version_table.c.content_hash,
        process_version_table.c.effective_from,
        process_version_table.c.yaml_text,
    )
    .where(process_version_table.c.process_id == bindparam("process_id"))
    .order_by(process_version_table.c.version)
)
_SELECT_VERSION_DATES = select(
    process_version_table.c.version, process_version_table.c.effective_from
).where(process_version_table.c.process_id == bindparam("process_id"))
_SELECT_NEWEST_CALENDAR = (
    select(
        calendar_version_table.c.version,
        calendar_version_table.c.content_hash,
        calendar_version_table.c.yaml_text,
        calendar_version_table.c.bank_holidays,
    )
    .where(calendar_version_table.c.name == bindparam("name"))
    .order_by(calendar_version_table.c.version.desc())
    .limit(1)
)

Reading = Callable[[Connection | None], AbstractContextManager[Connection]]
"""Opens a connection for a read, joining the running command's transaction if there is one."""


def definition_from_text(text: str, path: str) -> ProcessDefinition:
    """A published process text as a definition, for reading only.

    The text passed the full loader when it was published, so this skips the reference checks
    and guard compilation.
    """
    from pydantic import ValidationError

    from engine.language.definition import ProcessDefinition
    from engine.language.windows import with_windows
    from engine.language.yamlsafe import load_yaml

    try:
        # The definition the engine runs: with the timers its windows generate, as the loader
        # gives it (without them a stored version's start timers and escalations are unknown).
        return with_windows(ProcessDefinition.model_validate(load_yaml(text, path).data))
    except ValidationError:
        from engine.language.loader import load_process_text

        # Only if the stored text no longer fits today's language: say exactly where.
        return load_process_text(text, path).definition


def compile_text(text: str, path: str) -> CompiledProcess:
    """A stored process text compiled in full (guards and machine), to take steps under."""
    from engine.language.loader import load_process_text
    from engine.language.machine import compile_process

    return compile_process(load_process_text(text, path))


def outline_from_row(process_id: str, version: int, row: Any) -> ProcessOutline:
    """The outline stored with a process version (or, stored before outlines were, its text's)."""
    from engine.language.outline import ProcessOutline

    outline = None if row.outline is None else ProcessOutline.from_json(row.outline)
    if outline is None:
        from engine.language.loader import load_process_text

        # Stored before outlines were, by a text today's language refuses (the schema step
        # could not outline it): say exactly where it no longer fits.
        path = stored_path(process_id, version)
        return load_process_text(row.yaml_text, path).definition.outline()
    return outline


def stored_outline(conn: Connection, process_id: str, version: int) -> ProcessOutline | None:
    """The outline of a stored process version, or None if this database lacks the version."""
    row = conn.execute(_SELECT_OUTLINE, {"process_id": process_id, "version": version}).first()
    return None if row is None else outline_from_row(process_id, version, row)


def bank_holidays_from_json(text: str) -> dict[dt.date, str]:
    """Bank holidays as pinned with a stored calendar version ({iso date: name})."""
    return {dt.date.fromisoformat(day): name for day, name in json.loads(text).items()}


_CALENDARS: dict[tuple[str, int, str, str | None], SchoolCalendar] = {}
"""Stored calendar versions already built, by everything that decides them: the sweep reads the
newest version of a case's calendar for every batch, and building one (YAML and every school day
of its years) cost more than the batch's firings."""


def calendar_from_row(name: str, row: Any) -> SchoolCalendar:
    """A stored calendar version (a row with version, content_hash, yaml_text, bank_holidays)."""
    key = (name, row.version, row.content_hash, row.bank_holidays)
    built = _CALENDARS.get(key)
    if built is None or built.source_text != row.yaml_text:
        if len(_CALENDARS) >= 64:
            _CALENDARS.clear()
        built = _CALENDARS[key] = _calendar_from_row(name, row)
    return built


def _calendar_from_row(name: str, row: Any) -> SchoolCalendar:
    path = stored_path(name, row.version)
    if row.bank_holidays is not None:
        # The version as stored, with the bank holidays it was built with: no `holidays`
        # import (~0.1 s) on the way to showing a case.
        return SchoolCalendar.from_stored(
            row.yaml_text, path, bank_holidays=bank_holidays_from_json(row.bank_holidays)
        )
    from engine.time.calendars import available_calendars, load_calendar

    shipped = load_calendar(name) if name in available_calendars() else None
    if shipped is not None and shipped.content_hash == row.content_hash:
        return shipped
    return SchoolCalendar.from_yaml(row.yaml_text, path)


def newest_calendar(conn: Connection, name: str) -> SchoolCalendar | None:
    """The newest version of calendar `name` stored in this database, or None."""
    row = conn.execute(_SELECT_NEWEST_CALENDAR, {"name": name}).first()
    return None if row is None else calendar_from_row(name, row)


@dataclass(frozen=True)
class StoredVersion:
    """A process version this database holds."""

    process_id: str
    version: int
    content_hash: str
    effective_from: dt.date | None
    """The date it comes into force: its text's, or the date a policy owner gave a pending
    version (`cme process commence`); None while pending."""
    yaml_text: str = field(repr=False)

    @cached_property
    def definition(self) -> ProcessDefinition:
        """Its definition, for reading (read from the text on first use, once per version)."""
        key = (self.process_id, self.version, self.content_hash)
        found = _STORED_DEFINITIONS.get(key)
        if found is None:
            if len(_STORED_DEFINITIONS) >= 64:
                _STORED_DEFINITIONS.clear()
            found = _STORED_DEFINITIONS[key] = definition_from_text(
                self.yaml_text, stored_path(self.process_id, self.version)
            )
        return found

    @property
    def applies_from(self) -> dt.date | None:
        """The first day a new case takes it (None while pending)."""
        return self.definition.applies_from(self.effective_from)


_STORED_DEFINITIONS: dict[tuple[str, int, str], ProcessDefinition] = {}
"""Stored versions' definitions already read, by process, version and text hash: reading one
(YAML and the models) costs ~40 ms, and choosing the version for a new case needs only the
versions the registry lacks."""


def _as_date(value: Any) -> dt.date | None:
    if value is None or isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value)[:10])


class Catalog:
    """The process versions cases are pinned to, resolved once per version, and publishing.

    `registry` (or a factory called on first need) holds the processes new cases open under; a
    version is taken from it only when its text is the stored one.
    """

    def __init__(
        self,
        reading: Reading,
        registry: ProcessRegistry | Callable[[], ProcessRegistry],
    ) -> None:
        self._reading = reading
        self._registry: ProcessRegistry | None = None if callable(registry) else registry
        self._registry_factory = registry if callable(registry) else None
        # Versions (and calendars) this database is known to hold, by (name, version, hash).
        self.published: set[tuple[str, int, str]] = set()
        self._pinned: dict[tuple[str, int], CompiledProcess] = {}
        self._definitions: dict[tuple[str, int], ProcessDefinition] = {}
        self._checks: dict[int, tuple[ProcessDefinition, dict[str, CheckDefinition]]] = {}

    @property
    def registry(self) -> ProcessRegistry:
        """The processes new cases open under (loaded on first use if given as a factory)."""
        if self._registry is None:
            assert self._registry_factory is not None
            self._registry = self._registry_factory()
        return self._registry

    def process_for(self, case: CaseState) -> CompiledProcess:
        """The compiled process version the case is pinned to: the text stored when it opened.

        The registry's copy is used when its text is the stored one; otherwise (a file edited
        since, or a database made elsewhere) the stored text is compiled.
        """
        return self.compiled_version(case.process_id, case.process_version)

    def definition_for(self, case: CaseState) -> ProcessDefinition:
        """The definition the case is pinned to, for reading: no guards or machine are built."""
        key = (case.process_id, case.process_version)
        if key in self._pinned:
            return self._pinned[key].definition
        definition = self._definitions.get(key)
        if definition is None:
            stored = self.stored_version(*key)
            registered = self.registered(*key)
            if stored is None:
                definition = (registered or self.registry.get(*key)).definition
            elif registered is not None and registered.content_hash == stored[0]:
                definition = registered.definition
            else:
                definition = definition_from_text(stored[1], stored_path(*key))
            self._definitions[key] = definition
        return definition

    def checks_of(self, definition: ProcessDefinition) -> dict[str, CheckDefinition]:
        """Every check of a process version by id (built once per version, not per command)."""
        found = self._checks.get(id(definition))
        if found is None or found[0] is not definition:
            found = self._checks[id(definition)] = (definition, definition.checks())
        return found[1]

    def compiled_version(self, process_id: str, version: int) -> CompiledProcess:
        """A version to take steps under: the text this database stores for it (the registry's
        copy when it is that text), else the registry's; UnknownProcess if neither has it.
        One object, with one shared machine, serves every case of a version.
        """
        key = (process_id, version)
        compiled = self._pinned.get(key)
        if compiled is None:
            stored = self.stored_version(*key)
            compiled = self.registered(*key)
            if stored is not None and (compiled is None or compiled.content_hash != stored[0]):
                compiled = compile_text(stored[1], stored_path(*key))
            if compiled is None:
                compiled = self.registry.get(*key)
            self._pinned[key] = compiled
        return compiled

    def stored_versions(self, process_id: str) -> list[StoredVersion]:
        """The versions of a process this database holds, ascending, each with its effective
        date (its text's, or for a pending version the date a policy owner gave; None while
        pending) and its definition, read on first use.
        """
        with self._reading(None) as conn:
            rows = conn.execute(_SELECT_VERSIONS, {"process_id": process_id}).all()
        return [
            StoredVersion(
                process_id=process_id,
                version=row.version,
                content_hash=row.content_hash,
                effective_from=_as_date(row.effective_from),
                yaml_text=row.yaml_text,
            )
            for row in rows
        ]

    def effective_date(self, definition: ProcessDefinition) -> dt.date | None:
        """The date a version comes into force: its text's `effective_from`, else the date a
        policy owner gave it (stored); None while it is pending.
        """
        if definition.effective_from is not None:
            return definition.effective_from
        for held in self.stored_versions(definition.id):
            if held.version == definition.version:
                return held.effective_from
        return None

    def in_force(self, process_id: str, on: dt.date) -> CompiledProcess:
        """The version new cases opened on `on` take: the highest in force then among the
        registry's (`processes/`, `--file`) and the versions this database holds (published
        from anywhere). A pending version counts only once a policy owner has given its date.
        A registry copy whose text differs from the stored one of its number is returned, to
        be refused as a version not raised when it is published.
        """
        from engine.language.registry import choose_in_force

        # Every new case asks: the dates only, and a stored text read only for a version the
        # registry lacks.
        with self._reading(None) as conn:
            rows = conn.execute(_SELECT_VERSION_DATES, {"process_id": process_id}).all()
        stored = {row.version: _as_date(row.effective_from) for row in rows}
        shipped = self.registry.versions(process_id)
        firsts: dict[int, dt.date | None] = {}
        for version in shipped:
            definition = self.registry.get(process_id, version).definition
            firsts[version] = definition.applies_from(stored.get(version))
        others = [v for v in stored if v not in firsts]
        if others:
            held = {v.version: v for v in self.stored_versions(process_id)}
            for version in others:
                firsts[version] = held[version].applies_from
        if not firsts:
            self.registry.get(process_id)  # raises UnknownProcess with a suggestion
        chosen = choose_in_force(process_id, firsts, on)
        if chosen in shipped:
            return self.registry.get(process_id, chosen)
        return self.compiled_version(process_id, chosen)

    def stored_version(self, process_id: str, version: int) -> tuple[str, str] | None:
        """(content hash, YAML text) of a published process version, or None."""
        with self._reading(None) as conn:
            row = conn.execute(
                _SELECT_STORED_VERSION, {"process_id": process_id, "version": version}
            ).first()
        return None if row is None else (row[0], row[1])

    def registered(self, process_id: str, version: int) -> CompiledProcess | None:
        """The registry's copy of a version, only if the registry is loaded already."""
        if self._registry is None:
            return None
        try:
            return self._registry.get(process_id, version)
        except UnknownProcess:
            return None

    def publish(self, conn: Connection, compiled: CompiledProcess, at: dt.datetime) -> None:
        """Store a process version's text unless this database has it; refuse the same version
        with another text.
        """
        d = compiled.definition
        key = (d.id, d.version, compiled.content_hash)
        if key in self.published:
            return
        row = conn.execute(
            _SELECT_STORED_VERSION, {"process_id": d.id, "version": d.version}
        ).first()
        if row is None:
            conn.execute(
                insert(process_version_table).values(
                    process_id=d.id,
                    version=d.version,
                    content_hash=compiled.content_hash,
                    effective_from=d.effective_from,
                    yaml_text=compiled.loaded.text,
                    loaded_at=at,
                    outline=d.outline().to_json(),
                )
            )
        elif row[0] != compiled.content_hash:
            raise VersionNotRaised(
                kind="process", name=d.id, version=d.version, path=str(compiled.loaded.path)
            )
        self.published.add(key)

    def publish_calendar(self, conn: Connection, cal: SchoolCalendar, at: dt.datetime) -> bool:
        """Store `cal` unless this database has it; refuse the same version with other dates.
        True if it was new.
        """
        key = (cal.name, cal.version, cal.content_hash)
        if key in self.published:
            return False
        same_version = and_(
            calendar_version_table.c.name == cal.name,
            calendar_version_table.c.version == cal.version,
        )
        row = conn.execute(
            select(
                calendar_version_table.c.content_hash, calendar_version_table.c.bank_holidays
            ).where(same_version)
        ).first()
        holidays = bank_holidays_json(cal)
        if row is None:
            conn.execute(
                insert(calendar_version_table).values(
                    name=cal.name,
                    version=cal.version,
                    content_hash=cal.content_hash,
                    yaml_text=cal.source_text,
                    loaded_at=at,
                    bank_holidays=holidays,
                )
            )
        elif row[0] == cal.content_hash and row[1] is None:
            # Stored before bank holidays were pinned with the version: pin them now.
            conn.execute(
                update(calendar_version_table).where(same_version).values(bank_holidays=holidays)
            )
        elif row[0] != cal.content_hash:
            raise VersionNotRaised(
                kind="calendar", name=cal.name, version=cal.version, path=str(cal.path)
            )
        self.published.add(key)
        return row is None

    @contextmanager
    def keeping(self) -> Iterator[None]:
        """Forget what was published inside the block if it ends by an exception (a batch that
        rolled back).
        """
        published = set(self.published)
        try:
            yield
        except BaseException:
            # Versions published inside the rolled-back transaction were not kept.
            self.published = published
            raise
