"""The policy owner's pages: versions and where each stands, a version's diagram (inline SVG
with a text alternative) and rules with their basis, diff, impact on running cases, and the
school year as an accessible year calendar."""

from __future__ import annotations

import datetime as dt
import re

from fastapi import FastAPI

from engine.cases.version_status import version_statuses
from engine.language.diff import diff_definitions
from engine.time.calendars import load_calendar
from tests.web.conftest import SignIn
from tests.web.manager_cases import day_26_case, service_of


def test_processes_list_every_version_and_its_status(web_app: FastAPI, sign_in: SignIn) -> None:
    client = sign_in("policy_owner")
    page = client.get("/processes?on=2024-12-02")
    assert page.status_code == 200
    for s in version_statuses(service_of(web_app), dt.date(2024, 12, 2)):
        assert f'href="/processes/{s.process_id}/{s.version}"' in page.text
    assert "In force" in page.text
    assert client.get("/processes?on=soon").status_code == 400


def test_a_version_shows_its_diagram_rules_and_text(web_app: FastAPI, sign_in: SignIn) -> None:
    client = sign_in("policy_owner")
    statuses = version_statuses(service_of(web_app), dt.date(2024, 12, 2))
    version = next(s.version for s in statuses if s.process_id == "untraceable_cme")
    page = client.get(f"/processes/untraceable_cme/{version}")
    assert page.status_code == 200
    html = page.text
    assert '<svg role="img" aria-labelledby="diagram-title"' in html
    assert "<?xml" not in html
    assert 'id="diagram-title"' in html
    assert 'id="rule-close_untraceable"' in html  # the text alternative: every rule
    assert "Basis:" in html
    assert "may be waived by line_manager" in html
    assert "kind: process" in html  # the YAML
    assert client.get("/processes/untraceable_cme/999").status_code == 400


def test_diff_of_two_versions_is_the_engines(web_app: FastAPI, sign_in: SignIn) -> None:
    service = service_of(web_app)
    client = sign_in("policy_owner")
    versions = service.registry.versions("removal_grounds")
    old, new = versions[0], versions[-1]
    page = client.get(f"/processes/removal_grounds/diff?from={old}&to={new}")
    assert page.status_code == 200
    changes = diff_definitions(
        service.registry.get("removal_grounds", old).definition,
        service.registry.get("removal_grounds", new).definition,
    )
    assert f"{len(changes)} change" in page.text
    assert client.get("/processes/removal_grounds/diff").status_code == 200
    assert client.get("/processes/removal_grounds/diff?from=x").status_code == 400


def test_impact_on_running_cases(web_app: FastAPI, sign_in: SignIn) -> None:
    case_id = day_26_case(web_app)
    service = service_of(web_app)
    running = service.get(case_id).process_version
    latest = service.registry.versions("untraceable_cme")[-1]
    client = sign_in("policy_owner")
    page = client.get(f"/processes/untraceable_cme/{latest}/impact?on=2024-12-02")
    assert page.status_code == 200
    assert "Impact on running cases" in page.text
    if latest != running:
        assert case_id in page.text
        assert "Ana Silva" not in page.text  # a policy owner reads no personal data
    else:
        assert "0 open cases" in page.text


def test_the_year_calendar(web_app: FastAPI, sign_in: SignIn) -> None:
    client = sign_in("policy_owner")
    listing = client.get("/calendars").text
    assert 'href="/calendars/london"' in listing
    page = client.get("/calendars/london?year=2024-25")
    assert page.status_code == 200
    html = page.text
    cal = load_calendar("london")
    summary = cal.year_summary("2024-25")
    assert f"{summary['school_days']} school days" in html
    captions = re.findall(
        r'<caption class="govuk-table__caption govuk-table__caption--s">([^:<]+):', html
    )
    assert (captions[0], captions[-1], len(captions)) == ("September 2024", "August 2025", 12)
    # Meaning in words, not colour alone: Christmas Day is named, half term and INSET marked.
    assert "Wed 25 Dec 2024: bank holiday, Christmas Day" in html
    assert ": half term" in html
    assert "Mon 28 Oct 2024: half term" in html
    assert 'abbr title="Monday"' in html
    assert client.get("/calendars/london?year=2099-00").status_code == 400


def test_who_may_see_the_policy_pages(web_app: FastAPI, sign_in: SignIn) -> None:
    for role in ("cme_officer", "auditor", "line_manager"):
        client = sign_in(role, name=f"{role}.p")
        assert client.get("/processes").status_code == 403
        assert client.get("/calendars/london").status_code == 403


def test_a_version_marks_what_changed_and_lists_its_la_choices(
    web_app: FastAPI, sign_in: SignIn
) -> None:
    service = service_of(web_app)
    first, *_, last = service.registry.versions("untraceable_cme")
    client = sign_in("policy_owner")
    html = client.get(f"/processes/untraceable_cme/{last}").text
    written = service.registry.get("untraceable_cme", last).loaded.as_written
    assert "LA choices (beyond the policy and the law)" in html
    for key in written.la_choices:
        assert f"<code>{key}</code>" in html
    assert f"?changes_from={last - 1}" in html
    marked = client.get(f"/processes/untraceable_cme/{last}?changes_from={first}").text
    assert f"Changes from version {first} to version {last}" in marked
