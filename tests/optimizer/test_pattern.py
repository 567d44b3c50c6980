"""The fusion pattern matcher and Match.removable."""

from __future__ import annotations

import numpy as np
from builders import GraphBuilder
import logging

from tfjs_lite.optimizer.pattern import P, Rule, apply_rules, match

PAT = P("Relu", P({"Add", "AddV2"}, P("MatMul", P(name="a"), P(const=True, name="w"), name="mm"),
                  P(const=True, name="b"), commute=True, name="add"), name="relu")


def _graph(*, swap: bool = False, extra_consumer: bool = False, output: bool = False):
    g = GraphBuilder()
    a = g.input("a", (2, 3))
    mm = g.op("MatMul", a, g.const(np.ones((3, 2), np.float32), name="w"), name="mm")
    b = g.const(np.ones(2, np.float32), name="b")
    add = g.op("AddV2", *((b, mm) if swap else (mm, b)), name="add")
    g.output("y", g.op("Relu", add, name="relu"))
    if extra_consumer:
        g.output("z", g.op("Exp", mm))
    if output:
        g.output("add", add)
    return g.build()


def test_binds_names_and_commutes() -> None:
    for swap in (False, True):
        graph = _graph(swap=swap)
        m = match(graph, "relu", PAT)
        assert m is not None and m.refs["w"].node == "w" and m.node("b") == "b"
        assert m.interior == ["add", "mm"] and m.removable(graph) is None


def test_removable_reasons() -> None:
    graph = _graph(extra_consumer=True)
    assert "also consumed" in match(graph, "relu", PAT).removable(graph)
    graph = _graph(output=True)
    assert "graph output" in match(graph, "relu", PAT).removable(graph)


def test_repeated_name_binds_same_tensor() -> None:
    g = GraphBuilder()
    x, z = g.input("x", (2,)), g.input("z", (2,))
    g.output("y", g.op("Sub", g.op("Relu", x), g.op("Neg", x), name="same"))
    g.output("w", g.op("Sub", g.op("Relu", x), g.op("Neg", z), name="diff"))
    pat = P("Sub", P("Relu", P(name="x")), P("Neg", P(name="x")))
    graph = g.build()
    assert [n for n in graph.topo_order() if match(graph, n, pat)] == ["same"]


def _fuse_to_exp(graph, m) -> None:
    graph.set_inputs(m.root, [m.refs["a"]])
    graph.set_op(m.root, "Exp")
    for n in m.interior:
        graph.remove(n)


def test_apply_rules_checks_removable_and_logs_why(caplog) -> None:
    rule = Rule((PAT,), _fuse_to_exp)
    graph = _graph(extra_consumer=True)
    with caplog.at_level(logging.DEBUG, logger="tfjs_lite.optimizer.pattern"):
        assert apply_rules(graph, "demo", [rule]) is False
    assert "demo: not at relu: 'mm' is also consumed by 'Exp'" in caplog.text
    assert graph.op("relu") == "Relu" and "mm" in graph
    graph = _graph()
    assert apply_rules(graph, "demo", [rule]) is True
    assert graph.op("relu") == "Exp" and "mm" not in graph


def test_apply_rules_reject_is_logged() -> None:
    rule = Rule((PAT,), _fuse_to_exp, reject=lambda g, m: "not today")
    graph = _graph()
    assert apply_rules(graph, "demo", [rule]) is False and graph.op("relu") == "Relu"
