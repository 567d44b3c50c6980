"""Atomic output: nothing half-written on failure, foreign files never deleted."""

from __future__ import annotations

import os
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


def test_existing_folder_with_foreign_files_is_never_replaced(tmp_path: Path) -> None:
    from tfjs_lite.errors import OutputPathError

    target = tmp_path / "out"
    target.mkdir()
    (target / "notes.txt").write_text("mine")
    (target / "model.json").write_text("old")
    with pytest.raises(OutputPathError, match="does not write"):
        with StagedDirectory(target) as staged:
            (staged.path / "model.json").write_text("new")
    assert (target / "notes.txt").read_text() == "mine"
    assert (target / "model.json").read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_existing_model_folder_is_replaced_as_a_whole(tmp_path: Path) -> None:
    target = tmp_path / "out"
    target.mkdir()
    (target / "model.json").write_text("old")
    for i in range(3):
        (target / f"group1-shard{i + 1}of3.bin").write_bytes(b"old")
    with StagedDirectory(target) as staged:
        (staged.path / "model.json").write_text("new")
        (staged.path / "group1-shard1of1.bin").write_bytes(b"new")
    assert sorted(p.name for p in target.iterdir()) == ["group1-shard1of1.bin", "model.json"]  # no stale shards
    assert (target / "model.json").read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_swap_without_kernel_exchange_leaves_old_or_new(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    import tfjs_lite.staging as staging

    monkeypatch.setattr(staging, "_exchange", lambda a, b: False)
    target = tmp_path / "out"
    target.mkdir()
    (target / "model.json").write_text("old")
    (target / "group1-shard1of2.bin").write_bytes(b"old")
    real_rename = os.rename
    calls = []

    def failing_second_rename(src, dst):  # noqa: ANN001, ANN202
        calls.append((src, dst))
        if len(calls) == 2:
            raise OSError(28, "No space left on device")
        return real_rename(src, dst)

    monkeypatch.setattr(os, "rename", failing_second_rename)
    with pytest.raises(Exception, match="No space left"):
        with StagedDirectory(target) as staged:
            (staged.path / "model.json").write_text("new")
    monkeypatch.setattr(os, "rename", real_rename)
    assert sorted(p.name for p in target.iterdir()) == ["group1-shard1of2.bin", "model.json"]
    assert (target / "model.json").read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_stale_staging_of_dead_processes_is_removed(tmp_path: Path) -> None:
    import subprocess
    import sys

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    pid = int(dead.stdout)
    stale = tmp_path / f".tfjs-lite-{pid}-0123abcd"
    stale.mkdir()
    (stale / "model.json").write_text("half")
    live = tmp_path / f".tfjs-lite-{os.getppid()}-0123abcd"  # a live process: left alone
    live.mkdir()
    other = tmp_path / ".tfjs-lite-notes"
    other.write_text("not ours")
    with StagedDirectory(tmp_path / "out") as staged:
        (staged.path / "model.json").write_text("{}")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([live.name, other.name, "out"])


def test_staging_names_are_short_and_fixed(tmp_path: Path) -> None:
    long_name = "m" * 250  # valid (NAME_MAX is 255); a staging name built from it would not be
    with StagedFile(tmp_path / long_name) as staged:
        assert len(staged.path.name) <= 32
        staged.path.write_text("x")
    with StagedDirectory(tmp_path / ("d" * 255)) as staged:
        (staged.path / "model.json").write_text("{}")
    assert sorted(len(p.name) for p in tmp_path.iterdir()) == [250, 255]


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


def test_an_output_symlink_to_a_model_folder_is_replaced_not_followed(tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.mkdir()
    (real / "model.json").write_text("old")
    link = tmp_path / "out"
    link.symlink_to(real)
    with StagedDirectory(link) as staged:
        (staged.path / "model.json").write_text("new")
    assert (link / "model.json").read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "real"]  # no staging entry left
