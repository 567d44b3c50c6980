"""Proves the real-TF.js harness (tests/js/run_tfjs.js + tests/tfjs_node.py) with the OFFICIAL
converter's outputs in fixtures/reference, before it is trusted to judge tfjs-lite's own output."""

import base64
import json
import shutil

import numpy as np
import pytest

from tfjs_node import (
    REFERENCE_DIR,
    TOLERANCE,
    TfjsError,
    assert_quantized_close,
    compare,
    compare_stats,
    input_dependence_error,
    load_tensors,
    max_abs_error,
    tensor_from_json,
    tensor_to_json,
)

MODELS = ["mlp", "cnn", "multi_io"]
# fixtures/reference/README.md: the quantized references reproduce expected.json to a max absolute
# error of 3e-5 (the outputs are O(0.1..1)); our normalised metric is held to TOLERANCE[...] too.
REFERENCE_QUANTIZED_MAX_ABS = 3e-5


def ref(model, case=None):
    base = REFERENCE_DIR / model
    return base if case is None else base / "tensorflowjs_4.22" / case


def io(model):
    return load_tensors(ref(model) / "inputs.json"), load_tensors(ref(model) / "expected.json")


# ------------------------------------------------------------------------------------------------
# Official converter output through the real runtime


def test_worker_versions(tfjs):
    pong = tfjs.ping()
    assert pong["ok"] and pong["backend"] == "cpu"
    for pkg in ("tfjs-core", "tfjs-layers", "tfjs-converter"):
        assert pong["versions"][pkg] == "4.22.0"


@pytest.mark.parametrize("model", MODELS)
def test_reference_layers_model(tfjs, model):
    inputs, expected = io(model)
    out = tfjs.predict_layers(ref(model, "h5_to_layers"), inputs)
    assert list(out) == list(expected)  # output layer names, model.outputs order
    assert compare(out, expected, rtol=TOLERANCE["float32"]) <= TOLERANCE["float32"]
    for name in expected:
        assert out[name].dtype == np.float32


@pytest.mark.parametrize("model", MODELS)
def test_reference_graph_model(tfjs, model):
    inputs, expected = io(model)
    out = tfjs.execute_graph(ref(model, "sm_to_graph"), inputs)
    assert sorted(out) == sorted(expected)  # signature output keys
    compare(out, expected, rtol=TOLERANCE["float32"])


@pytest.mark.parametrize("case,dtype", [("sm_to_graph_uint8", "uint8"), ("sm_to_graph_float16", "float16")])
def test_reference_quantized_graph_model(tfjs, case, dtype):
    inputs, expected = io("cnn")
    out = tfjs.execute_graph(ref("cnn", case), inputs)
    err = compare(out, expected, rtol=TOLERANCE[dtype])
    assert max_abs_error(out, expected) <= REFERENCE_QUANTIZED_MAX_ABS
    # Quantization must actually be visible, otherwise the case proves nothing.
    assert err > 1e-6


@pytest.mark.parametrize("case,dtype", [("sm_to_graph_uint8", "uint8"), ("sm_to_graph_float16", "float16")])
def test_reference_quantized_logits_depend_on_the_input(tfjs, case, dtype):
    # reference/cnn's softmax is near-uniform: cnn_logits shows the quantized weights really drive
    # the outputs (a model ignoring its input scores >= 0.5 here).
    inputs, expected = io("cnn_logits")
    out = tfjs.execute_graph(ref("cnn_logits", case), inputs)
    assert 0 < assert_quantized_close(out, expected, dtype)


def test_multi_output_order(tfjs):
    """Layers models answer in model.outputs order; graph models in signature JSON key order."""
    inputs, expected = io("multi_io")
    lay = tfjs.predict_layers(ref("multi_io", "h5_to_layers"), inputs)
    assert lay.order == ["head1", "head2"]
    graph = tfjs.execute_graph(ref("multi_io", "sm_to_graph"), inputs)
    sig = json.loads((ref("multi_io", "sm_to_graph") / "model.json").read_text())["signature"]["outputs"]
    assert graph.order == list(sig) == ["head2", "head1"]
    compare(graph, expected, rtol=TOLERANCE["float32"])


