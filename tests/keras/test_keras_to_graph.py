"""Keras / layers models → TF.js graph models (no TensorFlow), proven in real TF.js 4.22.

Every Keras fixture recorded by TF (tf_keras 2.19 and Keras 3) is converted to a graph model,
loaded with ``tf.loadGraphModel`` and run; the outputs must match what Keras computed. The lowered
graph is also run in the numpy reference executor before optimization (each lowering against the
source framework) and ``verify`` compares it with the written model.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from tfjs_node import TOLERANCE, compare, load_tensors

from tfjs_lite import executor
from tfjs_lite.conversion import convert
from tfjs_lite.errors import UnsupportedLayerError, UnsupportedModelError
from tfjs_lite.options import ConvertOptions
from tfjs_lite.pipelines.keras_to_graph import lower_input
from tfjs_lite.report import Report
from tfjs_lite.tools.verify_model import verify

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "fixtures"
# Layers tfjs-layers refuses but a graph model runs: these fixtures convert on this path.
GRAPH_ONLY = ("refuse_gru_reset_after", "refuse_mha", "refuse_masked_pooling", "refuse_masked_conv", "refuse_masked_add",
              "k3_masked_concatenate")


def _cases() -> list[tuple[str, str]]:
    """(fixture folder relative to fixtures/, input format) of every Keras model with recorded outputs."""
    cases = []
    for case in sorted((FIXTURES / "keras").glob("*/case.json")):
        info = json.loads(case.read_text())
        if (info["expect"] == "convert" and not info["file"].endswith("weights.h5")
                and "weights_only" not in case.parent.name) or case.parent.name in GRAPH_ONLY:
            fmt = "keras_keras" if info["file"].endswith(".keras") else "keras"
            cases.append((f"keras/{case.parent.name}", fmt))
    for case in sorted((FIXTURES / "keras_saved_model").glob("*/case.json")):
        if json.loads(case.read_text())["expect"] == "convert":
            cases.append((f"keras_saved_model/{case.parent.name}", "keras_saved_model"))
    for case in sorted((FIXTURES / "keras_graph").glob("*/case.json")):
        info = json.loads(case.read_text())
        cases.append((f"keras_graph/{case.parent.name}", "keras_keras" if info["file"].endswith(".keras") else "keras"))
        if info.get("h5_twin"):  # the same Keras 3 model saved as .h5 (see _source)
            cases.append((f"keras_graph/{case.parent.name}", "keras"))
    return cases


CASES = _cases()


def _source(case: str, fmt: str | None = None) -> Path:
    """The case's model file; a Keras 3 case asked for as ``keras`` (h5) is its ``.h5`` twin."""
    info = json.loads((FIXTURES / case / "case.json").read_text())
    if fmt == "keras" and info.get("h5_twin"):
        return FIXTURES / case / info["h5_twin"]
    return FIXTURES / case / (info.get("file") or info["dir"])


IDS = [c if fmt != "keras" or _source(c).suffix != ".keras" else c + "[h5]" for c, fmt in CASES]


def _convert(case: str, fmt: str, out: Path, **flags) -> None:
    result = convert(_source(case, fmt), out, input_format=fmt, output_format="tfjs_graph_model", **flags)
    assert result.warnings == []


@pytest.mark.parametrize(("case", "fmt"), CASES, ids=IDS)
def test_graph_model_matches_keras_in_tfjs(case, fmt, tmp_path, tfjs):
    _convert(case, fmt, tmp_path / "out")
    inputs = load_tensors(FIXTURES / case / "inputs.json")
    expected = load_tensors(FIXTURES / case / "expected.json")
    outputs = tfjs.execute_graph(tmp_path / "out", inputs)
    assert list(outputs) == list(expected)  # the Keras output names, in the Keras order
    compare(outputs, expected, rtol=TOLERANCE["float32"])


@pytest.mark.parametrize(("case", "fmt"), CASES, ids=IDS)
def test_lowered_graph_matches_keras_in_reference_executor(case, fmt):
    graph = lower_input(fmt, _source(case, fmt), ConvertOptions(), Report())
    inputs = load_tensors(FIXTURES / case / "inputs.json")
    expected = load_tensors(FIXTURES / case / "expected.json")
    assert list(graph.inputs) == list(inputs)
    compare(executor.run(graph, inputs), expected, rtol=TOLERANCE["float32"])


