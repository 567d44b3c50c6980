"""Structural validation of Keras model configs (tfjs_lite.keras.validate) and the HDF5 weight guards."""

from __future__ import annotations

import copy
import json
import zipfile
from pathlib import Path

import h5py
import numpy as np
import pytest

from tfjs_lite.errors import ModelFormatError, UnsupportedModelError
from tfjs_lite.keras.validate import MAX_DEPTH, validate_model_config

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
POLICY = {"module": "keras", "class_name": "DTypePolicy", "config": {"name": "float32"}, "registered_name": None}


def _sequential(*layers):
    return {"class_name": "Sequential", "config": {"name": "seq", "layers": list(layers)}}


def _input(name="x", shape=(None, 4), **extra):
    return {"class_name": "InputLayer", "config": {"batch_input_shape": list(shape), "dtype": "float32",
                                                   "name": name, **extra}}  # fmt: skip


def _dense(name="d", units=3, **extra):
    return {"class_name": "Dense", "config": {"name": name, "units": units, "activation": "relu", **extra}}


def _functional(layers, inputs=(("x", 0, 0),), outputs=(("d", 0, 0),)):
    return {
        "class_name": "Functional",
        "config": {"name": "f", "layers": layers, "input_layers": [list(t) for t in inputs],
                   "output_layers": [list(t) for t in outputs]},
    }  # fmt: skip


def _wired(layer, *sources):
    layer = copy.deepcopy(layer)
    layer["name"] = layer["config"]["name"]
    layer["inbound_nodes"] = [[[s, 0, 0, {}] for s in sources]] if sources else []
    return layer


def _k2_functional():
    return _functional([_wired(_input()), _wired(_dense(), "x")])


def _tensor(history):
    return {"class_name": "__keras_tensor__", "config": {"shape": [None, 4], "dtype": "float32",
                                                         "keras_history": history}}  # fmt: skip


def _k3_functional(history=("x", 0, 0)):
    inp = {"class_name": "InputLayer", "name": "x", "inbound_nodes": [],
           "config": {"batch_shape": [None, 4], "dtype": "float32", "name": "x"}}  # fmt: skip
    dense = {"class_name": "Dense", "name": "d", "config": {"name": "d", "units": 3, "dtype": POLICY},
             "inbound_nodes": [{"args": [_tensor(list(history))], "kwargs": {}}]}  # fmt: skip
    return {"class_name": "Functional",
            "config": {"name": "f", "layers": [inp, dense], "input_layers": ["x", 0, 0], "output_layers": ["d", 0, 0]}}


def _refused(config, *fragments, keras3=False, error=ModelFormatError):
    with pytest.raises(error) as caught:
        validate_model_config(config, keras3=keras3)
    message = str(caught.value)
    assert "\n" not in message
    for fragment in fragments:
        assert fragment in message, message
    return message


# --- accepted ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "config",
    [
        _sequential(_input(), _dense()),
        _sequential(_dense(batch_input_shape=[None, 4], kernel_size=None)),
        {"class_name": "Sequential", "config": [_dense(batch_input_shape=[None, 4])]},  # Keras < 2.2
        _k2_functional(),
        _functional([_wired(_input()), _wired(_dense(), "x")], outputs=[("d", 0, 0)]),
        # nested model, wrapper, RNN cell, conv options as ints or lists, a dtype policy object
        _sequential(
            _input(shape=(None, 8, 8, 3)),
            {"class_name": "Conv2D", "config": {"name": "c", "filters": 4, "kernel_size": [3, 3], "strides": 1,
                                                "dtype": {"class_name": "Policy", "config": {"name": "float32"}}}},
            {"class_name": "MaxPooling2D", "config": {"name": "p", "pool_size": [2, 2], "strides": None}},
            {"class_name": "Reshape", "config": {"name": "r", "target_shape": [-1, 4]}},
            {"class_name": "TimeDistributed", "config": {"name": "td", "layer": _dense("inner")}},
            {"class_name": "RNN", "config": {"name": "rnn", "cell": {"class_name": "LSTMCell",
                                                                    "config": {"name": "cell", "units": 2}}}},
            _sequential(_dense("n1")) | {"config": {"name": "inner_seq", "layers": [_dense("n1")]}},
        ),
        # tf.keras 2: a constant first argument and a kwargs-dict node entry
        _functional([_wired(_input()),
                     {"class_name": "TFOpLambda", "name": "d", "config": {"name": "d"},
                      "inbound_nodes": [["x", 0, 0, {"y": 2.0}], [["_CONSTANT_VALUE", -1, 3.0, {}]]]}]),
    ],
)
def test_valid_configs_pass(config):
    validate_model_config(config)


