"""writers/graph_model.py: model.json layout compared with the official converter's output."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from builders import GraphBuilder
from tfjs_lite.errors import UnsupportedModelError, UnsupportedOpError
from tfjs_lite.ir import DType, TensorRef
from tfjs_lite.op_support import find_unsupported, supported_ops, validate
from tfjs_lite.options import ConvertOptions
from tfjs_lite.pipelines import saved_model_to_graph as pipeline
from tfjs_lite.report import Report
from tfjs_lite.writers.graph_model import build_model_json, write_graph_model

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = ROOT / "fixtures" / "reference"
FIXTURES = ROOT / "fixtures" / "graph"


def _reference(model: str) -> dict:
    return json.loads((REFERENCE / model / "tensorflowjs_4.22" / "sm_to_graph" / "model.json").read_text())


def _ours(tmp_path: Path, case: str = "multi_io") -> dict:
    pipeline.run(FIXTURES / case / "saved_model", tmp_path / case, ConvertOptions(), Report())
    return json.loads((tmp_path / case / "model.json").read_text())


def _small_graph():
    g = GraphBuilder()
    x = g.input("x", (None, 2))
    w = g.const(np.ones((2, 2), np.float32), name="w")
    g.output("y", g.op("MatMul", x, w, T="DT_FLOAT", transpose_a=False, transpose_b=False))
    graph = g.build()
    graph.meta["versions"] = {"producer": 1234, "min_consumer": 0}
    return graph


def test_top_level_keys_match_reference(tmp_path):
    ours, ref = _ours(tmp_path), _reference("multi_io")
    assert list(ours) == list(ref)
    assert ours["convertedBy"] == ref["convertedBy"]
    assert ours["generatedBy"] == "2.19.1"  # the SavedModel's MetaInfoDef.tensorflow_version
    assert list(ours["modelTopology"]) == list(ref["modelTopology"]) == ["node", "library", "versions"]
    assert set(ours["modelTopology"]["versions"]) == set(ref["modelTopology"]["versions"])


def test_signature_entries_match_reference_shape(tmp_path):
    ours, ref = _ours(tmp_path), _reference("multi_io")
    for side in ("inputs", "outputs"):
        ref_entry = next(iter(ref["signature"][side].values()))
        for entry in ours["signature"][side].values():
            assert list(entry) == list(ref_entry) == ["name", "dtype", "tensorShape"]
            assert entry["name"].endswith(":0")


@pytest.mark.parametrize("op", ["Const", "Placeholder", "MatMul"])
def test_node_encoding_matches_reference(tmp_path, op):
    ours, ref = _ours(tmp_path), _reference("multi_io")
    mine = next(n for n in ours["modelTopology"]["node"] if n["op"] == op)
    theirs = next(n for n in ref["modelTopology"]["node"] if n["op"] == op)
    assert set(mine["attr"]) == set(theirs["attr"])
    for key, value in theirs["attr"].items():
        assert set(mine["attr"][key]) == set(value), key  # same AttrValue field (type/shape/b/tensor)
    if op == "Const":
        assert set(mine["attr"]["value"]["tensor"]) <= {"dtype", "tensorShape"}


def test_weights_follow_const_nodes(tmp_path):
    ours = _ours(tmp_path)
    consts = [n["name"] for n in ours["modelTopology"]["node"] if n["op"] == "Const"]
    weights = [w["name"] for w in ours["weightsManifest"][0]["weights"]]
    assert weights[: len(consts)] == consts
    assert len(ours["weightsManifest"]) == 1


def test_attr_maps_are_sorted(tmp_path):
    ours = _ours(tmp_path, "control_flow")
    for node in ours["modelTopology"]["node"]:
        assert list(node.get("attr", {})) == sorted(node.get("attr", {}))
    for function in ours["modelTopology"]["library"]["function"]:
        for node in function["nodeDef"]:
            assert list(node.get("attr", {})) == sorted(node.get("attr", {}))
            for ref in node.get("input", []):
                assert ref.startswith("^") or ref.count(":") in (0, 2)


def test_small_graph_json(tmp_path):
    graph = _small_graph()
    model = write_graph_model(graph, tmp_path, shard_size_bytes=1 << 20)
    assert model["generatedBy"] == "tfjs-lite"
    assert model["modelTopology"]["versions"] == {"producer": 1234}
    assert model["modelTopology"]["library"] == {}
    w = next(n for n in model["modelTopology"]["node"] if n["name"] == "w")
    assert w == {"name": "w", "op": "Const", "attr": {
        "dtype": {"type": "DT_FLOAT"},
        "value": {"tensor": {"dtype": "DT_FLOAT", "tensorShape": {"dim": [{"size": "2"}, {"size": "2"}]}}}}}
    assert model["weightsManifest"][0]["weights"] == [{"name": "w", "shape": [2, 2], "dtype": "float32"}]
    assert (tmp_path / "group1-shard1of1.bin").read_bytes() == np.ones(4, "<f4").tobytes()


def test_int64_out_of_int32_range_is_refused(tmp_path):
    graph = _small_graph()
    graph.add_const(np.array([2**40], np.int64), name="big")
    graph.outputs["big"] = TensorRef("big", 0)
    with pytest.raises(UnsupportedModelError, match="int32"):
        write_graph_model(graph, tmp_path, shard_size_bytes=1 << 20)


def test_structured_outputs_need_a_dict():
    graph = _small_graph()
    graph.meta["structured_outputs"] = None
    with pytest.raises(UnsupportedModelError, match="dict"):
        build_model_json(graph, [], use_structured_outputs_names=True)


# ----------------------------------------------------------------------------- op check


def test_supported_op_list_is_the_installed_tfjs_converters():
    """tfjs_ops.json against the op list the installed @tensorflow/tfjs-converter (the runtime the
    real-client tests load models with) executes: one module per category, each entry's tfOpName."""
    import re

    from tfjs_node import ensure_node_modules

    op_list = ensure_node_modules() / "@tensorflow" / "tfjs-converter" / "dist" / "operations" / "op_list"
    modules = sorted(op_list.glob("*.js"))
    assert modules, f"no op list modules in {op_list}"
    installed = {m.stem: sorted(re.findall(r"'tfOpName':\s*'([^']+)'", m.read_text())) for m in modules}
    data = json.loads((ROOT / "tfjs_lite" / "data" / "tfjs_ops.json").read_text())
    assert {k: sorted(v) for k, v in data["categories"].items()} == installed
    ops = supported_ops(strip_debug_ops=False)
    assert ops == {name for names in installed.values() for name in names}
    # Debug ops are accepted only when the converter strips them.
    assert "Assert" not in ops and {"Assert", "CheckNumerics", "Print"} <= supported_ops(strip_debug_ops=True)


def test_validate_lists_every_unsupported_op_and_node():
    graph = _small_graph()
    x = graph.inputs["x"]
    graph.add_op("Erfc", [x], {"T": DType("DT_FLOAT")}, name="e1")
    graph.add_op("Erfc", [x], {"T": DType("DT_FLOAT")}, name="e2")
    graph.add_op("Lgamma", [x], {"T": DType("DT_FLOAT")}, name="lg")
    assert find_unsupported(graph) == {"Erfc": ["e1", "e2"], "Lgamma": ["lg"]}
    with pytest.raises(UnsupportedOpError, match=r"Erfc \(used by e1, e2\); Lgamma \(used by lg\)"):
        validate(graph)
