"""Atomic output: write into a temporary sibling, move into place only when everything succeeded.

* A new output appears by one rename. An existing output folder is replaced *as a whole*: the
  complete new folder is built in staging and swapped in (an atomic exchange where the kernel
  offers one, else "rename old aside, rename new in, remove old"), so a failure at any point
  leaves either the old model or the new one, never a mix, and no stale shards of the old one.
* Files the converter did not write are never deleted: an existing folder is replaced only if it
  is empty or holds nothing but what a TF.js model folder holds (``model.json`` and
  ``groupN-shardKofM.bin``); otherwise the output path is refused before any work is done.
* Staging entries are named ``.tfjs-lite-<pid>-<8 hex digits>`` (short, fixed length: a valid
  long output name is never refused because of them). Entries of processes that no longer exist
  (killed by SIGKILL, a power cut) are removed by the next conversion into the same folder.
* The output never lands on a file the input is made of (same real path, or the same inode via a
  hard link), whatever the output kind.
"""

from __future__ import annotations

import ctypes
import errno
import os
import re
import secrets
import shutil
import stat
from pathlib import Path
from types import TracebackType
from typing import Iterable, Optional, Type

from tfjs_lite.errors import OutputPathError

__all__ = ["StagedDirectory", "StagedFile", "check_output_path", "remove_stale_staging"]

_STAGING_PREFIX = ".tfjs-lite-"
_STAGING_NAME = re.compile(r"^\.tfjs-lite-(\d+)-[0-9a-f]{8}$")
# What a TF.js model folder written by us (or by tensorflowjs_converter) holds.
_MODEL_FOLDER_FILE = re.compile(r"^(model\.json|group\d+-shard\d+of\d+\.bin)$")
_MAX_INPUT_FILES = 100_000  # files of the input compared with the output (a model has a few)


def _umask() -> int:
    # os.umask() can only be read by setting it, which races with conversions in other threads.
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    return 0o022


def _give_normal_permissions(path: Path) -> None:
    """mkdtemp/mkstemp create private (0700/0600) entries; output should look like any other file."""
    umask = _umask()
    if path.is_dir():
        path.chmod(0o777 & ~umask)
        for child in path.iterdir():
            child.chmod(0o666 & ~umask)
    else:
        path.chmod(0o666 & ~umask)


# ------------------------------------------------------------------------------------- checks


def _input_scope(input_path: Path) -> Path:
    """The folder (or single file) holding everything a reader of ``input_path`` may read."""
    resolved = input_path.resolve()
    if resolved.is_dir():
        return resolved
    if resolved.name.endswith(".json"):  # a TF.js model.json: its shards lie beside it
        return resolved.parent
    return resolved


def _input_files(scope: Path) -> Iterable[Path]:
    if not scope.is_dir():
        yield scope
        return
    count = 0
    for root, dirs, files in os.walk(scope):
        for name in files + dirs:
            count += 1
            if count > _MAX_INPUT_FILES:
                return
            yield Path(root) / name


def _identity(path: Path) -> Optional[tuple[int, int]]:
    try:
        st = os.stat(path)  # follows symlinks: a link's target is what would be overwritten
    except OSError:
        return None
    return (st.st_dev, st.st_ino) if stat.S_ISREG(st.st_mode) else None


def foreign_entries(folder: Path) -> list[str]:
    """Names in an existing output folder that a TF.js model folder would not hold."""
    foreign = []
    for entry in sorted(os.scandir(folder), key=lambda e: e.name):
        if not _MODEL_FOLDER_FILE.match(entry.name) or entry.is_dir(follow_symlinks=False):
            foreign.append(entry.name)
    return foreign


def check_output_path(output: Path, *, input_path: Path, want_directory: bool) -> None:
    """Refuse output paths that would clobber the input, a file of another kind or files we did
    not write. Called before any work, so a refusal costs nothing."""
    resolved_out = output.resolve()
    scope = _input_scope(input_path)
    resolved_in = input_path.resolve()
    if resolved_out == resolved_in:
        raise OutputPathError("the output path is the input path; choose another output", path=output)
    input_folder = scope if scope.is_dir() else scope.parent
    if resolved_out == input_folder:
        raise OutputPathError(
            "refusing to write into the input model's own folder; choose a new or separate folder", path=output
        )
    if resolved_out in scope.parents or resolved_out in resolved_in.parents:
        raise OutputPathError("the input lies inside the output path; choose another output", path=output)
    if scope.is_dir() and scope in resolved_out.parents:
        raise OutputPathError("refusing to write inside the input model's folder", path=output)
    out_identity = _identity(resolved_out)
    if out_identity is not None:
        for path in _input_files(scope):
            if _identity(path) == out_identity:
                raise OutputPathError(
                    f"the output is the input's own file {path} (a link to it); choose another output", path=output
                )
    if want_directory:
        if output.exists() and not output.is_dir():
            raise OutputPathError("the output path is an existing file; a folder is needed here", path=output)
        if output.is_dir():
            foreign = foreign_entries(output)
            if foreign:
                shown = ", ".join(repr(n) for n in foreign[:3]) + (", ..." if len(foreign) > 3 else "")
                raise OutputPathError(
                    f"the output folder holds files tfjs-lite does not write ({shown}); it replaces only "
                    "an empty folder or one holding a TF.js model (model.json and weight shards); "
                    "choose a new or empty folder",
                    path=output,
                )
    elif output.is_dir():
        raise OutputPathError("the output path is an existing folder; a file name is needed here", path=output)
    parent = resolved_out.parent
    if parent.exists() and not parent.is_dir():
        raise OutputPathError(f"{parent} is not a folder", path=output)


