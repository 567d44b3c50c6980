"""``tfjs-lite bench`` and ``verify --runtime tfjs`` hand a model folder to Node, which reads the
shards itself: a manifest naming files outside the folder, a FIFO or a device as a shard, or sizes
the shards do not hold must be refused in Python first (one line, exit 2, in seconds), never left
to hang or allocate in Node."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Callable

import pytest
from corpus import FIXTURES, PYTHON, record

MODEL = FIXTURES / "official" / "nchw_cnn" / "default"
SHARD = "group1-shard1of1.bin"


def _paths(value: str) -> Callable[[Path, dict], None]:
    def edit(folder: Path, model: dict) -> None:
        for group in model["weightsManifest"]:
            group["paths"] = [value for _ in group["paths"]]
    return edit


def _fifo(folder: Path, model: dict) -> None:
    os.remove(folder / SHARD)
    os.mkfifo(folder / SHARD)


def _device(folder: Path, model: dict) -> None:
    os.remove(folder / SHARD)
    os.symlink("/dev/zero", folder / SHARD)


def _huge_shape(folder: Path, model: dict) -> None:
    model["weightsManifest"][0]["weights"][0]["shape"] = [1 << 20, 1 << 20, 1 << 10]


CASES = {
    "weights path ../": (_paths("../secret.bin"), "must be a relative file name"),
    "weights path absolute": (_paths("/etc/hostname"), "must be a relative file name"),
    "shard is a FIFO": (_fifo, "is a FIFO (named pipe), not a regular file"),
    "shard is a symlink to /dev/zero": (_device, "leads outside the model folder"),
    "declared shape of 2**50 elements": (_huge_shape, "the weight files group1-shard1of1.bin hold"),
}


@pytest.mark.parametrize("what", sorted(CASES))
@pytest.mark.parametrize("command", ["bench", "verify"])
def test_bench_and_verify_refuse_hostile_model_folders(tmp_path: Path, what: str, command: str) -> None:
    edit, reason = CASES[what]
    (tmp_path / "secret.bin").write_bytes(b"SECRET" * 100)
    folder = tmp_path / "model"
    shutil.copytree(MODEL, folder)
    model = json.loads((folder / "model.json").read_text())
    edit(folder, model)
    (folder / "model.json").write_text(json.dumps(model))
    argv = (["bench", str(folder), "--runs", "1", "--warmup", "0"] if command == "bench"
            else ["verify", str(MODEL), str(folder), "--runtime", "tfjs"])
    result = subprocess.run([PYTHON, "-m", "tfjs_lite.cli", *argv], capture_output=True, text=True, timeout=60)
    lines = result.stderr.strip().splitlines()
    record("bench / verify --runtime tfjs: model folders Node must not read",
           "refused (exit 2, one line)" if result.returncode == 2 else f"BUG: exit {result.returncode}")
    assert result.returncode == 2, result.stderr
    assert len(lines) == 1 and lines[0].startswith("tfjs-lite: error:") and reason in lines[0], lines
