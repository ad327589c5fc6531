"""`cme demo --serve`: after the term has run, web accounts for the demo's people (one password,
made for this run and printed) and the web service over the demo's database.

The pages act on today's date, not the demo's autumn 2024: cases the demo left open are shown as
long overdue, which is what they are.
"""

from __future__ import annotations

import secrets
from typing import Any

import click

from engine.cli import wiring

DEMO_ACCOUNTS: tuple[tuple[str, str, str], ...] = (
    ("sona.k", "cme_officer", "CME officer with cases of her own"),
    ("marcus.b", "cme_officer", "CME officer"),
    ("dylan.m", "line_manager", "line manager: Day 26 decisions, escalations, waivers"),
    ("ada.r", "auditor", "auditor: replays, verify, export (reads only)"),
    ("priya.s", "policy_owner", "policy owner: processes, diagrams, calendars"),
)
"""The demo's people, as the simulation names its officers and line manager."""


def make_demo_accounts(db_url: str, password: str) -> None:
    """A local account with `password` for each of the demo's people."""
    from engine.web.accounts import add_account

    store = wiring.reader(db_url).store
    for name, role, _ in DEMO_ACCOUNTS:
        add_account(
            store,
            wiring.roles(),
            name=name,
            role=role,
            password=password,
            by="cme demo",
            at=wiring.now(),
        )


def serve_demo(db_url: str, *, host: str, port: int, console: Any) -> None:
    """Make the demo accounts, say how to sign in, then serve the demo's database (until ^C)."""
    from engine.cli.serve import serve

    password = secrets.token_urlsafe(12)
    make_demo_accounts(db_url, password)
    console.print(
        f"\nThe web service, on today's date ({wiring.now():%d %b %Y}): the demo's cases from "
        "autumn 2024 are shown as they stand today, most long overdue.",
        soft_wrap=True,
    )
    console.print(
        f"Open http://{host}:{port}/ and sign in as one of these, password {password}",
        soft_wrap=True,
    )
    for name, role, what in DEMO_ACCOUNTS:
        console.print(f"  {name:<10} {role:<14} {what}", soft_wrap=True)
    console.print("Stop with Ctrl+C.\n")
    # Plain http on this machine only: the cookie cannot be limited to HTTPS here.
    click.get_current_context().invoke(
        serve, host=host, port=port, insecure_cookies=True, db_url=db_url
    )