def test_layers_model_input_converts_to_the_same_graph(tmp_path, tfjs):
    convert(FIXTURES / "keras/multi_io/model.h5", tmp_path / "layers")
    convert(tmp_path / "layers", tmp_path / "graph", output_format="tfjs_graph_model")
    outputs = tfjs.execute_graph(tmp_path / "graph", load_tensors(FIXTURES / "keras/multi_io/inputs.json"))
    compare(outputs, load_tensors(FIXTURES / "keras/multi_io/expected.json"), rtol=TOLERANCE["float32"])
    convert(FIXTURES / "keras/multi_io/model.h5", tmp_path / "direct", output_format="tfjs_graph_model")
    direct = json.loads((tmp_path / "direct/model.json").read_text())
    via_layers = json.loads((tmp_path / "graph/model.json").read_text())
    assert direct["modelTopology"] == via_layers["modelTopology"]


@pytest.mark.parametrize(("case", "quantize"), [("keras/cnn", "uint8"), ("keras/mlp", "float16"),
                                                ("keras/rnn", "uint16"), ("keras/refuse_mha", "uint8")])
def test_quantized_graph_model_within_tolerance(case, quantize, tmp_path, tfjs):
    fmt = "keras_keras" if _source(case).suffix == ".keras" else "keras"
    _convert(case, fmt, tmp_path / "out", **{f"quantize_{quantize}": True})
    model = json.loads((tmp_path / "out" / "model.json").read_text())
    quantized = [w for g in model["weightsManifest"] for w in g["weights"] if "quantization" in w]
    assert quantized and all(w["quantization"]["dtype"] == quantize for w in quantized)
    outputs = tfjs.execute_graph(tmp_path / "out", load_tensors(FIXTURES / case / "inputs.json"))
    compare(outputs, load_tensors(FIXTURES / case / "expected.json"), rtol=TOLERANCE[quantize])


def test_signature_keeps_keras_names_order_and_free_batch(tmp_path, tfjs):
    _convert("keras/multi_io", "keras", tmp_path / "out")
    model = json.loads((tmp_path / "out" / "model.json").read_text())
    signature = model["signature"]
    assert list(signature["inputs"]) == ["a", "b"]
    assert list(signature["outputs"]) == ["head1", "head2"]
    assert [v["name"] for v in signature["outputs"].values()] == ["head1:0", "head2:0"]
    assert all(v["tensorShape"]["dim"][0]["size"] == "-1" for v in signature["inputs"].values())
    info = tfjs.model_info(tmp_path / "out", "graph")
    assert info["input_names"] == ["a", "b"] and info["output_names"] == ["head1", "head2"]


def test_optimizer_fuses_the_lowered_layers(tmp_path):
    _convert("keras/cnn", "keras", tmp_path / "out")
    ops = [n["op"] for n in json.loads((tmp_path / "out" / "model.json").read_text())["modelTopology"]["node"]]
    assert "_FusedConv2D" in ops and "FusedDepthwiseConv2dNative" in ops
    assert not {"BiasAdd", "Mul", "Relu", "Relu6"} & set(ops)  # bias, batch norm and activations folded in


@pytest.mark.parametrize("case", ["refuse_lambda", "refuse_custom"])
def test_lambda_and_custom_layers_are_refused_by_name(case, tmp_path):
    info = json.loads((FIXTURES / "keras" / case / "case.json").read_text())
    with pytest.raises(UnsupportedLayerError) as caught:
        _convert(f"keras/{case}", "keras", tmp_path / "out")
    for layer in info["refused_layers"]:
        assert f"{layer['name']} ({layer['class']})" in str(caught.value)
    assert not (tmp_path / "out").exists()


def test_weights_only_file_is_refused(tmp_path):
    with pytest.raises(UnsupportedModelError, match="weights only"):
        convert(FIXTURES / "keras/weights_only/model.weights.h5", tmp_path / "out", output_format="tfjs_graph_model")


def test_layers_refusal_points_to_the_graph_model(tmp_path):
    with pytest.raises(UnsupportedLayerError, match="convert with --output_format tfjs_graph_model$"):
        convert(FIXTURES / "keras/refuse_gru_reset_after/model.h5", tmp_path / "out")


