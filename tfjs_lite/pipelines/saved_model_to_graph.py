"""SavedModel / TF-Hub folder / frozen GraphDef -> TF.js graph model.

Read (inline, freeze, prune: :mod:`tfjs_lite.readers.saved_model`) -> optimize
(:func:`tfjs_lite.optimizer.optimize`, function bodies included)
-> op check (:mod:`tfjs_lite.op_support`) -> write (:mod:`tfjs_lite.writers.graph_model`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from tfjs_lite.ir.checks import validate_input_graph
from tfjs_lite.ir.graph import Graph
from tfjs_lite.op_support import find_unsupported, validate
from tfjs_lite.options import ConvertOptions
from tfjs_lite.readers.saved_model import load_frozen_graph, load_saved_model
from tfjs_lite.readers.tf_hub import load_hub_module
from tfjs_lite.report import Report
from tfjs_lite.shape_check import check_static_shapes
from tfjs_lite.writers.graph_model import write_graph_model

__all__ = ["GraphReader", "convert_graph", "graph_pipeline", "read_frozen", "read_hub", "read_saved_model", "run", "run_frozen",
           "run_hub"]


def read_saved_model(input_path: Path, options: ConvertOptions, report: Report) -> Graph:
    """A ``tf_saved_model`` folder read into the IR (signature default ``serving_default``)."""
    return load_saved_model(Path(input_path), tags=options.saved_model_tags, signature_name=options.signature_name)


def read_hub(input_path: Path, options: ConvertOptions, report: Report) -> Graph:
    """A local ``tf_hub`` module folder, TF2 (a SavedModel) or TF1 (``tfhub_module.pb``; see
    :mod:`tfjs_lite.readers.tf_hub`), read into the IR; signature ``default``."""
    return load_hub_module(Path(input_path), tags=options.saved_model_tags, signature_name=options.signature_name)


def read_frozen(input_path: Path, options: ConvertOptions, report: Report) -> Graph:
    """A ``tf_frozen_model`` GraphDef pruned to ``--output_node_names``, read into the IR."""
    return load_frozen_graph(Path(input_path), options.output_node_names or "")


GraphReader = Callable[[Path, ConvertOptions, Report], Graph]


def graph_pipeline(read: GraphReader) -> Callable[[Path, Path, ConvertOptions, Report], None]:
    """The pipeline ``read`` → :func:`convert_graph` that every graph-model source follows.

    ``read(input path, options, report)`` returns the source in the IR, before optimization; the
    same function is the format table's ``graph_loader`` (``verify``/``inspect``).
    """

    def run_pipeline(input_path: Path, staging_dir: Path, options: ConvertOptions, report: Report) -> None:
        convert_graph(read(Path(input_path), options, report), Path(staging_dir), options, report)

    run_pipeline.__doc__ = f"{read.__name__} -> ``tfjs_graph_model``."
    return run_pipeline


run = graph_pipeline(read_saved_model)
run_hub = graph_pipeline(read_hub)
run_frozen = graph_pipeline(read_frozen)


def convert_graph(graph: Graph, staging_dir: Path, options: ConvertOptions, report: Report) -> dict[str, Any]:
    """Optimize, check and write an already loaded graph; returns the model.json dict."""
    if not options.control_flow_v2:
        report.warn("control_flow_v2=False: lowering to v1 control flow is not implemented (TF.js 4.22 "
                    "cannot run lowered TF2 loops anyway); functional While/If are kept")
    validate_input_graph(graph)
    _optimize(graph, options, report)
    graph.check()  # what the writer gets is a valid graph, or this is a bug (exit 1), never a bad file
    check_static_shapes(graph)  # not skippable: a graph TF.js cannot run for any input is never written
    if options.skip_op_check:
        unsupported = find_unsupported(graph, strip_debug_ops=options.strip_debug_ops)
        if unsupported:
            report.warn(f"--skip_op_check: the model uses ops TF.js 4.22 cannot run: {', '.join(unsupported)}")
    else:
        validate(graph, strip_debug_ops=options.strip_debug_ops)
    return write_graph_model(
        graph,
        staging_dir,
        shard_size_bytes=options.weight_shard_size_bytes,
        quantization=options.quantization if options.quantization.active else None,
        metadata=dict(options.metadata),
        use_structured_outputs_names=options.use_structured_outputs_names,
        report=report,
    )


def _optimize(graph: Graph, options: ConvertOptions, report: Report) -> None:
    from tfjs_lite.optimizer import optimize

    optimize(graph, strip_debug_ops=options.strip_debug_ops, skip=tuple(options.skip_passes), check=options.debug,
             nhwc_inputs=options.nhwc_inputs, nhwc_outputs=options.nhwc_outputs)
