"""Reverse conversions: TF.js layers model → Keras .h5 / .keras, and layers → layers.

Proven by round trips through the forward converter and real TF.js 4.22. Real Keras loads the files
in test_keras3_loads_reverse.py (Keras 3: .h5 and .keras) and test_tf_keras_loads_reverse.py
(tf_keras 2.19: .h5), each in its own cached venv; the tests never import Keras.
"""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path

import h5py
import numpy as np
import pytest
from tfjs_node import TOLERANCE, compare, load_tensors

from tfjs_lite.conversion import convert
from tfjs_lite.errors import ConversionError, ModelFormatError, UnsupportedModelError
from tfjs_lite.keras.compat import keras3_compatible_config, nested_node_offsets
from tfjs_lite.keras.keras3_config import keras3_config
from tfjs_lite.keras.layers import to_snake_case
from tfjs_lite.keras.nested_h5 import INPUT_LAYER_KEY, restore_sequential_inputs
from tfjs_lite.readers.tfjs_layers import read_layers_model

REPO = Path(__file__).resolve().parents[2]
CASES_DIR = REPO / "fixtures" / "keras"
REFERENCE_DIR = REPO / "fixtures" / "reference"

CASES = [
    "mlp",
    "cnn",
    "multi_io",
    "nested",
    "rnn",
    "slash_names",
    "layers_zoo",
    "k3_h5",
    "k3_functional_keras",
    "k3_nested_keras",
    "inception_resnet_block",
    "k3_inception_resnet_block",
]


def _source(case: str) -> Path:
    info = json.loads((CASES_DIR / case / "case.json").read_text())
    return CASES_DIR / case / info["file"]


def _layers(case: str, tmp_path: Path) -> Path:
    out = tmp_path / f"{case}_layers"
    convert(_source(case), out)
    return out


def _predict_ok(
    tfjs, model_dir: Path, case: str, tol: float = TOLERANCE["float32"]
) -> None:
    outputs = tfjs.predict_layers(
        model_dir, load_tensors(CASES_DIR / case / "inputs.json")
    )
    compare(outputs, load_tensors(CASES_DIR / case / "expected.json"), rtol=tol)


def _h5_layout(path: Path) -> dict:
    with h5py.File(path, "r") as f:
        mw = f["model_weights"]
        return {
            "attrs": sorted(f.attrs),
            "layer_names": [x.decode() for x in mw.attrs["layer_names"]],
            "weight_names": {
                k: [x.decode() for x in mw[k].attrs["weight_names"]]
                for k in mw
                if k != "top_level_model_weights"
            },
            "keras_version": f.attrs["keras_version"],
        }


def _weights(model_dir: Path) -> dict:
    return {w.name: w.value for w in read_layers_model(model_dir).weights}


# --- layers → h5 → layers ----------------------------------------------------------------------


@pytest.mark.parametrize("case", CASES)
def test_h5_round_trip_runs_in_tfjs(case, tmp_path, tfjs):
    layers = _layers(case, tmp_path)
    h5 = tmp_path / "model.h5"
    convert(layers, h5, output_format="keras")
    again = tmp_path / "again"
    convert(h5, again)
    _predict_ok(tfjs, again, case)
    before, after = _weights(layers), _weights(again)
    assert sorted(before) == sorted(after)
    for name, value in before.items():
        np.testing.assert_array_equal(after[name], value, err_msg=name)


def test_h5_layout_is_keras2(tmp_path):
    h5 = tmp_path / "rnn.h5"
    convert(_layers("rnn", tmp_path), h5, output_format="keras")
    layout = _h5_layout(h5)
    assert layout["attrs"] == ["backend", "keras_version", "model_config"]
    assert layout["keras_version"].startswith("2.")
    assert layout["layer_names"] == ["tokens", "embed", "lstm", "bigru", "probs"]
    assert layout["weight_names"]["tokens"] == []
    assert layout["weight_names"]["lstm"] == [
        "lstm/lstm_cell/kernel:0",
        "lstm/lstm_cell/recurrent_kernel:0",
        "lstm/lstm_cell/bias:0",
    ]
    assert [n.split("/")[1] for n in layout["weight_names"]["bigru"]] == [
        "forward_gru"
    ] * 3 + ["backward_gru"] * 3
    with h5py.File(h5, "r") as f:
        assert f["model_weights/embed/embed/embeddings:0"].shape == (20, 8)
        config = json.loads(f.attrs["model_config"])
    assert config["class_name"] == "Functional"


