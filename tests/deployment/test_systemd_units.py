"""The systemd units in deploy/systemd: what each must say, the cme command each runs parses, and
`systemd-analyze verify` accepts them where systemd is installed."""

from __future__ import annotations

import configparser
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import click
import pytest

from engine.cli import cli

UNITS = Path(__file__).resolve().parents[2] / "deploy" / "systemd"
SERVICES = sorted(UNITS.glob("*.service"))
CME = "/opt/cme/venv/bin/cme"
"""Where the guide (docs/deploy.md) installs cme, as the units name it."""


def unit(path: Path) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # keys are case-sensitive
    parser.read_string(path.read_text())
    return parser


def test_the_scheduler_and_backup_units_are_shipped() -> None:
    assert {p.name for p in UNITS.iterdir()} >= {
        "cme-scheduler.service",
        "cme-backup.service",
        "cme-backup.timer",
    }


@pytest.mark.parametrize("path", SERVICES, ids=lambda p: p.name)
def test_each_service_runs_as_cme_with_the_configuration_and_hardening(path: Path) -> None:
    service = unit(path)["Service"]
    assert service["User"] == "cme"
    assert service["Group"] == "cme"
    assert service["Environment"] in {"CME_CONFIG=/srv/cme/cme.toml", "PYTHONUNBUFFERED=1"}
    assert "Environment=CME_CONFIG=/srv/cme/cme.toml" in path.read_text().splitlines()
    for setting, value in {
        "NoNewPrivileges": "yes",
        "ProtectSystem": "strict",
        "PrivateTmp": "yes",
        "ProtectHome": "yes",
        "UMask": "0077",
        "CapabilityBoundingSet": "",
    }.items():
        assert service.get(setting) == value, setting
    assert "/srv/cme" in service["ReadWritePaths"].split()
    # The service cannot change the configuration pinning the checkpoint key, nor the keys.
    assert service["ReadOnlyPaths"].split() == ["/srv/cme/cme.toml", "-/srv/cme/keys"]


def test_the_scheduler_restarts_on_failure() -> None:
    service = unit(UNITS / "cme-scheduler.service")["Service"]
    assert service["Restart"] == "on-failure"
    assert service["Type"] == "simple"
    assert unit(UNITS / "cme-scheduler.service")["Install"]["WantedBy"] == "multi-user.target"


def test_the_backup_writes_only_its_folders_and_the_timer_starts_it_nightly() -> None:
    service = unit(UNITS / "cme-backup.service")["Service"]
    assert service["Type"] == "oneshot"
    assert service["ReadWritePaths"].split() == ["/srv/cme", "/var/backups/cme"]
    timer = unit(UNITS / "cme-backup.timer")
    assert timer["Timer"]["OnCalendar"] == "*-*-* 02:15:00"
    assert timer["Timer"]["Persistent"] == "true"


@pytest.mark.parametrize("path", SERVICES, ids=lambda p: p.name)
def test_each_cme_command_a_unit_runs_parses(path: Path) -> None:
    argv = shlex.split(unit(path)["Service"]["ExecStart"])
    assert argv[0] == CME
    command: click.Command = cli
    args = argv[1:]
    ctx = cli.make_context("cme", list(args), resilient_parsing=True)
    while isinstance(command, click.Group):
        name, args = args[0], args[1:]
        found = command.get_command(ctx, name)
        assert found is not None, f"{path.name}: no command {name!r}"
        command = found
        ctx = command.make_context(name, list(args), parent=ctx, resilient_parsing=True)
    # Parsing for real raises click's UsageError on an unknown option or a missing argument.
    command.make_context(command.name or "", list(args), parent=ctx.parent)


@pytest.mark.skipif(
    shutil.which("systemd-analyze") is None,
    reason="systemd-analyze is not installed here (apt-get install systemd provides it)",
)
def test_systemd_analyze_verify_accepts_every_unit(tmp_path: Path) -> None:
    # verify checks that ExecStart's program exists: point it at this checkout's cme.
    here = Path(sys.executable).parent / "cme"
    for path in UNITS.iterdir():
        if path.suffix in {".service", ".timer"}:
            (tmp_path / path.name).write_text(path.read_text().replace(CME, str(here)))
    names = sorted(p.name for p in tmp_path.iterdir())
    result = subprocess.run(
        ["systemd-analyze", "verify", *names],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    ours = [line for line in result.stderr.splitlines() if any(n in line for n in names)]
    assert result.returncode == 0, result.stderr
    assert ours == [], "systemd-analyze warned: " + "\n".join(ours)
