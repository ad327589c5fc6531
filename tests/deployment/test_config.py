"""The deployment configuration: where `cme.toml` is found, what it holds, and what is refused."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from engine.deployment.config import (
    CONFIG_ENV,
    ConfigError,
    DeploymentConfig,
    database_url,
    deployment_config,
    dev_key_path,
    find_config,
    load_config,
    sqlite_file,
)

PUBLIC = "Vd7KXbhyYiHkbxZ7Xb4OGfYF8NWr3q3V5b6H5tdtWLA="

FULL = f"""
# A whole configuration.
[local_authority]
name = "London Borough of Example"
code = "202"

[database]
url = "sqlite:///data/cme.db"

[keys]
master_key_file = "keys/master.key"
previous_master_key_files = ["keys/old.key"]
checkpoint_signing_key_file = "/secure/checkpoint.key"
checkpoint_public_key = "{PUBLIC}"

[calendars]
default = "london-2026-27"
folder = "calendars"

[smtp]
host = "smtp.example.gov.uk"
port = 587
from = "cme@example.gov.uk"
starttls = true
username = "cme"
password_file = "keys/smtp.password"

[scheduler]
at = "06:30"
timezone = "Europe/London"
"""


def _write(folder: Path, text: str, name: str = "cme.toml") -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def test_a_full_configuration_is_read_with_paths_relative_to_its_folder(tmp_path: Path) -> None:
    config = load_config(_write(tmp_path, FULL))
    assert config.source == tmp_path / "cme.toml"
    assert config.local_authority.name == "London Borough of Example"
    assert config.local_authority.code == "202"
    assert config.database_url == f"sqlite:///{tmp_path}/data/cme.db"
    assert config.keys.master_key_file == tmp_path / "keys" / "master.key"
    assert config.keys.previous_master_key_files == (tmp_path / "keys" / "old.key",)
    assert config.keys.checkpoint_signing_key_file == Path("/secure/checkpoint.key")
    assert config.keys.checkpoint_public_key == PUBLIC
    assert config.calendars.default == "london-2026-27"
    assert config.calendars.folder == tmp_path / "calendars"
    assert (config.smtp.host, config.smtp.port, config.smtp.sender) == (
        "smtp.example.gov.uk",
        587,
        "cme@example.gov.uk",
    )
    assert config.smtp.starttls is True
    assert config.smtp.password_file == tmp_path / "keys" / "smtp.password"
    assert config.scheduler.at == dt.time(6, 30)
    assert config.scheduler.timezone == "Europe/London"
    assert config.missing() == []


def test_the_configuration_is_frozen(tmp_path: Path) -> None:
    config = load_config(_write(tmp_path, FULL))
    with pytest.raises(AttributeError):
        config.database_url = "sqlite:///elsewhere.db"  # type: ignore[misc]


def test_an_empty_file_and_no_file_are_the_development_defaults(tmp_path: Path) -> None:
    empty = load_config(_write(tmp_path, ""))
    assert empty.database_url is None
    assert empty.keys.master_key_file is None
    none = deployment_config(env={}, cwd=tmp_path / "nowhere")
    assert none == DeploymentConfig()
    assert none.scheduler.at == dt.time(7, 0)
    assert none.scheduler.timezone == "Europe/London"
    assert set(none.missing()) >= {"local_authority.name", "local_authority.code", "smtp.host"}


def test_smtp_password_is_read_from_its_file(tmp_path: Path) -> None:
    (tmp_path / "keys").mkdir()
    (tmp_path / "keys" / "smtp.password").write_text("s3cret\n", encoding="utf-8")
    assert load_config(_write(tmp_path, FULL)).smtp.password() == "s3cret"
    (tmp_path / "keys" / "smtp.password").unlink()
    with pytest.raises(ConfigError, match="smtp.password_file"):
        load_config(tmp_path / "cme.toml").smtp.password()


def test_database_urls_absolute_postgres_and_with_options(tmp_path: Path) -> None:
    def url(text: str) -> str | None:
        return load_config(_write(tmp_path, f'[database]\nurl = "{text}"\n')).database_url

    assert url("sqlite:////var/lib/cme/cme.db") == "sqlite:////var/lib/cme/cme.db"
    assert url("postgresql://cme@db/cme") == "postgresql://cme@db/cme"
    assert url("sqlite:///cme.db?timeout=5") == f"sqlite:///{tmp_path}/cme.db?timeout=5"


# -- where the file is found --------------------------------------------------------------------


def test_config_option_wins_then_the_environment(tmp_path: Path) -> None:
    given = _write(tmp_path, "", "given.toml")
    named = _write(tmp_path, "", "named.toml")
    _write(tmp_path, "")
    env = {CONFIG_ENV: str(named)}
    assert find_config(given, env=env, cwd=tmp_path) == given
    assert find_config(None, env=env, cwd=tmp_path) == named
    with pytest.raises(ConfigError, match="--config names missing.toml"):
        find_config("missing.toml", env=env, cwd=tmp_path)
    with pytest.raises(ConfigError, match=f"{CONFIG_ENV} names"):
        find_config(None, env={CONFIG_ENV: str(tmp_path / "gone.toml")}, cwd=tmp_path)


def test_a_cme_toml_beside_the_sqlite_database_then_the_working_directory(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    beside = _write(data, "")
    here = _write(tmp_path, "")
    db = f"sqlite:///{data}/cme.db"
    assert find_config(db_url=db, env={}, cwd=tmp_path) == beside
    assert find_config(env={"CME_DATABASE_URL": db}, cwd=tmp_path) == beside
    # A relative SQLite path is relative to where cme runs.
    assert find_config(db_url="sqlite:///data/cme.db", env={}, cwd=tmp_path) == beside
    beside.unlink()
    assert find_config(db_url=db, env={}, cwd=tmp_path) == here
    assert find_config(db_url="postgresql://x@y/z", env={}, cwd=tmp_path) == here
    here.unlink()
    assert find_config(db_url=db, env={}, cwd=tmp_path) is None


def test_the_database_given_on_the_command_line_wins_over_the_configuration(
    tmp_path: Path,
) -> None:
    config = load_config(_write(tmp_path, '[database]\nurl = "sqlite:///cme.db"\n'))
    assert database_url("sqlite:////other.db", config) == "sqlite:////other.db"
    assert database_url(None, config) == f"sqlite:///{tmp_path}/cme.db"


def test_sqlite_file_and_the_development_key_beside_the_database() -> None:
    assert sqlite_file("sqlite:////var/cme/cme.db") == Path("/var/cme/cme.db")
    assert sqlite_file("sqlite:///rel/cme.db") == Path("rel/cme.db")
    assert sqlite_file("sqlite:///:memory:") is None
    assert sqlite_file("sqlite://") is None
    assert sqlite_file("postgresql://a@b/c") is None
    assert dev_key_path("sqlite:////var/cme/cme.db") == Path("/var/cme/master.key")
    assert dev_key_path(None) == Path(".cme/master.key")
    assert dev_key_path("postgresql://a@b/c") is None


# -- what is refused ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            '[local_authority]\nname = "X"\ncoed = "202"\n',
            r"cme.toml:3: unknown setting "
            r"local_authority.coed; \[local_authority\] takes code, name",
        ),
        ('[smtp]\nhost = "h"\n\n[smpt]\nhost = "h"\n', r"cme.toml:4: unknown section \[smpt\]"),
        (
            '[local_authority]\ncode = "ABC"\n',
            r"cme.toml:2: local_authority.code is the DfE "
            r"three-digit LA code",
        ),
        ("[smtp]\nport = 70000\n", r"cme.toml:2: smtp.port must be a port number"),
        ('[smtp]\nport = "25"\n', r"cme.toml:2: smtp.port must be a port number"),
        ('[smtp]\nstarttls = "yes"\n', r"cme.toml:2: smtp.starttls must be true or false"),
        ('[smtp]\nfrom = "nobody"\n', r"cme.toml:2: smtp.from must be an email address"),
        ('[scheduler]\nat = "7 o\'clock"\n', r"cme.toml:2: scheduler.at is a time of day"),
        (
            '[scheduler]\ntimezone = "Europe/Londn"\n',
            r"cme.toml:2: scheduler.timezone: "
            r"unknown time zone",
        ),
        (
            '[keys]\ncheckpoint_public_key = "abc"\n',
            r"cme.toml:2: keys.checkpoint_public_key "
            r"must be an Ed25519 public key",
        ),
        (
            '[keys]\nmaster_key_file = ""\n',
            r"cme.toml:2: keys.master_key_file must be a "
            r"non-empty string",
        ),
        ('[database]\nurl = "mysql://x"\n', r"cme.toml:2: database.url must start with"),
        ('database = "x"\n', r"cme.toml:1: database must be a table"),
        ('[local_authority]\nname = "X"\nname = "Y"\n', r"cme.toml:3:\d+: Cannot overwrite"),
        ("[smtp\n", r"cme.toml:1:\d+: "),
    ],
)
def test_unknown_keys_and_bad_values_are_refused_with_file_and_line(
    tmp_path: Path, text: str, message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        load_config(_write(tmp_path, text))


def test_where_no_line_can_be_found_the_key_is_named(tmp_path: Path) -> None:
    # An inline table: the key is not on a line of its own.
    with pytest.raises(ConfigError, match=r"cme.toml \(smtp.prot\): unknown setting smtp.prot"):
        load_config(_write(tmp_path, 'smtp = { host = "h", prot = 1 }\n'))


def test_an_unreadable_or_non_utf8_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "absent.toml")
    path = tmp_path / "cme.toml"
    path.write_bytes(b'[local_authority]\nname = "\xff"\n')
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_config(path)


def test_the_cli_takes_smtp_settings_from_the_configuration_under_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from engine.cli import wiring

    (tmp_path / "keys").mkdir()
    (tmp_path / "keys" / "smtp.password").write_text("s3cret\n", encoding="utf-8")
    monkeypatch.setenv(CONFIG_ENV, str(_write(tmp_path, FULL)))
    for name in (
        "CME_SMTP_HOST",
        "CME_SMTP_PORT",
        "CME_SMTP_FROM",
        "CME_SMTP_USER",
        "CME_SMTP_PASSWORD",
        "CME_SMTP_SECURITY",
    ):
        monkeypatch.delenv(name, raising=False)
    env = wiring.smtp_environment(None)
    assert (env["CME_SMTP_HOST"], env["CME_SMTP_PORT"], env["CME_SMTP_FROM"]) == (
        "smtp.example.gov.uk",
        "587",
        "cme@example.gov.uk",
    )
    assert (env["CME_SMTP_USER"], env["CME_SMTP_PASSWORD"], env["CME_SMTP_SECURITY"]) == (
        "cme",
        "s3cret",
        "starttls",
    )
    monkeypatch.setenv("CME_SMTP_HOST", "relay.internal")
    assert wiring.smtp_environment(None)["CME_SMTP_HOST"] == "relay.internal"
    assert wiring.config(None).scheduler.at == dt.time(6, 30)


# -- the web service ------------------------------------------------------------------------------

WEB = """
[web]
session_secret_file = "keys/session.secret"
idle_minutes = 20
public_url = "https://cme.example.gov.uk/"
secure_cookies = true

