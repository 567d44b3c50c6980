"""``tfjs-lite verify`` and the TF.js graph-model reader it relies on.

Two kinds of cases:

* hand-built: a small frozen GraphDef (the source, ``model.pb``) and a graph model written from the
  same GraphDef the way the converter writes one (Consts cleared, values in the shards, one
  function-body Const named ``<fn>/<const>``), so the reader and the comparison are tested
  without depending on the conversion pipeline;
* converted: ``fixtures/graph/<case>`` converted with ``tfjs_lite.convert(...,
  output_format="tfjs_graph_model")`` and verified against the SavedModel.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tfjs_lite.errors import ModelFormatError, UsageError
from tfjs_lite.report import Report
from tfjs_lite.tools.verify_inputs import random_inputs, read_inputs_json
from tfjs_lite.tools.verify_model import main as verify_main
from tfjs_lite.tools.verify_model import verify, verify_conversion
from tfjs_lite.tools.verify_report import DEFAULT_RTOL, default_tolerance

ROOT = Path(__file__).resolve().parents[1]
GRAPH_FIXTURES = ROOT / "fixtures" / "graph"
REFERENCE = ROOT / "fixtures" / "reference"

# ----------------------------------------------------------------------------------- builders
#
#   x [?, 3] ──MatMul(w [3, 4])──BiasAdd(b [4])──Relu──PartitionedCall(f: y * k)──> out
#
# ``f`` is a library function holding the Const ``k``, which the written model must store as the
# weight ``f/k`` (docs/formats.md §1.3).

W = np.arange(12, dtype=np.float32).reshape(3, 4) / 7.0 - 0.5
B = np.array([0.1, -0.2, 0.3, -0.4], dtype=np.float32)
K = np.array([2.0, 0.5, -1.0, 3.0], dtype=np.float32)


def _attr_type(attr: Any, name: str) -> None:
    from tfjs_lite._proto.types_pb2 import DataType

    attr.type = DataType.Value(name)


def _const(graph_def: Any, name: str, value: np.ndarray) -> None:
    from tfjs_lite.dtypes import numpy_to_tensor_proto

    node = graph_def.node.add(name=name, op="Const")
    node.attr["value"].tensor.CopyFrom(numpy_to_tensor_proto(value))
    _attr_type(node.attr["dtype"], "DT_FLOAT")


def _build_graph_def() -> Any:
    from tfjs_lite._proto.graph_pb2 import GraphDef

    g = GraphDef()
    x = g.node.add(name="x", op="Placeholder")
    _attr_type(x.attr["dtype"], "DT_FLOAT")
    x.attr["shape"].shape.dim.add(size=-1)
    x.attr["shape"].shape.dim.add(size=3)
    _const(g, "w", W)
    _const(g, "b", B)
    mm = g.node.add(name="mm", op="MatMul", input=["x", "w"])
    _attr_type(mm.attr["T"], "DT_FLOAT")
    ba = g.node.add(name="ba", op="BiasAdd", input=["mm", "b"])
    _attr_type(ba.attr["T"], "DT_FLOAT")
    relu = g.node.add(name="relu", op="Relu", input=["ba"])
    _attr_type(relu.attr["T"], "DT_FLOAT")
    call = g.node.add(name="call", op="PartitionedCall", input=["relu"])
    call.attr["f"].func.name = "f"
    call.attr["Tin"].list.type.append(1)
    call.attr["Tout"].list.type.append(1)
    out = g.node.add(name="out", op="Identity", input=["call"])
    _attr_type(out.attr["T"], "DT_FLOAT")

    f = g.library.function.add()
    f.signature.name = "f"
    f.signature.input_arg.add(name="y", type=1)
    f.signature.output_arg.add(name="z", type=1)
    k = f.node_def.add(name="k", op="Const")
    from tfjs_lite.dtypes import numpy_to_tensor_proto

    k.attr["value"].tensor.CopyFrom(numpy_to_tensor_proto(K))
    _attr_type(k.attr["dtype"], "DT_FLOAT")
    mul = f.node_def.add(name="mul", op="Mul", input=["y", "k:output:0"])
    _attr_type(mul.attr["T"], "DT_FLOAT")
    f.ret["z"] = "mul:z:0"
    g.versions.producer = 1882
    return g


def _write_graph_model(
    graph_def: Any,
    folder: Path,
    *,
    quantize: str | None = None,
    signature: dict[str, Any] | None = None,
) -> Path:
    """Write ``graph_def`` as a TF.js graph model, as the converter lays one out (§2, §4)."""
    from google.protobuf import json_format

    from tfjs_lite.dtypes import tensor_proto_to_numpy
    from tfjs_lite.options import Quantization
    from tfjs_lite.writers.weights import WeightEntry, write_weights

    g = type(graph_def)()
    g.CopyFrom(graph_def)
    entries: list[WeightEntry] = []

    def extract(node: Any, name: str) -> None:
        tensor = node.attr["value"].tensor
        entries.append(WeightEntry(name, tensor_proto_to_numpy(tensor)))
        for field in ("tensor_content", "float_val", "int_val", "int64_val", "string_val", "bool_val"):
            tensor.ClearField(field)

    for node in g.node:
        if node.op == "Const":
            extract(node, node.name)
    for f in g.library.function:
        fname = f.signature.name
        renamed = {}
        for node in f.node_def:
            if node.op == "Const":
                renamed[node.name] = f"{fname}/{node.name}"
                node.name = renamed[node.name]
                extract(node, node.name)
        for node in f.node_def:
            node.input[:] = [
                next((renamed[c] + i[len(c):] for c in renamed if i.startswith(c)), i) for i in node.input
            ]
    quantization = None
    if quantize:
        quantization = Quantization(**{quantize: True})
    manifest = write_weights([entries], folder, shard_size_bytes=4194304, quantization=quantization, report=Report())
    model = {
        "format": "graph-model",
        "generatedBy": "test",
        "convertedBy": "tfjs-lite test",
        "signature": signature if signature is not None else {"outputs": {"out": {"name": "out"}}},
        "modelTopology": json_format.MessageToDict(g),
        "weightsManifest": manifest,
    }
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "model.json").write_text(json.dumps(model))
    return folder


@pytest.fixture()
def frozen_pair(tmp_path: Path) -> tuple[Path, Path]:
    graph_def = _build_graph_def()
    source = tmp_path / "model.pb"
    source.write_bytes(graph_def.SerializeToString())
    converted = _write_graph_model(graph_def, tmp_path / "web")
    return source, converted


def _expected(x: np.ndarray) -> np.ndarray:
    return np.maximum(x @ W + B, 0) * K


# ----------------------------------------------------------------------------------- reader


def test_reader_fills_consts_and_function_consts(frozen_pair: tuple[Path, Path]) -> None:
    from tfjs_lite import executor
    from tfjs_lite.readers.tfjs_graph import read_graph_model

    _, folder = frozen_pair
    model = read_graph_model(folder)
    graph = model.graph
    np.testing.assert_array_equal(graph.value("w"), W)
    np.testing.assert_array_equal(graph.functions["f"].value("f/k"), K)
    assert list(graph.inputs) == ["x"]  # no signature inputs: every Placeholder, by node name
    assert list(graph.outputs) == ["out"]
    x = np.random.default_rng(1).standard_normal((2, 3)).astype(np.float32)
    got = executor.run(graph, {"x": x})["out"]
    np.testing.assert_allclose(got, _expected(x), rtol=1e-6)


def test_reader_uses_signature_keys(tmp_path: Path) -> None:
    from tfjs_lite.readers.tfjs_graph import read_graph_model

    sig = {"inputs": {"features": {"name": "x:0", "dtype": "DT_FLOAT"}}, "outputs": {"scores": {"name": "out:0"}}}
    folder = _write_graph_model(_build_graph_def(), tmp_path / "m", signature=sig)
    graph = read_graph_model(folder / "model.json").graph
    assert dict(graph.inputs) == {"features": ("x", 0)}
    assert dict(graph.outputs) == {"scores": ("out", 0)}


def test_reader_refuses_missing_weight(frozen_pair: tuple[Path, Path]) -> None:
    from tfjs_lite.readers.tfjs_graph import read_graph_model

    _, folder = frozen_pair
    model = json.loads((folder / "model.json").read_text())
    model["modelTopology"]["node"].append(
        {"name": "extra", "op": "Const", "attr": {"dtype": {"type": "DT_FLOAT"},
                                                  "value": {"tensor": {"dtype": "DT_FLOAT", "tensorShape": {}}}}}
    )
    (folder / "model.json").write_text(json.dumps(model))
    with pytest.raises(ModelFormatError, match="'extra' has no weight"):
        read_graph_model(folder)


def test_reader_refuses_unused_weight_and_bad_signature(frozen_pair: tuple[Path, Path]) -> None:
    from tfjs_lite.readers.tfjs_graph import read_graph_model

    _, folder = frozen_pair
    original = (folder / "model.json").read_text()
    model = json.loads(original)
    model["modelTopology"]["node"] = [n for n in model["modelTopology"]["node"] if n["name"] != "b"]
    for n in model["modelTopology"]["node"]:
        if n["name"] == "ba":
            n["input"] = ["mm", "w"]
    (folder / "model.json").write_text(json.dumps(model))
    with pytest.raises(ModelFormatError, match="match no Const"):
        read_graph_model(folder)

    model = json.loads(original)
    model["signature"] = {"outputs": {"out": {"name": "nothere:0"}}}
    (folder / "model.json").write_text(json.dumps(model))
    with pytest.raises(ModelFormatError, match="not in the graph"):
        read_graph_model(folder)


def test_reader_refuses_layers_model() -> None:
    from tfjs_lite.readers.tfjs_graph import read_graph_model

    with pytest.raises(ModelFormatError, match="layers model"):
        read_graph_model(REFERENCE / "mlp" / "tensorflowjs_4.22" / "h5_to_layers")


@pytest.mark.parametrize(
    ("model", "folder", "rtol"),
    [
        ("mlp", "sm_to_graph", 1e-5),
        ("multi_io", "sm_to_graph", 1e-5),
        ("cnn", "sm_to_graph", 1e-5),
        ("cnn", "sm_to_graph_float16", 1e-3),
        ("cnn", "sm_to_graph_uint8", 2e-2),
    ],
)
def test_reader_runs_official_converter_output(model: str, folder: str, rtol: float) -> None:
    """Graph models written by tensorflowjs 4.22 itself (fused ops, quantized shards) read back and
    reproduce TensorFlow's outputs in the numpy executor, within the quantized tolerances verify uses."""
    from tfjs_lite import executor
    from tfjs_lite.readers.tfjs_graph import read_graph_model
    from tfjs_lite.tools.verify_report import compare_outputs

    parsed = read_graph_model(REFERENCE / model / "tensorflowjs_4.22" / folder)
    assert default_tolerance(parsed.quantization_dtypes)[0] == rtol
    feeds = read_inputs_json(REFERENCE / model / "inputs.json")
    expected = read_inputs_json(REFERENCE / model / "expected.json")
    got = executor.run(parsed.graph, feeds)
    assert set(got) == set(expected)
    for comparison in compare_outputs(got, expected, rtol=rtol):
        assert comparison.ok, comparison.line()