def test_input_forms(tfjs):
    inputs, expected = io("multi_io")
    # dict in a different order than the model's inputs
    rev = dict(reversed(list(inputs.items())))
    compare(tfjs.predict_layers(ref("multi_io", "h5_to_layers"), rev), expected, rtol=TOLERANCE["float32"])
    # list in model input order, for both kinds
    as_list = [inputs["a"], inputs["b"]]
    compare(tfjs.predict_layers(ref("multi_io", "h5_to_layers"), as_list), expected, rtol=TOLERANCE["float32"])
    compare(tfjs.execute_graph(ref("multi_io", "sm_to_graph"), as_list), expected, rtol=TOLERANCE["float32"])
    # path to inputs.json; float64 input is cast to float32
    compare(tfjs.predict_layers(ref("mlp", "h5_to_layers"), ref("mlp") / "inputs.json"), io("mlp")[1],
            rtol=TOLERANCE["float32"])
    x64 = {"x": io("mlp")[0]["x"].astype(np.float64)}
    compare(tfjs.execute_graph(ref("mlp", "sm_to_graph"), x64), io("mlp")[1], rtol=TOLERANCE["float32"])


def test_requested_graph_outputs(tfjs):
    inputs, expected = io("multi_io")
    d = ref("multi_io", "sm_to_graph")
    out = tfjs.execute_graph(d, inputs, outputs=["head1"])
    assert list(out) == ["head1"]
    compare(out, {"head1": expected["head1"]}, rtol=TOLERANCE["float32"])
    # node names work as well (signature head2 -> Identity_1:0)
    out = tfjs.execute_graph(d, inputs, outputs=["Identity_1", "head1"])
    assert out.order == ["Identity_1", "head1"]
    compare(out["Identity_1"], expected["head2"], rtol=TOLERANCE["float32"])
    # synchronous execute gives the same
    compare(tfjs.execute_graph(d, inputs, sync=True), expected, rtol=TOLERANCE["float32"])


def test_requested_layers_outputs(tfjs):
    inputs, expected = io("multi_io")
    out = tfjs.predict_layers(ref("multi_io", "h5_to_layers"), inputs, outputs=["head2"])
    assert list(out) == ["head2"]
    with pytest.raises(TfjsError, match="not one of the model outputs"):
        tfjs.predict_layers(ref("multi_io", "h5_to_layers"), inputs, outputs=["nope"])


def test_model_info(tfjs):
    lay = tfjs.model_info(ref("mlp", "h5_to_layers"), "layers")
    # Sequential: TF.js leaves model.inputNames empty; the worker falls back to the source layers.
    assert lay["class_name"] == "Sequential"
    assert lay["input_names"] == ["x"] and lay["output_names"] == ["dense_1"]
    assert {w["name"] for w in lay["weights"]} == {"dense/kernel", "dense/bias", "dense_1/kernel", "dense_1/bias"}
    lay = tfjs.model_info(ref("multi_io", "h5_to_layers"), "layers")
    assert lay["input_names"] == ["a", "b"] and lay["output_names"] == ["head1", "head2"]
    g = tfjs.model_info(ref("multi_io", "sm_to_graph"), "graph")
    assert g["input_names"] == ["a", "b"] and g["output_names"] == ["head2", "head1"]
    assert [n["name"] for n in g["outputs"]] == ["Identity_1", "Identity"]
    assert [n["name"] for n in g["inputs"]] == ["a", "b"]


def test_benchmark_repeat(tfjs):
    inputs, _ = io("cnn")
    t = tfjs.benchmark(ref("cnn", "sm_to_graph"), "graph", inputs, repeat=5)
    assert len(t["run_ms_all"]) == 5
    assert t["run_ms"] == pytest.approx(float(np.median(t["run_ms_all"])))
    assert t["load_ms"] > 0 and t["first_run_ms"] > 0


