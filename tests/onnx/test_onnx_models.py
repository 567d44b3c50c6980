"""PyTorch exports (fixtures/onnx/models, made by fixtures/generate_onnx.py with torch's default
exporter, the TorchScript one at opset 13, a dynamic batch, ...) convert, load in real TF.js 4.22
and reproduce onnxruntime's recorded outputs within 1e-4 normalised error."""

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

MODELS = Path(__file__).resolve().parents[2] / "fixtures" / "onnx" / "models"
CASES = sorted(p.name for p in MODELS.iterdir() if (p / "model.onnx").is_file())
TOLERANCE = 1e-4
# Image models whose converted body must hold no Transpose: only the NCHW input/output boundary may.
CNNS = [c for c in CASES if not c.startswith("transformer")]


def _case(name: str) -> dict:
    return json.loads((MODELS / name / "case.json").read_text())


def _convert(name: str, out: Path, **options) -> dict:
    onnx_to_graph.run(MODELS / name / "model.onnx", out, ConvertOptions(**options), Report())
    return json.loads((out / "model.json").read_text())


def _error(actual: dict, expected: dict) -> float:
    exp = {k: v.astype(np.int32) if v.dtype == np.int64 else v for k, v in expected.items()}
    return compare({k: np.asarray(v) for k, v in actual.items()}, exp, rtol=TOLERANCE)


def test_fixture_set_covers_the_issue():
    exporters = {_case(c)["exporter"] for c in CASES}
    opsets = {_case(c)["opset"] for c in CASES}
    assert {"dynamo", "torchscript"} <= exporters and 13 in opsets and max(opsets) >= 18
    assert any(_case(c)["dynamic"] for c in CASES)


@pytest.mark.parametrize("name", CASES)
def test_model_runs_in_tfjs_like_onnxruntime(name, tfjs, tmp_path):
    model = _convert(name, tmp_path / name)
    inputs, expected = load_tensors(MODELS / name / "inputs.json"), load_tensors(MODELS / name / "expected.json")
    got = tfjs.execute_graph(str(tmp_path / name), dict(inputs), list(expected))
    _error(got, expected)
    assert list(model["signature"]["inputs"]) == _case(name)["inputs"]
    assert list(model["signature"]["outputs"]) == _case(name)["outputs"]


@pytest.mark.parametrize("name", CASES)
def test_model_lowering_in_numpy_executor(name):
    graph = read_onnx(MODELS / name / "model.onnx")
    inputs, expected = load_tensors(MODELS / name / "inputs.json"), load_tensors(MODELS / name / "expected.json")
    _error(executor.run(graph, dict(inputs), outputs=list(expected)), expected)


@pytest.mark.parametrize("name", [c for c in CASES if _case(c)["dynamic"]])
def test_dynamic_batch_is_minus_one_and_runs_at_another_batch(name, tfjs, tmp_path):
    model = _convert(name, tmp_path / "m")
    (key,) = model["signature"]["inputs"]
    assert model["signature"]["inputs"][key]["tensorShape"]["dim"][0]["size"] == "-1"
    inputs, expected = (load_tensors(MODELS / name / f) for f in ("inputs.json", "expected.json"))
    assert inputs[key].shape[0] == 2
    got = tfjs.execute_graph(str(tmp_path / "m"), {key: inputs[key][1:]}, list(expected))
    _error(got, {k: v[1:] for k, v in expected.items()})


# Ops whose meaning depends on the memory order (the model itself reshapes NCHW features, e.g.
# YOLO's detect head, or dynamo's GroupNorm decomposition): a transpose next to one is required.
LAYOUT_BREAKING = {"Reshape", "Softmax"}


@pytest.mark.parametrize("name", CNNS)
def test_cnn_transposes_only_at_the_boundary_or_layout_breaking_ops(name, tmp_path):
    model = _convert(name, tmp_path / name)
    nodes = {n["name"]: n for n in model["modelTopology"]["node"]}
    readers: dict[str, list[str]] = {}
    for n in nodes.values():
        for ref in n.get("input", []):
            readers.setdefault(ref.split(":")[0], []).append(n["op"])
    outputs = {v["name"].split(":")[0] for v in model["signature"]["outputs"].values()}
    # the output boundary: the output nodes and what they read directly (YOLO concatenates its box
    # and class maps into the NCHW-ordered output)
    boundary = outputs | {ref.split(":")[0] for name in outputs for ref in nodes[name].get("input", [])}
    consumers: dict[str, list[str]] = {}
    for n in nodes.values():
        for ref in n.get("input", []):
            consumers.setdefault(ref.split(":")[0], []).append(n["name"])
    unexplained = []
    for n in nodes.values():
        if n["op"] != "Transpose":
            continue
        source = nodes[n["input"][0].split(":")[0]]["op"]
        if source == "Placeholder" or n["name"] in boundary or set(consumers.get(n["name"], [])) <= boundary:
            continue
        if source in LAYOUT_BREAKING or set(readers.get(n["name"], [])) & LAYOUT_BREAKING:
            continue
        unexplained.append(n["name"])
    assert unexplained == []
