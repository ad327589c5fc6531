"""Issue 14: `cme process show` says each rule's basis (policy, law, LA choice) and lists the LA's
choices with their switches, a switched-off one's rules as dropped; `cme process lint` refuses a
choice it cannot switch; a refusal names the basis of the rule that refused, for an LA choice
where to switch it off."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner, Result

from engine.cli import cli

WIDE = {"COLUMNS": "220", "CME_ACTOR": "sona"}


def cme(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), env=WIDE)


def test_show_says_each_rule_s_basis_and_which_la_choices_are_switched_off() -> None:
    result = cme("process", "show", "untraceable_cme")
    assert result.exit_code == 0, result.output
    out = result.output
    assert "(policy: Appendix 7, Day 5-15)" in out
    assert "contact_attempted (Day 1–3) — policy: Appendix 7, Day 1-3" in out
    assert "the School Inclusion Panel is for medical needs (LA choice:" in out
    assert "LA choices (beyond the policy and the law)" in out
    assert "fap_pif_only_without_vacancies" in out
    assert "switched off" in out
    assert "(switched off, dropped) guard of refer_to_placement_panel" in out
    # The running definition no longer has the switched-off condition.
    data = json.loads(cme("process", "show", "untraceable_cme", "--json").output)
    (refer,) = [t for t in data["definition"]["triggers"] if t["id"] == "refer_to_placement_panel"]
    assert "no_vacancy_in_camden_schools" not in json.dumps(refer["guards"])
    assert list(data["switched_off"]) == ["fap_pif_only_without_vacancies"]
    # A version written before rules said their basis says so.
    old = cme("process", "show", "untraceable_cme", "--version", "2").output
    assert "basis not marked" in old


def test_lint_asks_only_the_newest_version_to_mark_its_rules() -> None:
    """Version 2, kept unchanged for the cases pinned to it, cannot be marked; version 3 is."""
    result = cme("process", "lint")
    assert result.exit_code == 0, result.output
    assert "processes/untraceable_cme_v2.yaml: lint clean" in result.output
    assert "processes/school_checks_v2.yaml: lint clean" in result.output
    alone = cme("process", "lint", "processes/untraceable_cme_v2.yaml")
    assert "does not say its basis" in alone.output


def test_lint_refuses_a_choice_the_process_does_not_declare(tmp_path: Path) -> None:
    text = (Path(__file__).parents[2] / "processes" / "untraceable_cme.yaml").read_text()
    text = text.replace(
        "        la_choice: medical_panel_for_medical_needs\n",
        "        la_choice: medical_panel\n",
    )
    path = tmp_path / "untraceable_cme.yaml"
    path.write_text(text, encoding="utf-8")
    result = cme("process", "lint", str(path))
    assert result.exit_code == 1
    assert "unknown LA choice 'medical_panel'" in result.output
    assert "medical_panel_for_medical_needs" in result.output


@pytest.fixture
def db(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'cme.db'}"


def test_a_refused_step_says_the_basis_of_each_failing_rule(
    tmp_path: Path, db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A case on version 3 (notified Monday 11 January 2027): contact made on Day 2; a referral to
    the School Inclusion Panel for a child without medical needs is refused by the LA's choice,
    and the refusal says where to switch it off."""
    form = yaml.safe_load(cme("case", "form", "--example").output)
    form["date"] = "2027-01-11"
    form["children"] = form["children"][:1]
    path = tmp_path / "form.yaml"
    path.write_text(yaml.safe_dump(form), encoding="utf-8")
    # Recorded after the dates it takes effect (the CLI reads the clock in one place).
    monkeypatch.setattr(
        "engine.cli.wiring.now", lambda: dt.datetime(2027, 1, 20, 10, 0, tzinfo=dt.UTC)
    )
    opened = cme("case", "open", "--form", str(path), "--on", "2027-01-11", "--db", db)
    assert opened.exit_code == 0, opened.output
    case_id = opened.output.split()[0].rstrip(":")
    shown = json.loads(cme("case", "show", case_id, "--json", "--db", db).output)
    assert shown["process"]["version"] == 3
    for args in (
        ("fire", case_id, "contact_established", "--on", "2027-01-12"),
        ("fact", case_id, "placement_route", "school_inclusion_panel_medical"),
        ("fact", case_id, "medical_needs", "false"),
    ):
        done = cme("case", *args, "--db", db, *(("--on", "2027-01-13") if "fact" in args else ()))
        assert done.exit_code == 0, done.output
    result = cme(
        "case", "fire", case_id, "refer_to_placement_panel", "--on", "2027-01-14", "--db", db
    )
    assert result.exit_code != 0
    out = " ".join(result.output.split())
    assert (
        "condition not met: the School Inclusion Panel is for medical needs "
        "(medical_needs: no; placement_route: school inclusion panel medical) "
        "(LA choice: medical_panel_for_medical_needs — switch it off in "
        "processes/untraceable_cme.yaml la_choices)" in out
    )
