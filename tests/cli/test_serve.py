"""`cme serve` builds the web service's settings from cme.toml's [web] and [web.oidc]."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.cli.serve import web_settings
from engine.deployment.config import ConfigError


def test_the_web_settings_come_from_the_configuration(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "session.secret").write_text("a-long-session-secret\n", encoding="utf-8")
    (tmp_path / "oidc.secret").write_text("client-secret\n", encoding="utf-8")
    (tmp_path / "cme.toml").write_text(
        '[database]\nurl = "sqlite:///cme.db"\n\n'
        '[web]\nsession_secret_file = "session.secret"\nidle_minutes = 15\n'
        'public_url = "https://cme.example.gov.uk"\n\n'
        '[web.oidc]\nissuer = "https://idp.example"\nclient_id = "cme"\n'
        'client_secret_file = "oidc.secret"\nschool_claim = "school"\n',
        encoding="utf-8",
    )
    monkeypatch.setenv("CME_CONFIG", str(tmp_path / "cme.toml"))
    monkeypatch.delenv("CME_DATABASE_URL", raising=False)
    settings = web_settings(None)
    assert settings.db_url == f"sqlite:///{tmp_path}/cme.db"
    assert settings.session_secret == "a-long-session-secret"
    assert (settings.idle_minutes, settings.secure_cookies) == (15, True)
    assert settings.public_url == "https://cme.example.gov.uk"
    assert settings.oidc is not None
    assert (settings.oidc.client_secret, settings.oidc.role_claim) == ("client-secret", "cme_role")
    assert settings.oidc.school_claim == "school"
    assert web_settings(None, insecure_cookies=True).secure_cookies is False


def test_without_a_configuration_each_start_makes_its_own_secret(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CME_CONFIG", raising=False)
    monkeypatch.delenv("CME_DATABASE_URL", raising=False)
    first, second = web_settings(None), web_settings(None)
    assert first.session_secret != second.session_secret
    assert first.oidc is None


def test_a_missing_secret_file_stops_the_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "cme.toml").write_text(
        '[web]\nsession_secret_file = "absent.secret"\n', encoding="utf-8"
    )
    monkeypatch.setenv("CME_CONFIG", str(tmp_path / "cme.toml"))
    with pytest.raises(ConfigError, match="cannot read web.session_secret_file"):
        web_settings(None)
