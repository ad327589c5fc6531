"""One deployment's configuration: the `cme.toml` a local authority keeps beside its database.

Owns finding the file (`--config`, else `CME_CONFIG`, else a `cme.toml` beside the SQLite
database named by `--db`/`CME_DATABASE_URL`, else `./cme.toml`) and the frozen
`DeploymentConfig` the CLI wires from; reading it strictly (unknown keys and bad values refused,
with the file and line) is `config_file.py`'s. With no file anywhere, every setting keeps the
development default the engine has always had. Does not own what the settings do: keys are
`engine/protection/crypto.py`'s, the database `engine/store/database.py`'s, the calendars
`engine/time/`'s.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from engine.errors import InputError

CONFIG_ENV = "CME_CONFIG"
"""The environment variable naming the configuration file."""
CONFIG_NAME = "cme.toml"
"""The configuration's file name, looked for beside the SQLite database and in the working
directory."""
DATABASE_ENV = "CME_DATABASE_URL"
DEFAULT_SQLITE = Path(".cme") / "cme.db"
"""The development database when nothing names one (as `engine.store.database` makes it)."""
DEV_KEY_NAME = "master.key"
"""A development master key's file name, in the SQLite database's folder."""
MAX_CONFIG_BYTES = 256 * 1024


class ConfigError(InputError):
    """A configuration file that cannot be used: unreadable, not TOML, an unknown key, a bad
    value. The message names the file and, where known, the line.
    """

    code = "invalid_config"


@dataclass(frozen=True)
class LocalAuthority:
    """Who runs this deployment (shown on letters, reports and returns)."""

    name: str | None = None
    """The authority's name, e.g. "London Borough of Camden"."""
    code: str | None = None
    """The DfE three-digit LA code, e.g. "202"."""


@dataclass(frozen=True)
class KeySettings:
    """Where the keys are: files, never the keys themselves (except the public one)."""

    master_key_file: Path | None = None
    """The master key wrapping every case key (`cme admin key new`); None: CME_MASTER_KEY(_FILE)
    or, for SQLite, a development key beside the database."""
    previous_master_key_files: tuple[Path, ...] = ()
    """Older master keys still accepted for reading while `cme admin key rotate` runs."""
    checkpoint_signing_key_file: Path | None = None
    """The Ed25519 private key the scheduler signs daily checkpoints with."""
    checkpoint_public_key: str | None = None
    """The pinned public key (base64, as in the `.pub` file): verify refuses any other."""


@dataclass(frozen=True)
class CalendarSettings:
    """Which school calendar new cases use, and where the authority's own calendars are."""

    default: str | None = None
    """A calendar's name (shipped or in `folder`); None: the engine's default."""
    folder: Path | None = None
    """A folder of the authority's own calendar YAML files, beside the shipped ones."""


@dataclass(frozen=True)
class SmtpConfig:
    """The mail server escalations and referrals go through; `host` None: not set up yet."""

    host: str | None = None
    port: int = 25
    sender: str | None = None
    """The From address."""
    starttls: bool = False
    username: str | None = None
    password_file: Path | None = None
    """A file holding the password (readable only by the service user)."""

    def password(self) -> str | None:
        """The password read from `password_file` (None if there is none)."""
        if self.password_file is None:
            return None
        try:
            return self.password_file.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(
                f"cannot read smtp.password_file {self.password_file}: {exc.strerror}"
            ) from None


@dataclass(frozen=True)
class SchedulerConfig:
    """When the daily sweep runs."""

    at: dt.time = dt.time(7, 0)
    timezone: str = "Europe/London"


@dataclass(frozen=True)
class OidcConfig:
    """The council's identity provider (OpenID Connect) for signing in to `cme serve`."""

    issuer: str
    """The provider's issuer URL; its /.well-known/openid-configuration is read at start-up."""
    client_id: str
    client_secret_file: Path
    """A file holding the client secret (readable only by the service user)."""
    role_claim: str = "cme_role"
    """The ID token claim carrying the person's role (a role id of processes/roles.yaml)."""
    school_claim: str | None = None
    """The claim naming a school's user's school; None: schools sign in with local accounts."""

    def client_secret(self) -> str:
        """The client secret read from `client_secret_file`."""
        return _read_secret(self.client_secret_file, "web.oidc.client_secret_file")


@dataclass(frozen=True)
class WebConfig:
    """How `cme serve` runs: its session secret, idle timeout, address and sign-in."""

    session_secret_file: Path | None = None
    """A file holding the secret that signs session cookies (`cme init` makes one); None: a new
    secret each start, which signs everyone out on a restart."""
    idle_minutes: int = 30
    """Signed out after this many minutes without a request."""
    public_url: str | None = None
    """The address people use (behind the reverse proxy), e.g. https://cme.example.gov.uk; the
    OpenID Connect redirect address is made from it."""
    secure_cookies: bool = True
    """Send cookies only over HTTPS; false only for a trial on localhost."""
    oidc: OidcConfig | None = None

    def session_secret(self) -> str | None:
        """The session secret read from `session_secret_file` (None if there is none)."""
        if self.session_secret_file is None:
            return None
        return _read_secret(self.session_secret_file, "web.session_secret_file")


