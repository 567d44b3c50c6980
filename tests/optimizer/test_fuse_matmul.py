"""fuse_matmul: MatMul + BiasAdd (+ act) => _FusedMatMul."""

from __future__ import annotations

import pytest
from builders import GraphBuilder
from harness import assert_pass_preserves
from opt_graphs import bias_add, matmul, single_output
from tfjs_lite.optimizer.passes.fuse_matmul import FuseMatMul


@pytest.mark.parametrize("transpose_b", [False, True])
@pytest.mark.parametrize("act", [None, "Relu", "Sigmoid"])
def test_matmul_bias_act(act: str | None, transpose_b: bool) -> None:
    #  a -> MatMul -> BiasAdd (-> act) -> y   ==>   _FusedMatMul[BiasAdd(, act)]
    g = GraphBuilder()
    y = bias_add(g, matmul(g, g.input("a", (2, 5)), transpose_b=transpose_b), 3)
    if act:
        y = g.op(act, y, name="act")
    g2 = assert_pass_preserves(single_output(g, y), FuseMatMul(),
                               expect_ops={"Placeholder": 1, "Const": 2, "_FusedMatMul": 1})
    root = "act" if act else "bias_add"
    attrs = g2.attrs(root)
    assert attrs["fused_ops"] == ["BiasAdd"] + ([act] if act else [])
    assert attrs["transpose_b"] is transpose_b and attrs["transpose_a"] is False
    assert attrs["num_args"] == 1


def test_matmul_act_zero_bias() -> None:
    g = GraphBuilder()
    y = g.op("Relu6", matmul(g, g.input("a", (2, 5)), transpose_b=True), name="act")
    g2 = assert_pass_preserves(single_output(g, y), FuseMatMul())
    assert g2.value(g2.inputs_of("act")[2].node).shape == (3,)


def test_not_when_matmul_consumed_twice() -> None:
    g = GraphBuilder()
    m = matmul(g, g.input("a", (2, 5)))
    g.output("z", g.op("Exp", m))
    assert_pass_preserves(single_output(g, bias_add(g, m, 3)), FuseMatMul(), expect_modified=False)


def test_not_when_matmul_is_output() -> None:
    g = GraphBuilder()
    m = matmul(g, g.input("a", (2, 5)))
    g.output("m", m)
    assert_pass_preserves(single_output(g, bias_add(g, m, 3)), FuseMatMul(), expect_modified=False)


def test_not_for_tanh() -> None:
    g = GraphBuilder()
    y = g.op("Tanh", matmul(g, g.input("a", (2, 5))))
    assert_pass_preserves(single_output(g, y), FuseMatMul(), expect_modified=False)
