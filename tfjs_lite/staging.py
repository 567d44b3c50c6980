"""Atomic output: write into a temporary sibling, move into place only when everything succeeded.

A failed conversion leaves nothing behind; a successful one replaces exactly the files it wrote and
never deletes files it did not write.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from types import TracebackType
from typing import Optional, Type

from tfjs_lite.errors import OutputPathError

__all__ = ["StagedDirectory", "StagedFile", "check_output_path"]


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


def check_output_path(output: Path, *, input_path: Path, want_directory: bool) -> None:
    """Refuse output paths that would clobber the input or a file of another kind."""
    resolved_out = output.resolve()
    resolved_in = input_path.resolve()
    if resolved_out == resolved_in:
        raise OutputPathError("the output path is the input path; choose another output", path=output)
    if want_directory:
        if output.exists() and not output.is_dir():
            raise OutputPathError("the output path is an existing file; a folder is needed here", path=output)
        input_folder = resolved_in if resolved_in.is_dir() else resolved_in.parent
        if resolved_out == input_folder:
            raise OutputPathError(
                "refusing to write into the input model's own folder; choose a new or separate folder", path=output
            )
        if resolved_in.is_dir() and resolved_in in resolved_out.parents:
            raise OutputPathError("refusing to write inside the input model's folder", path=output)
    elif output.is_dir():
        raise OutputPathError("the output path is an existing folder; a file name is needed here", path=output)
    parent = resolved_out.parent
    if parent.exists() and not parent.is_dir():
        raise OutputPathError(f"{parent} is not a folder", path=output)


class StagedDirectory:
    """A temporary folder beside ``target`` that becomes (or is merged into) ``target`` on commit."""

    def __init__(self, target: Path) -> None:
        self.target = Path(target)
        self.path: Optional[Path] = None
        self.committed_files: list[Path] = []

    def __enter__(self) -> StagedDirectory:
        parent = self.target.resolve().parent
        try:
            parent.mkdir(parents=True, exist_ok=True)
            self.path = Path(tempfile.mkdtemp(prefix=f".{self.target.name}.tfjs-lite-", dir=parent))
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
            if self.path is not None and self.path.exists():
                shutil.rmtree(self.path, ignore_errors=True)

    def _commit(self) -> None:
        assert self.path is not None
        names = sorted(p.name for p in self.path.iterdir())
        try:
            _give_normal_permissions(self.path)
            if not self.target.exists():
                # One rename: readers of the target never see a half-written model.
                os.replace(self.path, self.target)
                self.path = None
            else:
                for name in names:
                    os.replace(self.path / name, self.target / name)
        except OSError as e:
            raise OutputPathError(f"cannot move the output into place: {e.strerror}", path=self.target) from None
        self.committed_files = [self.target / name for name in names]


class StagedFile:
    """A temporary file beside ``target`` that replaces ``target`` on commit."""

    def __init__(self, target: Path) -> None:
        self.target = Path(target)
        self.path: Optional[Path] = None

    def __enter__(self) -> StagedFile:
        parent = self.target.resolve().parent
        try:
            parent.mkdir(parents=True, exist_ok=True)
            fd, name = tempfile.mkstemp(prefix=f".{self.target.name}.tfjs-lite-", dir=parent)
        except OSError as e:
            raise OutputPathError(f"cannot create the output file: {e.strerror}", path=self.target) from None
        os.close(fd)
        self.path = Path(name)
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
            if self.path.exists():
                self.path.unlink()
