"""The one table of model formats: how each input is recognised, what it converts to, and who reads it.

Everything else derives from :data:`INPUT_TABLE` and :data:`OUTPUT_TABLE`: the CLI's
``--input_format``/``--output_format`` choices, input detection (:mod:`tfjs_lite.detect`), the
default output, the conversion pipelines (:mod:`tfjs_lite.conversion`) and which sources ``verify``
and ``inspect`` can read as a TF graph (:mod:`tfjs_lite.tools.source`). Adding an input format is
its reader, its pipeline module, and one row here.

Pipelines and graph loaders are ``"module:function"`` strings, imported only when used, so start-up
stays fast and this module imports nothing heavy.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any, Mapping, Optional, Tuple

__all__ = [
    "HDF5_SIGNATURE",
    "INPUT_FORMATS",
    "INPUT_TABLE",
    "OUTPUT_FORMATS",
    "OUTPUT_TABLE",
    "InputFormat",
    "OutputFormat",
    "graph_formats",
    "graph_source_formats",
    "input_format",
    "layers_source_formats",
    "load_target",
    "pipeline_pairs",
    "single_file_outputs",
]

HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"


@dataclass(frozen=True)
class InputFormat:
    """One ``--input_format``.

    Attributes:
        name: the ``--input_format`` value.
        kind: ``"layers"`` when the source is a Keras model (config + weights), ``"graph"`` when it
            is read into the TF-op IR.
        summary: one line for help texts.
        default_output: the output format used when ``--output_format`` is omitted.
        pipelines: output format -> ``"module:function"`` taking (input, staging path, options, report).
        folder_markers: a folder holding one of these files is this format (checked in table order).
        magic: ``(offset, bytes)`` a file of this format has at that offset.
        magic_required: a file named like this format but without the magic is refused at once
            (False where the magic is optional in the format, as a FlatBuffer's file identifier is).
        suffixes: file name endings that identify the format when no magic matched.
        graph_loader: ``"module:function"`` taking (input path, options, report) and returning the source
            read into the IR, as the graph pipeline reads it (for ``verify`` and ``inspect``); None
            when the source is not read as a TF graph.
        detected: False for formats never guessed from a path (only chosen by flags).
        takes_signature: the source has named signatures that ``--signature_name`` picks.
    """

    name: str
    kind: str
    summary: str
    default_output: str
    pipelines: Mapping[str, str]
    folder_markers: Tuple[str, ...] = ()
    magic: Optional[Tuple[int, bytes]] = None
    magic_required: bool = True
    suffixes: Tuple[str, ...] = ()
    graph_loader: Optional[str] = None
    detected: bool = True
    takes_signature: bool = False


@dataclass(frozen=True)
class OutputFormat:
    """One ``--output_format``: whether it is a single file (else a folder) and what it is."""

    name: str
    summary: str
    single_file: bool = False


_GRAPH = "tfjs_graph_model"
_LAYERS = "tfjs_layers_model"
_SAVED_MODEL_PIPELINES = "tfjs_lite.pipelines.saved_model_to_graph"
_KERAS_TO_GRAPH = "tfjs_lite.pipelines.keras_to_graph"

# Detection goes through this table in order: the more specific folder markers come first.
INPUT_TABLE: Tuple[InputFormat, ...] = (
    InputFormat(
        "tf_hub", "graph", "a local TF-Hub module folder (TF2 SavedModel or TF1 tfhub_module.pb)", _GRAPH,
        {_GRAPH: f"{_SAVED_MODEL_PIPELINES}:run_hub"},
        folder_markers=("tfhub_module.pb",),
        graph_loader=f"{_SAVED_MODEL_PIPELINES}:read_hub",
        takes_signature=True,
    ),
    InputFormat(
        "tf_saved_model", "graph", "a TF2 or TF1 SavedModel folder", _GRAPH,
        {_GRAPH: f"{_SAVED_MODEL_PIPELINES}:run"},
        folder_markers=("saved_model.pb", "saved_model.pbtxt"),
        graph_loader=f"{_SAVED_MODEL_PIPELINES}:read_saved_model",
        takes_signature=True,
    ),
    InputFormat(
        "keras_saved_model", "layers", "a tf.keras SavedModel folder (with keras_metadata.pb)", _LAYERS,
        {_LAYERS: "tfjs_lite.pipelines.keras_saved_model_to_layers:run", _GRAPH: f"{_KERAS_TO_GRAPH}:run_saved_model"},
        detected=False,
        graph_loader=f"{_KERAS_TO_GRAPH}:read_keras_saved_model",
    ),
    InputFormat(
        "tfjs_layers_model", "layers", "a TF.js layers model (model.json or its folder)", "keras",
        {
            _LAYERS: "tfjs_lite.pipelines.layers_to_layers:run",
            "keras": "tfjs_lite.pipelines.layers_to_keras:run_h5",
            "keras_keras": "tfjs_lite.pipelines.layers_to_keras:run_keras_archive",
            _GRAPH: f"{_KERAS_TO_GRAPH}:run_layers_model",
        },
        folder_markers=("model.json",),
        suffixes=(".json",),
        graph_loader=f"{_KERAS_TO_GRAPH}:read_tfjs_layers_model",
    ),
    InputFormat(
        "keras", "layers", "a tf.keras 2 / Keras 3 .h5 file (full model or weights only)", _LAYERS,
        {_LAYERS: "tfjs_lite.pipelines.keras_to_layers:run", _GRAPH: f"{_KERAS_TO_GRAPH}:run"},
        magic=(0, HDF5_SIGNATURE),
        suffixes=(".h5", ".hdf5"),
        graph_loader=f"{_KERAS_TO_GRAPH}:read_keras",
    ),
    InputFormat(
        "keras_keras", "layers", "a Keras 3 .keras archive", _LAYERS,
        {_LAYERS: "tfjs_lite.pipelines.keras_to_layers:run", _GRAPH: f"{_KERAS_TO_GRAPH}:run"},
        magic=(0, b"PK"),
        suffixes=(".keras",),
        graph_loader=f"{_KERAS_TO_GRAPH}:read_keras",
    ),
    InputFormat(
        "tf_frozen_model", "graph", "a frozen GraphDef .pb (with --output_node_names)", _GRAPH,
        {_GRAPH: f"{_SAVED_MODEL_PIPELINES}:run_frozen"},
        suffixes=(".pb",),
        graph_loader=f"{_SAVED_MODEL_PIPELINES}:read_frozen",
    ),
    InputFormat(
        "tflite", "graph", "a TFLite / LiteRT .tflite FlatBuffer, float or quantized", _GRAPH,
        {_GRAPH: "tfjs_lite.pipelines.tflite_to_graph:run"},
        magic=(4, b"TFL3"),  # the FlatBuffer file identifier
        magic_required=False,
        suffixes=(".tflite",),
        graph_loader="tfjs_lite.pipelines.tflite_to_graph:read_tflite",
        takes_signature=True,
    ),
    InputFormat(
        "onnx", "graph", "an ONNX model .onnx (PyTorch exports; external data files beside it)", _GRAPH,
        {_GRAPH: "tfjs_lite.pipelines.onnx_to_graph:run"},
        suffixes=(".onnx",),  # a ModelProto has no magic bytes
        graph_loader="tfjs_lite.pipelines.onnx_to_graph:read",
    ),
)

OUTPUT_TABLE: Tuple[OutputFormat, ...] = (
    OutputFormat(_LAYERS, "a TF.js layers model folder (model.json + weight shards)"),
    OutputFormat(_GRAPH, "a TF.js graph model folder (model.json + weight shards)"),
    OutputFormat("keras", "a Keras .h5 file", single_file=True),
    OutputFormat("keras_keras", "a Keras 3 .keras archive", single_file=True),
)

INPUT_FORMATS: Tuple[str, ...] = tuple(f.name for f in INPUT_TABLE)
OUTPUT_FORMATS: Tuple[str, ...] = tuple(f.name for f in OUTPUT_TABLE)

_BY_NAME = {f.name: f for f in INPUT_TABLE}


def input_format(name: str) -> InputFormat:
    """The table row of ``--input_format name`` (KeyError for an unknown name)."""
    return _BY_NAME[name]


def load_target(target: str) -> Any:
    """Import ``"module:function"`` (a pipeline or graph loader of the table) and return the function."""
    module_name, func_name = target.split(":")
    return getattr(importlib.import_module(module_name), func_name)


def pipeline_pairs() -> dict[tuple[str, str], str]:
    """``{(input format, output format): "module:function"}`` for every supported conversion."""
    return {(f.name, out): target for f in INPUT_TABLE for out, target in f.pipelines.items()}


def single_file_outputs() -> frozenset[str]:
    """Output formats written as one file rather than a folder."""
    return frozenset(f.name for f in OUTPUT_TABLE if f.single_file)


def graph_source_formats() -> tuple[str, ...]:
    """Input formats that ``verify`` can read as a TF-op graph (Keras sources too, once lowered)."""
    return tuple(f.name for f in INPUT_TABLE if f.graph_loader is not None)


def graph_formats() -> tuple[str, ...]:
    """Input formats whose models are TF-op graphs (``inspect`` shows them as graphs)."""
    return tuple(f.name for f in INPUT_TABLE if f.kind == "graph")


def layers_source_formats() -> tuple[str, ...]:
    """Input formats that are Keras-style layers models."""
    return tuple(f.name for f in INPUT_TABLE if f.kind == "layers")
