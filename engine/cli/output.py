"""Writing a file a command was asked to produce (`--output`, `-o`, `--into`): a letter, an
export, a report, a diagram.

Owns two promises: a folder that is missing or cannot be written, or a path that is a folder,
is refused in words (exit non-zero, no traceback, nothing half-written); and a document holding
personal data is created readable by its owner only (mode 0600) from the first byte — written
to a new file opened with O_CREAT|O_EXCL and mode 0600, then renamed over the target, never
chmod-ed after the fact (a file that existed keeps none of its old, wider mode).
"""

from __future__ import annotations

import errno
import os
import secrets
from pathlib import Path

from engine.errors import InputError

PRIVATE_MODE = 0o600
"""Owner read and write only: letters, exports and reports about children."""


class OutputNotWritten(InputError):
    """A file could not be written where the command was asked to write it."""

    code = "output_not_written"


def write_output(path: str | os.PathLike[str], data: bytes | str, *, personal: bool) -> Path:
    """Write `data` (text as UTF-8) to `path`; with `personal` the file is mode 0600. Refuses
    (OutputNotWritten) a missing or unwritable folder, or a path that is a folder.
    """
    target = Path(path)
    content = data.encode("utf-8") if isinstance(data, str) else data
    folder = target.parent
    if target.is_dir():
        raise OutputNotWritten(f"cannot write {target}: it is a folder; give a file name in it")
    if not folder.is_dir():
        what = "is not a folder" if folder.exists() else "does not exist"
        raise OutputNotWritten(
            f"cannot write {target}: the folder {folder} {what}; create it first "
            f"(mkdir -p {folder}) or give another path"
        )
    try:
        if personal:
            _write_private(target, content)
        else:
            target.write_bytes(content)
    except OSError as exc:
        raise OutputNotWritten(f"cannot write {target}: {_reason(exc)}") from None
    return target


def _write_private(target: Path, content: bytes) -> None:
    # A new file made 0600 by the open itself (the umask can only narrow it), filled, flushed,
    # then renamed over the target: no moment at which the data sits in a wider file.
    partial = target.with_name(f".{target.name}.{secrets.token_hex(4)}.partial")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_MODE)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(partial, target)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise


def _reason(exc: OSError) -> str:
    if exc.errno in {errno.EACCES, errno.EPERM}:
        return "permission denied (choose a folder you can write to)"
    if exc.errno == errno.EROFS:
        return "the folder is on a read-only file system"
    if exc.errno == errno.ENOSPC:
        return "the disk is full"
    return exc.strerror or str(exc)
