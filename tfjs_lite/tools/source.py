"""Read a source model as the graph-model converter reads it (for ``verify`` and ``inspect``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["GRAPH_SOURCES", "LAYERS_FORMATS", "NOT_GRAPH", "VERIFY_SOURCES", "load_source_graph"]

GRAPH_SOURCES = ("tf_saved_model", "tf_hub", "tf_frozen_model")
LAYERS_FORMATS = ("keras", "keras_keras", "keras_saved_model", "tfjs_layers_model")
# Sources verify can run: TF graphs, and Keras-family models lowered to TF ops as convert lowers them.
VERIFY_SOURCES = GRAPH_SOURCES + LAYERS_FORMATS
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
) -> tuple[Any, str]:
    """Read the source model as the graph-model converter reads it.

    Returns:
        ``(graph, input_format)``.

    Keras-family sources are lowered to TF ops exactly as ``convert --output_format
    tfjs_graph_model`` lowers them (before optimization).

    Raises:
        UsageError: A frozen model without output node names, or an unknown format.
    """
    from tfjs_lite.detect import detect_input_format
    from tfjs_lite.errors import UsageError
    from tfjs_lite.readers.saved_model import load_frozen_graph, load_saved_model

    path = Path(path)
    fmt = input_format or detect_input_format(path)
    if fmt in LAYERS_FORMATS:
        from tfjs_lite.options import ConvertOptions
        from tfjs_lite.pipelines.keras_to_graph import lower_input
        from tfjs_lite.report import Report

        return lower_input(fmt, path, ConvertOptions(), Report()), fmt
    if fmt not in GRAPH_SOURCES:
        raise UsageError(f"cannot verify a {fmt} source; give a SavedModel, TF-Hub folder or frozen .pb")
    if fmt == "tf_frozen_model":
        if not output_node_names:
            raise UsageError('a tf_frozen_model source needs --output_node_names (as for "convert")')
        return load_frozen_graph(path, output_node_names), fmt
    if fmt == "tf_hub":  # TF2 (a SavedModel) or TF1 (tfhub_module.pb) module folder
        from tfjs_lite.readers.tf_hub import load_hub_module

        return load_hub_module(path, tags=saved_model_tags, signature_name=signature_name), fmt
    graph = load_saved_model(path, tags=saved_model_tags, signature_name=signature_name)
    return graph, fmt
