"""Fuse ``MatMul`` with its bias and activation into TF.js's ``_FusedMatMul``.

Before => after (the fused node keeps the name of the pattern's last node):

* ``act(BiasAdd(MatMul(a, b), bias))`` => ``_FusedMatMul(a, b, bias)``, ``fused_ops [BiasAdd, act]``
* ``BiasAdd(MatMul(a, b), bias)``      => ``_FusedMatMul(a, b, bias)``, ``fused_ops [BiasAdd]``
* ``act(MatMul(a, W))``                => ``_FusedMatMul(a, W, zeros(N))`` with ``[BiasAdd, act]``
  (TF.js's fused matmul always reads ``args[0]`` as the bias, so a bias is required)

Attrs: ``T, TArgs, num_args=1, fused_ops, epsilon=0.0, leakyrelu_alpha, num_host_args=0,
transpose_a, transpose_b``.

Algebra: ``act(a @ b + bias)``.

Does NOT fire when the MatMul (or BiasAdd) output has another consumer or is a graph output,
for a non-1-D bias, an activation TF.js does not fuse, or the activation-only form with a
non-Const weight (N unknown).
"""

from __future__ import annotations

from tfjs_lite.optimizer._fusion import MATMUL_ATTRS, fuse_contraction
from tfjs_lite.optimizer.pass_base import Pass

from tfjs_lite.ir import Graph

__all__ = ["FuseMatMul"]


class FuseMatMul(Pass):
    """MatMul + BiasAdd (+ activation) => _FusedMatMul."""

    name = "fuse_matmul"

    def run(self, graph: Graph) -> bool:
        """Fuse every eligible MatMul; returns True iff any was fused."""
        changed = fuse_contraction(graph, self.name, "MatMul", "_FusedMatMul", MATMUL_ATTRS,
                                   zero_bias_for_act=True)
        if changed:
            for n in graph.nodes_by_op("_FusedMatMul"):
                graph.attrs(n).setdefault("transpose_a", False)
                graph.attrs(n).setdefault("transpose_b", False)
        return changed
