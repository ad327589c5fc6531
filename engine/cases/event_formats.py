"""Payload formats of the event log: the version stamped on each payload, the chain of upgrades
from older formats applied on read, and the fast builder of the typed models.

Reading never rewrites a stored payload (the hash covers it as written): an upgrade returns a
new dict, used only to build the model. How to add a format: `engine.cases.events`' docstring.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import MISSING, Field, fields
from typing import Any, Generic, TypeVar

FORMAT = 2
"""The payload format written today (stamped as `payload["v"]`)."""

FORMAT_KEY = "v"

Upgrade = Callable[[Mapping[str, Any]], dict[str, Any]] | None

UPGRADES: dict[int, Upgrade] = {1: None}
"""`UPGRADES[n]` turns a format-n payload into format n+1; None where the shape did not change
(format 2 only added the stamp), so reading skips the copy."""


def payload_format(payload: Mapping[str, Any]) -> int:
    """The format a stored payload was written in (no stamp: format 1)."""
    return int(payload.get(FORMAT_KEY, 1))


def upgraded(payload: Mapping[str, Any]) -> Mapping[str, Any]:
    """A stored payload in today's format, for reading only (the stored one is what is hashed)."""
    version = payload_format(payload)
    if version > FORMAT:
        raise ValueError(f"event payload format {version} is newer than this release ({FORMAT})")
    while version < FORMAT:
        step = UPGRADES[version]
        if step is not None:
            payload = step(payload)
        version += 1
    return payload


def read_as_is() -> frozenset[int]:
    """Formats whose payloads read as today's without a copy (no upgrade changes their shape)."""
    same = {FORMAT}
    for version in range(FORMAT - 1, 0, -1):
        if UPGRADES[version] is not None:
            break
        same.add(version)
    return frozenset(same)


READ_AS_IS = read_as_is()
"""Checked on every read, so computed once (recompute it if `UPGRADES` changes)."""

_FIELDS: dict[type, tuple[Field[Any], ...]] = {}


def data_fields(cls: type) -> tuple[Field[Any], ...]:
    """A model's fields that are `data` keys (all but `personal`), in declaration order."""
    found = _FIELDS.get(cls)
    if found is None:
        found = _FIELDS[cls] = tuple(f for f in fields(cls) if f.name != "personal")
    return found


T = TypeVar("T")


class Maker(Generic[T]):
    """Builds a model by filling its `__dict__`: a frozen dataclass's `__init__` costs an
    `object.__setattr__` per field, more than the rest of `apply` on verify's hot path.
    """

    __slots__ = ("cls", "defaults", "factories", "names", "required")

    def __init__(self, cls: type[T]) -> None:
        data = data_fields(cls)
        self.cls: type[Any] = cls  # Any: the builder sets fields `T` itself does not name
        self.names = frozenset(f.name for f in data)
        self.required = frozenset(
            f.name for f in data if f.default is MISSING and f.default_factory is MISSING
        )
        self.defaults = {f.name: f.default for f in data if f.default is not MISSING}
        self.factories = tuple(
            (f.name, f.default_factory) for f in data if f.default_factory is not MISSING
        )

    def __call__(self, data: Mapping[str, Any], personal: Any) -> T:
        """The model of `data` (its keys checked, not its types) with `personal` attached."""
        keys = data.keys()
        if not (keys <= self.names and self.required <= keys):
            self.cls(**data, personal=personal)  # raises the TypeError naming the key
        body: T = object.__new__(self.cls)
        values = body.__dict__
        values.update(self.defaults)
        for name, factory in self.factories:
            if name not in keys:
                values[name] = factory()
        values.update(data)
        values["personal"] = personal
        return body