[web.oidc]
issuer = "https://login.example.gov.uk/realms/council"
client_id = "cme"
client_secret_file = "keys/oidc.secret"
role_claim = "groups"
school_claim = "school"
"""


def test_the_web_section_with_its_identity_provider(tmp_path: Path) -> None:
    config = load_config(_write(tmp_path, WEB))
    web = config.web
    assert web.session_secret_file == tmp_path / "keys" / "session.secret"
    assert web.idle_minutes == 20
    assert web.public_url == "https://cme.example.gov.uk"
    assert web.secure_cookies is True
    assert web.oidc is not None
    assert web.oidc.issuer == "https://login.example.gov.uk/realms/council"
    assert web.oidc.client_secret_file == tmp_path / "keys" / "oidc.secret"
    assert (web.oidc.role_claim, web.oidc.school_claim) == ("groups", "school")
    (tmp_path / "keys").mkdir()
    (tmp_path / "keys" / "session.secret").write_text("s3cret\n", encoding="utf-8")
    (tmp_path / "keys" / "oidc.secret").write_text("client-secret\n", encoding="utf-8")
    assert web.session_secret() == "s3cret"
    assert web.oidc.client_secret() == "client-secret"


def test_the_web_defaults_and_what_oidc_still_needs(tmp_path: Path) -> None:
    web = load_config(_write(tmp_path, "")).web
    assert (web.session_secret_file, web.idle_minutes, web.secure_cookies, web.oidc) == (
        None,
        30,
        True,
        None,
    )
    assert web.session_secret() is None
    text = '[web.oidc]\nissuer = "https://idp.example"\nclient_id = "c"\nclient_secret_file = "s"\n'
    assert "web.public_url" in load_config(_write(tmp_path, text)).missing()


def test_an_unreadable_or_empty_web_secret_is_refused(tmp_path: Path) -> None:
    web = load_config(_write(tmp_path, '[web]\nsession_secret_file = "absent"\n')).web
    with pytest.raises(ConfigError, match="cannot read web.session_secret_file"):
        web.session_secret()
    (tmp_path / "absent").write_text("\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="is empty"):
        web.session_secret()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[web]\nidle_minutes = 0\n", r"cme.toml:2: web.idle_minutes is a number of minutes"),
        ('[web]\npublic_url = "cme.example"\n', r"cme.toml:2: web.public_url must be an http"),
        ("[web]\nsecure_cookies = 1\n", r"cme.toml:2: web.secure_cookies must be true or false"),
        (
            '[web]\n\n[web.oidc]\nissuer = "https://i"\nclient = "c"\n',
            r"cme.toml:5: unknown setting web.oidc.client; \[web.oidc\] takes client_id",
        ),
        (
            '[web.oidc]\nissuer = "https://i"\n',
            r"cme.toml:1: \[web.oidc\] needs client_id, client_secret_file",
        ),
        ('[web]\noidc = "x"\n', r"cme.toml:2: web.oidc must be a table"),
    ],
)
def test_bad_web_settings_are_refused_with_file_and_line(
    tmp_path: Path, text: str, message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        load_config(_write(tmp_path, text))
