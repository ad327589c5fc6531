"""docs/deploy.md, followed as written: from an empty folder, the SQLite section's commands make a
deployment that opens a case dated 2026-12-03 on the shipped calendar, passes `cme doctor`, and is
backed up, checked and restored.

Each block the guide marks `<!-- guide-test -->` is run by bash, in order, with `cme` from this
checkout; the guide's system paths (/srv/cme, /etc/cme, /var/backups/cme, /etc/systemd/system)
are moved inside a temporary folder, /opt/cme/src is this checkout and /opt/cme/venv its virtual
environment. A block marked `<!-- guide-test: edit FILE -->` is applied as a person would: each
setting it shows replaces that setting (or its commented example) in FILE's section. Commands that
need a real system (chown, useradd, sudo, systemctl, journalctl) are recorded, not run. No
network is used.
"""

from __future__ import annotations

import configparser
import json
import os
import re
import shlex
import signal
import stat
import subprocess
import sys
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
GUIDE = REPO / "docs" / "deploy.md"
VENV = Path(sys.prefix)
SYSTEM_PATHS = ("/srv/cme", "/etc/cme", "/var/backups/cme", "/etc/systemd/system")
RECORDED = ("chown", "useradd", "sudo", "systemctl", "journalctl")
MARK = re.compile(r"<!--\s*guide-test(?::\s*edit\s+(\S+))?\s*-->")
BACKUPS_HEADING = "Backups and restores"


@dataclass(frozen=True)
class Block:
    """A marked block of the guide: shell commands, or settings to put in a file."""

    heading: str
    text: str
    edit: str | None = None


def guide_blocks(text: str) -> list[Block]:
    """The marked blocks of the SQLite section, in order, with the heading each sits under."""
    section = text.split("\n## SQLite on one machine", 1)[1].split("\n## ", 1)[0]
    blocks, heading, lines, i = [], "", section.splitlines(), 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("### "):
            heading = line[4:]
        mark = MARK.search(line)
        if mark:
            fence = lines[i + 1]
            assert fence.startswith("```"), f"a guide-test mark must sit above a fence: {fence}"
            end = lines.index("```", i + 2)
            blocks.append(Block(heading, "\n".join(lines[i + 2 : end]) + "\n", mark[1]))
            i = end
        i += 1
    return blocks


