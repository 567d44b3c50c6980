"""fuse_conv: Conv2D + BiasAdd (+ act) => _FusedConv2D."""

from __future__ import annotations

import pytest
from builders import GraphBuilder
from harness import assert_pass_preserves
from opt_graphs import bias_add, conv, image_input, single_output
from tfjs_lite.optimizer.passes.fuse_conv import FuseConv


@pytest.mark.parametrize("act", ["Relu", "Relu6", "Elu", "LeakyRelu", "Sigmoid"])
def test_conv_bias_act(act: str) -> None:
    #  x -> Conv2D -> BiasAdd -> act -> y   ==>   x -> _FusedConv2D[BiasAdd, act] -> y
    g = GraphBuilder()
    extra = {"alpha": 0.3} if act == "LeakyRelu" else {}
    y = g.op(act, bias_add(g, conv(g, image_input(g)), 4), name="act", **extra)
    g2 = assert_pass_preserves(single_output(g, y), FuseConv(),
                               expect_ops={"Placeholder": 1, "Const": 2, "_FusedConv2D": 1})
    attrs = g2.attrs("act")
    assert g2.op("act") == "_FusedConv2D"
    assert attrs["fused_ops"] == ["BiasAdd", act] and attrs["num_args"] == 1
    assert attrs["TArgs"] == ["DT_FLOAT"] and attrs["filter_format"] == "HWIO"
    assert attrs["epsilon"] == 0.0 and attrs["leakyrelu_alpha"] == (0.3 if extra else 0.2)
    for k in ("strides", "padding", "explicit_paddings", "data_format", "dilations", "use_cudnn_on_gpu"):
        assert k in attrs


def test_conv_bias_only() -> None:
    g = GraphBuilder()
    y = bias_add(g, conv(g, image_input(g)), 4)
    g2 = assert_pass_preserves(single_output(g, y), FuseConv())
    assert g2.attrs("bias_add")["fused_ops"] == ["BiasAdd"]


def test_conv_act_gets_zero_bias() -> None:
    #  x -> Conv2D -> Relu   ==>   _FusedConv2D(x, W, zeros(4))[BiasAdd, Relu]
    g = GraphBuilder()
    y = g.op("Relu", conv(g, image_input(g)), name="relu")
    g2 = assert_pass_preserves(single_output(g, y), FuseConv(),
                               expect_ops={"Placeholder": 1, "Const": 2, "_FusedConv2D": 1})
    assert g2.attrs("relu")["fused_ops"] == ["BiasAdd", "Relu"]
    assert g2.value(g2.inputs_of("relu")[2].node).tolist() == [0, 0, 0, 0]


def test_not_when_conv_has_second_consumer() -> None:
    #  Conv2D -> BiasAdd -> y ; Conv2D -> z   (conv output needed unbiased)
    g = GraphBuilder()
    c = conv(g, image_input(g))
    g.output("z", c)
    y = bias_add(g, c, 4)
    assert_pass_preserves(single_output(g, y), FuseConv(), expect_modified=False)


def test_bias_output_consumed_elsewhere_fuses_only_bias() -> None:
    #  Conv2D -> BiasAdd -> Relu -> y ; BiasAdd -> z : Relu cannot join, BiasAdd can
    g = GraphBuilder()
    b = bias_add(g, conv(g, image_input(g)), 4)
    g.output("z", g.op("Neg", b))
    y = g.op("Relu", b)
    g2 = assert_pass_preserves(single_output(g, y), FuseConv())
    assert g2.op("bias_add") == "_FusedConv2D" and g2.attrs("bias_add")["fused_ops"] == ["BiasAdd"]


def test_not_when_intermediate_is_graph_output() -> None:
    g = GraphBuilder()
    c = conv(g, image_input(g))
    g.output("c", c)
    assert_pass_preserves(single_output(g, g.op("Relu", c)), FuseConv(), expect_modified=False)


def test_not_for_unfusable_activation() -> None:
    g = GraphBuilder()
    y = g.op("Tanh", conv(g, image_input(g)))
    assert_pass_preserves(single_output(g, y), FuseConv(), expect_modified=False)


def test_act_only_with_non_const_filter_not_fused() -> None:
    g = GraphBuilder()
    x = image_input(g)
    w = g.input("w", (1, 1, 3, 2))
    y = g.op("Relu", g.op("Conv2D", x, w, strides=[1, 1, 1, 1], padding="VALID"))
    assert_pass_preserves(single_output(g, y), FuseConv(), expect_modified=False)
