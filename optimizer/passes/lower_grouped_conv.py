"""Lower grouped ``Conv2D`` (absent from TF.js) to ``DepthwiseConv2dNative`` or split/convolve/concat.

TF's ``Conv2D`` infers ``groups = C_in / filter_in`` when the filter's input-channel dimension is
smaller than the input's channel count (Keras ``Conv2D(groups=g)``; ConvNeXt writes its depthwise
convolution this way).  TF.js 4.22 has no grouped convolution: it refuses such a node at run time
("depth of input (96) must match input depth for filter 1").

Before => after, with ``x: [N, H, W, C]``, filter ``w: [KH, KW, C/g, O]``:

* ``g == C`` (one input channel per group): ``y = Conv2D(x, w)`` =>
  ``y = DepthwiseConv2dNative(x, reshape(w, [KH, KW, C, O/C]))``, same name and attributes.
  Output channel ``o`` of the grouped conv reads input channel ``o // (O/C)``; the depthwise op
  writes channel ``c * M + m`` from input channel ``c``: the same order, so the filter is a pure
  reshape (a ``Reshape`` node when the filter is not a constant).
* ``1 < g < C``: ``y = Conv2D(x, w)`` => ``parts = Split(x, g)``; ``y_i = Conv2D(parts[i], w_i)``
  with ``w_i = w[..., i*O/g:(i+1)*O/g]``; ``y = ConcatV2(y_0..y_{g-1}, axis)`` (the concat keeps the
  name ``y``).  Group ``i`` reads input channels ``[i*C/g, (i+1)*C/g)`` and writes output channels
  ``[i*O/g, (i+1)*O/g)``, which is TF's definition.

Does NOT fire when the filter's input depth equals the input's channel count (a plain conv), when
the input's channel count is not statically known (the group count cannot be derived; the op
check then names the node), or when ``C`` is not a multiple of the filter's input depth (an
invalid graph TF itself rejects).
"""

from __future__ import annotations

import numpy as np
from tfjs_lite.optimizer._util import const_value, static_shape
from tfjs_lite.optimizer.pass_base import Pass

from tfjs_lite.ir import DType, Graph, TensorRef
from tfjs_lite.op_support import conv_groups

__all__ = ["LowerGroupedConv"]


def _channel_axis(graph: Graph, node: str) -> int:
    fmt = graph.attrs(node).get("data_format", "NHWC")
    return 1 if (fmt.decode() if isinstance(fmt, bytes) else str(fmt)) == "NCHW" else 3


def _dim(graph: Graph, ref: TensorRef, axis: int) -> int:
    """One static dimension of ``ref`` that :func:`conv_groups` has already proven known (the
    input's channels, the filter's dimensions)."""
    shape = static_shape(graph, ref)
    size = None if shape is None else shape[axis]
    assert size is not None, "conv_groups checked this dimension"
    return size


class LowerGroupedConv(Pass):
    """Grouped Conv2D => DepthwiseConv2dNative (one channel per group) or Split/Conv2D/ConcatV2."""

    name = "lower_grouped_conv"

    def run(self, graph: Graph) -> bool:
        """Lower every grouped Conv2D whose group count is known; True iff any was lowered."""
        changed = False
        for node in graph.nodes_by_op("Conv2D"):
            groups = conv_groups(graph, node)
            if groups is None or groups == 1:
                continue
            x, w = graph.inputs_of(node)[:2]
            filter_shape = static_shape(graph, w)
            if filter_shape is None or None in filter_shape:  # nothing to size the groups' filters by
                continue
            channels = _dim(graph, x, _channel_axis(graph, node))
            if groups == channels:
                self._to_depthwise(graph, node, x, w)
            else:
                self._split(graph, node, x, w, groups)
            changed = True
        return changed

    @staticmethod
    def _to_depthwise(graph: Graph, node: str, x: TensorRef, w: TensorRef) -> None:
        kh, kw, out = _dim(graph, w, 0), _dim(graph, w, 1), _dim(graph, w, 3)
        channels = _dim(graph, x, _channel_axis(graph, node))
        shape = (kh, kw, channels, out // channels)
        value = const_value(graph, w)
        if value is not None:
            filt = graph.add_const(np.ascontiguousarray(value.reshape(shape)),
                                   name=graph.unique_name(f"{node}/depthwise_filter"))
        else:
            dims = graph.add_const(np.asarray(shape, np.int32),
                                   name=graph.unique_name(f"{node}/depthwise_shape"))
            filt = TensorRef(graph.add_op("Reshape", [w, dims],
                                          {"T": graph.attrs(node).get("T", DType("DT_FLOAT")),
                                           "Tshape": DType("DT_INT32")},
                                          name=graph.unique_name(f"{node}/depthwise_filter")), 0)
        attrs = graph.attrs(node)
        attrs.pop("use_cudnn_on_gpu", None)
        graph.set_op(node, "DepthwiseConv2dNative")
        graph.set_inputs(node, [x, filt])

    @staticmethod
    def _split(graph: Graph, node: str, x: TensorRef, w: TensorRef, groups: int) -> None:
        axis = _channel_axis(graph, node)
        attrs = dict(graph.attrs(node))
        dtype = attrs.get("T", DType("DT_FLOAT"))
        out = _dim(graph, w, 3)
        per_group = out // groups
        split_axis = graph.add_const(np.asarray(axis, np.int32), name=graph.unique_name(f"{node}/split_axis"))
        split = graph.add_op("Split", [split_axis, x], {"T": dtype, "num_split": groups},
                             name=graph.unique_name(f"{node}/split"))
        value = const_value(graph, w)
        if value is None:
            w_axis = graph.add_const(np.asarray(3, np.int32), name=graph.unique_name(f"{node}/filter_axis"))
            w_split = graph.add_op("Split", [w_axis, w], {"T": dtype, "num_split": groups},
                                   name=graph.unique_name(f"{node}/filter_split"))
        parts = []
        for i in range(groups):
            if value is not None:
                w_i = graph.add_const(np.ascontiguousarray(value[..., i * per_group:(i + 1) * per_group]),
                                      name=graph.unique_name(f"{node}/group_{i}/filter"))
            else:
                w_i = TensorRef(w_split, i)
            conv = graph.add_op("Conv2D", [TensorRef(split, i), w_i], attrs,
                                name=graph.unique_name(f"{node}/group_{i}"))
            parts.append(TensorRef(conv, 0))
        concat_axis = graph.add_const(np.asarray(axis, np.int32), name=graph.unique_name(f"{node}/concat_axis"))
        graph.set_op(node, "ConcatV2")
        new_attrs = graph.attrs(node)
        new_attrs.clear()
        new_attrs.update({"T": dtype, "N": groups, "Tidx": DType("DT_INT32")})
        graph.set_inputs(node, [*parts, concat_axis])
