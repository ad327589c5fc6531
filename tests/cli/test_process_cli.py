"""`cme process …` through click's runner: exit codes, messages, and no database imports."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from engine.cli import cli
from engine.language.json_schema import schema_text

FIXTURES = Path(__file__).parents[1] / "fixtures" / "processes"
APPENDIX7 = FIXTURES / "appendix7.yaml"
INVALID = sorted((FIXTURES / "invalid").glob("*.yaml"))
LINT = sorted((FIXTURES / "lint").glob("*.yaml"))


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["process", *args])
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def expected_lines(path: Path) -> list[tuple[str, str]]:
    """(`path:line:column:` prefix, message substring) from the fixture's `# expect:` header."""
    header = path.read_text(encoding="utf-8").splitlines()[0].removeprefix("# expect: ")
    found = []
    for part in header.split(" | "):
        line, column, message = part.split(":", 2)
        found.append((f"{path}:{line}:{column}: ", message.strip()))
    return found


def reported(err: str, prefix: str, message: str) -> bool:
    return any(line.startswith(prefix) and message in line for line in err.splitlines())


def test_root_help_lists_process_commands() -> None:
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0
    assert "process" in result.stdout
    result = CliRunner().invoke(cli, ["process", "--help"])
    for command in ("validate", "lint", "show", "diagram", "schema"):
        assert command in result.stdout


@pytest.mark.parametrize("command", ["validate", "lint", "show", "diagram", "schema"])
def test_each_help_ends_with_an_example(command: str) -> None:
    code, out, _ = run(command, "--help")
    assert code == 0
    body = out.split("Options:")[0].strip()
    assert body.splitlines()[-2].strip() == "Example:"
    assert body.splitlines()[-1].strip().startswith(f"cme process {command}")


def test_validate_shipped_processes() -> None:
    code, out, err = run("validate")
    assert code == 0, err
    assert "processes/untraceable_cme.yaml: ok: untraceable_cme version" in out


def test_validate_good_file_prints_one_summary_line() -> None:
    code, out, _ = run("validate", str(APPENDIX7))
    assert code == 0
    assert out.startswith(f"{APPENDIX7}: ok: appendix7_untraceable version 1, 7 states, 6 triggers")
    assert len(out.splitlines()) == 1


@pytest.mark.parametrize("path", INVALID, ids=lambda p: p.stem)
def test_validate_invalid_fixture_exits_1_with_its_messages(path: Path) -> None:
    code, out, err = run("validate", str(path))
    assert code == 1
    assert out == ""
    for prefix, message in expected_lines(path):
        assert reported(err, prefix, message), (prefix, message, err)


def test_validate_reports_bad_and_good_files_together() -> None:
    bad = FIXTURES / "invalid" / "unknown_dest_state.yaml"
    code, out, err = run("validate", str(APPENDIX7), str(bad))
    assert code == 1
    assert f"{APPENDIX7}: ok" in out
    assert "invalid for 1 reason:" in err
    assert f"{bad}:31:11: unknown state 'closd'; did you mean 'closed'?" in err


