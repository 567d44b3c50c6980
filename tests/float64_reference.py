"""When TF.js misses TF by more than the tolerance, is the model or the conversion to blame?

A deep model with random weights can be so sensitive to float32 rounding that TF's own output is
farther than 1e-4 from the exact result; comparing TF.js with TF then measures rounding noise.
The exact result comes from our numpy reference executor run in float64: the source is read as a
graph (a SavedModel, or a Keras file lowered the way ``--output_format tfjs_graph_model`` lowers
it), the feeds are cast to float64, and numpy's type promotion carries float64 through every op
(the float32 weights are exact in float64). The executor is an independent implementation of every
op, checked against TF per op (tests/kernels), and of every Keras layer (tests/keras_graph); for a
layers model it is a second implementation of the same layers, tfjs-layers runs the other one.

The verdict: ``ok`` when TF.js is within the tolerance of TF; else ``within_tf_float32_error``
when TF.js is no farther from the exact result than twice TF's own distance (the conversion is as
faithful as TF itself), else ``mismatch``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
from tfjs_node import compare_stats

from tfjs_lite import executor
from tfjs_lite.optimizer import optimize
from tfjs_lite.tools.source import load_source_graph


def _worst(got: Mapping[str, np.ndarray], want: Mapping[str, np.ndarray]) -> float:
    """The largest normalised error (max |a - b| / max(1, max |b|)) over the tensors of ``want``."""
    return max(s["rel"] for s in compare_stats(dict(got), dict(want)).values())


def float64_outputs(source: Path, inputs: Mapping[str, np.ndarray], names: list[str]) -> dict[str, np.ndarray]:
    """The source model's outputs ``names`` computed in float64 by the reference executor."""
    graph, _ = load_source_graph(source)
    optimize(graph)
    feeds = {k: v.astype(np.float64) if v.dtype.kind == "f" else v for k, v in inputs.items()}
    return executor.run(graph, feeds, outputs=names)


def verdict(source: Path, inputs: Mapping[str, np.ndarray], expected: Mapping[str, np.ndarray],
            got: Mapping[str, np.ndarray], tolerance: float) -> dict:
    """``{"status", "error"}`` plus, when TF.js misses TF, both distances from the exact result."""
    names = sorted(expected)
    error = _worst(got, expected)
    if error <= tolerance:
        return {"status": "ok", "error": error}
    exact = float64_outputs(source, inputs, names)
    tf_error, tfjs_error = _worst(expected, exact), _worst({k: got[k] for k in names}, exact)
    status = "within_tf_float32_error" if tfjs_error <= 2 * tf_error else "mismatch"
    return {"status": status, "error": error, "tf_vs_float64": tf_error, "tfjs_vs_float64": tfjs_error}
