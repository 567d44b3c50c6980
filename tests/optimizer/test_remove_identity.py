"""remove_identity: bypass identities, drop NoOps and useless control deps."""

from __future__ import annotations

import numpy as np
from builders import GraphBuilder
from harness import assert_pass_preserves
from tfjs_lite.optimizer.passes.remove_identity import RemoveIdentity


def test_chain_collapses_but_output_identity_keeps_its_name() -> None:
    #  x -> Identity -> Snapshot -> StopGradient -> Relu -> Identity "out" -> y
    g = GraphBuilder()
    x = g.input("x", (2, 3))
    t = g.op("StopGradient", g.op("Snapshot", g.op("Identity", x)))
    g.output("y", g.op("Identity", g.op("Relu", t), name="out"))
    g2 = assert_pass_preserves(g.build(), RemoveIdentity(),
                               expect_ops={"Placeholder": 1, "Relu": 1, "Identity": 1})
    assert g2.outputs["y"].node == "out"


def test_identity_n() -> None:
    g = GraphBuilder()
    x, z = g.input("x", (2,)), g.input("z", (2,))
    a, b = g.op("IdentityN", x, z, outputs=2)
    g.output("y", g.op("Sub", a, b))
    assert_pass_preserves(g.build(), RemoveIdentity(), expect_ops={"Placeholder": 2, "Sub": 1})


def test_noop_and_pure_control_deps_removed() -> None:
    g = GraphBuilder()
    x = g.input("x", (2,))
    c = g.const(np.ones(2, np.float32))
    noop = g.op("NoOp", control=[c], name="noop", outputs=1)
    g.output("y", g.op("Relu", x, control=[noop]))
    g2 = assert_pass_preserves(g.build(), RemoveIdentity())
    assert "noop" not in g2 and g2.control_inputs_of(g2.outputs["y"].node) == []


def test_control_dep_on_side_effect_kept() -> None:
    #  Identity(x, ^assert) -> Relu : Relu inherits ^assert
    g = GraphBuilder()
    x = g.input("x", (2,))
    assert_ = g.op("Assert", g.const(np.array(True)), x, name="assert")
    i = g.op("Identity", x, control=[assert_])
    g.output("y", g.op("Relu", i, name="relu"))
    g2 = assert_pass_preserves(g.build(), RemoveIdentity())
    assert g2.control_inputs_of("relu") == ["assert"]


def test_nothing_to_do() -> None:
    g = GraphBuilder()
    g.output("y", g.op("Identity", g.input("x", (2,)), name="Identity"))
    assert_pass_preserves(g.build(), RemoveIdentity(), expect_modified=False)
