"""Shared fixtures: databases (SQLite always, PostgreSQL when the server is there), the shipped
process registry, a case service, and the dates the scenarios use."""

from __future__ import annotations

import datetime as dt
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:  # the fixtures import lazily, so collecting a test loads only what it needs
    from engine.cases.notification import NotificationForm
    from engine.cases.service import CaseService
    from engine.language.registry import ProcessRegistry
    from engine.store.database import Store

PG_ADMIN_URL = os.environ.get(
    "CME_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
RECORDED_AT = dt.datetime(2025, 9, 1, 9, 0, tzinfo=dt.UTC)
"""A recorded time after every effective date the tests use (commands may not be in the future)."""
# A fixed master key for the tests' case keys, so no test makes a development key in ./.cme/.
os.environ.setdefault("CME_MASTER_KEY", "dGVzdC1vbmx5LW1hc3Rlci1rZXktMzItYnl0ZXMhISE=")
# Every command names who acts (`cme` refuses one without an actor); tests that do not say who
# act as this officer. Tests of the refusal remove it (`monkeypatch.delenv("CME_ACTOR")`).
os.environ.setdefault("CME_ACTOR", "test.officer")


def _pg_available() -> str | None:
    try:
        import psycopg

        with psycopg.connect(
            PG_ADMIN_URL.replace("postgresql+psycopg", "postgresql"), connect_timeout=2
        ):
            return None
    except Exception as exc:  # noqa: BLE001 (any failure means: no server to test against)
        return f"PostgreSQL not reachable at 127.0.0.1:5432 ({type(exc).__name__})"


_PG_SKIP = _pg_available()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A fresh SQLite database file."""
    return f"sqlite:///{tmp_path / 'cme.db'}"


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh PostgreSQL database, dropped afterwards; skipped where the server is absent."""
    if _PG_SKIP:
        pytest.skip(_PG_SKIP)
    import psycopg

    name = f"cme_test_{uuid.uuid4().hex[:12]}"
    admin = PG_ADMIN_URL.replace("postgresql+psycopg", "postgresql")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    yield url
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest) -> str:
    """Each test using this runs on SQLite and on PostgreSQL."""
    name = "sqlite_url" if request.param == "sqlite" else "pg_url"
    return str(request.getfixturevalue(name))


@pytest.fixture(scope="session")
def registry() -> ProcessRegistry:
    """The shipped processes, compiled once per test session."""
    from engine.language.registry import ProcessRegistry

    return ProcessRegistry.from_package()


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    """An open, upgraded store on each database kind."""
    from engine.store.database import open_store

    s = open_store(db_url)
    yield s
    s.dispose()


@pytest.fixture
def service(store: Store, registry: ProcessRegistry) -> CaseService:
    """A case service over the store and the shipped processes."""
    from engine.cases.service import CaseService

    return CaseService(store, registry)


@pytest.fixture
def example_form() -> NotificationForm:
    """The shipped example notification (two siblings)."""
    from importlib.resources import files

    from engine.cases.notification import parse_form
    from engine.language.yamlsafe import load_yaml

    text = files("processes").joinpath("forms", "notification_example.yaml").read_text()
    return parse_form(load_yaml(text, "notification_example.yaml").data)
