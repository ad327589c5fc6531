"""The processes a run knows: compiled processes by (id, version), and which version is in force.

Owns: holding `CompiledProcess` objects, refusing two different texts for one (id, version),
looking processes up (with "did you mean"), and picking the version in force for a case opened on a
date. Does not own loading files (`loader.py`) or compiling (`machine.py`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Mapping

from engine.errors import DefinitionError, UnknownProcess, suggest
from engine.language.loader import LoadedProcess, load_processes, same_version_issue
from engine.language.machine import CompiledProcess, compile_process


class ProcessRegistry:
    """Compiled processes by (id, version); one machine each, shared by every case."""

    def __init__(self, loaded: Iterable[LoadedProcess] = ()) -> None:
        self._by_key: dict[tuple[str, int], CompiledProcess] = {}
        for item in loaded:
            self.add(item)

    @classmethod
    def from_package(cls) -> ProcessRegistry:
        """The processes shipped in `processes/` (raises `DefinitionError` if any is invalid)."""
        return cls(load_processes())

    def add(self, loaded: LoadedProcess) -> CompiledProcess:
        """Compile and hold a process; the same text twice is fine, a different one is refused."""
        key = (loaded.id, loaded.version)
        present = self._by_key.get(key)
        if present is not None:
            if present.content_hash == loaded.content_hash:
                return present
            raise DefinitionError([same_version_issue(present.loaded, loaded)])
        compiled = compile_process(loaded)
        self._by_key[key] = compiled
        return compiled

    def get(self, process_id: str, version: int | None = None) -> CompiledProcess:
        """The process at `version` (default: its highest version)."""
        versions = self.versions(process_id)
        if not versions:
            raise UnknownProcess(
                f"no process {process_id!r}" + suggest(process_id, self.ids(), what="processes"),
                process=process_id,
            )
        if version is None:
            version = versions[-1]
        compiled = self._by_key.get((process_id, version))
        if compiled is None:
            raise UnknownProcess(
                f"process {process_id!r} has no version {version}; known versions: "
                + ", ".join(str(v) for v in versions),
                process=process_id,
                version=version,
            )
        return compiled

    def in_force(
        self,
        process_id: str,
        on: dt.date,
        commenced: Mapping[int, dt.date] | None = None,
    ) -> CompiledProcess:
        """The highest version that applies to cases opened on `on` (a pending version only
        once `commenced` gives its date, by version).
        """
        candidates = [self.get(process_id, v) for v in self.versions(process_id)]
        if not candidates:
            self.get(process_id)  # raises UnknownProcess with a suggestion
        dates = commenced or {}
        chosen = choose_in_force(
            process_id,
            {
                c.definition.version: c.definition.applies_from(dates.get(c.definition.version))
                for c in candidates
            },
            on,
        )
        return self.get(process_id, chosen)

    def versions(self, process_id: str) -> list[int]:
        """The versions held of a process, ascending."""
        return sorted(v for (pid, v) in self._by_key if pid == process_id)

    def ids(self) -> list[str]:
        """The process ids held, sorted."""
        return sorted({pid for pid, _ in self._by_key})

    def __iter__(self) -> Iterator[CompiledProcess]:
        return iter(self._by_key[k] for k in sorted(self._by_key))

    def __len__(self) -> int:
        return len(self._by_key)


def choose_in_force(
    process_id: str, applies_from: Mapping[int, dt.date | None], on: dt.date
) -> int:
    """The version in force for cases opened on `on`: the highest whose first day (`applies_from`,
    None while pending) is on or before it; UnknownProcess saying when the earliest applies.
    """
    applying = [v for v, first in applies_from.items() if first is not None and first <= on]
    if applying:
        return max(applying)
    dated = sorted((first, v) for v, first in applies_from.items() if first is not None)
    if dated:
        first, version = dated[0]
        earliest = (
            f"the earliest, version {version}, applies to cases opened from {first.isoformat()}"
        )
    else:
        earliest = (
            "every version is pending: a policy owner gives the date with "
            f"`cme process commence {process_id} VERSION --on DATE`"
        )
    raise UnknownProcess(
        f"no version of process {process_id!r} is in force on {on.isoformat()}; {earliest}",
        process=process_id,
    )
