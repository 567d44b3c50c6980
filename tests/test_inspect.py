"""``tfjs-lite inspect``: every input kind the converter reads, text and ``--json``, read-only."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from tfjs_lite import cli
from tfjs_lite.tools.inspect_model import inspect_path
from tfjs_lite.tools.inspect_text import render_text
from tfjs_lite.tools.inspect_model import main as inspect_main

ROOT = Path(__file__).resolve().parents[1]
GRAPH = ROOT / "fixtures" / "graph"
KERAS = ROOT / "fixtures" / "keras"
REFERENCE = ROOT / "fixtures" / "reference"


def _tree_digest(folder: Path) -> str:
    h = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        h.update(str(path.relative_to(folder)).encode())
        if path.is_file():
            h.update(path.read_bytes())
    return h.hexdigest()


def test_saved_model_report() -> None:
    report = inspect_path(GRAPH / "cnn" / "saved_model")
    assert report["format"] == "tf_saved_model" and report["signature"] == "serving_default"
    assert report["inputs"] == [{"name": "image", "tensor": "image:0", "dtype": "float32", "shape": [None, 16, 16, 3]}]
    assert [(o["name"], o["dtype"], o["shape"]) for o in report["outputs"]] == [("probs", "float32", [None, 10])]
    ops = report["ops"]
    assert ops["Conv2D"] == 2 and ops["FusedBatchNormV3"] == 2 and ops["DepthwiseConv2dNative"] == 1
    assert sum(ops.values()) == report["nodes"]
    weights = report["weights"]
    assert weights["count"] == ops["Const"]
    assert weights["by_dtype"]["float32"]["bytes"] > 0
    assert sum(e["bytes"] for e in weights["by_dtype"].values()) == weights["bytes"]
    # What the optimizer would change: BN folded, convs fused into the TF.js fused ops.
    changes = report["optimizer"]["changes"]
    assert changes["FusedBatchNormV3"] == {"before": 2, "after": 0}
    assert changes["_FusedConv2D"]["after"] >= 1 and changes["Conv2D"]["after"] == 0
    assert report["optimizer"]["nodes_after"] < report["optimizer"]["nodes_before"] == report["nodes"]
    assert report["unsupported_ops"] == {}


def test_text_output(capsys: pytest.CaptureFixture[str]) -> None:
    assert inspect_main([str(GRAPH / "cnn" / "saved_model")]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0].endswith("(tf_saved_model, signature serving_default)")
    assert "  image  float32 [?, 16, 16, 3]  (image:0)" in lines
    assert any(line.split() == ["Conv2D", "2"] for line in lines)
    assert any(line.startswith("optimizer would change:") for line in lines)
    assert any(line.split()[:4] == ["_FusedConv2D", "0", "->", "2"] for line in lines)
    assert "all ops are supported by TF.js 4.22 (after optimization)" in lines


def test_json_is_parseable_and_matches(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["inspect", str(GRAPH / "multi_io" / "saved_model"), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report == json.loads(json.dumps(inspect_path(GRAPH / "multi_io" / "saved_model")))
    assert [i["name"] for i in report["inputs"]] == ["context", "features"]
    assert report["kind"] == "graph"


def test_unsupported_ops_listed(tmp_path: Path) -> None:
    from tfjs_lite._proto.graph_pb2 import GraphDef

    #   x [?, 3, 3] ──MatrixDeterminant──Identity "det"      (TF.js 4.22 has no MatrixDeterminant)
    g = GraphDef()
    x = g.node.add(name="x", op="Placeholder")
    x.attr["dtype"].type = 1
    for size in (-1, 3, 3):
        x.attr["shape"].shape.dim.add(size=size)
    g.node.add(name="d", op="MatrixDeterminant", input=["x"]).attr["T"].type = 1
    g.node.add(name="det", op="Identity", input=["d"]).attr["T"].type = 1
    path = tmp_path / "det.pb"
    path.write_bytes(g.SerializeToString())
    report = inspect_path(path, output_node_names="det")
    assert report["unsupported_ops"] == {"MatrixDeterminant": ["d"]}
    text = render_text(report)
    assert "ops TF.js 4.22 does not support (after optimization):" in text
    assert "  MatrixDeterminant  d" in text.splitlines()


def test_string_and_int64_weights() -> None:
    report = inspect_path(GRAPH / "int64_string_consts" / "saved_model")
    assert {"string", "int64", "int32", "float32"} <= set(report["weights"]["by_dtype"])
    assert [(o["name"], o["dtype"]) for o in report["outputs"]][:2] == [("cleaned", "string"), ("ids", "int64")]


def test_frozen_graph_guesses_outputs() -> None:
    report = inspect_path(GRAPH / "frozen" / "model.pb")
    assert report["format"] == "tf_frozen_model"
    assert [o["name"] for o in report["outputs"]] == ["Identity"]
    assert any("guessed" in n for n in report["notes"])
    named = inspect_path(GRAPH / "frozen" / "model.pb", output_node_names="Identity")
    assert not any("guessed" in n for n in named["notes"]) and named["ops"] == report["ops"]


def test_functions_are_counted() -> None:
    report = inspect_path(GRAPH / "control_flow" / "saved_model")
    assert report["ops"]["While"] == 1
    assert any(name.startswith("while_body") for name in report["functions"])


def test_tfjs_graph_model_quantized() -> None:
    folder = REFERENCE / "cnn" / "tensorflowjs_4.22" / "sm_to_graph_uint8"
    report = inspect_path(folder)
    assert report["format"] == "tfjs_graph_model"
    assert "uint8 (quantized float32)" in report["weights"]["by_dtype"]
    shard_bytes = sum(p.stat().st_size for p in folder.glob("*.bin"))
    assert report["weights"]["bytes"] == shard_bytes
    assert report["ops"]["FusedDepthwiseConv2dNative"] == 1
    assert any("quantized (uint8)" in n for n in report["notes"])


def test_keras_h5_lists_layers_weights_and_refusals() -> None:
    report = inspect_path(KERAS / "cnn" / "model.h5")
    assert report["kind"] == "layers" and report["format"] == "keras"
    assert [layer["class_name"] for layer in report["layers"]][:2] == ["InputLayer", "Conv2D"]
    names = [w["name"] for w in report["weights"]["tensors"]]
    assert "conv1/kernel:0" in names
    assert report["refused_layers"] == []
    refused = inspect_path(KERAS / "refuse_lambda" / "model.h5")["refused_layers"]
    assert refused and "Lambda" in refused[0]


def test_keras_archive_and_layers_model(capsys: pytest.CaptureFixture[str]) -> None:
    report = inspect_path(KERAS / "k3_functional_keras" / "model.keras")
    assert report["format"] == "keras_keras" and report["weights"]["count"] == 10
    layers = inspect_path(REFERENCE / "mlp" / "tensorflowjs_4.22" / "h5_to_layers")
    assert layers["format"] == "tfjs_layers_model"
    assert [w["name"] for w in layers["weights"]["tensors"]] == ["dense/kernel", "dense/bias", "dense_1/kernel", "dense_1/bias"]
    assert inspect_main([str(KERAS / "nested" / "model.h5")]) == 0
    out = capsys.readouterr().out
    assert "inner" in out and "Sequential" in out


def test_inspect_is_read_only(tmp_path: Path) -> None:
    import shutil

    copy = tmp_path / "sm"
    shutil.copytree(GRAPH / "cnn" / "saved_model", copy)
    before = _tree_digest(tmp_path)
    inspect_path(copy)
    assert _tree_digest(tmp_path) == before


def test_bad_path_is_one_line_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["inspect", str(tmp_path / "missing")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no such file" in err
