"""A line manager closes a Day 26 case, and an auditor replays a case's history and cannot
change it, in a real browser; every page passes axe-core and the main pages are saved."""

from __future__ import annotations

import datetime as dt

from tests.web.browser.conftest import LiveServer, Visitor
from tests.web.manager_cases import DAY_26, NOTIFIED, OFFICER, day_26_case, open_case, service_of

DECIDED_AT = dt.datetime.combine(DAY_26, dt.time(15, 0), tzinfo=dt.UTC)
"""The afternoon of Day 26 (Monday 2 December 2024), when the line manager decides."""


def test_a_line_manager_closes_a_day_26_case(visitor: Visitor, live_server: LiveServer) -> None:
    with live_server.at(DECIDED_AT):
        case_id = day_26_case(live_server.app)
        visitor.sign_in(live_server.account("line_manager"))
        page = visitor.page
        page.get_by_role("navigation", name="Menu").get_by_role("link", name="Decisions").click()
        page.wait_for_url("**/decisions")
        visitor.check()
        visitor.screenshot("decisions-waiting")
        page.get_by_role("link", name=case_id, exact=True).click()
        page.wait_for_url(f"**/decisions/{case_id}")
        visitor.check()
        assert page.get_by_role("heading", level=1).inner_text() == f"Decision on {case_id}"
        assert page.get_by_role("table", name="Checklist evidence").count() >= 1
        visitor.screenshot("decision-day-26")
        form = page.locator(f"form[action='/decisions/{case_id}/close_untraceable']")
        form.get_by_label("Note (optional)").fill("Every Appendix 7 check done; untraceable.")
        with page.expect_navigation():
            form.get_by_role("button", name="Close the case as untraceable").click()
        assert page.url.endswith(f"/decisions/{case_id}?done=close_untraceable")
        visitor.check()
        banner = page.locator(".govuk-notification-banner").inner_text()
        assert "closed_untraceable" in banner
    assert service_of(live_server.app).get(case_id).state == "closed_untraceable"


def test_an_auditor_replays_a_history_and_cannot_write(
    visitor: Visitor, live_server: LiveServer
) -> None:
    app = live_server.app
    case_id = open_case(app, NOTIFIED, name="Mila Novak")
    at = dt.datetime.combine(NOTIFIED, dt.time(11), tzinfo=dt.UTC)
    for check in ("core_information_checked", "contact_attempted_by_phone"):
        service_of(app).record_check(
            case_id, check, on=NOTIFIED, at=at, actor=OFFICER, outcome=f"{check} done"
        )
    visitor.sign_in(live_server.account("auditor"))
    page = visitor.page
    visitor.goto(f"/audit/cases/{case_id}")
    assert page.get_by_role("heading", level=1).inner_text() == f"Replay of {case_id}"
    body = page.inner_text("main")
    assert "Replays exactly" in body
    for seen in ("contact_attempted_by_phone", "sona.k", "untraceable_cme"):
        assert seen in body
    visitor.screenshot("audit-replay")

    # As of Day 1: the case as it stood then.
    page.get_by_label("Show the case as it stood at the end of (YYYY-MM-DD)").fill(
        NOTIFIED.isoformat()
    )
    page.get_by_role("button", name="Show as of this date").click()
    page.wait_for_url(f"**/audit/cases/{case_id}?as_of={NOTIFIED.isoformat()}")
    visitor.check()
    assert "As it stood at the end of" in page.inner_text("main")

    # The only forms that send anything verify the history or sign out.
    posts = page.eval_on_selector_all(
        "form[method=post]", "forms => forms.map(f => f.getAttribute('action'))"
    )
    assert set(posts) <= {f"/audit/cases/{case_id}/verify", "/sign-out"}, posts
    page.get_by_role("button", name="Verify this history").click()
    page.wait_for_selector("#verified-title")
    visitor.check()
    assert "Verified" in page.inner_text("#verified-title")

    # The case page offers the auditor no form, and a write sent anyway is refused.
    visitor.goto(f"/cases/{case_id}")
    assert page.locator(f"form[action^='/cases/{case_id}/']").count() == 0
    token = page.locator("input[name=csrf_token]").first.input_value()
    before = service_of(app).get(case_id).seq
    for path, data in (
        (f"/cases/{case_id}/notes", {"note-text": "an auditor's note"}),
        (f"/cases/{case_id}/checks/contact_attempted_by_email/waive", {"reason": "no"}),
        (f"/decisions/{case_id}/close_untraceable", {}),
    ):
        answer = page.request.post(
            live_server.url + path,
            form={"csrf_token": token, "seq": str(before), **data},
            max_redirects=0,
        )
        assert answer.status == 403, (path, answer.status)
    assert service_of(app).get(case_id).seq == before
