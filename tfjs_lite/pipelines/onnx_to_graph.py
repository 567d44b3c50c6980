"""ONNX model -> TF.js graph model.

Read and lower (:mod:`tfjs_lite.readers.onnx`) -> the same optimize / op check / write steps as
TF graphs (:func:`tfjs_lite.pipelines.saved_model_to_graph.convert_graph`).
"""

from __future__ import annotations

from pathlib import Path

from tfjs_lite.options import ConvertOptions
from tfjs_lite.pipelines.saved_model_to_graph import convert_graph
from tfjs_lite.readers.onnx import read_onnx
from tfjs_lite.report import Report

__all__ = ["run"]


def run(input_path: Path, staging_dir: Path, options: ConvertOptions, report: Report) -> None:
    """``onnx`` -> ``tfjs_graph_model``."""
    graph = read_onnx(Path(input_path))
    convert_graph(graph, Path(staging_dir), options, report)