def test_h5_from_official_reference_output(tmp_path, tfjs):
    """The official converter's own layers model (alphabetical manifest order) goes back to h5."""
    ref = REFERENCE_DIR / "cnn" / "tensorflowjs_4.22" / "h5_to_layers"
    if not ref.is_dir():
        pytest.skip("fixtures/reference not populated")
    h5 = tmp_path / "cnn.h5"
    convert(ref, h5, output_format="keras")
    again = tmp_path / "again"
    convert(h5, again)
    outputs = tfjs.predict_layers(
        again, load_tensors(REFERENCE_DIR / "cnn" / "inputs.json")
    )
    compare(
        outputs,
        load_tensors(REFERENCE_DIR / "cnn" / "expected.json"),
        rtol=TOLERANCE["float32"],
    )


def test_lstm_names_without_cell_segment(tmp_path, tfjs):
    """tfjs-layers-style names (``lstm/kernel``) are accepted and written with the cell segment."""
    layers = _layers("rnn", tmp_path)
    model = json.loads((layers / "model.json").read_text())
    for group in model["weightsManifest"]:
        for w in group["weights"]:
            w["name"] = w["name"].replace("lstm/lstm_cell/", "lstm/")
    (layers / "model.json").write_text(json.dumps(model))
    h5 = tmp_path / "rnn.h5"
    convert(layers, h5, output_format="keras")
    assert _h5_layout(h5)["weight_names"]["lstm"][0] == "lstm/lstm_cell/kernel:0"
    again = tmp_path / "again"
    convert(h5, again)
    _predict_ok(tfjs, again, "rnn")


def test_nested_model_node_numbering():
    config = {
        "class_name": "Functional",
        "config": {
            "name": "m",
            "layers": [
                {
                    "class_name": "InputLayer",
                    "name": "x",
                    "config": {"name": "x"},
                    "inbound_nodes": [],
                },
                {
                    "class_name": "Sequential",
                    "name": "inner",
                    "config": {
                        "name": "inner",
                        "layers": [
                            {
                                "class_name": "InputLayer",
                                "config": {"name": "i", "batch_input_shape": [None, 2]},
                            },
                            {
                                "class_name": "DepthwiseConv2D",
                                "config": {"name": "dw", "groups": 1},
                            },
                        ],
                    },
                    "inbound_nodes": [[["x", 0, 0, {}]]],
                },
            ],
            "input_layers": [["x", 0, 0]],
            "output_layers": [["inner", 1, 0]],
        },
    }
    assert nested_node_offsets(config) == {"inner": 1}
    fixed, problems = keras3_compatible_config(config)
    # A nested Sequential: its InputLayer moves aside and its calls are numbered from 0, which
    # tf_keras and Keras 3 read alike (tests/keras/test_keras3_loads_reverse.py loads it).
    assert problems == []
    inner = fixed["config"]["layers"][1]["config"]
    assert [x["class_name"] for x in inner["layers"]] == ["DepthwiseConv2D"]
    assert inner[INPUT_LAYER_KEY]["config"]["batch_input_shape"] == [None, 2]
    assert fixed["config"]["output_layers"] == [["inner", 0, 0]]
    assert "groups" not in inner["layers"][0]["config"]
    assert (
        "groups" in config["config"]["layers"][1]["config"]["layers"][1]["config"]
    )  # input not modified
    k3 = keras3_config(config)
    assert k3["config"]["output_layers"] == [["inner", 0, 0]]
    # The HDF5 reader puts it back as tf_keras and tfjs-layers expect it.
    restore_sequential_inputs(fixed)
    restored = fixed["config"]["layers"][1]["config"]
    assert INPUT_LAYER_KEY not in restored and restored["layers"][0]["class_name"] == "InputLayer"
    assert fixed["config"]["output_layers"] == [["inner", 1, 0]]
    # A nested Functional cannot be written so: it is still reported.
    config["config"]["layers"][1]["class_name"] = "Functional"
    config["config"]["layers"][1]["config"].update(input_layers=[["i", 0, 0]], output_layers=[["dw", 0, 0]])
    _, problems = keras3_compatible_config(config)
    assert len(problems) == 1 and "inner" in problems[0]


