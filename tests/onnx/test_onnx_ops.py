"""Every per-op ONNX fixture (fixtures/onnx/ops, made by onnxruntime) converts, runs in real TF.js
4.22 and in the numpy executor, and matches onnxruntime's recorded outputs within 1e-4."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from tfjs_node import compare, load_tensors

from tfjs_lite import executor
from tfjs_lite.options import ConvertOptions
from tfjs_lite.pipelines import onnx_to_graph
from tfjs_lite.readers.onnx import read_onnx
from tfjs_lite.report import Report

OPS = Path(__file__).resolve().parents[2] / "fixtures" / "onnx" / "ops"
CASES = sorted(p.name for p in OPS.iterdir() if (p / "model.onnx").is_file())
TOLERANCE = 1e-4


def _expected(case: str) -> tuple[dict, dict]:
    return load_tensors(OPS / case / "inputs.json"), load_tensors(OPS / case / "expected.json")


def _error(actual: dict, expected: dict) -> float:
    fix = {k: np.atleast_1d(np.asarray(v)) for k, v in actual.items()}
    exp = {k: np.atleast_1d(v.astype(np.int32) if v.dtype == np.int64 else v) for k, v in expected.items()}
    return compare(fix, exp, rtol=TOLERANCE)


def test_the_op_fixtures_cover_the_op_list():
    ops = {json.loads((OPS / c / "case.json").read_text())["op"] for c in CASES}
    assert len(CASES) >= 120 and len(ops) >= 90


@pytest.mark.parametrize("case", CASES)
def test_op_runs_in_tfjs_like_onnxruntime(case, tfjs, tmp_path):
    out = tmp_path / "model"
    onnx_to_graph.run(OPS / case / "model.onnx", out, ConvertOptions(), Report())
    inputs, expected = _expected(case)
    got = tfjs.execute_graph(str(out), dict(inputs), list(expected))
    _error(got, expected)


@pytest.mark.parametrize("case", CASES)
def test_op_lowering_in_numpy_executor(case):
    graph = read_onnx(OPS / case / "model.onnx")
    graph.check()
    inputs, expected = _expected(case)
    got = executor.run(graph, dict(inputs), outputs=list(expected))
    _error(got, expected)