# ----------------------------------------------------------------------------------- verify (hand-built)


def test_verify_passes_on_faithful_model(frozen_pair: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    source, converted = frozen_pair
    assert verify_main([str(source), str(converted)]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0].startswith("verify: ") and "random inputs (seed 0" in lines[0]
    assert lines[1].startswith("out: shape [2, 4] float32  max abs error ")
    assert lines[1].endswith(" ok")
    assert lines[-1] == "verify: ok: all 1 outputs within rtol 1e-05, atol 0"


def test_verify_fails_when_a_weight_is_corrupted(
    frozen_pair: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    source, converted = frozen_pair
    model = json.loads((converted / "model.json").read_text())
    specs = model["weightsManifest"][0]["weights"]
    offset = 0
    for spec in specs:  # all float32 here
        if spec["name"] == "w":
            break
        offset += 4 * int(np.prod(spec["shape"]))
    shard = converted / model["weightsManifest"][0]["paths"][0]
    data = bytearray(shard.read_bytes())
    data[offset + 4 * 5: offset + 4 * 6] = np.float32(9.0).tobytes()  # w[1, 1]
    shard.write_bytes(bytes(data))
    assert verify_main([str(source), str(converted)]) == 2
    captured = capsys.readouterr()
    assert "FAIL" in captured.out
    assert captured.err.count("\n") == 1
    assert "verify: FAILED: 1 of 1 outputs differ beyond rtol 1e-05" in captured.err


def test_verify_with_given_inputs(frozen_pair: tuple[Path, Path], tmp_path: Path) -> None:
    source, converted = frozen_pair
    x = np.linspace(-1, 1, 15, dtype=np.float32).reshape(5, 3)
    spec = {"x": {"dtype": "float32", "shape": [5, 3], "data": x.reshape(-1).tolist()}}
    path = tmp_path / "inputs.json"
    path.write_text(json.dumps(spec))
    feeds = read_inputs_json(path)
    result = verify(source, converted, inputs=feeds)
    assert result.ok and result.outputs[0].shape == (5, 4)
    assert result.input_note == "given inputs"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"y": spec["x"]}))
    with pytest.raises(UsageError, match="unknown 'y'; missing 'x'"):
        verify(source, converted, inputs=read_inputs_json(bad))


