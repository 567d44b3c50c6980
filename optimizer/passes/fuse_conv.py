"""Fuse ``Conv2D`` with its bias and activation into TF.js's ``_FusedConv2D``.

Before => after (the fused node keeps the name of the pattern's last node, as TF's remapper does):

* ``act(BiasAdd(Conv2D(x, W), b))`` => ``_FusedConv2D(x, W, b)``, ``fused_ops [BiasAdd, act]``
* ``BiasAdd(Conv2D(x, W), b)``      => ``_FusedConv2D(x, W, b)``, ``fused_ops [BiasAdd]``
* ``act(Conv2D(x, W))``             => ``_FusedConv2D(x, W, zeros(C))``, ``fused_ops [BiasAdd, act]``
  (the official converter leaves this pair unfused; one kernel with a zero bias is cheaper than
  two, and ``C`` comes from the Const filter)

with ``act`` in Relu, Relu6, Elu, LeakyRelu (its ``alpha`` becomes ``leakyrelu_alpha``), Sigmoid.
Attrs as TF 2.19 writes them: ``T, TArgs, num_args=1, fused_ops, epsilon=0.0, leakyrelu_alpha,
num_host_args=0, strides, padding, explicit_paddings, data_format, dilations, use_cudnn_on_gpu,
filter_format="HWIO"``.

Algebra: ``act(conv(x, W) + b)`` is exactly what the fused kernel computes.

Does NOT fire when: the conv (or BiasAdd) output has another consumer or is a graph output
(:meth:`Match.removable`), the data format is not NHWC (TF.js fused conv is NHWC only), the
activation is not one TF.js fuses (Tanh, Softplus, ...), the bias is not 1-D, or — for the
activation-only form — the filter is not Const (channel count unknown).  Non-Const filters and
biases are otherwise fine: the fused op takes them as ordinary inputs.
"""

from __future__ import annotations

from tfjs_lite.optimizer._fusion import CONV_ATTRS, fuse_contraction, set_conv_defaults
from tfjs_lite.optimizer.pass_base import Pass

from tfjs_lite.ir import Graph

__all__ = ["FuseConv"]


class FuseConv(Pass):
    """Conv2D + BiasAdd (+ activation) => _FusedConv2D."""

    name = "fuse_conv"

    def run(self, graph: Graph) -> bool:
        """Fuse every eligible Conv2D; returns True iff any was fused."""
        changed = fuse_contraction(graph, self.name, "Conv2D", "_FusedConv2D", CONV_ATTRS,
                                   zero_bias_for_act=True)
        if changed:
            set_conv_defaults(graph, "_FusedConv2D", filter_format=True)
        return changed
