"""The line manager's, auditor's and policy owner's pages keep the markup rules axe-core checks
in the browser (W4's tests): every control labelled, every table captioned with header cells
scoped, ids unique, headings in order, one h1. A quick net under the browser tests."""

from __future__ import annotations

from collections import Counter
from html.parser import HTMLParser

import pytest
from fastapi import FastAPI
from freezegun import freeze_time

from tests.web.conftest import SignIn
from tests.web.manager_cases import DAY_26, day_26_case


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.ids: Counter[str] = Counter()
        self.labels: set[str] = set()
        self.controls: list[str] = []
        self.tables = 0
        self.captions = 0
        self.unscoped_th: list[str] = []
        self.headings: list[int] = []
        self._thead = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if a.get("id"):
            self.ids[str(a["id"])] += 1
        if tag == "label" and a.get("for"):
            self.labels.add(str(a["for"]))
        if tag in ("input", "select", "textarea") and a.get("type") not in ("hidden", "submit"):
            self.controls.append(str(a.get("id")))
        if tag == "table":
            self.tables += 1
        if tag == "caption":
            self.captions += 1
        if tag == "th" and not a.get("scope"):
            self.unscoped_th.append(str(a))
        if len(tag) == 2 and tag[0] == "h" and tag[1].isdigit():
            self.headings.append(int(tag[1]))


def _check(html: str, where: str) -> None:
    page = _Page()
    page.feed(html)
    assert [i for i, n in page.ids.items() if n > 1] == [], f"{where}: repeated ids"
    assert [c for c in page.controls if c not in page.labels] == [], f"{where}: unlabelled"
    assert page.tables == page.captions, f"{where}: a table without a caption"
    assert page.unscoped_th == [], f"{where}: header cells without scope"
    assert page.headings.count(1) == 1, f"{where}: one h1"
    for before, after in zip(page.headings, page.headings[1:], strict=False):
        assert after <= before + 1, f"{where}: heading h{before} then h{after}"


@pytest.mark.parametrize(
    ("role", "paths"),
    [
        (
            "line_manager",
            ["/decisions", "/decisions/{case}", "/waivers", "/escalations?since=2024-11-01"],
        ),
        ("auditor", ["/audit", "/audit/cases/{case}", "/audit/cases/{case}?as_of=2024-11-20"]),
        (
            "policy_owner",
            [
                "/processes",
                "/processes/untraceable_cme/2",
                "/processes/untraceable_cme/diff",
                "/processes/untraceable_cme/2/impact",
                "/calendars",
                "/calendars/london?year=2024-25",
            ],
        ),
    ],
)
def test_pages_keep_the_markup_rules(
    web_app: FastAPI, sign_in: SignIn, role: str, paths: list[str]
) -> None:
    case_id = day_26_case(web_app, skip=("giap_check",))
    client = sign_in(role)
    with freeze_time(f"{DAY_26.isoformat()} 10:00:00"):
        for path in paths:
            answer = client.get(path.format(case=case_id))
            assert answer.status_code == 200, (path, answer.text[:500])
            _check(answer.text, path)