# ------------------------------------------------------------------------------------------------
# Broken models give clean errors and leave the worker alive


def _alive(tfjs):
    inputs, expected = io("mlp")
    compare(tfjs.predict_layers(ref("mlp", "h5_to_layers"), inputs), expected, rtol=TOLERANCE["float32"])


def test_missing_model_dir(tfjs, tmp_path):
    pid = tfjs.proc.pid
    with pytest.raises(TfjsError, match="model.json not found"):
        tfjs.execute_graph(tmp_path / "nope", {"x": np.zeros((1, 16), np.float32)})
    _alive(tfjs)
    assert tfjs.proc.pid == pid  # same worker, not a restart


def _copy(case, model, tmp_path):
    dst = tmp_path / case
    shutil.copytree(ref(model, case), dst)
    return dst


def test_broken_model_json(tfjs, tmp_path):
    d = _copy("sm_to_graph", "mlp", tmp_path)
    (d / "model.json").write_text('{"format": "graph-model", ')
    with pytest.raises(TfjsError, match="not valid JSON"):
        tfjs.execute_graph(d, io("mlp")[0])
    _alive(tfjs)


def test_missing_and_short_shard(tfjs, tmp_path):
    d = _copy("h5_to_layers", "cnn", tmp_path)
    shard = d / "group1-shard1of1.bin"
    data = shard.read_bytes()
    shard.unlink()
    with pytest.raises(TfjsError, match="not found"):
        tfjs.predict_layers(d, io("cnn")[0])
    shard.write_bytes(data[:-8])  # truncated: TF.js must refuse, not read garbage
    with pytest.raises(TfjsError):
        tfjs.predict_layers(d, io("cnn")[0])
    _alive(tfjs)


def test_wrong_weight_name_and_inputs(tfjs, tmp_path):
    d = _copy("h5_to_layers", "mlp", tmp_path)
    mj = json.loads((d / "model.json").read_text())
    mj["weightsManifest"][0]["weights"][0]["name"] = "dense/kernel_typo"
    (d / "model.json").write_text(json.dumps(mj))
    with pytest.raises(TfjsError):
        tfjs.predict_layers(d, io("mlp")[0])
    with pytest.raises(TfjsError, match="do not match the model inputs"):
        tfjs.predict_layers(ref("mlp", "h5_to_layers"), {"y": io("mlp")[0]["x"]})
    with pytest.raises(TfjsError):
        tfjs.execute_graph(ref("mlp", "sm_to_graph"), {"y": io("mlp")[0]["x"]})
    with pytest.raises(TfjsError, match="unknown kind"):
        tfjs.run(ref("mlp", "sm_to_graph"), "saved_model", io("mlp")[0])
    _alive(tfjs)


def test_raw_protocol_errors(tfjs):
    resp = tfjs.request({"op": "frobnicate"})
    assert resp["ok"] is False and "unknown op" in resp["error"] and "stack" in resp
    resp = tfjs.request({"op": "run", "kind": "graph", "model_dir": str(ref("mlp", "sm_to_graph"))})
    assert resp["ok"] is False and "no inputs" in resp["error"]
    _alive(tfjs)


# ------------------------------------------------------------------------------------------------
# Non-float dtypes end to end: a hand-written graph model (strings, int32, bool, NaN)


def _string_bytes(strings):
    out = b""
    for s in strings:
        b = s.encode("utf-8")
        out += len(b).to_bytes(4, "little") + b
    return out


