"""TFLite flatbuffer -> TF.js graph model.

Read and lower (:mod:`tfjs_lite.readers.tflite`: quantized tensors become the float32 values
they stand for) -> the same optimize / op check / write steps as SavedModels
(:func:`tfjs_lite.pipelines.saved_model_to_graph.convert_graph`).
"""

from __future__ import annotations

import traceback
from pathlib import Path

from tfjs_lite.errors import ModelFormatError, PassError
from tfjs_lite.ir import Graph
from tfjs_lite.options import ConvertOptions
from tfjs_lite.pipelines.saved_model_to_graph import convert_graph
from tfjs_lite.readers.tflite import load_tflite_graph
from tfjs_lite.report import Report

__all__ = ["convert_lowered", "read_tflite", "run"]


def read_tflite(input_path: Path, options: ConvertOptions, report: Report, *, keep_unsupported: bool = False) -> Graph:
    """A ``tflite`` model lowered to float32 TF ops (signature: ``--signature_name``, else the first one).

    ``keep_unsupported`` (``inspect``): operators without a lowering become nodes named after the
    operator instead of an error, so the report can list them.
    """
    return load_tflite_graph(Path(input_path), options.signature_name, keep_unsupported=keep_unsupported)


def run(input_path: Path, staging_dir: Path, options: ConvertOptions, report: Report) -> None:
    """``tflite`` -> ``tfjs_graph_model`` (signature: ``--signature_name``, else the first one)."""
    convert_lowered(read_tflite(Path(input_path), options, report), staging_dir, options, report)


def convert_lowered(graph: Graph, staging_dir: Path, options: ConvertOptions, report: Report) -> None:
    """Optimize, check and write a lowered TFLite graph."""
    try:
        convert_graph(graph, Path(staging_dir), options, report)
    except PassError as e:
        reason = _kernel_failure(e)
        if reason is None:
            raise
        raise ModelFormatError(f"not a valid TFLite file: operators whose constant inputs do not fit them "
                               f"({reason})") from e


def _kernel_failure(error: PassError) -> str | None:
    """The reason when constant folding failed inside a numpy kernel: the reader checks the
    file's structure, not that every operator's constant operands have shapes its kernel accepts,
    so a hand-made file can reach the folding with operands no converter would write."""
    cause = error.__cause__
    if cause is None or "'fold_constants'" not in str(error):
        return None
    frames = traceback.extract_tb(cause.__traceback__)
    in_kernels = any(f"{Path('tfjs_lite', 'kernels')}" in f.filename for f in frames)
    return f"{type(cause).__name__}: {' '.join(str(cause).split())[:200]}" if in_kernels else None
