"""function_identities: the one clean-up of function bodies (debug ops, NoOps, dead nodes, Identity
wrappers and pure control edges inside While/If bodies)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from builders import GraphBuilder
from harness import assert_pass_preserves
from tfjs_lite.optimizer.passes.function_identities import FunctionIdentities

from tfjs_lite import executor
from tfjs_lite.ir import ArgDef, DType, FuncRef, FunctionSignature, Graph
from tfjs_lite.readers.saved_model import load_saved_model

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "graph"


def _load(name: str):
    from tfjs_node import load_tensors

    graph = load_saved_model(FIXTURES / name / "saved_model")
    return graph, load_tensors(FIXTURES / name / "inputs.json"), load_tensors(FIXTURES / name / "expected.json")


def _body_nodes(graph) -> int:
    return sum(len(b) for b in graph.functions.values())


@pytest.mark.parametrize("name", ["control_flow", "asserts", "rnn"])
def test_bodies_lose_identities_and_keep_values(name: str) -> None:
    graph, inputs, expected = _load(name)
    before = _body_nodes(graph)
    assert FunctionIdentities().run(graph) is True
    graph.check(library=graph.functions)
    for body in graph.functions.values():
        body.check(library=graph.functions)
        anchors = set(body.signature.control_outputs.values())
        for n in body.nodes_by_op("Identity"):  # only anchors or identities ordered by side effects
            assert n in anchors or body.control_inputs_of(n) or body.control_consumers(n)
    assert _body_nodes(graph) < before
    assert not any(b.nodes_by_op("NoOp", "Assert") for b in graph.functions.values())
    got = executor.run(graph, inputs)
    for k, v in expected.items():
        np.testing.assert_allclose(np.asarray(got[k]), np.asarray(v), rtol=1e-5, atol=1e-6)


def test_return_value_can_be_an_argument() -> None:
    graph, _, _ = _load("asserts")
    FunctionIdentities().run(graph)
    true_branch = next(b for k, b in graph.functions.items() if "true" in k)
    (ret,) = true_branch.outputs.values()
    assert true_branch.op(ret.node) == "_Arg"


def test_strip_debug_false_keeps_asserts() -> None:
    graph, _, _ = _load("asserts")
    FunctionIdentities(strip_debug=False).run(graph)
    assert any(b.nodes_by_op("Assert") for b in graph.functions.values())


def test_idempotent() -> None:
    graph, _, _ = _load("control_flow")
    assert FunctionIdentities().run(graph) is True
    assert FunctionIdentities().run(graph) is False


def _body(name: str, *, frames: bool) -> Graph:
    """x -> [Switch:1 ->] EnsureShape(^NoOp) -> CheckNumerics -> Identity [-> Merge] -> y, with a
    PrintV2 and the NoOp as control outputs."""
    b = GraphBuilder()
    x = b.input("x", (2,), op="_Arg")
    if frames:
        switch = b.op("Switch", x, b.const(np.array(True)), T="DT_FLOAT", outputs=2, name="switch")
        x = switch[1]
    noop = b.op("NoOp", name="noop")
    ensured = b.op("EnsureShape", x, shape=(2,), T="DT_FLOAT", control=[noop], name="ensure")
    checked = b.op("CheckNumerics", ensured, message="bad", T="DT_FLOAT", name="check")
    y = b.op("Identity", checked, T="DT_FLOAT", name="ident")
    if frames:
        y = b.op("Merge", y, switch[0], T="DT_FLOAT", N=2, outputs=2, name="merge")[0]
    b.op("PrintV2", b.const(np.array(b"msg", dtype=object)), name="print")
    b.output("y", y)
    body = b.graph
    body.signature = FunctionSignature(name, [ArgDef("x", DType("DT_FLOAT"))], [ArgDef("y", DType("DT_FLOAT"))],
                                       control_outputs={"guard": "noop", "log": "print"})
    return body


def _calling(*bodies: Graph) -> Graph:
    g = GraphBuilder()
    ref = g.input("x", (2,))
    for body in bodies:
        g.graph.functions[body.signature.name] = body
        ref = g.op("PartitionedCall", ref, f=FuncRef(body.signature.name), Tin=["DT_FLOAT"], Tout=["DT_FLOAT"])
    g.output("y", ref)
    return g.build()


def test_debug_ops_noops_and_dead_nodes_leave_bodies_with_and_without_frames() -> None:
    graph = _calling(_body("plain", frames=False), _body("framed", frames=True))
    g2 = assert_pass_preserves(graph, FunctionIdentities())
    plain, framed = g2.functions["plain"], g2.functions["framed"]
    for body in (plain, framed):
        assert not body.nodes_by_op("NoOp", "PrintV2", "EnsureShape", "CheckNumerics")
        assert body.signature.control_outputs == {}
    assert sorted(plain.nodes()) == ["x"]  # every wrapper bypassed: y reads the argument
    # TF1 frames: debug ops become Identity, but no Identity is bypassed inside the frame.
    assert framed.op("ensure") == "Identity" and framed.op("ident") == "Identity"


def test_without_strip_debug_only_noops_go() -> None:
    graph = _calling(_body("plain", frames=False))
    g2 = assert_pass_preserves(graph, FunctionIdentities(strip_debug=False))
    body = g2.functions["plain"]
    assert body.op("ensure") == "EnsureShape" and body.op("check") == "CheckNumerics"
    assert "print" in body and body.signature.control_outputs == {"log": "print"}
    assert not body.nodes_by_op("NoOp")


def test_must_not_fire_on_clean_bodies() -> None:
    b = GraphBuilder()
    b.output("y", b.op("Relu", b.input("x", (2,), op="_Arg")))
    body = b.graph
    body.signature = FunctionSignature("f", [ArgDef("x", DType("DT_FLOAT"))], [ArgDef("y", DType("DT_FLOAT"))])
    assert_pass_preserves(_calling(body), FunctionIdentities(), expect_modified=False)
