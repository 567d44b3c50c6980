"""TFLite flatbuffer -> TF.js graph model.

Read and lower (:mod:`tfjs_lite.readers.tflite`: quantized tensors become the float32 values
they stand for) -> the same optimize / op check / write steps as SavedModels
(:func:`tfjs_lite.pipelines.saved_model_to_graph.convert_graph`).
"""

from __future__ import annotations

from pathlib import Path

from tfjs_lite.ir import Graph
from tfjs_lite.options import ConvertOptions
from tfjs_lite.pipelines.saved_model_to_graph import graph_pipeline
from tfjs_lite.readers.tflite import load_tflite_graph
from tfjs_lite.report import Report

__all__ = ["read_tflite", "run"]


def read_tflite(input_path: Path, options: ConvertOptions, report: Report, *, keep_unsupported: bool = False) -> Graph:
    """A ``tflite`` model lowered to float32 TF ops (signature: ``--signature_name``, else the first one).

    ``keep_unsupported`` (``inspect``): operators without a lowering become nodes named after the
    operator instead of an error, so the report can list them.
    """
    return load_tflite_graph(Path(input_path), options.signature_name, keep_unsupported=keep_unsupported)


run = graph_pipeline(read_tflite)
