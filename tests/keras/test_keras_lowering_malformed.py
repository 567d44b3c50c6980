"""Keras configs the validators let through but no lowering can apply: one-line input errors.

Found by fuzzing the configs of real fixtures (JSON subtrees replaced, as tests/hostile does with
more examples than CI affords); each class gets its own case here so CI keeps it fixed.
"""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path
from typing import Any, Callable

import h5py
import pytest

from tfjs_lite.conversion import convert
from tfjs_lite.errors import ConversionError

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
SIAMESE = FIXTURES / "keras" / "siamese_subtract" / "model.h5"
TF_FUNCTIONS = FIXTURES / "keras_graph" / "tfk_tf_functions" / "model.h5"


def _layer(config: dict, class_name: str) -> dict:
    return next(layer for layer in config["config"]["layers"] if layer["class_name"] == class_name)


def _set_unread_option_nan(config: dict) -> None:
    # an option no validator reads (only JSON and TF.js would choke on it)
    _layer(config, "Dense")["config"]["kernel_initializer"]["config"]["seed"] = math.inf


def _function_is_a_list(config: dict) -> None:
    _layer(config, "TFOpLambda")["config"]["function"] = ["math.add"]


def _empty_input_ref(config: dict) -> None:
    config["config"]["input_layers"][0] = []


def _output_index_out_of_range(config: dict) -> None:
    config["config"]["output_layers"][0][2] = 7


def _input_ref_index_out_of_range(config: dict) -> None:
    concat = _layer(config, "Concatenate")
    concat["inbound_nodes"][0][0][2] = 5


def _dense_on_a_scalar_shape(config: dict) -> None:
    # the input layer declares a rank-1 (batch-only) input: the encoder Dense has no feature axis
    for layer in config["config"]["layers"]:
        if layer["class_name"] == "InputLayer":
            layer["config"]["batch_input_shape"] = []


CASES: list[tuple[str, Path, Callable[[dict], None], tuple[str, ...]]] = [
    ("non_finite_option", SIAMESE, _set_unread_option_nan, ("tfjs_layers_model",)),
    ("tf_function_not_a_string", TF_FUNCTIONS, _function_is_a_list, ("tfjs_layers_model", "tfjs_graph_model")),
    ("empty_input_reference", SIAMESE, _empty_input_ref, ("tfjs_graph_model",)),
    ("output_index_out_of_range", SIAMESE, _output_index_out_of_range, ("tfjs_graph_model",)),
    ("input_index_out_of_range", SIAMESE, _input_ref_index_out_of_range, ("tfjs_graph_model",)),
    ("dense_without_feature_axis", SIAMESE, _dense_on_a_scalar_shape, ("tfjs_graph_model",)),
]


@pytest.mark.parametrize(("case", "source", "edit", "formats"), CASES, ids=[c[0] for c in CASES])
def test_malformed_config_is_a_one_line_input_error(case: str, source: Path, edit: Callable[[dict], None],
                                                    formats: tuple[str, ...], tmp_path: Path) -> None:
    model = tmp_path / "model.h5"
    shutil.copyfile(source, model)
    with h5py.File(model, "r+") as f:
        config: Any = json.loads(f.attrs["model_config"])
        edit(config)
        f.attrs["model_config"] = json.dumps(config)
    for fmt in formats:
        with pytest.raises(ConversionError) as info:
            convert(model, tmp_path / fmt, output_format=fmt)
        assert "\n" not in str(info.value) and not (tmp_path / fmt).exists(), str(info.value)