def test_keras3_seed_dropped_only_where_tf_keras_refuses_it():
    """Keras 3 writes ``seed`` on recurrent layers; tf_keras 2.19's ConvLSTM2D and SimpleRNN refuse
    it (fixture keras_graph/k3_conv_lstm, tests/keras/test_tf_keras_loads_reverse.py), its LSTM,
    Dropout and initializers take it, so it stays there."""
    init = {"class_name": "GlorotUniform", "config": {"seed": 3}}
    layers = [{"class_name": cls, "config": {"name": cls.lower(), "seed": seed, "kernel_initializer": init}}
              for cls, seed in (("ConvLSTM2D", None), ("SimpleRNN", 7), ("LSTM", None), ("Dropout", 5))]
    fixed, problems = keras3_compatible_config({"class_name": "Sequential", "config": {"layers": layers}})
    assert problems == []
    kept = {layer["class_name"]: layer["config"] for layer in fixed["config"]["layers"]}
    assert "seed" not in kept["ConvLSTM2D"] and "seed" not in kept["SimpleRNN"]
    assert kept["LSTM"]["seed"] is None and kept["Dropout"]["seed"] == 5
    assert all(cfg["kernel_initializer"]["config"]["seed"] == 3 for cfg in kept.values())


# --- layers → .keras → layers ------------------------------------------------------------------


@pytest.mark.parametrize("case", CASES)
def test_keras_archive_round_trip_runs_in_tfjs(case, tmp_path, tfjs):
    layers = _layers(case, tmp_path)
    archive = tmp_path / "model.keras"
    convert(layers, archive, output_format="keras_keras")
    again = tmp_path / "again"
    convert(archive, again)
    _predict_ok(tfjs, again, case)


def test_keras_archive_layout(tmp_path):
    archive = tmp_path / "rnn.keras"
    convert(_layers("rnn", tmp_path), archive, output_format="keras_keras")
    with zipfile.ZipFile(archive) as z:
        infos = z.infolist()
        assert [i.filename for i in infos] == [
            "metadata.json",
            "config.json",
            "model.weights.h5",
        ]
        assert all(
            i.compress_type == zipfile.ZIP_STORED
            and i.date_time == (1980, 1, 1, 0, 0, 0)
            for i in infos
        )
        metadata = json.loads(z.read("metadata.json"))
        config = json.loads(z.read("config.json"))
        with z.open("model.weights.h5") as member, h5py.File(member, "r") as f:
            datasets = []
            f.visititems(
                lambda name, obj: (
                    datasets.append(name) if isinstance(obj, h5py.Dataset) else None
                )
            )
            assert f["layers/lstm/vars"].attrs["name"] == "lstm"
            assert f["vars"].attrs["name"] == "rnn"
    assert metadata["keras_version"].startswith("3.")
    assert (
        config["module"] == "keras.src.models.functional"
        and config["registered_name"] == "Functional"
    )
    layers = config["config"]["layers"]
    assert layers[0]["config"]["batch_shape"] == [None, 7]
    assert layers[1]["config"]["dtype"]["class_name"] == "DTypePolicy"
    assert all(x["module"] == "keras.layers" for x in layers)
    assert sorted(datasets) == sorted(
        [
            f"layers/bidirectional/{side}_layer/cell/vars/{i}"
            for side in ("forward", "backward")
            for i in range(3)
        ]
        + [f"layers/lstm/cell/vars/{i}" for i in range(3)]
        + ["layers/embedding/vars/0", "layers/dense/vars/0", "layers/dense/vars/1"]
    )