def test_keras3_forms_pass():
    validate_model_config(_k3_functional(), keras3=True)


def test_every_fixture_config_passes():
    checked = 0
    for path in sorted(FIXTURES.rglob("*")):
        if path.suffix == ".h5":
            with h5py.File(path, "r") as f:
                if "model_config" not in f.attrs:
                    continue
                version = f.attrs.get("keras_version")
                version = version.decode() if isinstance(version, bytes) else str(version)
                validate_model_config(json.loads(f.attrs["model_config"]), keras3=version.startswith("3"))
        elif path.suffix == ".keras":
            with zipfile.ZipFile(path) as z:
                validate_model_config(json.loads(z.read("config.json")), keras3=True)
        elif path.name == "model.json":
            topology = json.loads(path.read_text()).get("modelTopology")
            if not isinstance(topology, dict) or not ("model_config" in topology or "class_name" in topology):
                continue  # weights-only or a graph model
            validate_model_config(topology.get("model_config", topology))
        else:
            continue
        checked += 1
    assert checked >= 10


# --- refused: the model ------------------------------------------------------------------------


def test_model_not_an_object():
    _refused([1, 2], "not a JSON object")


def test_class_name_not_a_string():
    _refused({"class_name": 5, "config": {}}, "class_name is 5, not a string")


def test_not_a_model_class():
    _refused({"class_name": "Dense", "config": {}}, "'Dense'", error=UnsupportedModelError)


def test_sequential_without_layers():
    _refused({"class_name": "Sequential", "config": {}}, "has no 'layers'")


def test_layers_not_a_list():
    _refused({"class_name": "Sequential", "config": {"layers": 5}}, "'layers' is 5, not a list")


def test_no_layers():
    _refused(_sequential(), "has no layers")


def test_config_not_an_object():
    _refused({"class_name": "Functional", "config": "x"}, "'config' is 'x'")


# --- refused: layers -----------------------------------------------------------------------------


def test_layer_not_an_object():
    _refused(_sequential(_input(), 7), "layer 1 is 7")


def test_layer_without_class_name():
    _refused(_sequential({"config": {"name": "a"}}), "layer 0: class_name is None")


def test_layer_class_name_a_list():
    _refused(_sequential({"class_name": ["Dense"], "config": {"name": "a"}}), "class_name is ['Dense']")


def test_layer_config_not_an_object():
    _refused(_sequential({"class_name": "Dense", "config": [1]}), "layer 0 (Dense): 'config' is [1]")


def test_layer_without_name():
    _refused(_sequential({"class_name": "Dense", "config": {"units": 2}}), "layer 0 (Dense) has no name")


def test_layer_name_not_a_string():
    _refused(_sequential({"class_name": "Dense", "config": {"name": 3, "units": 2}}), "'name' is 3")


@pytest.mark.parametrize("units", ["many", -3, 0, 2.5, True, None, [3], 2**40])
def test_units_not_a_positive_int(units):
    _refused(_sequential(_dense(units=units)), "layer 'd' (Dense): 'units'", "not a positive integer")


