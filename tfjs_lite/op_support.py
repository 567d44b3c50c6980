"""Which TF ops TF.js 4.22 can execute, and a check that reports every unsupported one at once.

The list (``tfjs_lite/data/tfjs_ops.json``) is the ``tfOpName`` of every entry of tfjs 4.22's
``op_list/*.json``: 248 names. Like the official ``validate()``, ``Assert``/``CheckNumerics``/``Print``
also pass when debug ops are stripped, and nodes of the main graph and of every library function
are checked (``_Arg`` nodes are function parameters, not ops).

A known op name is not enough: TF.js 4.22's graph executor reads some attributes in only one
form and silently ignores or rejects the others.  :func:`attribute_problems` lists the forms it
cannot honour (found by reading ``tfjs-converter`` 4.22's ``executeOp`` for each op and the
asserts of the ``tfjs-core`` ops it calls):

* ``data_format`` other than ``NHWC``/``NDHWC`` on convolutions, pools, ``BiasAdd`` and
  ``FusedBatchNorm*``: the executor takes ``strides[1], strides[2]`` as the spatial strides and
  pools/``BiasAdd``/batch norm ignore the attribute (they work on the last axis).
* grouped convolutions (the filter's input depth smaller than the input's channel count): TF.js
  checks ``depth of input must match input depth for filter`` at run time.
* spatial strides > 1 together with dilations > 1 on convolutions: TF.js asserts "Either strides
  or dilations must be 1".
* dilations > 1 on ``Conv2DBackpropInput``: the executor never reads them (wrong numbers).
* ``EXPLICIT`` padding on pools and ``Conv3D``: only ``Conv2D``, depthwise and transposed
  convolutions translate ``explicit_paddings``.
* ``Mod`` at all: TF's ``Mod`` truncates (C ``fmod``), TF.js's is a floor modulo (they differ
  for operands of mixed sign); the optimizer lowers it (``lower_truncate_mod``).
* ``FakeQuantWithMinMaxVars`` at all: the executor returns its input unchanged ("This op is
  currently ignored"); the optimizer lowers the ones with constant bounds.
"""

from __future__ import annotations

import functools
import json
from importlib import resources
from typing import Any

from tfjs_lite.errors import UnsupportedOpError
from tfjs_lite.ir.graph import Graph, TensorRef

__all__ = ["attribute_problems", "conv_groups", "find_unsupported", "supported_ops", "validate"]

_MAX_NODES_LISTED = 3


