"""Time ``tfjs_lite.optimizer.optimize`` on a ResNet-50-sized synthetic graph (not a test).

Builds the graph a frozen Keras ResNet-50 SavedModel becomes after reading: an Identity after
every weight read, Conv2D + FusedBatchNormV3 + Relu blocks in 16 bottleneck units with residual
AddV2s, a stem with MaxPool, and a Dense head.  Weights are random and small (channel counts are
scaled down: timing depends on the node count, not on tensor sizes, except for BN folding).

Usage::

    python benchmarks/optimize_resnet.py        # target: optimize() < 1 s
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from builders import GraphBuilder
from tfjs_lite.optimizer import optimize

from tfjs_lite.ir import Graph, TensorRef

RNG = np.random.default_rng(0)
CONV = {"strides": [1, 1, 1, 1], "padding": "SAME", "data_format": "NHWC", "T": "DT_FLOAT",
        "dilations": [1, 1, 1, 1], "use_cudnn_on_gpu": True, "explicit_paddings": []}


def _weight(g: GraphBuilder, shape: tuple[int, ...], name: str) -> TensorRef:
    const = g.const((RNG.standard_normal(shape) * 0.1).astype(np.float32), name=name)
    return g.op("Identity", const, name=f"{name}/read", T="DT_FLOAT")


def _conv_bn(g: GraphBuilder, x: TensorRef, cin: int, cout: int, k: int, name: str, *,
             relu: bool = True) -> TensorRef:
    w = _weight(g, (k, k, cin, cout), f"{name}/kernel")
    c = g.op("Conv2D", x, w, name=f"{name}/Conv2D", **CONV)
    params = [_weight(g, (cout,), f"{name}/bn/{p}") for p in ("gamma", "beta", "mean")]
    var = g.op("Identity", g.const(RNG.random(cout).astype(np.float32) + 0.5, name=f"{name}/bn/var"))
    y = g.op("FusedBatchNormV3", c, *params, var, name=f"{name}/bn/FusedBatchNormV3", outputs=6,
             epsilon=1.001e-5, is_training=False, data_format="NHWC", T="DT_FLOAT", U="DT_FLOAT")[0]
    return g.op("Relu", y, name=f"{name}/Relu") if relu else y


def resnet50_like() -> Graph:
    """~1.3k-node graph (before optimization) with ResNet-50's block structure."""
    g = GraphBuilder()
    x = g.input("image", (1, 8, 8, 3))
    x = _conv_bn(g, x, 3, 8, 3, "stem")
    x = g.op("MaxPool", x, ksize=[1, 1, 1, 1], strides=[1, 1, 1, 1], padding="SAME", data_format="NHWC")
    cin = 8
    for stage, blocks in enumerate((3, 4, 6, 3)):
        width = 4 * 2 ** stage
        for b in range(blocks):
            name = f"stage{stage}/block{b}"
            shortcut = x if b else _conv_bn(g, x, cin, width * 4, 1, f"{name}/proj", relu=False)
            y = _conv_bn(g, x, cin, width, 1, f"{name}/a")
            y = _conv_bn(g, y, width, width, 3, f"{name}/b")
            y = _conv_bn(g, y, width, width * 4, 1, f"{name}/c", relu=False)
            x = g.op("Relu", g.op("AddV2", shortcut, y, name=f"{name}/add"), name=f"{name}/out")
            cin = width * 4
    pooled = g.op("Mean", x, g.const(np.array([1, 2], np.int32)), keep_dims=False)
    logits = g.op("BiasAdd", g.op("MatMul", pooled, _weight(g, (cin, 10), "head/kernel")),
                  _weight(g, (10,), "head/bias"), data_format="NHWC")
    g.output("probs", g.op("Identity", g.op("Softmax", logits), name="output"))
    return g.build()


def main() -> None:
    """Build, optimize, print node counts and per-pass timing."""
    graph = resnet50_like()
    nodes = len(graph)
    start = time.perf_counter()
    report = optimize(graph)
    total = time.perf_counter() - start
    print(f"nodes {nodes} -> {len(graph)}; optimize() {total * 1e3:.0f} ms "
          f"({'OK' if total < 1 else 'SLOW'}: target < 1 s)")
    for name, seconds in sorted(report.seconds_by_pass().items(), key=lambda kv: -kv[1]):
        runs = sum(1 for r in report.records if r.name == name)
        print(f"  {name:24s} {seconds * 1e3:8.1f} ms  ({runs} run{'s' * (runs > 1)})")


if __name__ == "__main__":
    main()
