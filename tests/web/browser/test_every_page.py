"""Each role's pages in a real browser: every one passes axe-core (WCAG 2.2 AA), logs no console
error and carries the CSRF token in every form; the main ones are saved as screenshots."""

from __future__ import annotations

import re

import pytest

from tests.web.browser.conftest import LiveServer, Visitor
from tests.web.manager_cases import NOTIFIED, open_case

PAGES: dict[str, tuple[str, ...]] = {
    "cme_officer": ("/cases", "/cases/new", "/cases/find", "/escalations", "/reports"),
    "line_manager": ("/decisions", "/escalations", "/waivers", "/reports/register"),
    "auditor": ("/audit",),
    "policy_owner": (
        "/processes",
        "/processes/untraceable_cme/2",
        "/processes/untraceable_cme/diff?from=2&to=3",
        "/calendars",
        "/calendars/london",
    ),
}
"""Pages without a case in them, by the role that uses them."""


@pytest.mark.parametrize("role", sorted(PAGES))
def test_each_roles_pages_pass_axe(role: str, visitor: Visitor, live_server: LiveServer) -> None:
    visitor.sign_in(live_server.account(role))
    for path in PAGES[role]:
        answer = visitor.page.goto(live_server.url + path)
        assert answer is not None
        assert answer.status == 200, f"{role} {path}: {answer.status}"
        visitor.check()
        visitor.screenshot(role + re.sub(r"[^\w]+", "-", path))
    assert visitor.checked[-len(PAGES[role]) :] == list(PAGES[role])


def test_the_reports_pages_pass_axe(visitor: Visitor, live_server: LiveServer) -> None:
    open_case(live_server.app, NOTIFIED, name="Ruth Okafor")
    visitor.sign_in(live_server.account("cme_officer"))
    for name in ("register", "rag", "mash", "returns"):
        answer = visitor.page.goto(f"{live_server.url}/reports/{name}?on={NOTIFIED.isoformat()}")
        assert answer is not None
        assert answer.status == 200, f"/reports/{name}: {answer.status}"
        visitor.check()
        visitor.screenshot(f"report-{name}")