@pytest.fixture
def dtype_graph(tmp_path):
    def ph(name, dt):
        return {"name": name, "op": "Placeholder",
                "attr": {"dtype": {"type": dt}, "shape": {"shape": {"dim": [{"size": "-1"}]}}}}

    nodes = [
        ph("s", "DT_STRING"), ph("i", "DT_INT32"), ph("b", "DT_BOOL"), ph("f", "DT_FLOAT"),
        {"name": "k", "op": "Const", "attr": {"dtype": {"type": "DT_INT32"}, "value": {"tensor": {"dtype": "DT_INT32", "tensorShape": {"dim": [{"size": "3"}]}}}}},
        {"name": "words", "op": "Const", "attr": {"dtype": {"type": "DT_STRING"}, "value": {"tensor": {"dtype": "DT_STRING", "tensorShape": {"dim": [{"size": "3"}]}}}}},
        {"name": "s_out", "op": "Identity", "input": ["s"], "attr": {"T": {"type": "DT_STRING"}}},
        {"name": "i_out", "op": "AddV2", "input": ["i", "k"], "attr": {"T": {"type": "DT_INT32"}}},
        {"name": "b_out", "op": "LogicalNot", "input": ["b"]},
        {"name": "f_out", "op": "Neg", "input": ["f"], "attr": {"T": {"type": "DT_FLOAT"}}},
        {"name": "w_out", "op": "Identity", "input": ["words"], "attr": {"T": {"type": "DT_STRING"}}},
    ]
    weights = np.array([1, -2, 2147483647], "<i4").tobytes() + _string_bytes(["ab", "", "é"])
    model = {
        "format": "graph-model",
        "generatedBy": "hand",
        "convertedBy": "tests",
        "modelTopology": {"node": nodes, "library": {}, "versions": {"producer": 1808}},
        "weightsManifest": [{"paths": ["group1-shard1of1.bin"], "weights": [
            {"name": "k", "shape": [3], "dtype": "int32"},
            {"name": "words", "shape": [3], "dtype": "string"},
        ]}],
    }
    (tmp_path / "model.json").write_text(json.dumps(model))
    (tmp_path / "group1-shard1of1.bin").write_bytes(weights)
    return tmp_path


def test_dtypes_end_to_end(tfjs, dtype_graph):
    inputs = {
        "s": np.array(["héllo", "", "a b"]),
        "i": np.array([5, 6, -7], np.int64),  # int64 is sent as int32
        "b": np.array([True, False, True]),
        "f": np.array([1.5, np.nan, -np.inf], np.float32),
    }
    out = tfjs.execute_graph(dtype_graph, inputs, outputs=["s_out", "i_out", "b_out", "f_out", "w_out"])
    assert out["s_out"].tolist() == ["héllo", "", "a b"]
    assert out["i_out"].dtype == np.int32 and out["i_out"].tolist() == [6, 4, 2147483640]
    assert out["b_out"].dtype == np.bool_ and out["b_out"].tolist() == [False, True, False]
    assert out["f_out"][0] == -1.5 and np.isnan(out["f_out"][1]) and out["f_out"][2] == np.inf
    assert out["w_out"].tolist() == ["ab", "", "é"]
    assert compare(out["f_out"], np.array([-1.5, np.nan, np.inf], np.float32)) == 0.0
    assert compare(out["s_out"], np.array(["héllo", "", "a b"], object)) == 0.0


def test_json_encoding_path(tfjs, dtype_graph):
    """The worker's plain-JSON encoding (what a human would send) gives the same answers."""
    req = {"op": "run", "kind": "graph", "model_dir": str(dtype_graph), "encoding": "json",
           "outputs": ["f_out", "b_out", "s_out"],
           "inputs": {"s": {"dtype": "string", "shape": [1], "data": ["x"]},
                      "i": {"dtype": "int32", "shape": [0], "data": []},
                      "b": {"dtype": "bool", "shape": [2], "data": [True, False]},
                      "f": {"dtype": "float32", "shape": [3], "data": [0.1, "NaN", "-Infinity"]}}}
    resp = tfjs.request(req)
    assert resp["ok"], resp
    assert resp["outputs"]["f_out"]["data"] == [-0.10000000149011612, "NaN", "Infinity"]
    assert resp["outputs"]["b_out"]["data"] == [False, True]
    assert resp["outputs"]["s_out"] == {"dtype": "string", "shape": [1], "data": ["x"]}


# ------------------------------------------------------------------------------------------------
# Pure-Python helpers


