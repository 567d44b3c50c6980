"""Reading input files safely: one rule for every reader.

Every file a reader opens goes through this module, so the rules hold for every format:

* **Regular files only.** FIFOs, sockets, character and block devices (``/dev/zero``, ``/dev/tty``)
  and folders are refused before anything reads from them; the file is opened with
  ``O_NONBLOCK`` and checked again with ``fstat`` (a FIFO swapped in after the check cannot block
  the open). Sizes come from ``fstat`` of the open file, never from metadata in the model.
* **Nothing outside the input.** A reader names the folder its model lives in (``root``); a file
  whose real path (symlinks and ``..`` resolved) is not inside the real path of ``root`` is
  refused with one line. The input path the user typed may itself be a symlink: ``root`` is
  resolved first, so only links *inside* the model that lead out of it are refused.
* **Bounded reads.** ``read_bytes``/``read_text`` take a ``limit``; a file larger than it is
  refused from its size before it is read.

New readers (TFLite, ONNX external data, ...) call :func:`read_bytes`, :func:`open_binary` or,
for libraries that open files by name (h5py, zipfile, numpy.memmap), :func:`regular_file`, which
returns the checked real path to hand them. docs/design.md ("Reading input files") describes it.
"""

from __future__ import annotations

import io
import os
import stat
from pathlib import Path
from typing import Optional, Union

from tfjs_lite.errors import ModelFormatError

try:
    import fcntl
except ImportError:  # Windows: no FIFOs to block on, no O_NONBLOCK
    fcntl = None  # type: ignore[assignment]

_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)

__all__ = ["check_input_path", "open_binary", "read_bytes", "read_text", "regular_file"]

PathLike = Union[str, "os.PathLike[str]"]

_KINDS = (
    (stat.S_ISDIR, "a folder"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
)


def _kind(mode: int) -> str:
    for test, name in _KINDS:
        if test(mode):
            return name
    return "not a regular file"


def _inside(real: str, root: str) -> bool:
    return real == root or real.startswith(root.rstrip(os.sep) + os.sep)


def regular_file(path: PathLike, *, root: Optional[PathLike] = None, what: str = "file") -> Path:
    """The real path of ``path`` after checking that it is a regular file (inside ``root``).

    Raises:
        ModelFormatError: missing, not a regular file, or (with ``root``) resolving outside it.
    """
    path = Path(path)
    real = os.path.realpath(path)
    if root is not None:
        real_root = os.path.realpath(root)
        if not _inside(real, real_root):
            raise ModelFormatError(
                f"{what} leads outside the model folder {Path(root)} (a symlink or '..' to {real}); "
                "refusing to read it",
                path=path,
            )
    try:
        mode = os.stat(real).st_mode
    except OSError as e:
        raise ModelFormatError(f"cannot read the {what}: {e.strerror}", path=path) from None
    if not stat.S_ISREG(mode):
        raise ModelFormatError(f"the {what} is {_kind(mode)}, not a regular file", path=path)
    return Path(real)


def open_binary(path: PathLike, *, root: Optional[PathLike] = None, what: str = "file") -> io.BufferedReader:
    """Open a checked regular file for reading (never blocks on a FIFO or device)."""
    real = regular_file(path, root=root, what=what)
    try:
        fd = os.open(real, _OPEN_FLAGS | getattr(os, "O_NOFOLLOW", 0))
    except OSError as e:
        raise ModelFormatError(f"cannot read the {what}: {e.strerror}", path=path) from None
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):  # replaced between the check and the open
            raise ModelFormatError(f"the {what} is {_kind(mode)}, not a regular file", path=path)
        if fcntl is not None:  # reads of a regular file never block; clear the flag all the same
            fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) & ~os.O_NONBLOCK)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_bytes(
    path: PathLike, *, root: Optional[PathLike] = None, limit: Optional[int] = None, what: str = "file"
) -> bytes:
    """The whole content of a checked regular file, refused from its size if over ``limit``."""
    with open_binary(path, root=root, what=what) as f:
        size = os.fstat(f.fileno()).st_size
        if limit is not None and size > limit:
            raise ModelFormatError(f"the {what} is {size} bytes, over the limit of {limit} bytes", path=path)
        data = f.read(size)
    if len(data) != size:
        raise ModelFormatError(f"the {what} changed while it was read", path=path)
    return data


def read_text(
    path: PathLike, *, root: Optional[PathLike] = None, limit: Optional[int] = None, what: str = "file"
) -> str:
    """:func:`read_bytes` decoded as UTF-8 (a ModelFormatError if it is not)."""
    data = read_bytes(path, root=root, limit=limit, what=what)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ModelFormatError(f"the {what} is not UTF-8 text (byte {e.start})", path=path) from None


def check_input_path(path: PathLike) -> None:
    """The path the user named must be an existing regular file or folder (after symlinks)."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise ModelFormatError("no such file or folder", path=path) from None
    except OSError as e:
        raise ModelFormatError(f"cannot read the input: {e.strerror}", path=path) from None
    if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
        raise ModelFormatError(f"the input is {_kind(mode)}, not a model file or folder", path=path)
