"""Scenario fixtures: a case service on SQLite (fast; the key walks also run on PostgreSQL through
the shared `service` fixture) that knows the made-up 2023-24 test calendar besides the shipped
ones."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from engine.cases.service import CaseService
from engine.language.registry import ProcessRegistry
from engine.store.database import open_store
from tests.scenarios.helpers import calendars


@pytest.fixture
def sqlite_service(sqlite_url: str, registry: ProcessRegistry) -> Iterator[CaseService]:
    """A case service on a fresh SQLite database, with the shipped processes."""
    store = open_store(sqlite_url)
    yield CaseService(store, registry, calendars=calendars)
    store.dispose()
