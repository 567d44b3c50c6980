"""Keras 3 → tfjs-layers config translation and structural weight naming."""

from __future__ import annotations

from tfjs_lite.keras.config import fix_regularizers, is_keras3, keras3_to_tfjs, translate_class_names
from tfjs_lite.keras.layers import to_snake_case
from tfjs_lite.keras.weight_paths import plan_weights

POLICY = {"module": "keras", "class_name": "DTypePolicy", "config": {"name": "float32"}, "registered_name": None}


def _tensor(layer, node=0, index=0):
    return {"class_name": "__keras_tensor__", "config": {"shape": [None, 4], "dtype": "float32",
                                                          "keras_history": [layer, node, index]}}  # fmt: skip


def _dense(name, units=3, inbound=None):
    layer = {
        "module": "keras.layers",
        "class_name": "Dense",
        "config": {
            "name": name,
            "dtype": POLICY,
            "units": units,
            "activation": "silu",
            "kernel_initializer": {
                "module": "keras.initializers",
                "class_name": "GlorotUniform",
                "config": {"seed": None},
                "registered_name": None,
                "shared_object_id": 7,
            },
        },  # fmt: skip
        "registered_name": None,
        "build_config": {"input_shape": [None, 4]},
        "name": name,
    }
    if inbound is not None:
        layer["inbound_nodes"] = inbound
    return layer


def _input(name, shape=(None, 4)):
    return {
        "module": "keras.layers",
        "class_name": "InputLayer",
        "config": {"batch_shape": list(shape), "dtype": "float32", "sparse": False, "name": name, "optional": False},
        "registered_name": None,
        "name": name,
        "inbound_nodes": [],
    }


def _functional(layers, inputs, outputs):
    return {
        "module": "keras.src.models.functional",
        "class_name": "Functional",
        "config": {"name": "m", "trainable": True, "layers": layers, "input_layers": inputs, "output_layers": outputs},
        "registered_name": "Functional",
        "compile_config": {},
    }


def test_functional_translation():
    model = _functional(
        [
            _input("a"),
            _input("b"),
            _dense("d", inbound=[{"args": [_tensor("a")], "kwargs": {}}]),
            _dense("d2", inbound=[{"args": [_tensor("b")], "kwargs": {"mask": None, "training": False}}]),
            {
                "class_name": "Concatenate",
                "config": {"name": "cat", "axis": -1, "dtype": POLICY},
                "name": "cat",
                "inbound_nodes": [{"args": [[_tensor("d"), _tensor("d2")]], "kwargs": {}}],
            },  # fmt: skip
        ],
        [["a", 0, 0], ["b", 0, 0]],
        ["cat", 0, 0],
    )
    issues = []
    out = keras3_to_tfjs(model, issues)
    assert issues == []
    assert set(out) == {"class_name", "config"}
    layers = out["config"]["layers"]
    assert layers[0]["config"] == {"batch_input_shape": [None, 4], "dtype": "float32", "sparse": False, "name": "a"}
    dense = layers[2]
    assert set(dense) == {"class_name", "config", "name", "inbound_nodes"}
    assert dense["config"]["dtype"] == "float32"
    assert dense["config"]["activation"] == "swish"
    assert dense["config"]["kernel_initializer"] == {"class_name": "GlorotUniform", "config": {"seed": None}}
    assert dense["inbound_nodes"] == [[["a", 0, 0, {}]]]
    assert layers[3]["inbound_nodes"] == [[["b", 0, 0, {"training": False}]]]
    assert layers[4]["inbound_nodes"] == [[["d", 0, 0, {}], ["d2", 0, 0, {}]]]
    assert out["config"]["input_layers"] == [["a", 0, 0], ["b", 0, 0]]
    assert out["config"]["output_layers"] == [["cat", 0, 0]]  # a bare triple becomes a list of triples


