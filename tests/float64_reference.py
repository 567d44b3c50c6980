"""When TF.js misses TF by more than the tolerance, is the model or the conversion to blame?

A deep model with random weights can be so sensitive to float32 rounding that TF's own output is
farther than 1e-4 from the exact result; comparing TF.js with TF then measures rounding noise.
The exact result comes from our numpy reference executor run in float64: the source is read as a
graph (a SavedModel, or a Keras file lowered the way ``--output_format tfjs_graph_model`` lowers
it), the feeds are cast to float64, and numpy's type promotion carries float64 through every op
(the float32 weights are exact in float64). The executor is an independent implementation of every
op, checked against TF per op (tests/kernels), and of every Keras layer (tests/keras_graph); for a
layers model it is a second implementation of the same layers, tfjs-layers runs the other one.

How far float32 lands from the exact result depends on the order of operations, so one float32
run (TF's) is a noisy measure of that distance: a second one comes from the same executor run in
float32 on the graph as read (layer by layer, unfused, each op correctly rounded). On
EfficientNetV2 blocks TF is 2.8e-6 from the exact result, that executor run 5.1e-6 and tfjs-layers
7.2e-6: all three are float32 noise of the same size.

Both reference runs execute the source graph as read (no optimizer pass), so a bug in a pass the
conversion used cannot hide in the reference. A bug in the reader or lowering would (both runs
share it): then TF is far from the "exact" result while the float32 run of the same graph is not,
so TF may be at most ten times farther from it than that float32 run (1e-5 at least).

The verdict: ``ok`` when TF.js is within the tolerance of TF; else ``within_tf_float32_error``
when TF.js is no farther from the exact result than twice the float32 noise (the larger of the two
float32 runs' distances) and TF's distance is float32-sized by that test: the conversion is as
faithful as float32 allows; else ``mismatch``. When float32 itself is more than 1e-2 from the exact
result (the largest random EfficientNets: TF is 0.3 to 1.0 away), no comparison of float32 runs
means anything: ``ill_conditioned``, neither a pass nor a failure.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Optional

import numpy as np
from tfjs_node import compare_stats

from tfjs_lite import executor
from tfjs_lite.ir import Graph
from tfjs_lite.tools.source import load_source_graph

# float32 noise above this (normalised) leaves float32 runs nothing to agree on
ILL_CONDITIONED = 1e-2


def _worst(got: Mapping[str, np.ndarray], want: Mapping[str, np.ndarray]) -> float:
    """The largest normalised error (max |a - b| / max(1, max |b|)) over the tensors of ``want``."""
    return max(s["rel"] for s in compare_stats(dict(got), dict(want)).values())


def reference_graph(source: Path) -> Graph:
    """The source read as a graph, as is (no optimizer pass): what both reference runs execute."""
    graph, _ = load_source_graph(source)
    return graph


def float64_outputs(graph: Graph, inputs: Mapping[str, np.ndarray], names: list[str]) -> dict[str, np.ndarray]:
    """The outputs ``names`` computed in float64 by the reference executor."""
    feeds = {k: v.astype(np.float64) if v.dtype.kind == "f" else v for k, v in inputs.items()}
    return executor.run(graph, feeds, outputs=names)


def float32_outputs(graph: Graph, inputs: Mapping[str, np.ndarray], names: list[str]) -> dict[str, np.ndarray]:
    """The same outputs in float32, op by op as read (no fusion or folding), each op rounded once."""
    return executor.run(graph, dict(inputs), outputs=names)


def verdict(source: Path, inputs: Mapping[str, np.ndarray], expected: Mapping[str, np.ndarray],
            got: Mapping[str, np.ndarray], tolerance: float) -> dict:
    """``{"status", "error"}`` plus, when TF.js misses TF, the distances from the exact result."""
    names = sorted(expected)
    error = _worst(got, expected)
    if error <= tolerance:
        return {"status": "ok", "error": error}
    graph = reference_graph(source)  # the executor does not modify it: one read serves both runs
    exact = float64_outputs(graph, inputs, names)
    tf_error, tfjs_error = _worst(expected, exact), _worst({k: got[k] for k in names}, exact)
    float32_error = _worst(float32_outputs(graph, inputs, names), exact)
    return {"status": judge(tf_error, tfjs_error, float32_error, tolerance), "error": error,
            "tf_vs_float64": tf_error, "tfjs_vs_float64": tfjs_error, "float32_vs_float64": float32_error}


def judge(tf_error: float, tfjs_error: float, float32_error: Optional[float], tolerance: float) -> str:
    """The verdict from the three distances to the exact result (``float32_error`` None: not
    measured, as in results recorded before the float32 run existed)."""
    noise = max(tf_error, float32_error or 0.0)
    if noise > ILL_CONDITIONED:
        return "ill_conditioned"
    plausible = float32_error is None or tf_error <= 10 * max(float32_error, tolerance / 10)
    return "within_tf_float32_error" if tfjs_error <= 2 * noise and plausible else "mismatch"
