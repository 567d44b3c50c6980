"""Atomic output: nothing half-written on failure, foreign files never deleted."""

from __future__ import annotations

from pathlib import Path

import pytest

from tfjs_lite.staging import StagedDirectory, StagedFile, _umask


def test_new_folder_appears_only_on_success(tmp_path: Path) -> None:
    target = tmp_path / "out"
    with pytest.raises(RuntimeError):
        with StagedDirectory(target) as staged:
            (staged.path / "model.json").write_text("{}")
            raise RuntimeError("conversion failed")
    assert not target.exists()
    assert list(tmp_path.iterdir()) == []


def test_existing_folder_keeps_foreign_files(tmp_path: Path) -> None:
    target = tmp_path / "out"
    target.mkdir()
    (target / "notes.txt").write_text("mine")
    (target / "model.json").write_text("old")
    with StagedDirectory(target) as staged:
        (staged.path / "model.json").write_text("new")
    assert (target / "notes.txt").read_text() == "mine"
    assert (target / "model.json").read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_staged_file_replaces_only_on_success(tmp_path: Path) -> None:
    target = tmp_path / "model.h5"
    target.write_text("old")
    with pytest.raises(ValueError):
        with StagedFile(target) as staged:
            staged.path.write_text("half")
            raise ValueError
    assert target.read_text() == "old"
    with StagedFile(target) as staged:
        staged.path.write_text("new")
    assert target.read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.h5"]


def test_output_is_readable_by_others_like_any_new_file(tmp_path: Path) -> None:
    target = tmp_path / "out"
    with StagedDirectory(target) as staged:
        (staged.path / "model.json").write_text("{}")
    umask = _umask()
    assert target.stat().st_mode & 0o777 == 0o777 & ~umask
    assert (target / "model.json").stat().st_mode & 0o777 == 0o666 & ~umask
    single = tmp_path / "model.h5"
    with StagedFile(single) as staged:
        staged.path.write_text("x")
    assert single.stat().st_mode & 0o777 == 0o666 & ~umask