def test_verify_quantized_thresholds(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    graph_def = _build_graph_def()
    source = tmp_path / "model.pb"
    source.write_bytes(graph_def.SerializeToString())
    u8 = _write_graph_model(graph_def, tmp_path / "u8", quantize="uint8")
    f16 = _write_graph_model(graph_def, tmp_path / "f16", quantize="float16")

    result = verify(source, u8)
    assert result.rtol == 2e-2 and "uint8" in result.tolerance_note
    assert result.ok
    assert result.outputs[0].max_rel > DEFAULT_RTOL  # quantization really changed the numbers

    assert verify_main([str(source), str(f16)]) == 0
    out = capsys.readouterr().out
    assert "note: weights are stored quantized (float16)" in out and "rtol 0.001" in out

    # An explicit tolerance wins and drops the note; uint8 rounding fails the strict default.
    assert verify_main([str(source), str(u8), "--rtol", "1e-5"]) == 2
    captured = capsys.readouterr()
    assert "note:" not in captured.out and "FAILED" in captured.err


def test_default_tolerance() -> None:
    assert default_tolerance([]) == (1e-5, "")
    assert default_tolerance(["float16"])[0] == 1e-3
    assert default_tolerance(["uint16"])[0] == 1e-3
    assert default_tolerance(["float16", "uint8"])[0] == 2e-2


def test_verify_json_output(frozen_pair: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    source, converted = frozen_pair
    assert verify_main([str(source), str(converted), "--json", "--seed", "3"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is True and report["outputs"][0]["name"] == "out"
    assert "seed 3" in report["inputs"]


def test_verify_refuses_layers_models(tmp_path: Path) -> None:
    layers = tmp_path / "layers"
    layers.mkdir()
    (layers / "model.json").write_text(json.dumps({"format": "layers-model", "modelTopology": {}, "weightsManifest": []}))
    source = GRAPH_FIXTURES / "cnn" / "saved_model"
    with pytest.raises(UsageError, match="verify compares graph models"):
        verify(source, layers)
    with pytest.raises(UsageError, match="verify compares graph models"):
        verify(ROOT / "fixtures" / "keras" / "mlp" / "model.h5", layers)


def test_cli_dispatch_one_line_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from tfjs_lite import cli

    layers = tmp_path / "layers"
    layers.mkdir()
    (layers / "model.json").write_text(json.dumps({"format": "layers-model", "modelTopology": {}, "weightsManifest": []}))
    status = cli.main(["verify", str(GRAPH_FIXTURES / "cnn" / "saved_model"), str(layers)])
    assert status == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "verify compares graph models" in err


def test_random_inputs_are_seeded_and_fill_unknown_dims() -> None:
    from tfjs_lite.readers.saved_model import load_saved_model

    graph = load_saved_model(GRAPH_FIXTURES / "control_flow" / "saved_model")
    a, b = random_inputs(graph, 7), random_inputs(graph, 7)
    assert set(a) == {"steps", "x"}
    assert a["x"].shape == (2, 4) and a["x"].dtype == np.float32
    assert a["steps"].shape == () and a["steps"].dtype == np.int32
    np.testing.assert_array_equal(a["x"], b["x"])
    assert not np.array_equal(random_inputs(graph, 8)["x"], a["x"])


def test_verify_conversion_does_not_claim_layers_models(capsys: pytest.CaptureFixture[str]) -> None:
    from tfjs_lite.options import ConvertOptions
    from tfjs_lite.report import ConversionResult

    result = ConversionResult(Path("m.h5"), Path("out"), "keras", "tfjs_layers_model")
    assert verify_conversion(result, ConvertOptions()) == 0
    out = capsys.readouterr().out
    assert "not verified" in out and "test-suite" in out


# ----------------------------------------------------------------------------------- converted fixtures

def _convert_fixture(case: str, out: Path, **options: Any) -> Path:
    import tfjs_lite

    c = json.loads((GRAPH_FIXTURES / case / "case.json").read_text())
    if c["format"] == "tf_frozen_model":
        options.setdefault("output_node_names", c["output_node_names"])
    tfjs_lite.convert(
        GRAPH_FIXTURES / case / c["path"], out, input_format=c["format"], output_format="tfjs_graph_model", **options
    )
    return out


@pytest.mark.parametrize("case", ["cnn", "multi_io", "prelu", "gelu_exact", "hub_module", "frozen", "asserts"])
def test_verify_converted_fixtures_with_recorded_inputs(case: str, tmp_path: Path) -> None:
    out = _convert_fixture(case, tmp_path / "web")
    c = json.loads((GRAPH_FIXTURES / case / "case.json").read_text())
    feeds = read_inputs_json(GRAPH_FIXTURES / case / "inputs.json")
    result = verify(GRAPH_FIXTURES / case / c["path"], out, inputs=feeds, input_format=c["format"],
                    output_node_names=c.get("output_node_names"))
    assert result.ok, [o.line() for o in result.outputs]
    expected = json.loads((GRAPH_FIXTURES / case / "expected.json").read_text())
    assert [o.key for o in result.outputs] == list(expected)


def test_verify_converted_cnn_cli_and_corruption(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = _convert_fixture("cnn", tmp_path / "web")
    source = GRAPH_FIXTURES / "cnn" / "saved_model"
    assert verify_main([str(source), str(out)]) == 0
    assert "probs: shape [2, 10] float32" in capsys.readouterr().out

    model = json.loads((out / "model.json").read_text())
    specs = model["weightsManifest"][0]["weights"]
    offset = 0
    for spec in specs:
        size = int(np.prod(spec["shape"])) * 4
        if spec["dtype"] == "float32" and len(spec["shape"]) == 4:
            break  # the first conv kernel
        assert spec["dtype"] in ("float32", "int32")
        offset += size
    shard = out / model["weightsManifest"][0]["paths"][0]
    data = bytearray(shard.read_bytes())
    for i in range(0, 64, 4):
        data[offset + i: offset + i + 4] = np.float32(5.0).tobytes()
    shard.write_bytes(bytes(data))
    assert verify_main([str(source), str(out)]) == 2
    assert "verify: FAILED" in capsys.readouterr().err


def test_convert_verify_on_quantized_cnn(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from tfjs_lite import cli

    source = GRAPH_FIXTURES / "cnn" / "saved_model"
    status = cli.main(["convert", str(source), str(tmp_path / "web"), "--quantize_float16", "--verify"])
    out = capsys.readouterr().out
    assert status == 0, out
    assert "note: weights are stored quantized (float16)" in out
    assert "verify: ok" in out

