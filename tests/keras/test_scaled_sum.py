"""Scaled sums tfjs-layers lacks (CustomScaleLayer, Subtract): Rescaling + Add on the layers path.

The end-to-end proof (TF.js against Keras, both paths, both Keras versions) is the fixture pairs
``inception_resnet_block`` / ``k3_inception_resnet_block`` and ``siamese_subtract`` /
``k3_siamese_subtract`` in the generic Keras tests; these are the rewrite's own rules, and the
cases where it must not fire or must refuse.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from tfjs_lite.conversion import convert
from tfjs_lite.errors import ConversionError, UnsupportedLayerError
from tfjs_lite.keras.preflight import check_model
from tfjs_lite.keras.scaled_sum import expand_scaled_sums, untranslatable_reason

CASE = Path(__file__).resolve().parents[2] / "fixtures" / "keras" / "inception_resnet_block"


def _model(scale=0.17, class_name="CustomScaleLayer"):
    return {"class_name": "Functional", "config": {"name": "m", "layers": [
        {"class_name": "InputLayer", "name": "x", "config": {"name": "x", "batch_input_shape": [None, 4]},
         "inbound_nodes": []},
        {"class_name": "Dense", "name": "r", "config": {"name": "r", "units": 4}, "inbound_nodes": [[["x", 0, 0, {}]]]},
        {"class_name": class_name, "name": "join", "config": {"name": "join", "scale": scale},
         "inbound_nodes": [[["x", 0, 0, {}], ["r", 0, 0, {}]]]},
        {"class_name": "Dense", "name": "out", "config": {"name": "out", "units": 2},
         "inbound_nodes": [[["join", 0, 0, {}]]]},
    ], "input_layers": [["x", 0, 0]], "output_layers": [["out", 0, 0]]}}


def test_split_keeps_the_name_for_consumers_and_scales_the_second_input():
    layers = expand_scaled_sums(_model())["config"]["layers"]
    by_name = {layer["name"]: layer for layer in layers}
    assert [layer["name"] for layer in layers] == ["x", "r", "join/scale", "join", "out"]
    assert by_name["join/scale"]["class_name"] == "Rescaling"
    assert by_name["join/scale"]["config"]["scale"] == pytest.approx(0.17)
    assert by_name["join/scale"]["inbound_nodes"] == [[["r", 0, 0, {}]]]
    assert by_name["join"]["class_name"] == "Add"
    assert by_name["join"]["inbound_nodes"] == [[["x", 0, 0, {}], ["join/scale", 0, 0, {}]]]
    assert by_name["out"]["inbound_nodes"] == [[["join", 0, 0, {}]]]


def test_other_layers_and_the_input_config_are_untouched():
    model = _model(class_name="Add")
    assert expand_scaled_sums(model) == model
    original = _model()
    expand_scaled_sums(original)
    assert original == _model()


@pytest.mark.parametrize("scale", [None, "0.1", True, math.inf, math.nan, [0.1]])
def test_a_scale_that_is_not_a_finite_number_is_refused_by_the_preflight(scale):
    assert untranslatable_reason("CustomScaleLayer", {"scale": scale})
    issues = check_model(_model(scale=scale), keras3=False)
    assert [(i.layer, i.class_name) for i in issues] == [("join", "CustomScaleLayer")]


def test_layers_output_has_no_custom_class_and_graph_output_no_custom_op(tmp_path):
    convert(CASE / "model.h5", tmp_path / "layers")
    topology = json.loads((tmp_path / "layers" / "model.json").read_text())["modelTopology"]
    classes = {layer["class_name"] for layer in topology["model_config"]["config"]["layers"]}
    assert "Rescaling" in classes and not any("Scale" in c and c != "Rescaling" for c in classes)
    convert(CASE / "model.h5", tmp_path / "graph", output_format="tfjs_graph_model")
    ops = {node["op"] for node in json.loads((tmp_path / "graph" / "model.json").read_text())["modelTopology"]["node"]}
    assert "CustomScaleLayer" not in ops


def test_bad_scale_in_a_real_file_is_one_line_and_writes_nothing(tmp_path):
    import h5py

    source = tmp_path / "model.h5"
    source.write_bytes((CASE / "model.h5").read_bytes())
    with h5py.File(source, "r+") as f:
        config = json.loads(f.attrs["model_config"])
        for layer in config["config"]["layers"]:
            if layer["class_name"].endswith("CustomScaleLayer"):
                layer["config"]["scale"] = "big"
        f.attrs["model_config"] = json.dumps(config)
    for fmt in ("tfjs_layers_model", "tfjs_graph_model"):
        with pytest.raises(ConversionError) as info:
            convert(source, tmp_path / fmt, output_format=fmt)
        assert "scale='big'" in str(info.value) and "\n" not in str(info.value)
        assert not (tmp_path / fmt).exists()
    with pytest.raises(UnsupportedLayerError):
        convert(source, tmp_path / "again")


def test_subtract_becomes_add_of_the_negated_second_input():
    layers = expand_scaled_sums(_model(scale=None, class_name="Subtract"))["config"]["layers"]
    by_name = {layer["name"]: layer for layer in layers}
    assert by_name["join/scale"]["class_name"] == "Rescaling"
    assert by_name["join/scale"]["config"]["scale"] == -1.0 and by_name["join/scale"]["config"]["offset"] == 0.0
    assert by_name["join"]["class_name"] == "Add"
    assert untranslatable_reason("Subtract", {}) is None  # Subtract has no option that matters
    assert check_model(_model(scale=None, class_name="Subtract"), keras3=False) == []


def test_subtract_layers_output_runs_without_a_subtract_class(tmp_path, tfjs):
    """Written for tfjs-layers, the Siamese fixture has no Subtract and still matches Keras."""
    from tfjs_node import TOLERANCE, compare, load_tensors

    for case, source in (("siamese_subtract", "model.h5"), ("k3_siamese_subtract", "model.keras")):
        folder = CASE.parent / case
        convert(folder / source, tmp_path / case)
        topology = json.loads((tmp_path / case / "model.json").read_text())["modelTopology"]
        classes = [layer["class_name"] for layer in topology["model_config"]["config"]["layers"]]
        assert "Subtract" not in classes and classes.count("Rescaling") == 1
        got = tfjs.predict_layers(tmp_path / case, load_tensors(folder / "inputs.json"))
        compare(got, load_tensors(folder / "expected.json"), rtol=TOLERANCE["float32"])


def test_a_call_on_other_than_two_tensors_is_refused_not_dropped():
    from tfjs_lite.errors import ModelFormatError

    model = _model()
    model["config"]["layers"][2]["inbound_nodes"] = [[["x", 0, 0, {}], ["r", 0, 0, {}], ["r", 0, 0, {}]]]
    with pytest.raises(ModelFormatError, match="takes 2 inputs"):
        expand_scaled_sums(model)
