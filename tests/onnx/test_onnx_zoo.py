"""The committed ONNX zoo subset (fixtures/onnx/zoo, made by fixtures/generate_onnx_zoo.py from
real torchvision / torch.nn models with both PyTorch exporters, some also with a symbolic batch):
each export converts, loads in real TF.js 4.22 and reproduces onnxruntime's recorded outputs within
1e-4 (the symbolic-batch ones at a batch size they were not traced with). The whole zoo runs with
``python benchmarks/onnx_zoo.py`` (docs/onnx_zoo.md)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from tfjs_node import compare, load_tensors

from tfjs_lite.options import ConvertOptions
from tfjs_lite.pipelines import onnx_to_graph
from tfjs_lite.report import Report

ZOO = Path(__file__).resolve().parents[2] / "fixtures" / "onnx" / "zoo"
TOLERANCE = 1e-4
CASES = sorted((case.name, exporter) for case in ZOO.iterdir() if (case / "case.json").is_file()
               for exporter in json.loads((case / "case.json").read_text())["exporters"])


def test_the_subset_covers_both_exporters_and_the_families():
    exporters = {exporter for _, exporter in CASES}
    names = {name for name, _ in CASES}
    assert exporters == {"torchscript", "dynamo", "torchscript_dynamic", "dynamo_dynamic"}
    assert {"nn_lstm", "nn_gru", "nn_transformer_encoder", "shufflenet_v2_x0_5"} <= names
    for name in names:
        info = json.loads((ZOO / name / "case.json").read_text())
        assert info["script"] == "fixtures/generate_onnx_zoo.py" and "error" not in info
        # the recorded reference is onnxruntime's, and PyTorch agrees with it
        assert all(e["torch_vs_onnxruntime"] < 1e-4 for e in info["exporters"].values())


@pytest.mark.parametrize("name, exporter", CASES)
def test_zoo_model_runs_in_tfjs_like_onnxruntime(name, exporter, tfjs, tmp_path):
    case = ZOO / name
    out = tmp_path / "model"
    onnx_to_graph.run(case / f"{exporter}.onnx", out, ConvertOptions(), Report())
    inputs, expected = load_tensors(case / "inputs.json"), load_tensors(case / f"expected_{exporter}.json")
    if exporter.endswith("_dynamic"):  # a batch of 3, not the traced 2: the examples are independent
        inputs = {k: np.concatenate([v, v[:1]]) for k, v in inputs.items()}
        expected = {k: np.concatenate([v, v[:1]]) for k, v in expected.items()}
    got = tfjs.execute_graph(str(out), dict(inputs), list(expected))
    compare({k: np.asarray(v) for k, v in got.items()}, expected, rtol=TOLERANCE)


def test_nhwc_io_on_an_image_model(tfjs, tmp_path):
    case = ZOO / "shufflenet_v2_x0_5"
    out = tmp_path / "nhwc"
    onnx_to_graph.run(case / "dynamo.onnx", out, ConvertOptions(nhwc_inputs=True, nhwc_outputs=True), Report())
    inputs, expected = load_tensors(case / "inputs.json"), load_tensors(case / "expected_dynamo.json")
    got = tfjs.execute_graph(str(out), {"input": inputs["input"].transpose(0, 2, 3, 1)}, list(expected))
    compare(got, expected, rtol=TOLERANCE)
