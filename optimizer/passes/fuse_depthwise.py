"""Fuse ``DepthwiseConv2dNative`` with its bias and activation into ``FusedDepthwiseConv2dNative``.

Before => after, as the official ``fuse_depthwise_conv2d`` (docs/formats.md §1.5):

* ``act(BiasAdd(DepthwiseConv2dNative(x, W), b))`` => ``fused_ops [BiasAdd, act]``, ``num_args 1``
* ``BiasAdd(DepthwiseConv2dNative(x, W), b)``      => ``fused_ops [BiasAdd]``, ``num_args 1``
* ``act(DepthwiseConv2dNative(x, W))``             => ``fused_ops [NoOp, act]``, ``num_args 0``

The fused node takes the name of the pattern's last node and copies the depthwise attrs
(``strides, padding, explicit_paddings, data_format, dilations``) plus ``T, TArgs, num_args,
fused_ops, epsilon, leakyrelu_alpha``.

Algebra: ``act(depthwise(x, W) + b)``.

Does NOT fire when the depthwise (or BiasAdd) output has another consumer or is a graph output
— the check the official pass lacks, whose other consumers silently received the biased value —
nor for non-NHWC data, a non-1-D bias, or an activation TF.js does not fuse.
"""

from __future__ import annotations

from tfjs_lite.optimizer._fusion import DEPTHWISE_ATTRS, fuse_contraction, set_conv_defaults
from tfjs_lite.optimizer.pass_base import Pass

from tfjs_lite.ir import Graph

__all__ = ["FuseDepthwise"]


class FuseDepthwise(Pass):
    """DepthwiseConv2dNative + BiasAdd (+ activation) => FusedDepthwiseConv2dNative."""

    name = "fuse_depthwise"

    def run(self, graph: Graph) -> bool:
        """Fuse every eligible depthwise conv; returns True iff any was fused."""
        changed = fuse_contraction(graph, self.name, "DepthwiseConv2dNative", "FusedDepthwiseConv2dNative",
                                   DEPTHWISE_ATTRS, zero_bias_for_act=False)
        if changed:
            set_conv_defaults(graph, "FusedDepthwiseConv2dNative", filter_format=False)
        return changed