@functools.lru_cache(maxsize=1)
def _data() -> dict[str, Any]:
    text = resources.files("tfjs_lite").joinpath("data").joinpath("tfjs_ops.json").read_text("utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


def supported_ops(*, strip_debug_ops: bool = True) -> frozenset[str]:
    """The op names a TF.js 4.22 graph model may contain."""
    names = {name for names in _data()["categories"].values() for name in names}
    if strip_debug_ops:
        names.update(_data()["debug_ops"])
    return frozenset(names)


_CHANNELS_LAST = frozenset({"NHWC", "NDHWC"})
# Ops whose data_format TF.js reads as channels-last only (see the module docstring).
_LAYOUT_OPS = frozenset({
    "Conv2D", "_FusedConv2D", "DepthwiseConv2dNative", "FusedDepthwiseConv2dNative",
    "Conv2DBackpropInput", "Conv3D", "MaxPool", "AvgPool", "MaxPoolWithArgmax", "MaxPool3D",
    "AvgPool3D", "BiasAdd", "FusedBatchNorm", "FusedBatchNormV2", "FusedBatchNormV3",
})
_STRIDED_DILATED_OPS = frozenset({"Conv2D", "_FusedConv2D", "DepthwiseConv2dNative",
                                  "FusedDepthwiseConv2dNative", "Conv3D"})
_GROUPABLE_OPS = frozenset({"Conv2D", "_FusedConv2D", "Conv3D"})
_NO_EXPLICIT_PADDING_OPS = frozenset({"MaxPool", "AvgPool", "MaxPoolWithArgmax", "Conv3D",
                                      "MaxPool3D", "AvgPool3D"})


def _text(value: Any, default: str) -> str:
    if value is None:
        return default
    return value.decode() if isinstance(value, bytes) else str(value)


def _shape(graph: Graph, ref: TensorRef) -> tuple[int | None, ...] | None:
    if graph.op(ref.node) == "Const" and ref.port == 0 and graph.value(ref.node) is not None:
        return tuple(graph.value(ref.node).shape)  # type: ignore[union-attr]
    types = graph.out_types(ref.node)
    shape = types[ref.port].shape if types and ref.port < len(types) else None
    if shape is None:
        return None
    return tuple(None if d is None or d < 0 else int(d) for d in shape)


def conv_groups(graph: Graph, node: str) -> int | None:
    """The group count ``C_in / filter_in`` of a ``Conv2D``/``Conv3D``-like node (1 for a plain
    convolution), or None when the shapes are not statically known or do not divide evenly."""
    inputs = graph.inputs_of(node)
    if len(inputs) < 2:
        return None
    x_shape, w_shape = _shape(graph, inputs[0]), _shape(graph, inputs[1])
    if x_shape is None or w_shape is None or len(x_shape) != len(w_shape) or len(x_shape) < 4:
        return None
    channels_first = _text(graph.attrs(node).get("data_format"), "NHWC") in ("NCHW", "NCDHW")
    channels = x_shape[1] if channels_first else x_shape[-1]
    filter_in, out = w_shape[-2], w_shape[-1]
    if channels is None or not filter_in or channels % filter_in:
        return None
    groups = channels // filter_in
    if groups > 1 and (out is None or out % groups):
        return None
    return groups


def _spatial(values: Any, channels_first: bool) -> list[int]:
    vals = [int(v) for v in (values or [])]
    if len(vals) < 3:
        return vals
    return vals[2:] if channels_first else vals[1:-1]


def attribute_problems(graph: Graph, node: str) -> list[str]:
    """What TF.js 4.22 cannot honour in ``node``'s attributes (one short phrase each; [] if fine)."""
    op, attrs = graph.op(node), graph.attrs(node)
    problems = []
    fmt = _text(attrs.get("data_format"), "NHWC")
    if op in _LAYOUT_OPS and fmt not in _CHANNELS_LAST:
        problems.append(f"data_format {fmt} (TF.js runs channels-last only)")
    channels_first = fmt in ("NCHW", "NCDHW")
    if op in _GROUPABLE_OPS:
        groups = conv_groups(graph, node)
        if groups is not None and groups > 1:
            problems.append(f"a grouped filter ({groups} groups; TF.js has no grouped convolution)")
    if op in _STRIDED_DILATED_OPS:
        strides = _spatial(attrs.get("strides"), channels_first)
        dilations = _spatial(attrs.get("dilations"), channels_first)
        if any(s > 1 for s in strides) and any(d > 1 for d in dilations):
            problems.append("strides > 1 with dilations > 1 (TF.js: either strides or dilations "
                            "must be 1)")
    if op == "Conv2DBackpropInput" and any(d > 1 for d in _spatial(attrs.get("dilations"), channels_first)):
        problems.append("dilations > 1 (TF.js ignores them on transposed convolutions)")
    if op == "Mod":
        problems.append("truncated remainder semantics (TF.js 4.22 computes a floor modulo)")
    if op == "FakeQuantWithMinMaxVars":
        problems.append("no quantization (TF.js 4.22 runs it as an identity; only constant bounds are lowered)")
    if op in _NO_EXPLICIT_PADDING_OPS and _text(attrs.get("padding"), "VALID") == "EXPLICIT":
        problems.append("EXPLICIT padding (TF.js reads only SAME/VALID here)")
    return problems


def _check_graph(graph: Graph, allowed: frozenset[str], prefix: str,
                 found: dict[str, list[str]]) -> None:
    for node in graph.nodes():
        op = graph.op(node)
        if op not in allowed:
            found.setdefault(op, []).append(prefix + node)
            continue
        for problem in attribute_problems(graph, node):
            found.setdefault(f"{op} with {problem}", []).append(prefix + node)


def find_unsupported(graph: Graph, *, strip_debug_ops: bool = True) -> dict[str, list[str]]:
    """``{op: [node, ...]}`` for every unsupported op (function-body nodes as ``fn/node``), sorted.

    Supported ops used with attributes TF.js cannot honour are listed under
    ``"<op> with <problem>"`` keys (:func:`attribute_problems`).
    """
    allowed = supported_ops(strip_debug_ops=strip_debug_ops) | {"_Arg"}
    found: dict[str, list[str]] = {}
    _check_graph(graph, allowed, "", found)
    for fname in sorted(graph.functions):
        _check_graph(graph.functions[fname], allowed, f"{fname}/", found)
    init = graph.initializer
    if isinstance(init, Graph):
        _check_graph(init, allowed, "", found)
    return {op: sorted(nodes) for op, nodes in sorted(found.items())}


def validate(graph: Graph, *, strip_debug_ops: bool = True) -> None:
    """Raise one :class:`UnsupportedOpError` naming every unsupported op and the nodes using it.

    Raises:
        UnsupportedOpError: If any node's op is not in the TF.js 4.22 op list, or uses attributes
            TF.js 4.22 cannot honour.
    """
    found = find_unsupported(graph, strip_debug_ops=strip_debug_ops)
    if not found:
        return
    parts = []
    for op, nodes in found.items():
        shown = ", ".join(nodes[:_MAX_NODES_LISTED])
        more = f" and {len(nodes) - _MAX_NODES_LISTED} more" if len(nodes) > _MAX_NODES_LISTED else ""
        parts.append(f"{op} (used by {shown}{more})")
    raise UnsupportedOpError(
        f"Unsupported Ops in the model: {'; '.join(parts)}. TF.js 4.22 cannot run these ops "
        "(or these attributes); pass --skip_op_check to convert anyway")
