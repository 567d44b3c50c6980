"""Keras ``.h5``/``.keras``, Keras SavedModel and TF.js layers models → TF.js graph model, without TF.

The official converter traces the Keras model with TensorFlow. Here the model is read exactly as
the layers path reads it (same readers, same validation, same Keras 3 → Keras 2 config
translation, same weight checks: hostile files meet the same refusals), then every layer call is
lowered to TF ops (:mod:`tfjs_lite.keras.lowering`) and the graph goes through the optimizer,
the op check and the graph-model writer like any SavedModel
(:func:`tfjs_lite.pipelines.saved_model_to_graph.convert_graph`).

Instead of the tfjs-layers pre-flight, the check is whether every layer has a lowering: Lambda
layers and custom classes are refused by name, all of them in one message.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, Optional, Sequence

import numpy as np

from tfjs_lite.errors import UnsupportedModelError
from tfjs_lite.ir import Graph
from tfjs_lite.keras.config import NON_TENSOR_ARGS, OP_CLASS_PREFIX, TENSOR_ARGUMENT, is_keras3
from tfjs_lite.keras.lowering import lower_keras_model, lowering_issues
from tfjs_lite.keras.preflight import LayerIssue, check_layer_shapes, refusal
from tfjs_lite.options import ConvertOptions
from tfjs_lite.pipelines.keras_saved_model_to_layers import read_keras_saved_model_layers
from tfjs_lite.pipelines.keras_to_layers import read_keras_file
from tfjs_lite.pipelines.saved_model_to_graph import graph_pipeline
from tfjs_lite.readers.tfjs_layers import read_layers_model
from tfjs_lite.report import Report
from tfjs_lite.writers.weights import WeightEntry

__all__ = ["lower_input", "read_keras", "read_keras_saved_model", "read_tfjs_layers_model", "run", "run_layers_model",
           "run_saved_model"]


def _graph_preflight(
    config: Mapping[str, Any], issues: list[LayerIssue], options: ConvertOptions, report: Report
) -> set[str]:
    """Refuse layers that cannot be lowered (and configs the translation could not express)."""
    check_layer_shapes(config)
    # keras.ops calls take constants and layers take tensor keyword arguments (Keras 3's explicit
    # masks): the lowering reads both, tfjs-layers cannot.
    issues = [i for i in issues if not (i.class_name.startswith(OP_CLASS_PREFIX) and i.problem == NON_TENSOR_ARGS)
              and not i.problem.startswith(TENSOR_ARGUMENT)]
    issues = issues + lowering_issues(config)
    if issues:
        raise refusal(issues, graph=True)
    return set()


def _weights(groups: Sequence[Sequence[WeightEntry]]) -> dict[str, np.ndarray]:
    weights: dict[str, np.ndarray] = {}
    for group in groups:
        for entry in group:
            data = entry.data() if callable(entry.data) else entry.data
            weights[entry.name] = np.asarray(data)
    return weights


def _lower(topology: Optional[Mapping[str, Any]], weights: Mapping[str, Any], path: Path) -> Graph:
    if topology is None:
        raise UnsupportedModelError(
            "the file holds weights only, without a model config: there is no model to convert to a graph",
            path=path,
        )
    graph, emitted = lower_keras_model(topology["model_config"], weights,
                                       keras3=is_keras3(topology.get("keras_version")))
    graph.meta["keras_lowering"] = emitted
    return graph


def lower_input(input_format: str, input_path: Path, options: ConvertOptions, report: Report) -> Graph:
    """The lowered (not yet optimized) graph of a Keras-family input; used by ``verify``/``inspect`` too."""
    input_path = Path(input_path)
    if input_format == "keras_saved_model":
        saved, groups = read_keras_saved_model_layers(input_path, options, report, preflight=_graph_preflight,
                                                      plan_names=True)
        return _lower(saved, _weights(groups), input_path)
    if input_format == "tfjs_layers_model":
        model = read_layers_model(input_path, require_topology=False)
        layers_topology: Optional[dict[str, Any]] = None
        if model.model_config is not None:
            layers_topology = {"model_config": model.model_config, "keras_version": model.keras_version}
            _graph_preflight(model.model_config, [], options, report)
        return _lower(layers_topology, {w.name: w.value for w in model.weights}, input_path)
    with read_keras_file(input_path, options, report, preflight=_graph_preflight, plan_names=True) as (topology, groups):
        return _lower(topology, _weights(groups), input_path)


def read_keras(input_path: Path, options: ConvertOptions, report: Report) -> Graph:
    """A ``keras`` (``.h5``) or ``keras_keras`` (``.keras``) model lowered to TF ops."""
    return lower_input("keras", input_path, options, report)


def read_keras_saved_model(input_path: Path, options: ConvertOptions, report: Report) -> Graph:
    """A ``keras_saved_model`` folder lowered to TF ops."""
    return lower_input("keras_saved_model", input_path, options, report)


def read_tfjs_layers_model(input_path: Path, options: ConvertOptions, report: Report) -> Graph:
    """A ``tfjs_layers_model`` lowered to TF ops."""
    return lower_input("tfjs_layers_model", input_path, options, report)


run = graph_pipeline(read_keras)
run_saved_model = graph_pipeline(read_keras_saved_model)
run_layers_model = graph_pipeline(read_tfjs_layers_model)
