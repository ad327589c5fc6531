"""Every shipped process validates, lints clean, renders to a Mermaid diagram whose arrows are the
YAML's transitions, and cites the policy (or regulation) for each rule; the policy owner's guide in
processes/README.md lists them truly and its recipes produce valid processes."""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from importlib.resources import files
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from engine.cases.service import CaseService
from engine.cli import cli
from engine.errors import GuardFailed
from engine.language.diagram import to_mermaid
from engine.language.lint import edges, lint
from engine.language.loader import (
    LoadedProcess,
    load_process_file,
    load_process_text,
    process_files,
)
from engine.language.registry import ProcessRegistry
from engine.store.database import open_store
from tests.scenarios.helpers import notification
from tests.scenarios.late import LateWalk

SHIPPED = process_files()
IDS = [p.name for p in SHIPPED]
CITATION = re.compile(
    r"Appendix \d|section \d+|Regulation \d|8\(1\)|9\(1\)|Ground [A-O]\b", re.IGNORECASE
)
"""What a reference to the policy (an appendix or section) or a regulation looks like."""
MERMAID_STATE = re.compile(r'^    state "[^"]*" as (\w+)$')
MERMAID_TIMER = re.compile(r"^    (\w+) --> (\w+) : .* \(timer (\w+)\)$")
MERMAID_STEP = re.compile(r"^    (\w+) --> (\w+) : (\w+) \((.*)\)$")


@pytest.fixture(scope="module", params=SHIPPED, ids=IDS)
def loaded(request: pytest.FixtureRequest) -> LoadedProcess:
    return load_process_file(request.param)


def test_validate_and_lint_are_clean_from_the_cli() -> None:
    runner = CliRunner()
    validate = runner.invoke(cli, ["process", "validate"])
    assert validate.exit_code == 0, validate.output
    assert validate.stdout.count(": ok: ") == len(SHIPPED)
    result = runner.invoke(cli, ["process", "lint"])
    assert result.exit_code == 0, result.output
    assert ": error: " not in result.output
    # A file still marking its rules' basis is listed with its warnings, not as lint clean.
    assert result.stdout.count("lint clean") + result.stdout.count(" 0 errors, ") == len(SHIPPED)


def _newest() -> dict[str, int]:
    versions: dict[str, int] = {}
    for entry in SHIPPED:
        item = load_process_file(entry)
        versions[item.id] = max(versions.get(item.id, 0), item.version)
    return versions


NEWEST = _newest()
"""The newest shipped version of each process: every one of its rules says its basis (policy,
law or LA choice), issue 14. An earlier version kept unchanged cannot be marked."""


def test_lint_finds_nothing_not_even_a_warning(loaded: LoadedProcess) -> None:
    found = lint(loaded)
    if loaded.version < NEWEST[loaded.id]:
        found = [i for i in found if i.code != "unmarked_basis"]
    assert [str(issue) for issue in found] == []


def test_mermaid_draws_every_state_and_exactly_the_yaml_transitions(loaded: LoadedProcess) -> None:
    defn = loaded.definition
    lines = to_mermaid(defn).splitlines()
    assert lines[0] == "stateDiagram-v2"
    assert [m.group(1) for m in map(MERMAID_STATE.match, lines) if m] == list(defn.states)
    assert f"    [*] --> {defn.initial}" in lines
    ends = [line.split()[0] for line in lines if line.endswith(" --> [*]")]
    assert ends == [name for name, state in defn.states.items() if state.terminal]
    steps = []
    for line in lines:
        match = MERMAID_STEP.match(line)
        if match and not MERMAID_TIMER.match(line):
            source, dest, trigger, who = match.groups()
            steps.append((source, trigger, dest))
            trig = defn.trigger(trigger)
            assert trig is not None
            assert all(role in who for role in trig.roles)
    assert Counter(steps) == Counter(edges(defn))
    timers = {(m.group(1), m.group(2), m.group(3)) for m in map(MERMAID_TIMER.match, lines) if m}
    expected = set()
    for name, state in defn.states.items():
        for timer in state.timers:
            if timer.fire:
                fired = defn.trigger(timer.fire)
                assert fired is not None
                expected.add((name, defn.dest_of(fired, name), timer.id))
    assert timers == expected
    escalations = sum(1 for s in defn.states.values() for t in s.timers if t.escalate)
    assert sum(" - escalate to " in line for line in lines) == escalations


