"""Reading `cme.toml` strictly: each section's settings checked and converted, every problem
(an unknown section or key, a bad value) refused with the file and line it is on.

Owns the table of sections and settings and how each value is read; `config.py` owns finding the
file and the `DeploymentConfig` it becomes.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import re
import tomllib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from engine.deployment.config import (
    CalendarSettings,
    ConfigError,
    DeploymentConfig,
    KeySettings,
    LocalAuthority,
    OidcConfig,
    SchedulerConfig,
    SmtpConfig,
    WebConfig,
    sqlite_file,
)


def parse_config(path: Path, text: str) -> DeploymentConfig:
    """The configuration `text` (read from `path`) says; ConfigError naming the line if bad."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(_decode_error(path, str(exc))) from None
    return _Reader(path, text).config(data)


def _decode_error(path: Path, message: str) -> str:
    found = re.search(r"\s*\(at line (\d+), column (\d+)\)$", message)
    if found is None:
        return f"{path}: {message}"
    return f"{path}:{found[1]}:{found[2]}: {message[: found.start()]}"


_Convert = Callable[["_Reader", str, Any], Any]


class _Reader:
    """Checks one file's tables against `_SECTIONS`, each problem with its place."""

    def __init__(self, path: Path, text: str) -> None:
        self.path = path
        self.lines = text.splitlines()

    def config(self, data: dict[str, Any]) -> DeploymentConfig:
        values: dict[str, dict[str, Any]] = {}
        for section, value in data.items():
            spec = _SECTIONS.get(section)
            if spec is None:
                raise self.error(
                    section, f"unknown section [{section}]; known: {', '.join(sorted(_SECTIONS))}"
                )
            if not isinstance(value, dict):
                raise self.error(section, f"{section} must be a table ([{section}])")
            values[section] = self.section(section, value, spec)
        database = values.get("database", {})
        return DeploymentConfig(
            source=self.path,
            local_authority=LocalAuthority(**values.get("local_authority", {})),
            database_url=database.get("url"),
            keys=KeySettings(**values.get("keys", {})),
            calendars=CalendarSettings(**values.get("calendars", {})),
            smtp=SmtpConfig(**values.get("smtp", {})),
            scheduler=SchedulerConfig(**values.get("scheduler", {})),
            web=WebConfig(**values.get("web", {})),
        )

    def section(
        self, section: str, table: dict[str, Any], spec: Mapping[str, tuple[str, _Convert]]
    ) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in table.items():
            name = f"{section}.{key}"
            if key not in spec:
                raise self.error(
                    name, f"unknown setting {name}; [{section}] takes {', '.join(sorted(spec))}"
                )
            attribute, convert = spec[key]
            out[attribute] = convert(self, name, value)
        return out

    def error(self, name: str, message: str) -> ConfigError:
        line = self.line_of(name)
        where = f"{self.path}:{line}" if line else f"{self.path} ({name})"
        return ConfigError(f"{where}: {message}")

    def line_of(self, name: str) -> int | None:
        """The line defining `section.key` (or `[section]`, `[web.oidc]`): tomllib keeps no
        positions.
        """
        section, _, key = name.rpartition(".")
        current = ""
        for number, line in enumerate(self.lines, start=1):
            header = re.match(r"\s*\[\s*([A-Za-z0-9_.-]+)\s*\]", line)
            if header:
                current = header[1]
                if current == name:
                    return number
                continue
            assignment = re.match(r"\s*([A-Za-z0-9_.\"-]+)\s*=", line)
            if assignment is None:
                continue
            written = assignment[1].replace('"', "")
            if (current == section and written == key) or f"{current}.{written}".strip(".") == name:
                return number
        return None

    def path_value(self, value: str) -> Path:
        path = Path(value).expanduser()
        return path if path.is_absolute() else self.path.parent / path


