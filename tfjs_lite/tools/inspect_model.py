"""``tfjs-lite inspect PATH``: what a model holds and what the converter would do with it. Read-only.

For graph inputs (SavedModel, TF-Hub folder, frozen ``.pb``, TF.js graph model) it shows the
signature inputs and outputs with dtype and shape, the op histogram, the weights (count and bytes
per dtype) and what the optimizer would change, followed by the ops TF.js 4.22 cannot run after
optimization (:mod:`tfjs_lite.tools.inspect_graph`).

For Keras ``.h5`` / ``.keras`` files and TF.js layers models it lists layers and weights instead,
and the layers tfjs-layers 4.22 would refuse (:mod:`tfjs_lite.tools.inspect_keras`).

``--json`` prints the same report as one JSON object; otherwise it is rendered as text
(:mod:`tfjs_lite.tools.inspect_text`). Nothing is ever written.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tfjs_lite.tools.args import Parser, add_source_flags, source_options
from tfjs_lite.tools.inspect_graph import GRAPH_FORMATS, inspect_graph
from tfjs_lite.tools.inspect_keras import KERAS_FORMATS, inspect_keras
from tfjs_lite.tools.inspect_text import render_text

__all__ = ["inspect_path", "main"]

def _detect(path: Path, given: str | None) -> tuple[Path, str]:
    from tfjs_lite.detect import detect_input_format, tfjs_model_format
    from tfjs_lite.errors import ModelFormatError

    if given:
        return path, given
    if not path.exists():
        raise ModelFormatError("no such file or folder", path=path)
    model_json = path / "model.json" if path.is_dir() else path
    is_saved_model = path.is_dir() and any((path / n).is_file() for n in ("saved_model.pb", "saved_model.pbtxt"))
    if not is_saved_model and model_json.name.endswith(".json") and model_json.is_file():
        fmt = tfjs_model_format(model_json)
        return model_json, "tfjs_graph_model" if fmt == "graph-model" else "tfjs_layers_model"
    return path, detect_input_format(path)


def _guess_outputs(path: Path, notes: list[str]) -> str:
    """``--output_node_names`` for a frozen graph given without them: the nodes nothing consumes."""
    from tfjs_lite.errors import UsageError
    from tfjs_lite.readers.graph_def import frozen_graph_outputs

    guessed = frozen_graph_outputs(path)
    if not guessed:
        raise UsageError(f"{path}: cannot guess the outputs of this frozen graph; give --output_node_names")
    names = ",".join(guessed)
    notes.append(f"no --output_node_names: outputs guessed as the nodes nothing consumes ({names})")
    return names


def inspect_path(path: Path, **options: Any) -> dict[str, Any]:
    """The inspection report of the model at ``path`` as a JSON-ready dict.

    Args:
        path: Any input the converter reads, or a TF.js graph/layers model.
        options: ``input_format``, ``signature_name``, ``saved_model_tags``, ``output_node_names``.

    Raises:
        ConversionError: Unreadable or unknown models.
    """
    path, fmt = _detect(Path(path), options.get("input_format"))
    if fmt in GRAPH_FORMATS:
        notes: list[str] = []
        if fmt == "tf_frozen_model" and not options.get("output_node_names"):
            options = {**options, "output_node_names": _guess_outputs(path, notes)}
        return inspect_graph(path, fmt, options, notes)
    if fmt in KERAS_FORMATS:
        return inspect_keras(path, fmt)
    from tfjs_lite.errors import UsageError

    raise UsageError(f"inspect does not read {fmt} inputs")


def main(argv: Sequence[str]) -> int:
    """``tfjs-lite inspect PATH [--json]``; returns the exit status."""
    p = Parser("inspect", description="Show a model's inputs, outputs, ops, weights and what the converter would change.")
    p.add_argument("path", help="SavedModel/TF-Hub folder, frozen .pb, .h5/.keras file, or TF.js model")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    add_source_flags(
        p,
        formats=GRAPH_FORMATS + KERAS_FORMATS,
        format_help="detected when omitted",
        output_node_names_help="outputs of a frozen .pb (default: nodes nothing consumes)",
    )
    p.add_argument("--debug", action="store_true", help="show tracebacks")
    args = p.parse_args(list(argv))
    report = inspect_path(Path(args.path), **source_options(args))
    print(json.dumps(report, indent=2) if args.json else render_text(report))
    return 0
