"""Atomic file writes: a reader sees the old file or the new one, never half of one."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

#: Characters of the target's name kept in the temporary file's name (names are limited to
#: 255 bytes, and the temporary name adds a random part).
_TEMPORARY_NAME_CHARS = 64


class WriteError(OSError):
    """A file could not be written (a full disk, a lost mount); any earlier version is intact.

    Attributes:
        path: the file that could not be written.
        reason: the operating system's reason (e.g. "No space left on device").
    """

    def __init__(
        self,
        what: str,
        path: str | os.PathLike,
        error: OSError,
        kept: str = "any earlier version of it is intact",
    ):
        self.path = Path(path)
        self.reason = (
            error.reason if isinstance(error, WriteError) else error.strerror or str(error)
        )
        super().__init__(
            error.errno, f"could not write {what} '{self.path}' ({self.reason}); {kept}"
        )

    def __str__(self) -> str:
        return self.strerror


def _sync_directory(directory: Path) -> None:
    """Flushes a rename to the disk (where the platform allows opening a directory)."""
    with contextlib.suppress(OSError):
        descriptor = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, what: str = "the file") -> Iterator[BinaryIO]:
    """Yields a binary handle to a temporary file beside `path`, renamed onto it on success.

    On any exception (a full disk, a second Ctrl-C) the temporary file is removed and `path`
    keeps its previous contents; an `OSError` is raised as a `WriteError` naming `what` and
    `path`. The data is flushed to the disk before the rename, so a power cut or a SIGKILL
    leaves the old file or the new one. The new file gets the permissions a plain `open()`
    would give.

    Args:
        path: the file to write.
        what: what the file is, for the error message (e.g. "the checkpoint").
    """
    path = Path(path)
    directory = path.parent if str(path.parent) else Path(".")
    try:
        descriptor, temporary = tempfile.mkstemp(
            prefix=f".{path.name[:_TEMPORARY_NAME_CHARS]}.", suffix=".tmp", dir=directory
        )
    except OSError as error:
        raise WriteError(what, path, error) from None
    try:
        with os.fdopen(descriptor, "wb") as handle:
            # mkstemp creates the file 0600; give it the permissions a plain open() would.
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(temporary, 0o666 & ~umask)
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
        _sync_directory(directory)
    except BaseException as error:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        if isinstance(error, OSError) and not isinstance(error, WriteError):
            raise WriteError(what, path, error) from None
        raise