@pytest.mark.parametrize("value", ["3", [3, "3"], [], [0, 1], {"a": 1}])
def test_kernel_size_not_ints(value):
    layer = {"class_name": "Conv2D", "config": {"name": "c", "filters": 2, "kernel_size": value}}
    _refused(_sequential(layer), "layer 'c' (Conv2D): 'kernel_size'")


@pytest.mark.parametrize("shape", ["x", [None, "4"], [None, -1], 5, [None, 1.5]])
def test_bad_input_shape(shape):
    _refused(_sequential(_input(shape=()) | {"config": {"name": "x", "batch_input_shape": shape}}, _dense()),
             "layer 'x' (InputLayer): 'batch_input_shape'")  # fmt: skip


def test_bad_target_shape():
    _refused(_sequential({"class_name": "Reshape", "config": {"name": "r", "target_shape": "4"}}), "'target_shape'")


@pytest.mark.parametrize("dtype", [{"a": 1}, ["float32"], 3, {"class_name": "DTypePolicy", "config": {"name": {}}}])
def test_bad_dtype(dtype):
    _refused(_sequential(_input(dtype=dtype), _dense()), "layer 'x' (InputLayer): 'dtype'")


def test_activation_not_a_string():
    _refused(_sequential(_dense(activation=5)), "'activation' is 5")


def test_wrapped_layer_checked():
    td = {"class_name": "TimeDistributed", "config": {"name": "td", "layer": _dense("inner", units="x")}}
    _refused(_sequential(td), "layer 'inner' (Dense): 'units'")


def test_rnn_cell_checked():
    rnn = {"class_name": "RNN", "config": {"name": "rnn", "cell": [{"class_name": "LSTMCell", "config": 5}]}}
    _refused(_sequential(rnn), "layer 'rnn' (RNN): 'cell' 0 (LSTMCell): 'config' is 5")


def test_nested_model_checked():
    inner = {"class_name": "Sequential", "config": {"name": "inner", "layers": 3}}
    _refused(_sequential(inner), "layer 'inner' (Sequential): 'layers' is 3")


def test_nesting_depth_bounded():
    model = _dense("leaf")
    for i in range(MAX_DEPTH + 2):
        model = {"class_name": "TimeDistributed", "config": {"name": f"td{i}", "layer": model}}
    _refused(_sequential(model), "nested more than")


# --- refused: functional wiring ------------------------------------------------------------------


def test_functional_without_output_layers():
    config = _k2_functional()
    del config["config"]["output_layers"]
    _refused(config, "has no 'output_layers'")


@pytest.mark.parametrize("value", [5, [["d", "0", 0]], [["d", 0]], [[1, 0, 0]], [["d", -1, 0]], "d"])
def test_output_layers_not_triples(value):
    config = _k2_functional()
    config["config"]["output_layers"] = value
    _refused(config, "'output_layers'")


def test_output_layers_empty():
    config = _k2_functional()
    config["config"]["output_layers"] = []
    _refused(config, "'output_layers' is empty")


def test_output_layer_unknown():
    config = _k2_functional()
    config["config"]["output_layers"] = [["nope", 0, 0]]
    _refused(config, "names 'nope', which is not a layer")


@pytest.mark.parametrize(
    "nodes, fragment",
    [
        (5, "'inbound_nodes' is 5"),
        ([5], "an inbound node is 5"),
        ([[["x", "0", 0, {}]]], "an inbound connection"),
        ([[["x", 0, 0, []]]], "call arguments are []"),
        ([[["x", 0]]], "an inbound connection"),
        ([[["ghost", 0, 0, {}]]], "names 'ghost'"),
        ([{"args": [], "kwargs": {}}], "Keras 3 form"),  # in a Keras 2 config
    ],
)
def test_bad_inbound_nodes(nodes, fragment):
    config = _k2_functional()
    config["config"]["layers"][1]["inbound_nodes"] = nodes
    _refused(config, "layer 'd' (Dense)", fragment)


