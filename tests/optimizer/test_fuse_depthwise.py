"""fuse_depthwise: DepthwiseConv2dNative + BiasAdd (+ act) => FusedDepthwiseConv2dNative."""

from __future__ import annotations

import pytest
from builders import GraphBuilder
from harness import assert_pass_preserves
from opt_graphs import bias_add, depthwise, image_input, single_output
from tfjs_lite.optimizer.passes.fuse_depthwise import FuseDepthwise


@pytest.mark.parametrize("act", [None, "Relu", "Relu6", "Elu"])
def test_depthwise_bias_act(act: str | None) -> None:
    g = GraphBuilder()
    y = bias_add(g, depthwise(g, image_input(g)), 6)
    if act:
        y = g.op(act, y, name="act")
    g2 = assert_pass_preserves(single_output(g, y), FuseDepthwise(),
                               expect_ops={"Placeholder": 1, "Const": 2, "FusedDepthwiseConv2dNative": 1})
    attrs = g2.attrs("act" if act else "bias_add")
    assert attrs["fused_ops"] == ["BiasAdd"] + ([act] if act else []) and attrs["num_args"] == 1


def test_depthwise_act_only_is_noop_form() -> None:
    #  as the official: fused_ops [NoOp, Relu6], num_args 0
    g = GraphBuilder()
    y = g.op("Relu6", depthwise(g, image_input(g)), name="act")
    g2 = assert_pass_preserves(single_output(g, y), FuseDepthwise())
    assert g2.attrs("act")["fused_ops"] == ["NoOp", "Relu6"] and g2.attrs("act")["num_args"] == 0


def test_single_consumer_check_the_official_lacks() -> None:
    #  dw -> BiasAdd -> y ; dw -> z : the official would feed z the biased value
    g = GraphBuilder()
    d = depthwise(g, image_input(g))
    g.output("z", g.op("Abs", d))
    assert_pass_preserves(single_output(g, bias_add(g, d, 6)), FuseDepthwise(), expect_modified=False)


def test_not_when_bias_add_is_output() -> None:
    g = GraphBuilder()
    b = bias_add(g, depthwise(g, image_input(g)), 6)
    g.output("b", b)
    g2 = assert_pass_preserves(single_output(g, g.op("Relu", b)), FuseDepthwise())
    assert g2.attrs("bias_add")["fused_ops"] == ["BiasAdd"]  # Relu stays separate


def test_not_for_unfusable_activation() -> None:
    g = GraphBuilder()
    y = g.op("Softplus", depthwise(g, image_input(g)))
    assert_pass_preserves(single_output(g, y), FuseDepthwise(), expect_modified=False)