def _text(reader: _Reader, name: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise reader.error(name, f"{name} must be a non-empty string, not {value!r}")
    if any(ord(ch) < 32 for ch in value):
        raise reader.error(name, f"{name} holds a control character")
    return value.strip()


def _path(reader: _Reader, name: str, value: Any) -> Path:
    return reader.path_value(_text(reader, name, value))


def _paths(reader: _Reader, name: str, value: Any) -> tuple[Path, ...]:
    if not isinstance(value, list):
        raise reader.error(name, f"{name} must be a list of file paths, not {value!r}")
    return tuple(_path(reader, name, item) for item in value)


def _la_code(reader: _Reader, name: str, value: Any) -> str:
    text = str(value) if isinstance(value, int) and not isinstance(value, bool) else value
    if not isinstance(text, str) or not re.fullmatch(r"\d{3}", text):
        raise reader.error(
            name, f'{name} is the DfE three-digit LA code (e.g. "202"), not {value!r}'
        )
    return text


def _bool(reader: _Reader, name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise reader.error(name, f"{name} must be true or false, not {value!r}")
    return value


def _port(reader: _Reader, name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 65536:
        raise reader.error(name, f"{name} must be a port number (1 to 65535), not {value!r}")
    return value


def _email(reader: _Reader, name: str, value: Any) -> str:
    text = _text(reader, name, value)
    if not re.fullmatch(r"[^@\s<>]+@[^@\s<>]+", text):
        raise reader.error(name, f"{name} must be an email address, not {value!r}")
    return text


def _time(reader: _Reader, name: str, value: Any) -> dt.time:
    if isinstance(value, dt.time):
        return value
    try:
        return dt.time.fromisoformat(_text(reader, name, value))
    except ValueError:
        raise reader.error(name, f"{name} is a time of day HH:MM, not {value!r}") from None


def _timezone(reader: _Reader, name: str, value: Any) -> str:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    text = _text(reader, name, value)
    try:
        ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError):
        raise reader.error(
            name, f"{name}: unknown time zone {text!r}; e.g. Europe/London"
        ) from None
    return text


def _public_key(reader: _Reader, name: str, value: Any) -> str:
    text = _text(reader, name, value)
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != 32:
        raise reader.error(
            name,
            f"{name} must be an Ed25519 public key, base64 (the one line "
            "of the .pub file `cme audit keygen` writes)",
        )
    return text


def _minutes(reader: _Reader, name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 1440:
        raise reader.error(name, f"{name} is a number of minutes (1 to 1440), not {value!r}")
    return value


def _url(reader: _Reader, name: str, value: Any) -> str:
    text = _text(reader, name, value).rstrip("/")
    if not re.fullmatch(r"https?://[^\s/?#]+(/[^\s?#]*)?", text):
        raise reader.error(
            name, f'{name} must be an http(s) address such as "https://cme.example.gov.uk"'
        )
    return text


def _claim(reader: _Reader, name: str, value: Any) -> str:
    text = _text(reader, name, value)
    if not re.fullmatch(r"[A-Za-z0-9_:./-]+", text):
        raise reader.error(name, f'{name} must be a claim name such as "cme_role", not {value!r}')
    return text


_OIDC: dict[str, tuple[str, _Convert]] = {
    "issuer": ("issuer", _url),
    "client_id": ("client_id", _text),
    "client_secret_file": ("client_secret_file", _path),
    "role_claim": ("role_claim", _claim),
    "school_claim": ("school_claim", _claim),
}


def _oidc(reader: _Reader, name: str, value: Any) -> OidcConfig:
    if not isinstance(value, dict):
        raise reader.error(name, f"{name} must be a table ([{name}])")
    values = reader.section(name, value, _OIDC)
    lacking = [k for k in ("issuer", "client_id", "client_secret_file") if k not in values]
    if lacking:
        raise reader.error(
            name, f"[{name}] needs {', '.join(lacking)} (issuer, client_id, client_secret_file)"
        )
    return OidcConfig(**values)


_DATABASE_SCHEMES = ("sqlite:///", "postgresql://", "postgresql+psycopg://")


def _database_url(reader: _Reader, name: str, value: Any) -> str:
    url = _text(reader, name, value)
    if not url.startswith(_DATABASE_SCHEMES):
        raise reader.error(
            name,
            f"{name} must start with one of {', '.join(_DATABASE_SCHEMES)}, "
            f'e.g. "sqlite:///cme.db" (beside this file)',
        )
    file = sqlite_file(url)
    if file is not None and not file.is_absolute():
        # A relative SQLite path is relative to the configuration, not to wherever cme runs.
        query = url.partition("?")[2]
        url = f"sqlite:///{reader.path.parent / file}" + (f"?{query}" if query else "")
    return url


_SECTIONS: dict[str, dict[str, tuple[str, _Convert]]] = {
    "local_authority": {"name": ("name", _text), "code": ("code", _la_code)},
    "database": {"url": ("url", _database_url)},
    "keys": {
        "master_key_file": ("master_key_file", _path),
        "previous_master_key_files": ("previous_master_key_files", _paths),
        "checkpoint_signing_key_file": ("checkpoint_signing_key_file", _path),
        "checkpoint_public_key": ("checkpoint_public_key", _public_key),
    },
    "calendars": {"default": ("default", _text), "folder": ("folder", _path)},
    "smtp": {
        "host": ("host", _text),
        "port": ("port", _port),
        "from": ("sender", _email),
        "starttls": ("starttls", _bool),
        "username": ("username", _text),
        "password_file": ("password_file", _path),
    },
    "scheduler": {"at": ("at", _time), "timezone": ("timezone", _timezone)},
    "web": {
        "session_secret_file": ("session_secret_file", _path),
        "idle_minutes": ("idle_minutes", _minutes),
        "public_url": ("public_url", _url),
        "secure_cookies": ("secure_cookies", _bool),
        "oidc": ("oidc", _oidc),
    },
}


__all__ = ["parse_config"]