@pytest.mark.parametrize("history", [["x", 0], [["x"], 0, 0], ["x", "0", 0], None])
def test_keras3_bad_history(history):
    config = _k3_functional()
    config["config"]["layers"][1]["inbound_nodes"][0]["args"][0]["config"]["keras_history"] = history
    _refused(config, "layer 'd' (Dense): an input tensor's keras_history", keras3=True)


def test_keras3_unknown_history_layer():
    _refused(_k3_functional(("ghost", 0, 0)), "comes from 'ghost'", keras3=True)


@pytest.mark.parametrize("field, value", [("args", {"a": 1}), ("kwargs", [1])])
def test_keras3_bad_node_parts(field, value):
    config = _k3_functional()
    config["config"]["layers"][1]["inbound_nodes"][0][field] = value
    _refused(config, f"'{field}'", keras3=True)


# --- HDF5 weight guards (readers/keras_h5.py) and the writer's slicing ----------------------------


def test_weight_dataset_guards(tmp_path):
    from tfjs_lite.readers.keras_h5 import check_weight_dataset, hard_get

    other = tmp_path / "other.h5"
    with h5py.File(other, "w") as g:
        g["k"] = np.zeros(4, "f4")
    raw = tmp_path / "raw.bin"
    raw.write_bytes(bytes(16))
    path = tmp_path / "m.h5"
    with h5py.File(path, "w") as f:
        f["ok"] = np.ones((2, 3), "f4")
        f.create_dataset("null", shape=None, dtype="f4")
        f.create_dataset("unallocated", shape=(1 << 12, 1 << 12), dtype="f4", chunks=(64, 1 << 12))
        f.create_dataset("external", shape=(4,), dtype="f4", external=[(str(raw), 0, 16)])
        f["ext"] = h5py.ExternalLink(str(other), "/k")
        f["soft"] = h5py.SoftLink("/ok")
        g = f.create_group("g")
        g["link"] = h5py.ExternalLink(str(other), "/")
        small = f.create_dataset("gzip", data=np.zeros(1000, "f4"), compression="gzip")
        assert small.id.get_storage_size() < small.nbytes  # compressed small data is fine
    with h5py.File(path, "r") as f:
        check_weight_dataset(hard_get(f, "ok", path), "ok", path)
        check_weight_dataset(hard_get(f, "gzip", path), "gzip", path)
        for name, fragment in [("null", "null dataspace"), ("unallocated", "stores only 0"),
                               ("external", "external file")]:  # fmt: skip
            with pytest.raises(ModelFormatError, match=fragment):
                check_weight_dataset(hard_get(f, name, path), name, path)
        for name, fragment in [("ext", "external link"), ("soft", "soft link"), ("g/link/k", "external link")]:
            with pytest.raises(ModelFormatError, match=fragment):
                hard_get(f, name, path)
        with pytest.raises(KeyError):
            hard_get(f, "ok/deeper", path)


def test_chunks_never_read_more_than_a_chunk(monkeypatch):
    from tfjs_lite.writers import weights

    monkeypatch.setattr(weights, "_CHUNK_BYTES", 64)

    class Recorder:  # an h5py-like array: records the size of every read
        def __init__(self, array):
            self.array, self.shape, self.dtype, self.reads = array, array.shape, array.dtype, []

        def __getitem__(self, key):
            out = self.array[key]
            self.reads.append(out.nbytes)
            return out

    for shape in [(3, 5, 7), (2, 40), (1, 100), (4, 3, 2, 9), (5, 4)]:
        array = np.arange(int(np.prod(shape)), dtype="f4").reshape(shape)
        recorder = Recorder(array)
        joined = np.concatenate(list(weights._chunks(recorder)))
        np.testing.assert_array_equal(joined, array.reshape(-1))
        assert max(recorder.reads) <= 64, (shape, recorder.reads)