def test_keras_archive_nested_paths(tmp_path):
    archive = tmp_path / "nested.keras"
    convert(_layers("nested", tmp_path), archive, output_format="keras_keras")
    with (
        zipfile.ZipFile(archive) as z,
        z.open("model.weights.h5") as member,
        h5py.File(member, "r") as f,
    ):
        assert f["layers/sequential/layers/dense/vars/0"].shape == (7, 10)
        assert f["layers/sequential/layers/dense_1/vars/1"].shape == (6,)
        assert f["layers/dense_1/vars/0"].shape == (6, 2)


def test_snake_case_like_keras():
    assert to_snake_case("PReLU") == "p_re_lu"
    assert to_snake_case("Conv2DTranspose") == "conv2d_transpose"
    assert to_snake_case("BatchNormalization") == "batch_normalization"


def test_keras3_config_translation():
    config = keras3_config(
        {
            "class_name": "Sequential",
            "config": {
                "name": "s",
                "layers": [
                    {
                        "class_name": "Dense",
                        "config": {
                            "name": "d",
                            "batch_input_shape": [None, 3],
                            "dtype": "float32",
                            "units": 2,
                            "kernel_initializer": {"class_name": "Zeros", "config": {}},
                        },
                    },
                    {
                        "class_name": "BatchNormalization",
                        "config": {"name": "bn", "axis": [1]},
                    },
                ],
            },
        }
    )
    layers = config["config"]["layers"]
    assert [x["class_name"] for x in layers] == [
        "InputLayer",
        "Dense",
        "BatchNormalization",
    ]
    assert layers[0]["config"]["batch_shape"] == [None, 3]
    assert "batch_input_shape" not in layers[1]["config"]
    assert layers[1]["config"]["kernel_initializer"]["module"] == "keras.initializers"
    assert layers[2]["config"]["axis"] == 1


# --- determinism -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "output_format,name", [("keras", "m.h5"), ("keras_keras", "m.keras")]
)
def test_outputs_are_byte_identical(output_format, name, tmp_path):
    layers = _layers("cnn", tmp_path)
    first, second = tmp_path / "a" / name, tmp_path / "b" / name
    first.parent.mkdir()
    second.parent.mkdir()
    convert(layers, first, output_format=output_format)
    convert(layers, second, output_format=output_format)
    assert first.read_bytes() == second.read_bytes()


def test_layers_to_layers_is_byte_identical(tmp_path):
    layers = _layers("cnn", tmp_path)
    convert(
        layers,
        tmp_path / "a",
        output_format="tfjs_layers_model",
        weight_shard_size_bytes=999,
    )
    convert(
        layers,
        tmp_path / "b",
        output_format="tfjs_layers_model",
        weight_shard_size_bytes=999,
    )
    files = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert files == sorted(p.name for p in (tmp_path / "b").iterdir())
    for name in files:
        assert (tmp_path / "a" / name).read_bytes() == (
            tmp_path / "b" / name
        ).read_bytes()


# --- layers → layers ---------------------------------------------------------------------------


def test_reshard_and_split(tmp_path, tfjs):
    layers = _layers("cnn", tmp_path)
    out = tmp_path / "out"
    convert(
        layers,
        out,
        output_format="tfjs_layers_model",
        weight_shard_size_bytes=500,
        split_weights_by_layer=True,
    )
    model = json.loads((out / "model.json").read_text())
    assert len(model["weightsManifest"]) > 3
    assert any(len(g["paths"]) > 1 for g in model["weightsManifest"])
    assert all(
        (out / p).stat().st_size <= 500
        for g in model["weightsManifest"]
        for p in g["paths"]
    )
    for group in model["weightsManifest"]:  # one layer per group
        assert len({w["name"].split("/")[0] for w in group["weights"]}) == 1
    assert (
        model["modelTopology"]
        == json.loads((layers / "model.json").read_text())["modelTopology"]
    )
    _predict_ok(tfjs, out, "cnn")


