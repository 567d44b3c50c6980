"""SavedModel / hub / frozen fixtures -> graph model, proven in real TF.js 4.22 against TF's outputs.

Every case in fixtures/graph is converted, loaded with ``tf.loadGraphModel`` and run with
``executeAsync``; outputs must match TF's expected.json within 1e-5 (normalised error, see
tests/tfjs_node.py). The numpy executor is also run on the converted IR where kernels exist.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tfjs_node import TOLERANCE, assert_quantized_close, compare, load_tensors
from tfjs_lite import executor
from tfjs_lite.errors import ModelFormatError, UnsupportedModelError, UnsupportedOpError
from tfjs_lite.optimizer import optimize
from tfjs_lite.options import ConvertOptions, Quantization
from tfjs_lite.pipelines import saved_model_to_graph as pipeline
from tfjs_lite.readers.saved_model import load_frozen_graph, load_saved_model
from tfjs_lite.report import Report

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "graph"
RUNNABLE = ["cnn", "multi_io", "frozen", "asserts", "control_flow", "rnn", "hash_table", "hub_module",
            "tf1_control_flow", "prelu", "gelu_exact",  # gelu_exact: the optimizer lowers Erfc
            "int64_string_consts",  # StringSplitV2 is lowered to the StringSplit TF.js has
            "grouped_conv",  # grouped Conv2D is lowered to depthwise or split/conv/concat
            "segment_ops",  # segment reductions, Xlogy & co., TensorScatterAdd/Sub are lowered
            "fake_quant",  # TF.js would run FakeQuantWithMinMaxVars as an identity
            "truncate_mod"]  # TF.js runs Mod as a floor modulo and lacks TruncateMod
# Switching off a lowering leaves an op TF.js cannot run; the op check must then name it.
WITHOUT_LOWERING = {"int64_string_consts": ("lower_string_split", "StringSplitV2"),
                    "gelu_exact": ("lower_erfc", "Erfc"),
                    "grouped_conv": ("lower_grouped_conv", "Conv2D with a grouped filter"),
                    "segment_ops": ("lower_segment_ops", "SegmentSum"),
                    "fake_quant": ("lower_fake_quant", "FakeQuantWithMinMaxVars with no quantization"),
                    "truncate_mod": ("lower_truncate_mod", "Mod with truncated remainder")}


def _case(name: str) -> dict:
    return json.loads((FIXTURES / name / "case.json").read_text())


def _convert(name: str, out: Path, **changes) -> tuple[dict, Report]:
    case = _case(name)
    source = FIXTURES / name / case["path"]
    report = Report()
    options = ConvertOptions(**changes)
    if case["format"] == "tf_frozen_model":
        options = options.replace(output_node_names=case["output_node_names"])
        pipeline.run_frozen(source, out, options, report)
    elif case["format"] == "tf_hub":
        pipeline.run_hub(source, out, options, report)
    else:
        pipeline.run(source, out, options, report)
    return json.loads((out / "model.json").read_text()), report


def _rel_error(actual: dict, expected: dict, rtol: float | None = None) -> float:
    # compare() indexes arrays, so scalars travel as shape-(1,) arrays with the same values.
    fix = {k: np.atleast_1d(v) for k, v in actual.items()}
    exp = {k: np.atleast_1d(v) for k, v in expected.items()}
    return compare(fix, exp, rtol=rtol)


def _load(name: str) -> tuple[dict, dict]:
    return load_tensors(FIXTURES / name / "inputs.json"), load_tensors(FIXTURES / name / "expected.json")


@pytest.mark.parametrize("name", RUNNABLE)
def test_fixture_runs_in_tfjs(name, tfjs, tmp_path):
    model, _ = _convert(name, tmp_path / name)
    inputs, expected = _load(name)
    got = tfjs.execute_graph(str(tmp_path / name), inputs)
    assert sorted(got) == sorted(expected)
    _rel_error(got, expected, rtol=TOLERANCE["float32"])
    assert model["format"] == "graph-model"


@pytest.mark.parametrize("name", ["cnn", "multi_io", "asserts", "control_flow", "rnn", "prelu", "hub_module"])
def test_numpy_executor_on_converted_graph(name):
    case = _case(name)
    graph = load_saved_model(FIXTURES / name / case["path"],
                             default_signature="default" if case["format"] == "tf_hub" else "serving_default")
    optimize(graph, check=True)
    inputs, expected = _load(name)
    got = executor.run(graph, inputs)
    _rel_error(got, expected, rtol=1e-5)


@pytest.mark.parametrize("name", sorted(WITHOUT_LOWERING))
def test_ops_tfjs_cannot_run_are_reported(name, tmp_path):
    skipped_pass, op = WITHOUT_LOWERING[name]
    with pytest.raises(UnsupportedOpError, match=op):
        _convert(name, tmp_path / name, skip_passes=(skipped_pass,))
    assert not (tmp_path / name / "model.json").exists()


def test_skip_op_check_converts_with_a_warning(tfjs, tmp_path):
    model, report = _convert("int64_string_consts", tmp_path / "m", skip_op_check=True,
                             skip_passes=("lower_string_split",))
    assert any("StringSplitV2" in w for w in report.warnings)
    # Outputs that do not depend on the unsupported op run in TF.js; int64 inputs/outputs as int32.
    inputs, expected = _load("int64_string_consts")
    wanted = ["cleaned", "ids", "ratio"]
    got = tfjs.execute_graph(str(tmp_path / "m"), inputs, wanted)
    _rel_error(got, {k: expected[k] for k in wanted}, rtol=TOLERANCE["float32"])
    assert model["signature"]["inputs"]["count"]["dtype"] == "DT_INT64"


def test_signature_uses_function_arg_names_and_sorted_outputs(tmp_path):
    model, _ = _convert("multi_io", tmp_path / "m")
    sig = model["signature"]
    assert sig["inputs"]["features"]["name"] == "features:0"
    assert sig["inputs"]["context"]["tensorShape"] == {"dim": [{"size": "-1"}, {"size": "3"}]}
    assert list(sig["outputs"]) == ["logits", "score"]
    assert sig["outputs"]["logits"]["name"] == "Identity:0"
    nodes = {n["name"]: n for n in model["modelTopology"]["node"]}
    assert nodes["features"]["op"] == "Placeholder"
    # Inlined names mirror TF's InlineFunctionBody: <call>/<inner>.
    assert any(n.startswith("StatefulPartitionedCall/") for n in nodes)
    assert not [n for n in nodes.values() if n["op"] in ("StatefulPartitionedCall", "PartitionedCall",
                                                         "VarHandleOp", "ReadVariableOp")]


def test_hash_table_initializer(tfjs, tmp_path):
    model, _ = _convert("hash_table", tmp_path / "m")
    init_outputs = model["initializerSignature"]["outputs"]
    assert len(init_outputs) == 1
    (info,) = init_outputs.values()
    resource_inputs = [v for v in model["signature"]["inputs"].values() if v.get("resourceId") is not None]
    assert [v["resourceId"] for v in resource_inputs] == [info["resourceId"]]
    ops = {n["op"] for n in model["modelInitializer"]["node"]}
    assert {"HashTableV2", "LookupTableImportV2"} <= ops
    assert list(model)[-3:] == ["modelInitializer", "initializerSignature", "weightsManifest"]


def test_control_flow_keeps_functional_loops(tmp_path):
    model, _ = _convert("control_flow", tmp_path / "m")
    ops = {n["op"] for n in model["modelTopology"]["node"]}
    assert ops & {"While", "StatelessWhile"} and ops & {"If", "StatelessIf"}
    functions = model["modelTopology"]["library"]["function"]
    # The loop captured variable w: its body was specialised and takes the frozen value.
    frozen = [f for f in functions if f["signature"]["name"].endswith("_frozen")]
    assert frozen
    for f in frozen:
        assert all(a.get("type") != "DT_RESOURCE" for a in f["signature"]["inputArg"])
    names = [w["name"] for w in model["weightsManifest"][0]["weights"]]
    assert any("/" in n and n.split("/")[0] in {f["signature"]["name"] for f in functions} for n in names)


def test_structured_outputs_and_metadata(tmp_path):
    model, _ = _convert("multi_io", tmp_path / "m", use_structured_outputs_names=True,
                        metadata={"author": {"name": "me"}})
    assert model["userDefinedMetadata"] == {"author": {"name": "me"}, "structuredOutputKeys": ["logits", "score"]}
    assert list(model["signature"]["outputs"]) == ["logits", "score"]


@pytest.mark.parametrize("dtype", ["uint8", "float16"])
def test_quantized_conversion_runs(dtype, tfjs, tmp_path):
    # cnn_logits: outputs vary strongly with the input, so a model ignoring it would fail.
    model, _ = _convert("cnn_logits", tmp_path / "q", quantization=Quantization(**{dtype: True}))
    assert any(w.get("quantization", {}).get("dtype") == dtype for w in model["weightsManifest"][0]["weights"])
    inputs, expected = _load("cnn_logits")
    got = tfjs.execute_graph(str(tmp_path / "q"), inputs)
    assert_quantized_close(got, expected, dtype)


def test_small_shards(tfjs, tmp_path):
    model, _ = _convert("multi_io", tmp_path / "s", weight_shard_size_bytes=64)
    paths = model["weightsManifest"][0]["paths"]
    assert len(paths) > 1 and all((tmp_path / "s" / p).stat().st_size <= 64 for p in paths)
    inputs, expected = _load("multi_io")
    _rel_error(tfjs.execute_graph(str(tmp_path / "s"), inputs), expected, rtol=TOLERANCE["float32"])


def test_conversion_is_deterministic(tmp_path):
    _convert("control_flow", tmp_path / "a")
    _convert("control_flow", tmp_path / "b")
    for path in sorted((tmp_path / "a").iterdir()):
        assert path.read_bytes() == (tmp_path / "b" / path.name).read_bytes(), path.name


# ----------------------------------------------------------------------------- errors


def test_unknown_signature_lists_the_available_ones():
    with pytest.raises(ModelFormatError, match=r'"nope" does not exist.*serving_default'):
        load_saved_model(FIXTURES / "multi_io" / "saved_model", signature_name="nope")


def test_unknown_tags():
    with pytest.raises(ModelFormatError, match="train"):
        load_saved_model(FIXTURES / "multi_io" / "saved_model", tags="train")


def test_hub_defaults_to_default_signature():
    graph = load_saved_model(FIXTURES / "hub_module" / "saved_model", default_signature="default")
    assert list(graph.outputs) == ["default"] and graph.meta["signature_key"] == "default"


def test_frozen_missing_output_node():
    with pytest.raises(ModelFormatError, match="no_such_node"):
        load_frozen_graph(FIXTURES / "frozen" / "model.pb", "no_such_node")


def test_frozen_signature_format(tmp_path):
    model, _ = _convert("frozen", tmp_path / "f")
    assert model["signature"] == {"outputs": {"Identity": {"name": "Identity"}}}


def test_not_a_saved_model(tmp_path):
    with pytest.raises(ModelFormatError, match="saved_model.pb"):
        load_saved_model(tmp_path)
