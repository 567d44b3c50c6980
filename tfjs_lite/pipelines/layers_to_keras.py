"""tfjs_layers_model → Keras: a Keras 2 HDF5 full model (``keras``) or a Keras 3 ``.keras`` zip (``keras_keras``).

The official converter builds the model with tf_keras and lets Keras save it. tfjs-lite writes the
files directly: the topology is the ``model_config`` of ``model.json`` and each weight is given to
the layer that owns it by name (docs/formats.md §2). Quantized weights are dequantized.
"""

from __future__ import annotations

from pathlib import Path

from tfjs_lite.keras.compat import keras3_compatible_config
from tfjs_lite.keras.manifest_weights import assign_weights
from tfjs_lite.keras.preflight import check_layer_shapes
from tfjs_lite.options import ConvertOptions
from tfjs_lite.readers.tfjs_layers import LayersModel, read_layers_model
from tfjs_lite.report import Report
from tfjs_lite.writers.keras_h5 import keras2_version, write_keras_h5

__all__ = ["run_h5", "run_keras_archive"]


def _read(input_path: Path, options: ConvertOptions, report: Report) -> LayersModel:
    if options.quantization.active:
        report.warn(
            "--quantize_* flags do not apply to Keras outputs; they are ignored"
        )
    model = read_layers_model(input_path)
    if model.model_config is not None:
        check_layer_shapes(model.model_config)  # Keras would refuse such a config at load
    if model.quantized:
        kinds = sorted({w.quantization for w in model.weights if w.quantization})
        report.warn(
            f"the input's weights are quantized ({', '.join(kinds)}); the Keras model gets the dequantized "
            "values, which differ from the original model's by the quantization error"
        )
    return model


def run_h5(
    input_path: Path, staging: Path, options: ConvertOptions, report: Report
) -> None:
    """Write ``staging`` (a file) as a Keras 2 HDF5 model that tf_keras 2.x and Keras 3 load."""
    model = _read(input_path, options, report)
    assert model.model_config is not None
    config, problems = keras3_compatible_config(model.model_config)
    for problem in problems:
        report.warn(
            f"{problem}; tf_keras 2.x loads the .h5, for Keras 3 use --output_format keras_keras"
        )
    layers = assign_weights(config, [(w.name, w.value) for w in model.weights])
    write_keras_h5(
        staging, config, layers, keras_version=keras2_version(model.keras_version)
    )


def run_keras_archive(
    input_path: Path, staging: Path, options: ConvertOptions, report: Report
) -> None:
    """Write ``staging`` (a file) as a Keras 3 ``.keras`` archive."""
    from tfjs_lite.writers.keras_archive import write_keras_archive

    model = _read(input_path, options, report)
    assert model.model_config is not None
    layers = assign_weights(
        model.model_config, [(w.name, w.value) for w in model.weights]
    )
    write_keras_archive(staging, model.model_config, layers, report=report)