@pytest.mark.parametrize(
    ("path", "fmt"),
    [(p, f) for p in SHIPPED for f in ("mermaid", "dot")],
    ids=[f"{p.name}-{f}" for p in SHIPPED for f in ("mermaid", "dot")],
)
def test_cme_process_diagram_renders_each_process(path: Any, fmt: str) -> None:
    defn = load_process_file(path).definition
    result = CliRunner().invoke(cli, ["process", "diagram", str(path), "--format", fmt])
    assert result.exit_code == 0, result.output
    assert f"{defn.id} v{defn.version}" in result.stdout or f"{defn.id} version" in result.stdout
    assert all(name in result.stdout for name in defn.states)


def test_every_state_step_check_timer_action_and_fact_cites_its_source(
    loaded: LoadedProcess,
) -> None:
    defn = loaded.definition
    cited: list[tuple[str, Any]] = []
    for name, state in defn.states.items():
        cited.append((f"state {name}", state.ref))
        cited += [(f"check {c.id}", c.source) for c in state.checklist]
        cited += [(f"timer {t.id}", t.ref) for t in state.timers]
        cited += [(f"on_enter of {name}", a.source) for a in state.on_enter]
    for trig in defn.triggers:
        cited.append((f"trigger {trig.id}", trig.ref))
        cited += [(f"action of {trig.id}", a.source) for a in trig.actions]
    cited += [(f"fact {name}", fact.source) for name, fact in defn.facts.items()]
    uncited = [what for what, src in cited if src is None or not CITATION.search(src.section)]
    assert uncited == []


def test_removal_steps_name_their_regulation(registry: ProcessRegistry) -> None:
    for version, regulation in ((5, "Regulation 8(1)"), (6, "Regulation 9(1)")):
        defn = registry.get("removal_grounds", version).definition
        removals = [t for t in defn.triggers if t.dest == "removed_from_roll"]
        assert len(removals) == 15
        assert all(t.legal_basis and t.legal_basis.startswith(regulation) for t in removals)


def test_only_the_line_manager_decides_a_day_26_closure(registry: ProcessRegistry) -> None:
    defn = registry.get("untraceable_cme").definition
    assert defn.trigger("close_untraceable").roles == ["line_manager"]  # type: ignore[union-attr]
    assert defn.trigger("keep_case_open").roles == ["line_manager"]  # type: ignore[union-attr]
    decision = [
        t.id
        for t in defn.triggers
        if "closure_decision" in defn.source_states(t)
        and t.dest in ("closed_untraceable", "tracing_continues")
    ]
    assert sorted(decision) == ["close_untraceable", "keep_case_open"]


def test_the_appendix_7_checks_and_channels(registry: ProcessRegistry) -> None:
    defn = registry.get("untraceable_cme").definition
    windows = {
        name: {c.id: (str(c.days), c.channel) for c in state.checklist}
        for name, state in defn.states.items()
        if state.checklist
    }
    assert windows["reasonable_checks"] == {
        "first_formal_letter_sent": ("Day 5–15", "first_class_post"),
        "mash_check": ("Day 5–15", "MOSAIC Database/MASH"),
        "camden_resident_index_check": ("Day 5–15", "Camden Resident Index"),
        "housing_check": ("Day 5–15", "Housing"),
        "council_tax_check": ("Day 5–15", "Council Tax"),
        "yos_check": ("Day 5–15", "Youth Offending Service"),
        "nhs_spine_check": ("Day 5–15", "NHS Spine"),
        "first_home_visit": ("Day 5–15", "home_visit"),
    }
    assert windows["further_checks"] == {
        "second_formal_letter_sent": ("Day 16–25", "recorded_delivery"),
        "pan_london_check": ("Day 16–25", "email"),
        "second_home_visit": ("Day 16–25", "home_visit"),
        "giap_check": ("Day 16–25", "GIAP"),
    }
    assert windows["closure_decision"] == {"day_26_closure_form": ("Day 26", None)}


