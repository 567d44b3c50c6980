"""tf.keras 2 SavedModel (with ``keras_metadata.pb``) → TF.js layers model.

The official converter loads the SavedModel with tf.keras, saves it as a temporary ``.h5`` and
converts that. Here the model config and the weights are read straight from the folder
(:mod:`tfjs_lite.readers.keras_saved_model`) and fed to the tf.keras 2 half of the ``.h5``
pipeline (:func:`tfjs_lite.pipelines.keras_to_layers.keras2_layers_model`: pre-flight, weight
checks, topology), so the output is what converting the model's ``.h5`` gives: same
``modelTopology``, weights named after the variables (``dense/kernel``), layers in the order
h5py lists an ``.h5`` file's ``model_weights`` groups (by name), each layer's weights in
``layer.weights`` order.

A SavedModel without Keras metadata (``tf.saved_model.save`` of a ``tf.Module``/function) has no
layers model in it: it is refused with a one-line error pointing at the graph-model conversion.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

from tfjs_lite.options import ConvertOptions
from tfjs_lite.pipelines.keras_to_layers import Preflight, keras2_layers_model
from tfjs_lite.readers.keras_saved_model import read_keras_saved_model
from tfjs_lite.report import Report
from tfjs_lite.writers.layers_model import write_layers_model
from tfjs_lite.writers.weights import WeightEntry

__all__ = ["read_keras_saved_model_layers", "run"]


def run(input_path: Path, staging_dir: Path, options: ConvertOptions, report: Report) -> None:
    """``keras_saved_model`` → ``tfjs_layers_model`` into ``staging_dir``."""
    topology, entries = read_keras_saved_model_layers(input_path, options, report)
    write_layers_model(Path(staging_dir), topology, entries, options, report)


def read_keras_saved_model_layers(
    input_path: Path, options: ConvertOptions, report: Report, *, preflight: Optional[Preflight] = None,
    plan_names: bool = False,
) -> tuple[dict[str, Any], list[list[WeightEntry]]]:
    """The SavedModel's ``(modelTopology, weight groups)``, checked as the ``.h5`` path checks them."""
    model = read_keras_saved_model(Path(input_path), tags=options.saved_model_tags)
    # h5py lists the layer groups of an .h5 file by name: the .h5 path's (and the official) order.
    layers = sorted(model.layers, key=lambda item: item[0])
    return keras2_layers_model(
        model.model_config,
        layers,
        keras_version=model.keras_version,
        backend=model.backend,
        training_config=model.training_config,
        options=options,
        report=report,
        path=model.path,
        preflight=preflight,
        plan_names=plan_names,
    )