def _read_secret(path: Path, name: str) -> str:
    try:
        text = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ConfigError(f"cannot read {name} {path}: {exc.strerror}") from None
    if not text:
        raise ConfigError(f"{name} {path} is empty")
    return text


@dataclass(frozen=True)
class DeploymentConfig:
    """Everything one deployment is configured with; the defaults are the development ones."""

    source: Path | None = None
    """The file it was read from (None: no file, development defaults)."""
    local_authority: LocalAuthority = field(default_factory=LocalAuthority)
    database_url: str | None = None
    """The database URL (a relative SQLite path already made relative to the file's folder);
    None: `--db`, CME_DATABASE_URL or the development database."""
    keys: KeySettings = field(default_factory=KeySettings)
    calendars: CalendarSettings = field(default_factory=CalendarSettings)
    smtp: SmtpConfig = field(default_factory=SmtpConfig)
    scheduler: SchedulerConfig = field(default_factory=SchedulerConfig)
    web: WebConfig = field(default_factory=WebConfig)

    @property
    def folder(self) -> Path | None:
        """The folder holding the configuration file."""
        return None if self.source is None else self.source.parent

    def missing(self) -> list[str]:
        """Settings a real deployment still has to fill in, as `section.key` names."""
        out = []
        if not self.local_authority.name:
            out.append("local_authority.name")
        if not self.local_authority.code:
            out.append("local_authority.code")
        if not self.smtp.host:
            out.append("smtp.host")
        if not self.smtp.sender:
            out.append("smtp.from")
        if self.keys.checkpoint_public_key is None:
            out.append("keys.checkpoint_public_key")
        if self.web.oidc is not None and not self.web.public_url:
            out.append("web.public_url")  # the identity provider must be told where to return
        return out


# -- finding the file ---------------------------------------------------------------------------


def sqlite_file(url: str | None) -> Path | None:
    """The file of a SQLite URL (`sqlite:///x.db`), None for other databases and in-memory ones."""
    if not url or not url.startswith("sqlite:"):
        return None
    rest = url.removeprefix("sqlite:").removeprefix("//")
    if not rest.startswith("/"):
        return None
    path = rest[1:].split("?", 1)[0]
    if not path or path == ":memory:":
        return None
    return Path(path)


def database_url(db_url: str | None, config: DeploymentConfig) -> str | None:
    """The database to open: `--db`/CME_DATABASE_URL if given, else the configuration's (None:
    the development database).
    """
    return db_url or config.database_url


def dev_key_path(db_url: str | None) -> Path | None:
    """Where a development master key lives: beside the SQLite database (never the working
    directory's own `.cme/` unless that is where the database is); None for PostgreSQL.
    """
    if not db_url:
        return DEFAULT_SQLITE.parent / DEV_KEY_NAME
    file = sqlite_file(db_url)
    return None if file is None else file.parent / DEV_KEY_NAME


def find_config(
    config: str | os.PathLike[str] | None = None,
    *,
    db_url: str | None = None,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> Path | None:
    """The configuration file to use, or None (development defaults).

    `--config`, else CME_CONFIG (each must exist), else `cme.toml` beside the SQLite database
    named by `db_url` or CME_DATABASE_URL, else `./cme.toml`.
    """
    env = os.environ if env is None else env
    cwd = Path.cwd() if cwd is None else cwd
    for given, what in ((config, "--config"), (env.get(CONFIG_ENV) or None, CONFIG_ENV)):
        if given is not None:
            path = cwd / Path(given)
            if not path.is_file():
                raise ConfigError(f"{what} names {given}, which is not a file")
            return path
    db_file = sqlite_file(db_url or env.get(DATABASE_ENV) or None)
    candidates = [] if db_file is None else [cwd / db_file.parent / CONFIG_NAME]
    candidates.append(cwd / CONFIG_NAME)
    return next((path for path in candidates if path.is_file()), None)


def deployment_config(
    config: str | os.PathLike[str] | None = None,
    *,
    db_url: str | None = None,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> DeploymentConfig:
    """The deployment's configuration, found as `find_config` says; defaults if there is none."""
    path = find_config(config, db_url=db_url, env=env, cwd=cwd)
    return DeploymentConfig() if path is None else load_config(path)


# -- reading it ---------------------------------------------------------------------------------


def load_config(path: str | os.PathLike[str]) -> DeploymentConfig:
    """Read and check a configuration file; ConfigError naming the file and line if it is bad."""
    path = Path(path).absolute()
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from None
    if len(raw) > MAX_CONFIG_BYTES:
        raise ConfigError(
            f"{path} is {len(raw)} bytes; a configuration file is at most {MAX_CONFIG_BYTES}"
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    from engine.deployment.config_file import parse_config

    return parse_config(path, text)


__all__ = [
    "CONFIG_ENV",
    "CONFIG_NAME",
    "CalendarSettings",
    "ConfigError",
    "DeploymentConfig",
    "KeySettings",
    "LocalAuthority",
    "OidcConfig",
    "SchedulerConfig",
    "SmtpConfig",
    "WebConfig",
    "deployment_config",
    "database_url",
    "dev_key_path",
    "find_config",
    "load_config",
    "sqlite_file",
]
