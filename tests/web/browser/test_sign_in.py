"""Signing in, in a real browser: the form, its errors, the start page, signing out; every page
passes axe-core (WCAG 2.2 AA)."""

from __future__ import annotations

from tests.web.browser.conftest import LiveServer, Visitor


def test_sign_in_page_passes_axe_and_is_saved(visitor: Visitor) -> None:
    page = visitor.goto("/")
    assert page.url.endswith("/sign-in?next=/")
    assert page.get_by_role("heading", level=1).inner_text() == "Sign in"
    visitor.screenshot("sign-in")


def test_empty_sign_in_shows_each_error_beside_its_field(visitor: Visitor) -> None:
    page = visitor.goto("/sign-in")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_selector(".govuk-error-summary")
    visitor.check()
    assert page.title().startswith("Error: ")
    summary = page.locator(".govuk-error-summary")
    assert "Enter your user name" in summary.inner_text()
    assert "Enter your password" in summary.inner_text()
    # GOV.UK Frontend's error summary takes focus, and its links lead to the fields.
    assert page.evaluate("document.activeElement.classList.contains('govuk-error-summary')")
    assert page.locator("#name-error").inner_text().endswith("Enter your user name")
    summary.get_by_role("link", name="Enter your user name").click()
    assert page.evaluate("document.activeElement.id") == "name"
    visitor.screenshot("sign-in-errors")


def test_an_officer_signs_in_sees_their_sections_and_signs_out(
    visitor: Visitor, live_server: LiveServer
) -> None:
    name = live_server.account("cme_officer")
    visitor.sign_in(name)
    page = visitor.page
    signed_in = " ".join(page.locator(".cme-signed-in").inner_text().split())
    assert f"Signed in as {name} (cme_officer)" in signed_in
    navigation = page.get_by_role("navigation", name="Menu")
    assert navigation.get_by_role("link", name="My cases").is_visible()
    assert navigation.get_by_role("link", name="Processes").count() == 0
    visitor.screenshot("start-officer")
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(live_server.url + "/sign-in")
    visitor.goto("/")
    assert "/sign-in" in page.url


def test_a_wrong_password_says_nothing_of_which_part(
    visitor: Visitor, live_server: LiveServer
) -> None:
    name = live_server.account("auditor")
    page = visitor.goto("/sign-in")
    page.get_by_label("User name").fill(name)
    page.get_by_label("Password").fill("not the password at all")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_selector(".govuk-error-summary")
    visitor.check()
    assert "Enter a correct user name and password" in page.inner_text("main")
    assert page.get_by_label("User name").input_value() == name
