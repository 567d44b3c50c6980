"""Every layer option in fixtures/layer_options: tfjs-layers 4.22 computes it like Keras, or we refuse it.

One tiny tf_keras model per option (``fixtures/generate_layer_options.py``, Keras's outputs
recorded). Without ``--force`` each either converts and matches Keras in real TF.js 4.22, or is
refused before anything is written, naming the layer, the option and the way out (graph model).
With ``--force`` every refused case really does go wrong in TF.js (a load/run error or a
different result), so no refusal is stricter than needed.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tfjs_node import TOLERANCE, TfjsError, compare, compare_stats, load_tensors

from tfjs_lite.conversion import convert
from tfjs_lite.errors import UnsupportedLayerError
from tfjs_lite.keras.ranks import input_ranks

CASES_DIR = Path(__file__).resolve().parents[2] / "fixtures" / "layer_options"
CASES = sorted(d.name for d in CASES_DIR.iterdir() if (d / "case.json").is_file())
# The options tfjs-layers 4.22 gets wrong (found by running every case with --force).
REFUSED = {
    "batch_normalization_axis1", "center_crop", "conv1d_causal", "conv2d_transpose_dilation",
    "conv2d_transpose_output_padding", "depthwise_conv2d_dilation", "elu_alpha",
    "global_average_pooling1d_channels_first", "global_max_pooling1d_channels_first",
    "relu_negative_slope", "relu_threshold", "resizing_bicubic",
    "resizing_bilinear", "resizing_crop_to_aspect_ratio", "resizing_nearest", "softmax_axis1",
    "upsampling2d_bicubic", "upsampling2d_bilinear", "normalization_invert",
}


def _source(case: str) -> Path:
    return CASES_DIR / case / json.loads((CASES_DIR / case / "case.json").read_text())["file"]


def _differs_in_tfjs(tfjs, out: Path, case: str) -> bool:
    try:
        got = tfjs.predict_layers(out, load_tensors(CASES_DIR / case / "inputs.json"))
    except TfjsError:
        return True
    expected = load_tensors(CASES_DIR / case / "expected.json")
    if got["y"].shape != expected["y"].shape:
        return True
    return compare_stats(got, expected)["y"]["rel"] > TOLERANCE["float32"]


# Translated instead of refused: the output runs in TF.js like Keras (tfjs_lite/keras/keepdims.py).
TRANSLATED = {"global_average_pooling1d_keepdims", "global_average_pooling2d_keepdims",
              "global_max_pooling2d_keepdims"}


def test_the_refused_list_names_real_cases():
    assert REFUSED <= set(CASES) and len(CASES) > 2 * len(REFUSED)


@pytest.mark.parametrize("case", CASES)
def test_option_matches_keras_or_is_refused(case, tmp_path, tfjs):
    out = tmp_path / "out"
    layer = json.loads((CASES_DIR / case / "case.json").read_text())["layer"]
    if case in REFUSED:
        with pytest.raises(UnsupportedLayerError) as info:
            convert(_source(case), out)
        message = str(info.value)
        assert f"{layer} (" in message and "--output_format tfjs_graph_model" in message
        assert not out.exists()
        convert(_source(case), out, force=True)
        assert _differs_in_tfjs(tfjs, out, case), f"{case}: tfjs-layers computes it right; stop refusing it"
    else:
        convert(_source(case), out)
        if case in TRANSLATED:  # tfjs-layers alone gets it wrong: the rewrite is what makes it right
            classes = [layer["class_name"] for layer in json.loads((out / "model.json").read_text())[
                "modelTopology"]["model_config"]["config"]["layers"]]
            assert classes[-3:-1] == [json.loads((CASES_DIR / case / "case.json").read_text())["class"],
                                      "Reshape"]
        got = tfjs.predict_layers(out, load_tensors(CASES_DIR / case / "inputs.json"))
        compare(got, load_tensors(CASES_DIR / case / "expected.json"), rtol=TOLERANCE["float32"])


def test_input_ranks_follow_the_layers():
    def layer(name, cls, inbound=None, **config):
        entry = {"class_name": cls, "name": name, "config": {"name": name, **config}}
        if inbound:
            entry["inbound_nodes"] = [[[inbound, 0, 0, {}]]]
        return entry

    model = {"class_name": "Functional", "config": {"layers": [
        layer("x", "InputLayer", batch_input_shape=[None, 8, 8, 3]),
        layer("bn_image", "BatchNormalization", "x", axis=[3]),
        layer("pool", "GlobalAveragePooling2D", "bn_image"),
        layer("bn_vector", "BatchNormalization", "pool", axis=[1]),
        layer("seq", "Reshape", "bn_vector", target_shape=[3, 1]),
        layer("lstm", "LSTM", "seq", return_sequences=True),
        layer("after_lstm", "Dense", "lstm"),
        layer("nested", "Functional", "after_lstm"),
        layer("after_nested", "Dense", "nested"),
    ]}}
    assert input_ranks(model) == {"x": 4, "bn_image": 4, "pool": 4, "bn_vector": 2, "seq": 2,
                                  "lstm": 3, "after_lstm": 3, "nested": 3, "after_nested": None}
    sequential = {"class_name": "Sequential", "config": {"layers": [
        layer("d", "Dense", batch_input_shape=[None, 4, 5]), layer("bn", "BatchNormalization")]}}
    assert input_ranks(sequential) == {"d": 3, "bn": 3}