def test_tensor_json_roundtrip():
    for arr in [np.array([[1.5, np.nan], [np.inf, -0.0]], np.float32), np.arange(6, dtype=np.int32).reshape(2, 3),
                np.array([True, False]), np.array(["a", "é"], object), np.zeros((0, 3), np.float32),
                np.array([1 + 2j], np.complex64)]:
        for enc in ("base64", "json"):
            back = tensor_from_json(json.loads(json.dumps(tensor_to_json(arr, enc))))
            assert back.shape == arr.shape
            assert compare(back, arr) == 0.0, (arr, enc)
    spec = tensor_to_json(np.array([1.0], np.float64))
    assert spec["dtype"] == "float32" and base64.b64decode(spec["b64"]) == np.float32(1).tobytes()
    with pytest.raises(ValueError):
        tensor_to_json(np.array([2 ** 40]))


def test_compare_definition():
    e = np.array([1.0, -2.0, 0.0], np.float32)
    assert compare(e + np.float32(0.02), e) == pytest.approx(0.01, rel=1e-4)  # 0.02 / max|e|=2
    assert max_abs_error(e + np.float32(0.02), e) == pytest.approx(0.02, rel=1e-4)
    # near-zero expected values do not blow up the metric
    tiny = np.array([1e-9, 1.0])
    assert compare(np.array([2e-9, 1.0]), tiny) < 1e-8
    # all-zero expected: normalised by the 1e-6 floor
    assert compare(np.array([1e-7]), np.array([0.0])) == pytest.approx(0.1)
    assert compare(np.array([np.nan]), np.array([1.0])) == np.inf
    with pytest.raises(AssertionError, match="shape"):
        compare(np.zeros(3), np.zeros(4))
    with pytest.raises(AssertionError, match="missing"):
        compare({"a": np.zeros(1)}, {"b": np.zeros(1)})
    with pytest.raises(AssertionError, match="> 0.001"):
        compare({"a": np.array([1.0])}, {"a": np.array([1.01])}, rtol=1e-3)
    stats = compare_stats({"a": np.array([1.0]), "b": np.array([3.0])}, {"a": np.array([1.0]), "b": np.array([2.0])})
    assert stats["b"]["abs"] == 1.0 and stats["b"]["rel"] == 0.5 and stats["a"]["rel"] == 0.0


def test_input_dependence_fails_a_model_that_ignores_its_input():
    root = REFERENCE_DIR.parent
    # The near-uniform softmax of the cnn fixtures: a constant output (the batch mean) passes the
    # uint8 tolerance of compare(), which is why quantized tests also use input_dependence_error.
    probs = load_tensors(root / "graph" / "cnn" / "expected.json")["probs"]
    constant = np.broadcast_to(probs.mean(axis=0), probs.shape)
    assert compare(constant, probs) <= TOLERANCE["uint8"]
    assert input_dependence_error(constant, probs) >= 0.5
    for case in ("graph/cnn_logits", "keras/cnn_logits"):
        logits = next(iter(load_tensors(root / case / "expected.json").values()))
        for ignoring_input in (np.broadcast_to(logits.mean(axis=0), logits.shape),
                               np.broadcast_to(logits[0], logits.shape), np.zeros_like(logits)):
            assert input_dependence_error(ignoring_input, logits) >= 0.5
            assert compare(ignoring_input, logits) > TOLERANCE["uint8"]
        assert input_dependence_error(logits, logits) == 0.0
        wobble = logits + 0.01 * np.abs(logits).max()
        assert input_dependence_error(wobble, logits) < 0.1


def test_worker_death_is_detected_and_restarted(tfjs):
    old = tfjs.proc
    old.kill()  # our own worker, by handle
    old.wait(timeout=10)
    _alive(tfjs)  # the next request starts a fresh worker
    assert tfjs.proc is not None and tfjs.proc.pid != old.pid


def test_missing_node_is_an_error_not_a_skip(monkeypatch, tmp_path):
    import tfjs_node

    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(tfjs_node.TfjsHarnessError, match="node"):
        tfjs_node.find_node()
    with pytest.raises(tfjs_node.TfjsHarnessError):
        tfjs_node.TfjsNode().start()
