"""Payload formats of the event log: the version stamped on each payload, the chain of upgrades
from older formats applied on read, and the fast builder of the typed models.

Reading never rewrites a stored payload (the hash covers it as written): an upgrade returns a
new dict, used only to build the model. How to add a format: `engine.cases.events`' docstring.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import MISSING, Field, fields
from typing import Any, TypeVar

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


def builder(cls: type[T]) -> Callable[[Mapping[str, Any], Any], T]:
    """A function building `cls` from a `data` dict (keys checked, not types) and a personal
    part, by filling its `__dict__`: a frozen dataclass's `__init__` costs an `__setattr__` per
    field, more than the rest of `apply` on verify's hot path. A field left out keeps its default
    as the dataclass's class attribute; only default factories are called.
    """
    data_fields_ = data_fields(cls)
    names = frozenset(f.name for f in data_fields_)
    required = frozenset(
        f.name for f in data_fields_ if f.default is MISSING and f.default_factory is MISSING
    )
    factories = tuple(
        (f.name, f.default_factory) for f in data_fields_ if f.default_factory is not MISSING
    )
    for f in data_fields_:  # the class-attribute fallback the builder relies on, checked once
        assert f.default is MISSING or getattr(cls, f.name) is f.default, f.name
    make: Any = cls  # Any: the builder sets fields on it directly
    new = object.__new__

    def build(data: Mapping[str, Any], personal: Any) -> T:
        keys = data.keys()
        if not (keys <= names and required <= keys):
            make(**data, personal=personal)  # raises the TypeError naming the key
        body: T = new(make)
        values = body.__dict__
        values.update(data)
        if personal is not None:
            values["personal"] = personal
        for name, factory in factories:
            if name not in keys:
                values[name] = factory()
        return body

    return build
