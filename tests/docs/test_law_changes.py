"""processes/README.md's "What changed in law since the policy was written" names every pending
process with the section of the Act it encodes and what brings it into force, and says the basis
of every LA choice those processes make."""

from __future__ import annotations

import pytest

from engine.language.loader import LoadedProcess, load_process_file
from tests.docs.guide_shell import REPO, section

README = (REPO / "processes" / "README.md").read_text(encoding="utf-8")
LAW = section(README, "## What changed in law since the policy was written")
ACT_FILES = (
    "children_not_in_school_register.yaml",
    "home_education_consent.yaml",
    "school_attendance_orders.yaml",
)


@pytest.fixture(params=ACT_FILES)
def act_process(request: pytest.FixtureRequest) -> LoadedProcess:
    return load_process_file(REPO / "processes" / request.param)


def test_each_act_process_is_pending_and_cites_section_78_5(act_process: LoadedProcess) -> None:
    defn = act_process.definition
    assert defn.pending
    assert defn.commencement is not None
    assert "section 78(5)" in defn.commencement
    assert "Children's Wellbeing and Schools Act 2026" in defn.commencement


def test_the_law_section_names_each_act_process_and_its_la_choices(
    act_process: LoadedProcess,
) -> None:
    defn = act_process.definition
    assert (
        f"`{act_process.path.rsplit('/', 1)[-1]}` (`{defn.id}`, version {defn.version}, pending)"
        in LAW
    )
    for key in defn.la_choices:
        assert f"LA choice `{key}`" in LAW


def test_the_law_section_cites_the_sections_it_relies_on() -> None:
    for cite in (
        "section 78(5)",
        "section 434A",
        "section 436B",
        "section 436I",
        "regulation 9(1)",
        "regulation 13(4)",
        "Children missing education",
        "Working together to improve school attendance",
    ):
        assert cite in LAW, cite
    assert "*(not confirmed" in LAW
