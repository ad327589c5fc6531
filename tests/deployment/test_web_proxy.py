"""The web service behind the reverse proxy (docs/deploy.md step 10): the nginx example forwards
to the address cme-web.service listens on, only there, with HTTPS enforced; the unit is
installed by the guide and never runs the scheduler."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

from tests.deployment.test_deploy_guide import GUIDE, guide_blocks
from tests.deployment.test_systemd_units import UNITS, unit

WEB_UNIT = UNITS / "cme-web.service"


def nginx_example() -> str:
    text = GUIDE.read_text()
    found = re.search(r"```nginx\n(.*?)```", text, re.S)
    assert found, "the guide shows no nginx configuration"
    return found.group(1)


def served_at() -> str:
    argv = shlex.split(unit(WEB_UNIT)["Service"]["ExecStart"])
    assert argv[1:2] == ["serve"]
    return f"{argv[argv.index('--host') + 1]}:{argv[argv.index('--port') + 1]}"


def test_the_web_unit_listens_on_localhost_only_and_is_not_the_scheduler() -> None:
    assert served_at() == "127.0.0.1:8000"
    text = WEB_UNIT.read_text()
    assert "scheduler" not in unit(WEB_UNIT)["Service"]["ExecStart"]
    assert "Environment=FORWARDED_ALLOW_IPS=127.0.0.1" in text.splitlines()
    assert "--insecure-cookies" not in text


def test_the_nginx_example_forwards_to_the_unit_over_https_only() -> None:
    nginx = nginx_example()
    assert f"proxy_pass http://{served_at()};" in nginx
    assert "proxy_set_header X-Forwarded-Proto $scheme;" in nginx
    assert re.search(r'add_header Strict-Transport-Security "max-age=\d+[^"]*" always;', nginx)
    assert "return 301 https://$host$request_uri;" in nginx
    assert "listen 443 ssl;" in nginx
    plain = nginx.split("server {")[1]
    assert "proxy_pass" not in plain, "port 80 must only redirect"


def test_the_guide_installs_the_web_unit_beside_the_scheduler() -> None:
    shell = "".join(b.text for b in guide_blocks(GUIDE.read_text()) if b.edit is None)
    assert "cp /opt/cme/src/deploy/systemd/cme-web.service /etc/systemd/system/" in shell
    assert "systemctl enable --now cme-web.service" in shell
    assert "systemctl enable --now cme-scheduler.service" in shell
    assert Path(WEB_UNIT).is_file()
