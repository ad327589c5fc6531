"""A school sees only the cases it notified; other roles see what their permissions allow."""

from __future__ import annotations

import datetime as dt
from importlib.resources import files

import pytest
import yaml
from fastapi import FastAPI

from engine.cases.notification import parse_form
from engine.cli import wiring
from engine.protection.access import Actor
from engine.web.accounts import WebUser, add_account
from engine.web.context import NotAllowed
from engine.web.scope import (
    may_see,
    refuse_unless_may_see,
    visible_case_ids,
    visible_rows,
)

AT = dt.datetime(2024, 10, 21, 9, tzinfo=dt.UTC)
KENTISH = WebUser("kt.lead", "school", "Kentish Town Primary School")
OTHER = WebUser("ga.lead", "school", "Gospel Oak Primary School")


def open_example(app: FastAPI, actor: Actor, process: str = "school_checks") -> list[str]:
    """The example notification's two children, opened by `actor`."""
    text = files("processes").joinpath("forms", "notification_example.yaml").read_text()
    form = parse_form(yaml.safe_load(text))
    service = app.state.engine.service
    return list(
        service.open_case(form, on=dt.date(2024, 10, 21), at=AT, actor=actor, process=process)
    )


@pytest.fixture
def web_db(db_url: str) -> str:
    """These run on SQLite and on PostgreSQL (the app's database, from tests/conftest.py)."""
    return db_url


@pytest.fixture
def cases(web_app: FastAPI) -> tuple[list[str], list[str]]:
    """Cases Kentish Town notified, and cases the CME officer opened."""
    store = web_app.state.engine.store
    for user in (KENTISH, OTHER):
        add_account(
            store,
            wiring.roles(),
            name=user.name,
            role="school",
            password=None,
            by="t",
            at=AT,
            school=user.school,
        )
    school = open_example(web_app, Actor(KENTISH.name, "school"))
    # The officer's cases are recorded under the same name as the school's account: only events
    # recorded in the role `school` make a school their notifier.
    officer = open_example(web_app, Actor(KENTISH.name, "cme_officer"), process="untraceable_cme")
    return school, officer


def test_a_school_sees_only_what_it_notified(
    web_app: FastAPI, cases: tuple[list[str], list[str]]
) -> None:
    engine = web_app.state.engine
    school, officer = cases
    assert all(may_see(engine, KENTISH, c) for c in school)
    assert not any(may_see(engine, KENTISH, c) for c in officer)
    assert not any(may_see(engine, OTHER, c) for c in school + officer)
    assert visible_case_ids(engine, KENTISH) == frozenset(school)
    assert visible_case_ids(engine, OTHER) == frozenset()
    rows = [{"id": c} for c in school + officer]
    assert visible_rows(engine, KENTISH, rows) == [{"id": c} for c in school]
    with pytest.raises(NotAllowed, match="sees only the cases it notified"):
        refuse_unless_may_see(engine, OTHER, school[0])


def test_other_roles_are_not_scoped(web_app: FastAPI, cases: tuple[list[str], list[str]]) -> None:
    engine = web_app.state.engine
    officer = WebUser("sona", "cme_officer")
    school, others = cases
    assert all(may_see(engine, officer, c) for c in school + others)
    assert visible_case_ids(engine, officer) is None
    refuse_unless_may_see(engine, officer, school[0])