# --- the policy owner's guide (processes/README.md) ---------------------------------------------

README = files("processes").joinpath("README.md").read_text(encoding="utf-8")


def test_the_guide_lists_every_shipped_process_with_its_version(loaded: LoadedProcess) -> None:
    defn = loaded.definition
    row = f"| `{loaded.path.rsplit('/', 1)[-1]}` | `{defn.id}` | {defn.version} |"
    assert row in README


def _edited(name: str, edit: Any) -> LoadedProcess:
    data = yaml.safe_load(files("processes").joinpath(name).read_text(encoding="utf-8"))
    edit(data)
    data["version"] += 1
    return load_process_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), name)


def _longer_reasonable_checks(data: dict[str, Any]) -> None:
    """The guide's "Change a day window" example, step by step as it is written."""
    checks, further = data["states"]["reasonable_checks"], data["states"]["further_checks"]
    checks["days"] = "5-18"
    further["days"] = "19-25"
    (start,) = [t for t in data["triggers"] if t["id"] == "start_further_checks"]
    start["guards"][0] = {"expr": "case_day >= 19", "says": "it is Day 19 or later"}


def test_the_guide_s_day_window_recipe_moves_day_16_to_day_19(sqlite_url: str) -> None:
    """Applied as the guide words it, the edit lints clean and a case starts the second round of
    checks on Day 19 (Thursday 4 February 2027 for a notification on Monday 11 January 2027, the
    shipped version being in force from 4 December 2026)."""
    assert "`further_checks` to start at 19\n(`days: 19-25`)" in README
    assert "`start_further_checks` to `case_day >= 19`" in README
    edited = _edited("untraceable_cme.yaml", _longer_reasonable_checks)
    assert [str(issue) for issue in lint(edited)] == []
    store = open_store(sqlite_url)
    walk = LateWalk.open(
        CaseService(store, ProcessRegistry([edited])),
        notification(dt.date(2027, 1, 11)),
        on=dt.date(2027, 1, 11),
    )
    day_18, day_19 = dt.date(2027, 2, 3), dt.date(2027, 2, 4)
    walk.sweep(day_18)
    assert walk.state == "reasonable_checks"
    error = walk.refused(GuardFailed, "fire", "start_further_checks", on=day_18)
    assert error.failed == ["it is Day 19 or later"]
    walk.sweep(day_19)
    assert walk.state == "further_checks"
    assert walk.case.state_entered_on == day_19
    store.dispose()


def test_the_guide_s_add_a_check_recipe_gives_a_valid_process() -> None:
    def add_check(data: dict[str, Any]) -> None:
        state = data["states"]["reasonable_checks"]
        state["checklist"].append(
            {
                "id": "new_check",
                "wording": "A new check.",
                "recorded_by": ["cme_officer"],
                "waived_by": ["line_manager"],
                "source": "Appendix 7, Day 5-15",
            }
        )
        (close,) = [t for t in data["triggers"] if t["id"] == "close_untraceable"]
        close["requires_checks"].append("new_check")

    assert "**Add a check.**" in README
    edited = _edited("untraceable_cme.yaml", add_check)
    assert lint(edited) == []
    close = edited.definition.trigger("close_untraceable")
    assert close is not None
    assert "new_check" in close.requires_checks
    # Chased without a timer: escalated the morning after Day 15, Day 16.
    (timer,) = [
        t
        for t in edited.definition.states["reasonable_checks"].timers
        if t.id == "new_check_outstanding"
    ]
    assert (timer.day, timer.escalate and timer.escalate.to_role) == (16, "cme_officer")
