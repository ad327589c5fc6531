"""An officer's morning in a real browser: sign in, open a case from the Appendix 6 web form (a
field error first, then fixed), record the Day 1–3 checks, and find the child by part of the
name. Every page passes axe-core; the main pages are saved as screenshots."""

from __future__ import annotations

import re

from playwright.sync_api import Page

from tests.web.browser.conftest import TODAY, LiveServer, Visitor

CHILD = "Zofia Kowalczyk"
"""Invented, and unlike any other test's child, so the duplicate check does not stop the form."""


def outstanding_check_forms(page: Page) -> list[str]:
    """The actions of the forms recording an outstanding check (not the checklist's amend forms)."""
    actions: list[str] = page.eval_on_selector_all(
        "form[action*='/checks/']",
        "forms => forms.filter(f => !f.querySelector('input[name$=\"-amend\"]'))"
        ".map(f => f.getAttribute('action'))",
    )
    return actions


def test_an_officer_opens_a_case_records_the_first_checks_and_finds_the_child(
    visitor: Visitor, live_server: LiveServer
) -> None:
    visitor.sign_in(live_server.account("cme_officer"))
    page = visitor.page

    # The Appendix 6 form, sent without the child's name: the error is beside the field.
    page.get_by_role("navigation", name="Menu").get_by_role("link", name="Open a case").click()
    page.wait_for_url("**/cases/new")
    visitor.check()
    visitor.screenshot("open-case-form")
    page.fill("#received_on", TODAY.isoformat())
    page.fill("#date", TODAY.strftime("%d/%m/%Y"))
    page.fill("#notifier-name", "Jo Adeyemi")
    page.fill("#notifier-school_or_service", "Kentish Town Primary School")
    page.fill("#parent_carer-names", "Marta Kowalczyk")
    page.fill("#parent_carer-contact_numbers", "07700 900456")
    page.fill("#children-0-date_of_birth", "2016-02-09")
    page.fill("#children-0-school", "Kentish Town Primary School")
    page.get_by_role("button", name="Open case").click()
    page.wait_for_selector(".govuk-error-summary")
    visitor.check()
    visitor.screenshot("open-case-field-error")
    beside = page.locator("#children-0-full_name-error").inner_text()
    assert "Enter the full name" in beside
    assert page.input_value("#parent_carer-names") == "Marta Kowalczyk", "what was typed is kept"
    page.locator(".govuk-error-summary").get_by_role("link", name=re.compile("full name")).click()
    assert page.evaluate("document.activeElement.id") == "children-0-full_name"

    # Fixed: the case opens on Day 1, today.
    page.fill("#children-0-full_name", CHILD)
    page.get_by_role("button", name="Open case").click()
    page.wait_for_url(re.compile(r".*/cases/CME-\d+$"))
    visitor.check()
    case_url = page.url
    case_id = case_url.rsplit("/", 1)[1]
    assert page.get_by_role("heading", level=1).inner_text() == CHILD
    assert page.locator("#day").inner_text().startswith("Day 1 on ")

    # The Day 1–3 checks, each recorded through its own form on the case page.
    recorded = []
    for _ in range(12):
        actions = outstanding_check_forms(page)
        if not actions:
            break
        check = actions[0].rsplit("/", 1)[1]
        page.fill(f"#check-{check}-outcome", f"{check}: done on Day 1 (browser test)")
        with page.expect_navigation():
            page.get_by_role("button", name=f"Record check {check}", exact=True).click()
        assert page.url.startswith(case_url + "#"), page.inner_text("main")[:1500]
        visitor.check()
        assert f"Check {check} recorded." in page.inner_text(".govuk-notification-banner")
        recorded.append(check)
    assert outstanding_check_forms(page) == []
    assert {"core_information_checked", "contact_attempted_by_phone"} <= set(recorded)
    assert "No check is outstanding." in page.inner_text("main")
    visitor.screenshot("case-page")

    # Found by part of the name (the surname's first letters).
    page.get_by_role("navigation", name="Menu").get_by_role("link", name="Find a child").click()
    page.wait_for_url("**/cases/find")
    visitor.check()
    page.get_by_label("Name, date of birth, UPN, school or postcode").fill("Kowal")
    page.get_by_role("button", name="Search").click()
    page.wait_for_url("**/cases/find?q=Kowal")
    visitor.check()
    results = page.get_by_role("table")
    assert results.get_by_role("link", name=case_id).is_visible()
    assert CHILD in results.inner_text()
    visitor.screenshot("find-a-child")

    # My cases lists it.
    visitor.goto("/cases")
    assert page.get_by_role("link", name=case_id).count() >= 1
    visitor.screenshot("my-cases")