def test_nested_model_node_index_is_shifted():
    inner = {"module": "keras", "class_name": "Sequential", "name": "inner",
             "config": {"name": "inner", "layers": [_input("i"), _dense("x")], "build_input_shape": [None, 4]},
             "inbound_nodes": [{"args": [_tensor("a")], "kwargs": {"mask": None}}]}  # fmt: skip
    model = _functional([_input("a"), inner, _dense("out", inbound=[{"args": [_tensor("inner")], "kwargs": {}}])],
                        ["a", 0, 0], {"y": ["inner", 0, 0]})  # fmt: skip
    out = keras3_to_tfjs(model, [])
    layers = out["config"]["layers"]
    assert layers[2]["inbound_nodes"] == [[["inner", 1, 0, {}]]]
    assert out["config"]["output_layers"] == [["inner", 1, 0]]
    assert "build_input_shape" not in layers[1]["config"]
    assert "inbound_nodes" not in layers[1]["config"]["layers"][1]


def test_sequential_without_input_layer_gets_batch_input_shape():
    model = {
        "class_name": "Sequential",
        "config": {"name": "s", "layers": [_dense("x")], "build_input_shape": [None, 4]},
    }
    out = keras3_to_tfjs(model, [])
    assert out["config"]["layers"][0]["config"]["batch_input_shape"] == [None, 4]
    assert "inbound_nodes" not in out["config"]["layers"][0]


def test_tensor_kwargs_are_reported():
    layer = _dense("d", inbound=[{"args": [_tensor("a")], "kwargs": {"initial_state": _tensor("b")}}])
    issues = []
    keras3_to_tfjs(_functional([_input("a"), _input("b"), layer], [], []), issues)
    assert [(i.layer, i.class_name) for i in issues] == [("d", "Dense")]


def test_bidirectional_mirror_is_dropped_and_prefix_removed():
    gru = {
        "class_name": "GRU",
        "config": {"name": "forward_gru", "units": 2, "go_backwards": False, "reset_after": False},
    }
    back = {
        "class_name": "GRU",
        "config": {"name": "backward_gru", "units": 2, "go_backwards": True, "reset_after": False},
    }
    bi = {"class_name": "Bidirectional", "name": "bi", "inbound_nodes": [],
          "config": {"name": "bi", "layer": gru, "backward_layer": back, "merge_mode": "concat"}}  # fmt: skip
    out = keras3_to_tfjs(_functional([bi], [], []), [])
    config = out["config"]["layers"][0]["config"]
    assert "backward_layer" not in config and config["layer"]["config"]["name"] == "gru"
    plan = plan_weights(out)[0]
    cell = "bi/forward_gru/gru_cell"
    assert [s.name for s in plan.slots][:3] == [f"{cell}/kernel", f"{cell}/recurrent_kernel", f"{cell}/bias"]
    assert plan.slots[3].archive_path == "layers/bidirectional/backward_layer/cell/vars/0"


def test_leaky_relu_and_regularizers():
    leaky = {
        "class_name": "LeakyReLU",
        "config": {"name": "l", "negative_slope": 0.1},
        "name": "l",
        "inbound_nodes": [],
    }
    out = keras3_to_tfjs(_functional([leaky], [], []), [])
    assert out["config"]["layers"][0]["config"]["alpha"] == 0.1
    fixed = fix_regularizers({"kernel_regularizer": {"class_name": "L2", "config": {"l2": 0.5}}})
    assert fixed == {"kernel_regularizer": {"class_name": "L1L2", "config": {"l1": 0.0, "l2": 0.5}}}
    sep = fix_regularizers({"class_name": "SeparableConv2D", "config": {"kernel_initializer": {}, "filters": 2}})
    assert sep == {"class_name": "SeparableConv2D", "config": {"filters": 2}}


def test_official_class_renames_and_versions():
    legacy = {"class_name": "UnifiedLSTM", "config": {"cell": {"class_name": "BatchNormalizationV1"}}}
    renamed = {"class_name": "LSTM", "config": {"cell": {"class_name": "BatchNormalization"}}}
    assert translate_class_names(legacy) == renamed
    assert is_keras3("3.15.1") and not is_keras3("2.19.0") and not is_keras3(None)


