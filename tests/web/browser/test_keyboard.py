"""The service by keyboard alone: the skip link comes first, every control is reached with Tab
and shows where focus is, and a form is filled and sent with Enter."""

from __future__ import annotations

from playwright.sync_api import Page

from tests.web.browser.conftest import LiveServer, Visitor
from tests.web.conftest import PASSWORD


def focused(page: Page) -> dict[str, str]:
    """What has focus: its tag, id, classes, text, and whether the browser shows a focus mark."""
    result: dict[str, str] = page.evaluate(
        """() => {
            const el = document.activeElement;
            const style = getComputedStyle(el);
            const marked = el.matches(':focus-visible') && (
                (style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) > 0)
                || style.boxShadow !== 'none');
            return {tag: el.tagName.toLowerCase(), id: el.id, classes: el.className,
                    text: (el.innerText || el.value || '').trim(), visible: String(marked)};
        }"""
    )
    return result


def tab_to(page: Page, wanted: str, *, limit: int = 40) -> list[dict[str, str]]:
    """Press Tab until the element with id `wanted` has focus; every stop on the way (each must
    show a visible focus mark)."""
    stops = []
    for _ in range(limit):
        page.keyboard.press("Tab")
        now = focused(page)
        stops.append(now)
        assert now["visible"] == "true", f"no visible focus on {now}"
        if now["id"] == wanted:
            return stops
    raise AssertionError(f"Tab never reached #{wanted}; stops: {stops}")


def test_skip_link_is_the_first_stop_and_leads_to_the_content(visitor: Visitor) -> None:
    page = visitor.goto("/sign-in")
    page.keyboard.press("Tab")
    first = focused(page)
    assert "govuk-skip-link" in first["classes"], first
    assert first["text"] == "Skip to main content"
    assert first["visible"] == "true"
    visitor.screenshot("keyboard-skip-link")
    page.keyboard.press("Enter")
    # The fragment changes after the key event is handled: wait for it (a busy CI run lags).
    page.wait_for_url("**#main-content")
    # GOV.UK Frontend moves focus to the main content, so the next Tab is inside it.
    page.keyboard.press("Tab")
    assert focused(page)["id"] == "name"


def test_sign_in_by_keyboard_alone(visitor: Visitor, live_server: LiveServer) -> None:
    name = live_server.account("cme_officer")
    page = visitor.goto("/sign-in")
    stops = tab_to(page, "name")
    assert [s["tag"] for s in stops[:2]] == ["a", "a"], "skip link, then the service name"
    page.keyboard.type(name)
    page.keyboard.press("Tab")
    assert focused(page)["id"] == "password"
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(live_server.url + "/")
    visitor.check()
    # The signed-in header: every section link and the sign-out button are reached by Tab.
    labels = []
    for _ in range(20):
        page.keyboard.press("Tab")
        now = focused(page)
        assert now["visible"] == "true", f"no visible focus on {now}"
        labels.append(now["text"])
        if now["text"] == "Sign out":
            break
    assert "My cases" in labels
    assert labels[-1] == "Sign out"


def test_find_a_child_by_keyboard_alone(visitor: Visitor, live_server: LiveServer) -> None:
    visitor.sign_in(live_server.account("cme_officer"))
    page = visitor.page
    # From the start page: Tab to the header's "Find a child" and follow it with Enter.
    for _ in range(20):
        page.keyboard.press("Tab")
        now = focused(page)
        assert now["visible"] == "true", f"no visible focus on {now}"
        if now["text"] == "Find a child":
            break
    else:
        raise AssertionError("Tab never reached the Find a child link")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    visitor.check()
    tab_to(page, "q")
    page.keyboard.type("Nobody Atall")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    visitor.check()
    assert page.url.endswith("/cases/find?q=Nobody+Atall")
    assert page.locator("#no-results").inner_text() == "No case found."
