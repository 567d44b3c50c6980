"""Parallel conversions (threads through the Python API, processes through the CLI) write the same
bytes as serial ones."""

from __future__ import annotations

import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from corpus import FIXTURES, REPO, record
from tfjs_lite import convert

JOBS = [
    ("keras h5", FIXTURES / "keras" / "mlp" / "model.h5", {}),
    ("keras zip", FIXTURES / "keras" / "k3_functional_keras" / "model.keras", {}),
    ("saved model", FIXTURES / "graph" / "cnn" / "saved_model", {}),
    ("saved model float16", FIXTURES / "graph" / "cnn" / "saved_model", {"quantize_float16": True}),
    ("layers to keras", FIXTURES / "reference" / "mlp" / "tensorflowjs_4.22" / "h5_to_layers",
     {"output_format": "keras_keras"}),
]


def _files(path: Path) -> dict[str, bytes]:
    if path.is_file():
        return {path.name: path.read_bytes()}
    return {str(p.relative_to(path)): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()}


def _out(base: Path, i: int, name: str, kwargs: dict) -> Path:
    return base / f"{name.replace(' ', '_')}-{i}" / ("model.keras" if kwargs.get("output_format") == "keras_keras" else "out")


@pytest.fixture(scope="module")
def serial(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, bytes]]:
    base = tmp_path_factory.mktemp("serial")
    result = {}
    for name, src, kwargs in JOBS:
        out = _out(base, 0, name, kwargs)
        convert(src, out, **kwargs)
        again = _out(base, 1, name, kwargs)
        convert(src, again, **kwargs)
        assert _files(out) == _files(again), f"{name}: two serial conversions differ"
        result[name] = _files(out)
    return result


def test_threads_write_the_serial_bytes(tmp_path: Path, serial: dict) -> None:
    tasks = [(name, src, kwargs, _out(tmp_path, i, name, kwargs)) for i in range(3) for name, src, kwargs in JOBS]
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda t: convert(t[1], t[3], **t[2]), tasks))
    for name, _, _, out in tasks:
        assert _files(out) == serial[name], f"{name} in a thread differs from the serial conversion"
    record("parallel conversions: threads (Python API)", "same bytes as serial", len(tasks))


def test_processes_write_the_serial_bytes(tmp_path: Path, serial: dict) -> None:
    procs = []
    for i in range(2):
        for name, src, kwargs in JOBS:
            out = _out(tmp_path, i, name, kwargs)
            flags = []
            if kwargs.get("quantize_float16"):
                flags.append("--quantize_float16")
            if kwargs.get("output_format"):
                flags += ["--output_format", kwargs["output_format"]]
            argv = [sys.executable, "-m", "tfjs_lite", "convert", str(src), str(out), *flags]
            procs.append((name, out, subprocess.Popen(argv, cwd=REPO, stderr=subprocess.PIPE)))
    for name, out, proc in procs:
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, f"{name}: {err.decode()}"
        assert _files(out) == serial[name], f"{name} in a parallel process differs from the serial conversion"
    record("parallel conversions: processes (CLI)", "same bytes as serial", len(procs))
