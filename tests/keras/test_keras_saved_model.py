"""tf.keras SavedModel (keras_metadata.pb) → TF.js layers model, proven in real TF.js 4.22.

Fixtures: fixtures/keras_saved_model/<case>/ (fixtures/generate_keras_saved_model.py). Where the
case also keeps the model as ``model.h5``, the two conversions must give the same bytes.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from tfjs_node import TOLERANCE, compare, load_tensors

from tfjs_lite._proto.saved_metadata_pb2 import SavedMetadata
from tfjs_lite.conversion import convert
from tfjs_lite.errors import ModelFormatError, UnsupportedModelError
from tfjs_lite.readers.keras_saved_model import h5_form, read_keras_saved_model

REPO = Path(__file__).resolve().parents[2]
CASES_DIR = REPO / "fixtures" / "keras_saved_model"
LAYERS = {"input_format": "keras_saved_model", "output_format": "tfjs_layers_model"}


def _info(case: str) -> dict:
    return json.loads((CASES_DIR / case / "case.json").read_text())


def _cases(expect: str, *, with_h5: bool = False) -> list[str]:
    return [
        p.parent.name
        for p in sorted(CASES_DIR.glob("*/case.json"))
        if _info(p.parent.name)["expect"] == expect and (not with_h5 or _info(p.parent.name)["h5"])
    ]


def _saved_model(case: str) -> Path:
    return CASES_DIR / case / _info(case)["dir"]


def _manifest(out: Path) -> list[tuple[str, list[int]]]:
    model = json.loads((out / "model.json").read_text())
    return [(w["name"], w["shape"]) for group in model["weightsManifest"] for w in group["weights"]]


def _files(out: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(out.iterdir())}


def test_fixture_cases_exist():
    assert _cases("convert") == ["cnn_bn", "lstm", "mlp"]
    assert _cases("refuse") == ["no_metadata"]


@pytest.mark.parametrize("case", _cases("convert"))
def test_converted_model_matches_tf_keras_in_tfjs(case, tmp_path, tfjs):
    result = convert(_saved_model(case), tmp_path / "out", **LAYERS)
    assert result.warnings == []
    assert result.input_format == "keras_saved_model"
    outputs = tfjs.predict_layers(tmp_path / "out", load_tensors(CASES_DIR / case / "inputs.json"))
    assert list(outputs) == _info(case)["outputs"]
    compare(outputs, load_tensors(CASES_DIR / case / "expected.json"), rtol=TOLERANCE["float32"])


@pytest.mark.parametrize("case", _cases("convert", with_h5=True))
def test_same_bytes_as_the_h5_of_the_same_model(case, tmp_path):
    convert(_saved_model(case), tmp_path / "sm", **LAYERS)
    convert(CASES_DIR / case / "model.h5", tmp_path / "h5")
    assert _files(tmp_path / "sm") == _files(tmp_path / "h5")


def test_weight_names_and_order(tmp_path):
    convert(_saved_model("cnn_bn"), tmp_path / "cnn", **LAYERS)
    # Layers by name (h5py's order of an .h5 file's model_weights), weights in layer.weights order.
    assert _manifest(tmp_path / "cnn") == [
        ("bn/gamma", [4]), ("bn/beta", [4]), ("bn/moving_mean", [4]), ("bn/moving_variance", [4]),
        ("conv/kernel", [3, 3, 2, 4]), ("conv_2/kernel", [3, 3, 4, 4]), ("conv_2/bias", [4]),
        ("logits/kernel", [4, 3]), ("logits/bias", [3]),
    ]  # fmt: skip
    convert(_saved_model("lstm"), tmp_path / "lstm", **LAYERS)
    assert _manifest(tmp_path / "lstm") == [
        ("lstm/lstm_cell/kernel", [3, 16]), ("lstm/lstm_cell/recurrent_kernel", [4, 16]),
        ("lstm/lstm_cell/bias", [16]), ("out/kernel", [4, 2]), ("out/bias", [2]),
    ]  # fmt: skip


def test_topology_is_the_h5_form_of_the_config(tmp_path):
    convert(_saved_model("mlp"), tmp_path / "out", **LAYERS)
    topology = json.loads((tmp_path / "out" / "model.json").read_text())["modelTopology"]
    assert list(topology) == ["keras_version", "backend", "model_config", "training_config"]
    text = json.dumps(topology)
    assert "__tuple__" not in text and "shared_object_id" not in text
    dense = topology["model_config"]["config"]["layers"][1]["config"]
    assert dense["kernel_initializer"] == {
        "module": "keras.initializers", "class_name": "GlorotUniform", "config": {"seed": None}, "registered_name": None,
    }  # fmt: skip
    assert topology["model_config"]["config"]["layers"][0]["config"]["batch_input_shape"] == [None, 6]


def test_h5_form_keeps_legacy_objects_for_old_keras():
    legacy = {"kernel_initializer": {"class_name": "Zeros", "config": {}, "shared_object_id": 3}}
    assert h5_form(legacy, "2.12.0") == {"kernel_initializer": {"class_name": "Zeros", "config": {}}}
    assert h5_form(legacy, "2.15.0")["kernel_initializer"]["module"] == "keras.initializers"


@pytest.mark.parametrize("case", _cases("convert"))
def test_reader_finds_every_layer_with_weights(case):
    model = read_keras_saved_model(_saved_model(case))
    config_layers = [layer["config"]["name"] for layer in model.model_config["config"]["layers"]]
    names = [name for name, _ in model.layers]
    assert set(names) <= set(config_layers)
    assert all(w.name.startswith(name + "/") for name, weights in model.layers for w in weights)


def test_a_saved_model_folder_is_detected_as_keras_for_layers_output(tmp_path):
    result = convert(_saved_model("mlp"), tmp_path / "layers", output_format="tfjs_layers_model")
    assert result.input_format == "keras_saved_model"
    assert json.loads((tmp_path / "layers" / "model.json").read_text())["format"] == "layers-model"


def test_quantized_uint8_within_tolerance(tmp_path, tfjs):
    convert(_saved_model("cnn_bn"), tmp_path / "out", quantize_uint8=True, **LAYERS)
    outputs = tfjs.predict_layers(tmp_path / "out", load_tensors(CASES_DIR / "cnn_bn" / "inputs.json"))
    compare(outputs, load_tensors(CASES_DIR / "cnn_bn" / "expected.json"), rtol=TOLERANCE["uint8"])


# --- refusals ----------------------------------------------------------------------------------


def test_no_metadata_is_refused_with_a_clear_error(tmp_path):
    with pytest.raises(UnsupportedModelError, match="no keras_metadata.pb.*graph model"):
        convert(_saved_model("no_metadata"), tmp_path / "out", **LAYERS)
    with pytest.raises(UnsupportedModelError, match="no keras_metadata.pb"):
        convert(_saved_model("no_metadata"), tmp_path / "out", output_format="tfjs_layers_model")
    assert not (tmp_path / "out").exists()


def test_no_metadata_cli_one_line_exit_2(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "tfjs_lite", "convert", "--input_format", "keras_saved_model",
         "--output_format", "tfjs_layers_model", str(_saved_model("no_metadata")), str(tmp_path / "out")],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "keras_metadata.pb" in lines[0], done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "out").exists()


def test_no_metadata_still_converts_as_a_graph_model(tmp_path):
    result = convert(_saved_model("no_metadata"), tmp_path / "out")
    assert result.input_format == "tf_saved_model" and result.output_format == "tfjs_graph_model"


def _with_root_metadata(tmp_path: Path, edit) -> Path:  # noqa: ANN001
    folder = tmp_path / "saved_model"
    shutil.copytree(_saved_model("mlp"), folder)
    proto = SavedMetadata()
    proto.ParseFromString((folder / "keras_metadata.pb").read_bytes())
    root = next(node for node in proto.nodes if node.node_path == "root")
    root.metadata = json.dumps(edit(json.loads(root.metadata)))
    (folder / "keras_metadata.pb").write_bytes(proto.SerializeToString())
    return folder


def test_subclassed_model_without_config_is_refused(tmp_path):
    def subclassed(meta: dict) -> dict:
        meta.update(class_name="MyModel", config=None)
        del meta["model_config"]
        return meta

    folder = _with_root_metadata(tmp_path, subclassed)
    with pytest.raises(UnsupportedModelError, match="subclassed"):
        convert(folder, tmp_path / "out", **LAYERS)


def test_metadata_without_model_config_falls_back_to_class_name_and_config(tmp_path):
    def old_keras(meta: dict) -> dict:
        del meta["model_config"]
        return meta

    folder = _with_root_metadata(tmp_path, old_keras)
    convert(folder, tmp_path / "old", **LAYERS)
    convert(_saved_model("mlp"), tmp_path / "new", **LAYERS)
    assert _files(tmp_path / "old") == _files(tmp_path / "new")


def test_damaged_metadata_is_a_format_error(tmp_path):
    folder = tmp_path / "saved_model"
    shutil.copytree(_saved_model("mlp"), folder)
    (folder / "keras_metadata.pb").write_bytes(b"\xff\xff\xff garbage")
    with pytest.raises(ModelFormatError, match="keras_metadata.pb"):
        convert(folder, tmp_path / "out", **LAYERS)


def test_missing_variable_is_a_format_error(tmp_path):
    folder = tmp_path / "saved_model"
    shutil.copytree(_saved_model("lstm"), folder)
    shutil.rmtree(folder / "variables")
    with pytest.raises(ModelFormatError):
        convert(folder, tmp_path / "out", **LAYERS)