def test_verify_compares_the_lowered_source_with_the_written_model(tmp_path):
    _convert("keras/k3_functional_keras", "keras_keras", tmp_path / "out", quantize_uint8=True)
    result = verify(_source("keras/k3_functional_keras"), tmp_path / "out")
    assert result.ok and result.rtol == 2e-2
    assert [c.key for c in result.outputs] == ["out1", "out2"]


def test_inspect_shows_what_each_layer_lowers_to():
    from tfjs_lite.tools.inspect_model import inspect_path
    from tfjs_lite.tools.inspect_text import render_text

    report = inspect_path(FIXTURES / "keras/refuse_gru_reset_after/model.h5")
    lowered = {row["layer"]: row["ops"] for row in report["graph_lowering"]}
    assert report["graph_refused"] is None and report["refused_layers"]  # refused as layers, fine as graph
    assert "MatMul" in lowered["gru"] and "Sigmoid" in lowered["gru"]
    assert "graph model lowering" in render_text(report)
    refused = inspect_path(FIXTURES / "keras/refuse_lambda/model.h5")
    assert "lambda (Lambda)" in refused["graph_refused"] and refused["graph_lowering"] == []


def test_graph_flags_apply_to_keras_inputs(tmp_path, tfjs):
    metadata = tmp_path / "meta.json"
    metadata.write_text('{"labels": ["a", "b"]}')
    _convert("keras/cnn", "keras", tmp_path / "out", skip_passes=("fuse_conv",), weight_shard_size_bytes=4096,
             metadata={"info": str(metadata)})
    model = json.loads((tmp_path / "out" / "model.json").read_text())
    ops = {n["op"] for n in model["modelTopology"]["node"]}
    assert "Conv2D" in ops and "_FusedConv2D" not in ops  # --skip_pass fuse_conv
    assert len(model["weightsManifest"][0]["paths"]) > 1  # sharded at 4 KiB
    assert model["userDefinedMetadata"] == {"info": {"labels": ["a", "b"]}}
    outputs = tfjs.execute_graph(tmp_path / "out", load_tensors(FIXTURES / "keras/cnn/inputs.json"))
    compare(outputs, load_tensors(FIXTURES / "keras/cnn/expected.json"), rtol=TOLERANCE["float32"])


def _sequential(layer: dict, input_shape: list) -> dict:
    return {"class_name": "Sequential", "config": {"name": "m", "layers": [
        {"class_name": "InputLayer", "config": {"name": "x", "batch_input_shape": input_shape, "dtype": "float32"}},
        layer]}}


@pytest.mark.parametrize(("layer", "shape", "weights", "problem"), [
    ({"class_name": "Conv2D", "config": {"name": "c", "filters": 2, "kernel_size": 1, "data_format": "channels_first"}},
     [None, 3, 4, 4], {"c/kernel": [[[[1.0, 1.0]] * 3]], "c/bias": [0.0, 0.0]}, "channels_first"),
    ({"class_name": "LSTM", "config": {"name": "r", "units": 1}}, [None, None, 1],
     {"r/lstm_cell/kernel": [[1.0] * 4], "r/lstm_cell/recurrent_kernel": [[1.0] * 4], "r/lstm_cell/bias": [0.0] * 4},
     "static sequence length"),
    ({"class_name": "Activation", "config": {"name": "a", "activation": "sparsemax"}}, [None, 3], {},
     "'sparsemax' has no graph lowering"),
    ({"class_name": "MultiHeadAttention", "config": {"name": "m", "num_heads": 1, "key_dim": 1,
                                                     "attention_axes": [1, 2]}}, [None, 2, 2, 1], {},
     "attention_axes"),
])
def test_options_the_lowering_cannot_honour_are_refused_by_layer(layer, shape, weights, problem):
    from tfjs_lite.keras.lowering import lower_keras_model

    arrays = {k: np.asarray(v, np.float32) for k, v in weights.items()}
    with pytest.raises(UnsupportedLayerError, match=problem) as caught:
        lower_keras_model(_sequential(layer, shape), arrays, keras3=False)
    assert f"layer {layer['config']['name']!r} ({layer['class_name']})" in str(caught.value)
