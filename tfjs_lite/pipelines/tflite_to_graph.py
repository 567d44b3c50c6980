"""TFLite flatbuffer -> TF.js graph model.

Read and lower (:mod:`tfjs_lite.readers.tflite`: quantized tensors become the float32 values
they stand for) -> the same optimize / op check / write steps as SavedModels
(:func:`tfjs_lite.pipelines.saved_model_to_graph.convert_graph`).
"""

from __future__ import annotations

from pathlib import Path

from tfjs_lite.options import ConvertOptions
from tfjs_lite.pipelines.saved_model_to_graph import convert_graph
from tfjs_lite.readers.tflite import load_tflite_graph
from tfjs_lite.report import Report

__all__ = ["run"]


def run(input_path: Path, staging_dir: Path, options: ConvertOptions, report: Report) -> None:
    """``tflite`` -> ``tfjs_graph_model`` (signature: ``--signature_name``, else the first one)."""
    graph = load_tflite_graph(Path(input_path), options.signature_name)
    convert_graph(graph, Path(staging_dir), options, report)