def test_snake_case_matches_keras():
    cases = {"Conv2DTranspose": "conv2d_transpose", "PReLU": "p_re_lu", "LSTM": "lstm", "InputLayer": "input_layer",
             "BatchNormalization": "batch_normalization", "ReLU": "re_lu", "SimpleRNN": "simple_rnn"}  # fmt: skip
    assert {k: to_snake_case(k) for k in cases} == cases


def test_archive_paths_are_unique_per_container():
    model = {"class_name": "Sequential", "config": {"name": "s", "layers": [
        _input("x"), _dense("a"), _dense("b"),
        {"class_name": "BatchNormalization", "config": {"name": "bn", "center": False}},
        {"class_name": "LSTM", "config": {"name": "l", "units": 2}},
    ]}}  # fmt: skip
    slots = [(s.name, s.archive_path) for p in plan_weights(keras3_to_tfjs(model, [])) for s in p.slots]
    assert slots == [
        ("a/kernel", "layers/dense/vars/0"), ("a/bias", "layers/dense/vars/1"),
        ("b/kernel", "layers/dense_1/vars/0"), ("b/bias", "layers/dense_1/vars/1"),
        ("bn/gamma", "layers/batch_normalization/vars/0"),
        ("bn/moving_mean", "layers/batch_normalization/vars/1"),
        ("bn/moving_variance", "layers/batch_normalization/vars/2"),
        ("l/lstm_cell/kernel", "layers/lstm/cell/vars/0"),
        ("l/lstm_cell/recurrent_kernel", "layers/lstm/cell/vars/1"),
        ("l/lstm_cell/bias", "layers/lstm/cell/vars/2"),
    ]  # fmt: skip


def _h5_entry(class_name, config, args):
    """A layer entry as Keras 3's .h5 writes it: no module, no registered_name."""
    return {"class_name": class_name, "config": config, "name": config["name"],
            "inbound_nodes": [{"args": args, "kwargs": {}}]}


def test_keras3_h5_operations_are_told_from_layers_without_a_module():
    """Keras 3's .h5 keeps no module: ``x + 3.0`` is written as class ``Add`` like the Add layer,
    and a mask's ``ops.not_equal`` as ``NotEqual``; an operation's config has no dtype/trainable."""
    x = _tensor("a")
    entries = [
        _h5_entry("Add", {"name": "op_add"}, [x, 3.0]),
        _h5_entry("NotEqual", {"name": "op_mask"}, [x, 0.0]),
        _h5_entry("Any", {"name": "op_any", "axis": -1, "keepdims": False}, [x]),
        _h5_entry("Add", {"name": "layer_add", "trainable": True, "dtype": POLICY}, [[x, x]]),
        # a layer whose get_config writes no trainable (SpatialDropout1D) still writes its dtype
        _h5_entry("SpatialDropout1D", {"name": "drop", "rate": 0.5, "seed": None, "dtype": "float32"}, [x]),
        # an unknown class without dtype stays a layer (refused as such), not a guessed operation
        _h5_entry("Bidirectional", {"name": "bi"}, [x]),
    ]
    out = keras3_to_tfjs(_functional([_input("a"), *entries], [], []), [])
    classes = {layer["config"]["name"]: layer["class_name"] for layer in out["config"]["layers"]}
    assert classes == {"a": "InputLayer", "op_add": "ops.Add", "op_mask": "ops.NotEqual", "op_any": "ops.Any",
                       "layer_add": "Add", "drop": "SpatialDropout1D", "bi": "Bidirectional"}


def test_every_known_keras_op_class_has_a_lowering():
    from tfjs_lite.keras.config import KERAS_OP_CLASSES
    from tfjs_lite.keras.lowering.keras_ops import OPS

    assert set(OPS) == KERAS_OP_CLASSES
