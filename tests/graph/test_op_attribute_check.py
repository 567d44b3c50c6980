"""The op check looks at attributes TF.js 4.22 cannot honour, not only at op names."""

from __future__ import annotations

import numpy as np
import pytest
from builders import GraphBuilder

from tfjs_lite.errors import UnsupportedOpError
from tfjs_lite.ir import Graph
from tfjs_lite.op_support import attribute_problems, conv_groups, find_unsupported, validate

NHWC = {"data_format": "NHWC", "T": "DT_FLOAT"}


def _conv(op: str = "Conv2D", *, x_shape=(1, 8, 8, 4), w_shape=(3, 3, 4, 4), **attrs) -> Graph:
    g = GraphBuilder()
    x = g.input("x", x_shape)
    w = g.const(np.zeros(w_shape, np.float32), name="w")
    merged = {"strides": [1, 1, 1, 1], "padding": "SAME", **NHWC, **attrs}
    g.output("y", g.op(op, x, w, name="node", **merged))
    return g.build()


def _single(graph: Graph) -> list[str]:
    return attribute_problems(graph, "node")


def test_plain_ops_pass() -> None:
    assert _single(_conv()) == []
    assert _single(_conv("DepthwiseConv2dNative", w_shape=(3, 3, 4, 2), dilations=[1, 2, 2, 1])) == []
    assert find_unsupported(_conv(strides=[1, 2, 2, 1])) == {}


def test_grouped_filter_is_named() -> None:
    graph = _conv(w_shape=(3, 3, 2, 4))
    assert conv_groups(graph, "node") == 2
    assert find_unsupported(graph) == {
        "Conv2D with a grouped filter (2 groups; TF.js has no grouped convolution)": ["node"]}
    with pytest.raises(UnsupportedOpError, match=r"grouped filter .*\(used by node\)"):
        validate(graph)


def test_unknown_channel_count_is_not_guessed() -> None:
    assert conv_groups(_conv(x_shape=(1, 8, 8, None), w_shape=(3, 3, 2, 4)), "node") is None


@pytest.mark.parametrize("op", ["Conv2D", "MaxPool", "AvgPool", "BiasAdd"])
def test_channels_first_is_refused(op: str) -> None:
    g = GraphBuilder()
    x = g.input("x", (1, 4, 8, 8))
    if op == "Conv2D":
        y = g.op(op, x, g.const(np.zeros((3, 3, 4, 4), np.float32)), name="node",
                 strides=[1, 1, 1, 1], padding="SAME", data_format="NCHW", T="DT_FLOAT")
    elif op == "BiasAdd":
        y = g.op(op, x, g.const(np.zeros((4,), np.float32)), name="node", data_format="NCHW",
                 T="DT_FLOAT")
    else:
        y = g.op(op, x, name="node", ksize=[1, 1, 2, 2], strides=[1, 1, 2, 2], padding="VALID",
                 data_format="NCHW", T="DT_FLOAT")
    g.output("y", y)
    assert _single(g.build()) == ["data_format NCHW (TF.js runs channels-last only)"]


def test_strides_with_dilations_are_refused() -> None:
    problems = _single(_conv(strides=[1, 2, 2, 1], dilations=[1, 2, 2, 1]))
    assert problems == ["strides > 1 with dilations > 1 (TF.js: either strides or dilations must be 1)"]


def test_transposed_conv_dilations_are_refused() -> None:
    g = GraphBuilder()
    dy = g.input("dy", (1, 4, 4, 2))
    sizes = g.const(np.array([1, 8, 8, 3], np.int32))
    w = g.const(np.zeros((3, 3, 3, 2), np.float32))
    g.output("y", g.op("Conv2DBackpropInput", sizes, w, dy, name="node", strides=[1, 1, 1, 1],
                       dilations=[1, 2, 2, 1], padding="SAME", **NHWC))
    assert _single(g.build()) == ["dilations > 1 (TF.js ignores them on transposed convolutions)"]


def test_explicit_pool_padding_is_refused() -> None:
    g = GraphBuilder()
    g.output("y", g.op("MaxPool", g.input("x", (1, 8, 8, 3)), name="node", ksize=[1, 2, 2, 1],
                       strides=[1, 2, 2, 1], padding="EXPLICIT",
                       explicit_paddings=[0, 0, 1, 1, 1, 1, 0, 0], **NHWC))
    assert _single(g.build()) == ["EXPLICIT padding (TF.js reads only SAME/VALID here)"]


def test_tf_mod_is_refused_because_tfjs_floors() -> None:
    g = GraphBuilder()
    g.output("y", g.op("Mod", g.input("a", (3,), "DT_INT32"), g.input("b", (3,), "DT_INT32"), name="node",
                       T="DT_INT32"))
    assert _single(g.build()) == ["truncated remainder semantics (TF.js 4.22 computes a floor modulo)"]