# ------------------------------------------------------------------------------- staging names


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's live process
    except OSError:
        return True
    return True


def remove_stale_staging(folder: Path) -> None:
    """Remove staging entries in ``folder`` left by tfjs-lite processes that no longer exist."""
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return
    for entry in entries:
        match = _STAGING_NAME.match(entry.name)
        if match is None or int(match.group(1)) == os.getpid() or _pid_alive(int(match.group(1))):
            continue
        _remove_entry(Path(entry.path))


def _remove_entry(path: Path) -> None:
    """Remove a staging entry: a folder tree, or a file or symlink (never what a link points to)."""
    try:
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path, ignore_errors=True)
        elif os.path.lexists(path):
            os.unlink(path)
    except OSError:
        pass


def _staging_name() -> str:
    return f"{_STAGING_PREFIX}{os.getpid()}-{secrets.token_hex(4)}"


def _prepare_parent(target: Path, what: str) -> Path:
    parent = target.resolve().parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise OutputPathError(f"cannot create the output {what}: {e.strerror}", path=target) from None
    remove_stale_staging(parent)
    return parent


# ---------------------------------------------------------------------------------- the swap

_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _exchange(a: Path, b: Path) -> bool:
    """Atomically swap two paths with renameat2(RENAME_EXCHANGE); False if unsupported."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError, TypeError):  # no glibc 2.28+, or not Linux
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    if renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP, errno.EPERM):
        return False
    raise OSError(code, os.strerror(code), str(b))


def _swap_in(new: Path, target: Path) -> None:
    """Replace the folder ``target`` by ``new`` as a whole; the old content ends up at ``new``."""
    if _exchange(new, target):
        return
    aside = target.parent / _staging_name()
    os.rename(target, aside)
    try:
        os.rename(new, target)
    except OSError:
        os.rename(aside, target)
        raise
    os.rename(aside, new)  # so the caller removes the old content with the staging folder


class StagedDirectory:
    """A temporary folder beside ``target`` that becomes (or replaces) ``target`` on commit."""

    def __init__(self, target: Path) -> None:
        self.target = Path(target)
        self.path: Optional[Path] = None
        self.committed_files: list[Path] = []

    def __enter__(self) -> StagedDirectory:
        parent = _prepare_parent(self.target, "folder")
        try:
            self.path = parent / _staging_name()
            self.path.mkdir(mode=0o700)
        except OSError as e:
            raise OutputPathError(f"cannot create the output folder: {e.strerror}", path=self.target) from None
        return self

    def __exit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        try:
            if exc_type is None:
                self._commit()
        finally:
            if self.path is not None:
                _remove_entry(self.path)

    def _commit(self) -> None:
        assert self.path is not None
        names = sorted(p.name for p in self.path.iterdir())
        try:
            _give_normal_permissions(self.path)
            if not os.path.lexists(self.target):
                # One rename: readers of the target never see a half-written model.
                os.rename(self.path, self.target)
                self.path = None
            else:
                if not self.target.is_dir() or foreign_entries(self.target):  # changed since the check
                    raise OutputPathError(
                        "the output folder changed during the conversion and now holds files "
                        "tfjs-lite does not write; nothing was replaced",
                        path=self.target,
                    )
                _swap_in(self.path, self.target)
        except OSError as e:
            raise OutputPathError(f"cannot move the output into place: {e.strerror}", path=self.target) from None
        self.committed_files = [self.target / name for name in names]


class StagedFile:
    """A temporary file beside ``target`` that replaces ``target`` on commit."""

    def __init__(self, target: Path) -> None:
        self.target = Path(target)
        self.path: Optional[Path] = None

    def __enter__(self) -> StagedFile:
        parent = _prepare_parent(self.target, "file")
        try:
            self.path = parent / _staging_name()
            os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        except OSError as e:
            raise OutputPathError(f"cannot create the output file: {e.strerror}", path=self.target) from None
        return self

    def __exit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        assert self.path is not None
        try:
            if exc_type is None:
                try:
                    _give_normal_permissions(self.path)
                    os.replace(self.path, self.target)
                except OSError as e:
                    raise OutputPathError(f"cannot move the output into place: {e.strerror}", path=self.target) from None
        finally:
            if os.path.lexists(self.path):
                self.path.unlink()
