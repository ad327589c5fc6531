"""`cme import attendance-return`: the returns file imported all or nothing, through the CLI."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from engine.cli import cli

ROWS = (
    "school,return,first_day,child_name,date_of_birth,absence_unauthorised,received_on\n"
    "Kentish Town Primary,unauthorised_absence,2024-10-07,Ana Silva,2015-03-14,yes,{received}\n"
)


def _import(tmp_path: Path, received: str) -> tuple[int, str]:
    path = tmp_path / "attendance.csv"
    path.write_text(ROWS.format(received=received), encoding="utf-8")
    result = CliRunner().invoke(
        cli,
        ["import", "attendance-return", str(path), "--role", "pupil_attendance_service"],
        env={"CME_DATABASE_URL": f"sqlite:///{tmp_path / 'cme.db'}", "CME_ACTOR": "ed"},
    )
    assert "Traceback" not in result.output
    return result.exit_code, result.output


def test_an_early_return_is_refused_by_line_and_a_due_one_imported(tmp_path: Path) -> None:
    code, out = _import(tmp_path, "2024-10-18")
    assert code == 1
    assert "line 2: submit_attendance_return refused" in out
    assert "continuous_absence_school_days: 9" in out
    code, out = _import(tmp_path, "2024-10-21")
    assert code == 0, out
    assert "1 imported" in out
