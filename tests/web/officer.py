"""Helpers for the officer's page tests: a real case opened from the shipped example
notification, and the text of a page as a person reads it.
"""

from __future__ import annotations

import datetime as dt
import html
import re
from importlib.resources import files

from fastapi import FastAPI

from engine.cases.notification import NotificationForm, parse_form
from engine.language.yamlsafe import load_yaml
from engine.protection.access import Actor

OFFICER = "sona.k"


def example_form() -> NotificationForm:
    """The shipped Appendix 6 example: Ana Silva (with a UPN) and her brother Tiago."""
    text = files("processes").joinpath("forms", "notification_example.yaml").read_text()
    return parse_form(load_yaml(text, "notification_example.yaml").data)


def open_example(app: FastAPI, on: dt.date, officer: str = OFFICER) -> list[str]:
    """Open the example through the engine, Day 1 `on`, as `officer` (whose cases they are)."""
    engine = app.state.engine
    ids: list[str] = engine.service.open_case(
        example_form(),
        on=on,
        at=engine.now(),
        actor=Actor(officer, "cme_officer"),
        calendar="london",
    )
    return ids


def words(page: str) -> str:
    """The page's main content as text, one space between words."""
    main = page[page.index("<main") :]
    text = re.sub(r"<[^>]+>", " ", main)
    return " ".join(html.unescape(text).split())


def section(page: str, anchor: str) -> str:
    """The text of the page from the heading with id `anchor` to the next h2."""
    start = page.index(f'id="{anchor}"')
    end = page.find("<h2", start + 1)
    return words("<main>" + page[start : end if end != -1 else None])


def seq_of(page: str) -> int:
    """The case's event number the page's forms carry."""
    found = re.search(r'name="seq" value="(\d+)"', page)
    assert found, "no seq on the page"
    return int(found.group(1))