def test_requantize_warns_and_stays_close(tmp_path, tfjs):
    layers = _layers("mlp", tmp_path)
    q8 = tmp_path / "q8"
    convert(layers, q8, output_format="tfjs_layers_model", quantize_uint8=True)
    result = convert(
        q8, tmp_path / "f16", output_format="tfjs_layers_model", quantize_float16=True
    )
    assert any("compound" in w for w in result.warnings)
    _predict_ok(tfjs, tmp_path / "f16", "mlp", tol=TOLERANCE["uint8"])
    plain = convert(q8, tmp_path / "f32", output_format="tfjs_layers_model")
    assert any("dequantized" in w for w in plain.warnings)
    model = json.loads((tmp_path / "f32" / "model.json").read_text())
    assert all(
        "quantization" not in w for g in model["weightsManifest"] for w in g["weights"]
    )


def test_quantized_input_to_h5_warns(tmp_path):
    layers = _layers("mlp", tmp_path)
    q16 = tmp_path / "q16"
    convert(layers, q16, output_format="tfjs_layers_model", quantize_uint16=True)
    result = convert(q16, tmp_path / "m.h5", output_format="keras")
    assert any("dequantized" in w for w in result.warnings)
    with h5py.File(tmp_path / "m.h5", "r") as f:
        assert f["model_weights/dense/dense/kernel:0"].dtype == np.float32


# --- bad input ---------------------------------------------------------------------------------


@pytest.mark.parametrize("key", ["modelTopology", "weightsManifest"])
def test_model_json_missing_key(key, tmp_path):
    layers = _layers("mlp", tmp_path)
    model = json.loads((layers / "model.json").read_text())
    del model[key]
    (layers / "model.json").write_text(json.dumps(model))
    with pytest.raises(ModelFormatError, match=key):
        convert(layers, tmp_path / "m.h5", output_format="keras")
    assert not (tmp_path / "m.h5").exists()


def test_missing_weight_file(tmp_path):
    layers = _layers("mlp", tmp_path)
    for shard in layers.glob("*.bin"):
        shard.unlink()
    with pytest.raises(ConversionError):
        convert(layers, tmp_path / "m.h5", output_format="keras")
    assert not (tmp_path / "m.h5").exists()


def test_weight_missing_from_manifest(tmp_path):
    layers = _layers("mlp", tmp_path)
    model = json.loads((layers / "model.json").read_text())
    dropped = model["weightsManifest"][0][
        "weights"
    ].pop()  # the last bias; the shard is then too long
    (layers / "model.json").write_text(json.dumps(model))
    with pytest.raises(ConversionError) as caught:
        convert(layers, tmp_path / "m.keras", output_format="keras_keras")
    assert "\n" not in str(caught.value)
    assert dropped["name"]


def test_weight_owned_by_no_layer(tmp_path):
    layers = _layers("mlp", tmp_path)
    model = json.loads((layers / "model.json").read_text())
    model["weightsManifest"][0]["weights"][0]["name"] = "ghost/kernel"
    (layers / "model.json").write_text(json.dumps(model))
    with pytest.raises(ModelFormatError, match="ghost/kernel"):
        convert(layers, tmp_path / "m.h5", output_format="keras")


def test_weights_only_model_json_cannot_become_keras(tmp_path):
    out = tmp_path / "w"
    convert(_source("weights_only_legacy"), out)
    model = json.loads((out / "model.json").read_text())
    if model["modelTopology"] is not None:
        pytest.skip("fixture has a topology")
    with pytest.raises(UnsupportedModelError, match="weights-only"):
        convert(out, tmp_path / "m.h5", output_format="keras")
    # ... but it can still be re-sharded
    convert(
        out,
        tmp_path / "resharded",
        output_format="tfjs_layers_model",
        weight_shard_size_bytes=100,
    )
    before = read_layers_model(out, require_topology=False).weights
    after = read_layers_model(tmp_path / "resharded", require_topology=False).weights
    assert [w.name for w in before] == [w.name for w in after]
    assert all(np.array_equal(a.value, b.value) for a, b in zip(before, after))


def test_model_json_path_accepted(tmp_path):
    layers = _layers("mlp", tmp_path)
    shutil.copytree(layers, tmp_path / "copy")
    convert(tmp_path / "copy" / "model.json", tmp_path / "m.h5", output_format="keras")
    assert (tmp_path / "m.h5").is_file()
