"""Read a source model as the graph-model converter reads it (for ``verify`` and ``inspect``)."""

from __future__ import annotations

from inspect import signature
from pathlib import Path
from typing import Any

from tfjs_lite import formats

__all__ = ["LAYERS_FORMATS", "NOT_GRAPH", "VERIFY_SOURCES", "load_source_graph"]

# Sources verify can run: TF graphs, and Keras-family models lowered to TF ops as convert lowers them.
VERIFY_SOURCES = formats.graph_source_formats()
LAYERS_FORMATS = formats.layers_source_formats()
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
    """Read the source model as the graph-model converter reads it (the format table's graph loader).

    ``keep_unsupported`` (``inspect``): TFLite operators without a lowering become nodes named
    after the operator instead of an error, so the report can list them.

    Returns:
        ``(graph, input_format)``.

    Keras-family sources are lowered to TF ops exactly as ``convert --output_format
    tfjs_graph_model`` lowers them (before optimization).

    Raises:
        UsageError: A source that is not read as a graph, or a frozen model without output node names.
    """
    from tfjs_lite.detect import detect_input_format
    from tfjs_lite.errors import UsageError
    from tfjs_lite.options import ConvertOptions
    from tfjs_lite.report import Report

    path = Path(path)
    fmt = input_format or detect_input_format(path)
    loader = formats.input_format(fmt).graph_loader if fmt in formats.INPUT_FORMATS else None
    if loader is None:
        if fmt in LAYERS_FORMATS:
            raise UsageError(f"the source {path} is a {fmt} model; {NOT_GRAPH}")
        raise UsageError(f"cannot verify a {fmt} source; give one of: {', '.join(VERIFY_SOURCES)}")
    if fmt == "tf_frozen_model" and not output_node_names:
        raise UsageError('a tf_frozen_model source needs --output_node_names (as for "convert")')
    options = ConvertOptions(input_format=fmt, signature_name=signature_name, saved_model_tags=saved_model_tags,
                             output_node_names=output_node_names)
    read = formats.load_target(loader)
    # Readers that can keep ops without a lowering as named nodes take ``keep_unsupported``.
    extra = {"keep_unsupported": True} if keep_unsupported and "keep_unsupported" in signature(read).parameters else {}
    return read(path, options, Report(), **extra), fmt
