"""One liveness walk: the SavedModel reader's prune and the prune pass keep the same nodes."""

from __future__ import annotations

import numpy as np
import pytest
from builders import GraphBuilder
from tfjs_lite.optimizer.passes.prune import Prune

from tfjs_lite.ir import ArgDef, DType, FunctionSignature, Graph, live_nodes
from tfjs_lite.readers.saved_model import prune as reader_prune


def _graph() -> Graph:
    g = GraphBuilder()
    x, unused = g.input("x", (2,)), g.input("unused", (2,))
    g.op("Exp", g.op("Relu", unused), name="dead_exp")
    check = g.op("Assert", g.const(np.array(True)), x, name="check")
    g.op("NoOp", name="table_init")
    g.output("y", g.op("Relu", x, control=[check], name="y"))
    graph = g.build()
    graph.keep_nodes = {"table_init"}
    return graph


def _reader(graph: Graph) -> None:
    reader_prune(graph)


def _pass(graph: Graph) -> None:
    Prune().run(graph)


@pytest.mark.parametrize("prune", [_reader, _pass], ids=["reader", "pass"])
def test_both_prunes_keep_the_interface_control_ancestors_and_keep_nodes(prune) -> None:
    graph = _graph()
    prune(graph)
    graph.check()
    # An unused signature input stays: the model's interface must not change under a prune.
    assert list(graph.inputs) == ["x", "unused"] and "unused" in graph
    assert {"check", "table_init", "y"} <= set(graph.nodes())
    assert "dead_exp" not in graph
    assert sorted(graph.nodes()) == sorted(live_nodes(_graph()))


def test_body_keeps_parameters_and_control_outputs() -> None:
    b = GraphBuilder()
    b.input("a", (2,), op="_Arg")
    x = b.input("x", (2,), op="_Arg")
    b.op("Neg", x, name="dead")
    b.op("Assert", b.const(np.array(True)), x, name="guard")
    b.output("y", b.op("Relu", x))
    body = b.graph
    body.signature = FunctionSignature("f", [ArgDef("a", DType("DT_FLOAT")), ArgDef("x", DType("DT_FLOAT"))],
                                       [ArgDef("y", DType("DT_FLOAT"))], control_outputs={"g": "guard"})
    reader_prune(body)
    assert "a" in body and "guard" in body and "dead" not in body


def test_loop_back_edges_are_swept_without_errors() -> None:
    # A dead TF1 loop: NextIteration reads its producer through a back edge.
    g = GraphBuilder()
    x = g.input("x", (2,))
    enter = g.op("Enter", x, frame_name="f", name="enter")
    nxt = g.graph.add_op("NextIteration", [], name="next")
    merge = g.op("Merge", enter, g.graph.inputs["x"], N=2, outputs=2, name="merge")[0]
    g.graph.set_input("next", 0, g.op("Neg", merge, name="body"))
    g.output("y", g.op("Relu", x))
    graph = g.graph
    assert nxt == "next"
    assert Prune().run(graph) is True
    graph.check()
    assert sorted(graph.nodes()) == ["Relu", "x"]