def test_validate_a_directory(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(APPENDIX7.read_text("utf-8"), encoding="utf-8")
    (tmp_path / "rag.yaml").write_text("kind: rag\n", encoding="utf-8")
    code, out, _ = run("validate", str(tmp_path))
    assert code == 0
    assert out.splitlines() == [
        f"{tmp_path / 'a.yaml'}: ok: appendix7_untraceable version 1, 7 states, 6 triggers, "
        "9 checks, 12 timers; sha256 " + out.split("sha256 ")[1].strip()
    ]


def test_validate_missing_path_is_a_usage_error() -> None:
    code, _, err = run("validate", "no/such/file.yaml")
    assert code == 2
    assert "does not exist" in err


def test_lint_clean() -> None:
    code, out, _ = run("lint", str(APPENDIX7))
    assert code == 0
    assert out == f"{APPENDIX7}: lint clean\n"


def test_lint_shipped_processes() -> None:
    code, out, err = run("lint")
    assert code == 0, out + err
    assert "processes/untraceable_cme.yaml:" in out


@pytest.mark.parametrize("path", LINT, ids=lambda p: p.stem)
def test_lint_fixture_exits_1_with_its_messages(path: Path) -> None:
    assert run("validate", str(path))[0] == 0  # valid YAML; only the graph is wrong
    code, out, err = run("lint", str(path))
    assert code == 1
    for prefix, message in expected_lines(path):
        assert reported(err, prefix, message), (prefix, message, err)
    assert f"{path}: 1 error, 0 warnings" in out


def test_lint_of_an_invalid_file_reports_the_load_errors() -> None:
    path = FIXTURES / "invalid" / "syntax_error.yaml"
    code, _, err = run("lint", str(path))
    assert code == 1
    assert f"{path}:16:16: YAML syntax error" in err


def test_show_by_path_and_by_id() -> None:
    code, out, _ = run("show", str(APPENDIX7))
    assert code == 0
    for text in (
        "appendix7_untraceable, version 1",
        "closure_decision",
        "Day 26–30",
        "pan_london_check",
        "Day 3 in state:",
        "escalate to",
        "line_manager",
        "any open state",
        "timer only",
    ):
        assert text in out, text
    code, out, _ = run("show", "untraceable_cme")
    assert code == 0
    assert "untraceable_cme, version" in out


def test_show_json() -> None:
    code, out, _ = run("show", str(APPENDIX7), "--json")
    assert code == 0
    data = json.loads(out)
    assert data["definition"]["id"] == "appendix7_untraceable"
    assert len(data["content_hash"]) == 64
    assert {
        "source": "closure_decision",
        "trigger": "contact_established",
        "dest": "supporting_school_place",
    } in data["transitions"]


def test_show_unknown_process_suggests() -> None:
    code, _, err = run("show", "untraceable_cm")
    assert code == 1
    assert "did you mean 'untraceable_cme'" in err
    code, _, err = run("show", "untraceable_cme", "--version", "99")
    assert code == 1
    assert "no version 99" in err


def test_diagram_mermaid_and_dot(tmp_path: Path) -> None:
    code, out, _ = run("diagram", str(APPENDIX7))
    assert code == 0
    assert out.startswith("stateDiagram-v2\n")
    target = tmp_path / "a7.dot"
    code, out, err = run("diagram", str(APPENDIX7), "--format", "dot", "--output", str(target))
    assert code == 0
    assert out == ""
    assert f"wrote {target}" in err
    assert target.read_text("utf-8").startswith('digraph "appendix7_untraceable v1"')


def test_diagram_svg_without_graphviz(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr("shutil.which", lambda name: None)
    target = tmp_path / "a7.svg"
    code, _, err = run("diagram", str(APPENDIX7), "--format", "svg", "-o", str(target))
    assert code == 0, err
    assert 'id="state-closed_untraceable"' in target.read_text("utf-8")
    code, _, err = run("diagram", str(APPENDIX7), "--format", "svg", "--graphviz")
    assert code == 1
    assert "Graphviz" in err
    assert "Traceback" not in err


def test_diagram_changes_from_an_earlier_version(tmp_path: Path) -> None:
    versions = FIXTURES.parent / "versions"
    code, out, err = run(
        "diagram",
        str(versions / "tracing_v2.yaml"),
        "--changes-from",
        str(versions / "tracing_v1.yaml"),
    )
    assert code == 0, err
    assert "    contact --> checks : Day 6 (timer start_checks) (changed)" in out
    assert "stage on_hold (On hold)" in out
    code, _, err = run("diagram", str(versions / "tracing_v2.yaml"), "--changes-from", "1")
    assert code == 1
    assert "no shipped or stored process 'tracing'" in err


def test_schema_output_and_check(tmp_path: Path) -> None:
    code, out, _ = run("schema")
    assert code == 0
    assert out == schema_text()
    target = tmp_path / "process.schema.json"
    assert run("schema", "--output", str(target))[0] == 0
    assert json.loads(target.read_text("utf-8"))["title"] == "ProcessDefinition"
    code, out, _ = run("schema", "--check")
    assert code == 0
    assert "up to date" in out


def test_process_commands_never_import_the_database_layer() -> None:
    script = (
        "import sys\n"
        "from click.testing import CliRunner\n"
        "from engine.cli import cli\n"
        f"for args in (['process', 'validate'], ['process', 'lint'], "
        f"['process', 'show', 'untraceable_cme'], ['process', 'diagram', {str(APPENDIX7)!r}]):\n"
        "    result = CliRunner().invoke(cli, args)\n"
        "    assert result.exit_code == 0, (args, result.output)\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in "
        "('sqlalchemy', 'sqlmodel', 'apscheduler', 'psycopg'))\n"
        "print(heavy)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_the_version_commands_listed_lazily_say_what_their_docstrings_say() -> None:
    # `cme process --help` names diff/impact/publish/migrate without importing their module, from
    # help text kept beside the group; it must not drift from the commands' own docstrings.
    from engine.cli.process import _VERSION_COMMANDS, process

    for name, (_module, _attribute, summary) in _VERSION_COMMANDS.items():
        command = process.get_command(click.Context(process), name)
        assert command is not None
        assert command.help is not None
        assert " ".join(command.help.split()).startswith(summary), name
