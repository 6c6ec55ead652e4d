"""Where a run reads and writes: no output may replace an input, and every output location is
checked before the first step.

TensorFlow-free, so the command line checks its paths before TensorFlow starts. Paths are
compared by what they resolve to and by file identity (device and inode), never as strings,
so `sub/../photo.jpg`, a symbolic link and a hard link all count as `photo.jpg`.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

try:
    import fcntl
except ImportError:  # Windows: no advisory locks; concurrent runs are not detected there.
    fcntl = None

#: (argument, path) pairs: how errors name a location, and where it is.
Locations = Sequence[tuple[str, "str | os.PathLike"]]

_FILE_KINDS = {
    stat.S_IFIFO: "a named pipe",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFSOCK: "a socket",
    stat.S_IFDIR: "a directory",
}

#: Longest file name most file systems allow (bytes), when `pathconf` cannot tell.
DEFAULT_NAME_MAX = 255

#: The file a checkpoint directory holds (checked by the command line before TensorFlow starts).
CHECKPOINT_FILE = "checkpoint.npz"


def _reason(error: OSError) -> str:
    return error.strerror or type(error).__name__


def check_input_file(path: str | os.PathLike, argument: str, what: str = "file") -> Path:
    """`path` as a `Path` if it names an existing regular file, else a `ValueError`.

    Named pipes and devices are refused, not opened: reading one can block forever. A path
    that cannot even be looked up (a name too long, a loop of links) is named with the
    reason, not raised as an `OSError`.

    Args:
        path: the file.
        argument: how the error names it, e.g. `"content"` or `"--task"`.
        what: what the file is, for the messages (`"image file"`, `"file"`).
    """
    path = Path(path)
    try:
        mode = os.stat(path).st_mode
    except (FileNotFoundError, NotADirectoryError):
        raise ValueError(
            f"`{argument}` {what} does not exist. Received: {argument}='{path}'"
        ) from None
    except OSError as error:
        raise ValueError(
            f"`{argument}` {what} could not be looked up ({_reason(error)}). "
            f"Received: {argument}='{path}'"
        ) from None
    if not stat.S_ISREG(mode):
        kind = _FILE_KINDS.get(stat.S_IFMT(mode), "a special file")
        article = "an" if what[0] in "aeiou" else "a"
        raise ValueError(
            f"`{argument}` must be {article} {what}, not {kind}. Received: {argument}='{path}'"
        )
    return path


def _identity(path: Path) -> tuple[str, tuple[int, int] | None]:
    """The resolved path and, if the file exists, its (device, inode)."""
    try:
        info = os.stat(path)
        inode = (info.st_dev, info.st_ino)
    except OSError:
        inode = None
    return os.path.realpath(path), inode


def same_file(first: str | os.PathLike, second: str | os.PathLike) -> bool:
    """Whether two paths name the same file (resolved path or device and inode)."""
    first_path, first_inode = _identity(Path(first))
    second_path, second_inode = _identity(Path(second))
    return first_path == second_path or (first_inode is not None and first_inode == second_inode)


def _inside(path: str | os.PathLike, directory: str | os.PathLike) -> bool:
    resolved, folder = os.path.realpath(path), os.path.realpath(directory)
    return resolved == folder or resolved.startswith(folder.rstrip(os.sep) + os.sep)


def _nearest_existing(path: Path) -> Path:
    path = Path(os.path.abspath(path))
    while not os.path.lexists(path) and path != path.parent:
        path = path.parent
    return path


def _check_name_lengths(path: Path, argument: str) -> None:
    try:
        name_max = os.pathconf(_nearest_existing(path.parent), "PC_NAME_MAX")
    except (OSError, ValueError):
        name_max = DEFAULT_NAME_MAX
    for part in path.parts:
        length = len(os.fsencode(part))
        if length > name_max:
            raise ValueError(
                f"`{argument}` has a name of {length} bytes; this file system allows at most "
                f"{name_max}. Received: {argument}='{path}'"
            )


def _check_writable(directory: Path, argument: str, path: Path) -> None:
    """Creates and removes a scratch directory: the one test of writability that holds for
    every user (root included), file system and mount option."""
    try:
        probe = tempfile.mkdtemp(prefix=".keras-nst-probe-", dir=directory)
    except OSError as error:
        raise ValueError(
            f"`{argument}`'s directory is not writable: '{directory}' ({_reason(error)}). "
            f"Received: {argument}='{path}'"
        ) from None
    os.rmdir(probe)


def check_output_file(
    path: str | os.PathLike,
    argument: str,
    *,
    inputs: Locations = (),
    refuse_existing: str | None = None,
) -> Path:
    """Checks, without writing anything, that a file can be written at `path` and that doing so
    replaces none of `inputs`.

    Args:
        path: the output file.
        argument: how errors name it (`"--output"`, `"output"`).
        inputs: the run's input files as (argument, path).
        refuse_existing: if set, an existing file is refused too; the text names the option
            that asked for it (e.g. `"--no-clobber"`).

    Raises:
        ValueError: a directory in the way, a missing or read-only directory, a name too long,
            an existing file with `refuse_existing`, or the same file as an input.
    """
    path = Path(path)
    _check_name_lengths(path, argument)
    if path.is_dir():
        raise ValueError(
            f"`{argument}` must be a file path, not a directory. Received: {argument}='{path}'"
        )
    directory = path.parent if str(path.parent) else Path(".")
    if not directory.is_dir():
        raise ValueError(
            f"`{argument}`'s directory does not exist: '{directory}'. Received: {argument}='{path}'"
        )
    _check_writable(directory, argument, path)
    for input_argument, input_path in inputs:
        if same_file(path, input_path):
            raise ValueError(
                f"`{argument}` would write over the `{input_argument}` input '{input_path}': they "
                f"are the same file. Choose another output. Received: {argument}='{path}'"
            )
    if refuse_existing and os.path.lexists(path):
        raise ValueError(
            f"`{argument}` already exists and {refuse_existing} asks not to replace it. "
            f"Received: {argument}='{path}'"
        )
    return path


def check_output_directory(
    path: str | os.PathLike,
    argument: str,
    *,
    inputs: Locations = (),
    may_hold: Locations = (),
) -> Path:
    """Checks, without creating anything, that `path` is or can become a writable directory that
    holds none of `inputs`.

    Args:
        path: the directory (it may not exist yet).
        argument: how errors name it.
        inputs: the run's input files as (argument, path).
        may_hold: inputs this directory is meant to hold (the checkpoint a run resumes).

    Raises:
        ValueError: a file in the way, a read-only place, a name too long, or an input inside.
    """
    path = Path(path)
    _check_name_lengths(path, argument)
    existing = _nearest_existing(path)
    if not existing.is_dir():
        where = (
            "is a file" if existing == Path(os.path.abspath(path)) else f"'{existing}' is a file"
        )
        raise ValueError(
            f"`{argument}` must be a directory, but {where}. Received: {argument}='{path}'"
        )
    _check_writable(existing, argument, path)
    allowed = {os.path.realpath(p) for _, p in may_hold}
    for input_argument, input_path in inputs:
        if _inside(input_path, path) and os.path.realpath(input_path) not in allowed:
            raise ValueError(
                f"`{argument}` holds the `{input_argument}` input '{input_path}'; files written "
                f"there could replace it. Choose a directory without inputs in it. "
                f"Received: {argument}='{path}'"
            )
    return path


def check_distinct(files: Locations, directories: Locations) -> None:
    """Refuses an output file that is also an output directory (or holds one)."""
    for file_argument, file_path in files:
        for directory_argument, directory_path in directories:
            if _inside(directory_path, file_path):
                raise ValueError(
                    f"`{file_argument}` and `{directory_argument}` must be different places. "
                    f"Received: {file_argument}='{file_path}', "
                    f"{directory_argument}='{directory_path}'"
                )


# === One run per directory ===


def _try_lock(descriptor: int) -> bool:
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _in_use(directory: Path, argument: str) -> ValueError:
    return ValueError(
        f"`{argument}` '{directory}' is in use by another run that is still going; wait for "
        f"it to end or choose another {argument}. Received: {argument}='{directory}'"
    )


def check_not_in_use(directory: str | os.PathLike, argument: str) -> None:
    """Raises a `ValueError` if another process holds `directory` with `exclusive_directory`."""
    directory = Path(directory)
    if fcntl is None or not directory.is_dir():
        return
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        if not _try_lock(descriptor):
            raise _in_use(directory, argument)
    finally:
        os.close(descriptor)


@contextlib.contextmanager
def exclusive_directory(directory: str | os.PathLike, argument: str) -> Iterator[Path]:
    """Creates `directory` and holds an advisory lock on it, so two runs never share it.

    The lock is the kernel's (`flock`): it is released when the block ends or the process
    dies, even by SIGKILL, so a crash never leaves a stale lock behind.

    Raises:
        ValueError: another process holds the directory.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    if fcntl is None:
        yield directory
        return
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        if not _try_lock(descriptor):
            raise _in_use(directory, argument)
        yield directory
    finally:
        os.close(descriptor)


#: Where a run's event files go: its log directory, and the video's per-frame folder.
EVENT_FOLDERS = (".", "frames")
EVENTS_PATTERN = "events.out.tfevents.*"


def earlier_events(log_dir) -> list:
    """The event files an earlier run left in `log_dir` (where a run writes its own: the
    folder itself and the video's `frames/`; never the runs in folders beside or below)."""
    return sorted(
        path
        for folder in EVENT_FOLDERS
        for path in (Path(log_dir) / folder).glob(EVENTS_PATTERN)
        if path.is_file()
    )