class Deployment:
    """A machine in a folder: the guide's paths under `root`, a shell that records what it
    cannot do here."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.calls = root / "recorded-commands"
        (root / "etc" / "systemd" / "system").mkdir(parents=True)
        (root / "home").mkdir()
        self.env = {
            "PATH": f"{VENV / 'bin'}:/usr/local/bin:/usr/bin:/bin",
            "HOME": str(root / "home"),
            "LANG": "C.UTF-8",
            "GUIDE_CALLS": str(self.calls),
        }
        self.cwd = root

    def here(self, text: str) -> str:
        """`text` with the guide's paths moved into this folder."""
        text = text.replace("/opt/cme/src", str(REPO)).replace("/opt/cme/venv", str(VENV))
        for path in SYSTEM_PATHS:
            text = text.replace(path, f"{self.root}{path}")
        return text

    def run_blocks(self, blocks: list[Block]) -> None:
        """Run the blocks in order: commands by bash (each run continuing in the environment and
        folder the last left), edits applied between them."""
        commands = ""
        for block in blocks:
            if block.edit is None:
                commands += self.here(block.text)
                continue
            self.bash(commands)
            commands = ""
            self.edit(Path(self.here(block.edit)), self.here(block.text))
        self.bash(commands)

    def bash(self, commands: str) -> None:
        """Run `commands`; keep the environment and working folder they leave."""
        if not commands:
            return
        stubs = "".join(
            f'{name}() {{ printf "%s\\n" "{name} $*" >> "$GUIDE_CALLS"; }}\n' for name in RECORDED
        )
        saved = self.root / "env-after"
        script = f"set -euo pipefail\n{stubs}{commands}env -0 > {saved}\n"
        result = subprocess.run(
            ["bash", "-c", script],
            cwd=self.cwd,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        assert result.returncode == 0, f"the guide's commands failed:\n{result.stderr}"
        self.env = dict(item.split("=", 1) for item in saved.read_text().split("\0") if "=" in item)
        self.cwd = Path(self.env.get("PWD", str(self.cwd)))

    def edit(self, path: Path, settings: str) -> None:
        """Put each setting shown into `path` as a person editing it would."""
        wanted = tomllib.loads(settings)  # the block must itself be valid TOML
        lines = path.read_text().splitlines()
        section = None
        for line in settings.splitlines():
            header = re.fullmatch(r"\[(\w+)\]", line.strip())
            if header:
                section = header[1]
                continue
            if not line.strip():
                continue
            key = line.split("=", 1)[0].strip()
            assert section is not None
            assert key in wanted[section]
            lines = _set(lines, section, key, line)
        path.write_text("\n".join(lines) + "\n")

    def start_unit(self, name: str, *extra: str) -> None:
        """Run an installed unit's command with its environment and folder until the doctor sees
        its sweep, then stop it as systemd would (SIGTERM)."""
        unit = configparser.ConfigParser(strict=False, interpolation=None)
        unit.optionxform = str  # type: ignore[assignment,method-assign]
        unit.read_string((self.root / "etc" / "systemd" / "system" / name).read_text())
        service = unit["Service"]
        env = dict(self.env)
        for line in (self.root / "etc" / "systemd" / "system" / name).read_text().splitlines():
            if line.startswith("Environment="):
                key, _, value = self.here(line.removeprefix("Environment=")).partition("=")
                env[key] = value
        argv = [*shlex.split(self.here(service["ExecStart"])), *extra]
        log = self.root / f"{name}.log"  # the journal
        with log.open("w") as journal:
            process = subprocess.Popen(
                argv,
                cwd=self.here(service["WorkingDirectory"]),
                env=env,
                stdout=journal,
                stderr=subprocess.STDOUT,
            )
        try:
            deadline = time.monotonic() + 180
            while time.monotonic() < deadline and process.poll() is None:
                doctor = self.cme("doctor", "--on", "2026-12-03", "--json", ok=(0, 1, 2))
                if all(
                    c["status"] == "ok"
                    for c in _checks(doctor.stdout)
                    if c["check"] in {"scheduler", "checkpoint"}
                ):
                    break
                time.sleep(1)
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=120)
        logged = log.read_text()
        assert process.returncode == 0, logged
        assert "Traceback" not in logged, logged

    def cme(self, *args: str, ok: tuple[int, ...] = (0,)) -> subprocess.CompletedProcess[str]:
        """Run `cme` in the environment the guide left."""
        result = subprocess.run(
            [str(VENV / "bin" / "cme"), *args],
            cwd=self.cwd,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert "Traceback" not in result.stderr, result.stderr
        assert result.returncode in ok, f"cme {' '.join(args)}: {result.stderr}"
        return result


def _set(lines: list[str], section: str, key: str, line: str) -> list[str]:
    start = next((i for i, text in enumerate(lines) if text.strip() == f"[{section}]"), None)
    if start is None:
        return [*lines, "", f"[{section}]", line]
    end = next(
        (i for i in range(start + 1, len(lines)) if lines[i].lstrip().startswith("[")),
        len(lines),
    )
    setting = re.compile(rf"\s*#?\s*{re.escape(key)}\s*=")
    for i in range(start + 1, end):
        if setting.match(lines[i]):
            return [*lines[:i], line, *lines[i + 1 :]]
    return [*lines[: start + 1], line, *lines[start + 1 :]]


def test_the_guide_marks_the_sqlite_set_up_and_backup_commands() -> None:
    blocks = guide_blocks(GUIDE.read_text())
    shell = "".join(b.text for b in blocks if b.edit is None)
    for command in (
        "cme init /srv/cme",
        "cme admin backup /var/backups/cme/",
        "cme admin backup-check",
        "systemctl enable --now cme-scheduler.service",
    ):
        assert command in shell
    assert [b.edit for b in blocks if b.edit] == ["/srv/cme/cme.toml"]


@pytest.mark.slow
def test_following_the_guide_from_an_empty_folder(tmp_path: Path) -> None:
    blocks = guide_blocks(GUIDE.read_text())
    setup = [b for b in blocks if BACKUPS_HEADING not in b.heading]
    backups = [b for b in blocks if BACKUPS_HEADING in b.heading]
    machine = Deployment(tmp_path)
    srv = tmp_path / "srv" / "cme"

    machine.run_blocks(setup)
    assert machine.env["CME_CONFIG"] == f"{srv}/cme.toml"
    assert (tmp_path / "etc" / "cme" / "keys" / "master.key").is_file()
    assert not (srv / "keys" / "master.key").exists(), "the master key left the data folder"
    assert (tmp_path / "etc" / "systemd" / "system" / "cme-scheduler.service").is_file()

    # A case dated 2026-12-03 (given explicitly) on the shipped calendar the guide chose.
    form = tmp_path / "notification.yaml"
    form.write_text(machine.cme("case", "form", "--example").stdout)
    opened = json.loads(
        machine.cme("case", "open", "--form", str(form), "--on", "2026-12-03", "--json").stdout
    )
    case_ids = opened["case_ids"]
    shown = json.loads(
        machine.cme("case", "show", case_ids[0], "--on", "2026-12-03", "--json").stdout
    )
    assert shown["calendar"] == "london"
    assert not (srv / ".cme").exists(), "no development database or key beside the deployment"

    # What `systemctl enable --now` would start: the unit's command, as its user would run it,
    # rehearsing 2026-12-03; its first sweep is recorded and the day's checkpoint signed.
    machine.start_unit("cme-scheduler.service", "--today", "2026-12-03")
    doctor = machine.cme("doctor", "--on", "2026-12-03", "--json", ok=(0, 1))
    not_ok = {c["check"]: c["message"] for c in _checks(doctor.stdout) if c["status"] != "ok"}
    assert not_ok == {}
    assert list((srv / "checkpoints").iterdir())

    machine.run_blocks(backups)
    (backup,) = (tmp_path / "var" / "backups" / "cme").glob("cme-*.db")
    assert stat.S_IMODE(backup.stat().st_mode) == 0o600
    report = json.loads(machine.cme("admin", "backup-check", str(backup), "--json").stdout)
    assert report["ok"]
    assert report["cases"] == len(case_ids)
    assert (srv / "before-restore" / "cme.db").is_file()
    restored = json.loads(
        machine.cme("case", "show", case_ids[0], "--on", "2026-12-03", "--json").stdout
    )
    assert restored["id"] == case_ids[0]
    recorded = machine.calls.read_text()
    for call in (
        "systemctl enable --now cme-scheduler.service",
        "systemctl enable --now cme-backup.timer",
        "systemctl stop cme-scheduler.service",
        "systemctl start cme-scheduler.service",
    ):
        assert call in recorded
    assert os.access(srv / "cme.db", os.R_OK)


def _checks(output: str) -> list[dict[str, str]]:
    """The doctor's checks from its --json output."""
    checks = json.loads(output)["checks"]
    assert isinstance(checks, list)
    return checks
