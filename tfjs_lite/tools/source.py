"""Read a source model as the graph-model converter reads it (for ``verify`` and ``inspect``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["GRAPH_SOURCES", "LAYERS_FORMATS", "NOT_GRAPH", "load_source_graph"]

GRAPH_SOURCES = ("tf_saved_model", "tf_hub", "tf_frozen_model", "tflite")
LAYERS_FORMATS = ("keras", "keras_keras", "keras_saved_model", "tfjs_layers_model")
NOT_GRAPH = (
    "verify compares graph models: the numpy reference executor runs TF graphs, not Keras layers; "
    "layers models are verified in TF.js by the test-suite"
)


def load_source_graph(
    path: Path,
    *,
    input_format: str | None = None,
    signature_name: str | None = None,
    saved_model_tags: str = "serve",
    output_node_names: str | None = None,
    keep_unsupported: bool = False,
) -> tuple[Any, str]:
    """Read the source model as the graph-model converter reads it.

    ``keep_unsupported`` (``inspect``): TFLite operators without a lowering become nodes named
    after the operator instead of an error, so the report can list them.

    Returns:
        ``(graph, input_format)``.

    Raises:
        UsageError: A Keras / layers source, or a frozen model without output node names.
    """
    from tfjs_lite.detect import detect_input_format
    from tfjs_lite.errors import UsageError
    from tfjs_lite.readers.saved_model import load_frozen_graph, load_saved_model

    path = Path(path)
    fmt = input_format or detect_input_format(path)
    if fmt in LAYERS_FORMATS:
        raise UsageError(f"the source {path} is a {fmt} model; {NOT_GRAPH}")
    if fmt not in GRAPH_SOURCES:
        raise UsageError(f"cannot verify a {fmt} source; give a SavedModel, TF-Hub folder, frozen .pb or .tflite")
    if fmt == "tflite":  # lowered to float32 TF ops, as the converter does
        from tfjs_lite.readers.tflite import load_tflite_graph

        return load_tflite_graph(path, signature_name, keep_unsupported=keep_unsupported), fmt
    if fmt == "tf_frozen_model":
        if not output_node_names:
            raise UsageError('a tf_frozen_model source needs --output_node_names (as for "convert")')
        return load_frozen_graph(path, output_node_names), fmt
    if fmt == "tf_hub":  # TF2 (a SavedModel) or TF1 (tfhub_module.pb) module folder
        from tfjs_lite.readers.tf_hub import load_hub_module

        return load_hub_module(path, tags=saved_model_tags, signature_name=signature_name), fmt
    graph = load_saved_model(path, tags=saved_model_tags, signature_name=signature_name)
    return graph, fmt
