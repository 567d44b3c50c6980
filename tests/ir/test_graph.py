"""ir.Graph: construction, queries, mutation API, copy semantics, invariants, back edges, names."""

from __future__ import annotations

import numpy as np
import pytest

from builders import GraphBuilder
from tfjs_lite.errors import InvariantError
from tfjs_lite.ir import DType, FuncRef, Graph, TensorRef, TensorType, format_graph, parse_input
from tfjs_lite.ir.names import ParsedInput, UniqueNamer, format_input


def _diamond() -> Graph:
    #   x ──┬─> relu ─┐
    #       └─> neg  ─┴─> add -> y ;   sq = Mul(x, x)
    g = GraphBuilder()
    x = g.input("x", (2, 3))
    r = g.op("Relu", x, name="relu")
    n = g.op("Neg", x, name="neg")
    g.output("y", g.op("AddV2", r, n, name="add"))
    g.op("Mul", x, x, name="sq")
    return g.build()


def test_inputs_and_consumers_in_slot_order() -> None:
    g = _diamond()
    assert g.inputs_of("add") == [TensorRef("relu"), TensorRef("neg")]
    assert g.inputs_of("sq") == [TensorRef("x"), TensorRef("x")]  # parallel edges kept
    assert g.consumers(TensorRef("x")) == [("neg", 0), ("relu", 0), ("sq", 0), ("sq", 1)]
    assert str(TensorRef("relu", 1)) == "relu:1"


def test_topo_order_is_lexicographic_and_deterministic() -> None:
    g = _diamond()
    assert g.topo_order() == ["x", "neg", "relu", "add", "sq"]
    assert g.copy().topo_order() == g.topo_order()


def test_replace_uses_rewrites_consumers_and_outputs() -> None:
    g = _diamond()
    n = g.replace_uses(TensorRef("add"), TensorRef("relu"))
    assert n == 1 and g.outputs["y"] == TensorRef("relu")
    g.remove("add")
    g.remove("neg")
    g.check()
    assert "add" not in g and len(g) == 3


def test_remove_refuses_while_consumed() -> None:
    g = _diamond()
    with pytest.raises(InvariantError, match="still used"):
        g.remove("relu")
    with pytest.raises(InvariantError, match="outputs"):
        g.remove("add")


def test_remove_refuses_control_consumer() -> None:
    g = GraphBuilder()
    x = g.input("x", (1,))
    a = g.op("Relu", x, name="a")
    g.output("y", g.op("Neg", x, name="b", control=[a]))
    graph = g.build()
    assert graph.control_inputs_of("b") == ["a"]
    assert graph.control_consumers("a") == ["b"]
    with pytest.raises(InvariantError):
        graph.remove("a")
    graph.remove_control_input("b", "a")
    graph.remove("a")
    graph.check()


def test_set_input_and_set_inputs() -> None:
    g = _diamond()
    g.set_input("add", 1, TensorRef("relu"))
    assert g.inputs_of("add") == [TensorRef("relu"), TensorRef("relu")]
    g.set_input("add", 2, TensorRef("x"))  # appending the next slot is allowed
    assert len(g.inputs_of("add")) == 3
    with pytest.raises(InvariantError):
        g.set_input("add", 5, TensorRef("x"))
    g.set_inputs("add", [TensorRef("neg")])
    assert g.inputs_of("add") == [TensorRef("neg")]
    g.check()


def test_const_values_are_read_only_and_shared_by_copy() -> None:
    g = Graph()
    src = np.arange(4, dtype=np.float32)
    ref = g.add_const(src, name="c")
    src[0] = 99.0  # the graph took a copy of a writeable array
    value = g.value("c")
    assert value is not None and value[0] == 0.0 and not value.flags.writeable
    assert g.attrs("c")["dtype"] == DType("DT_FLOAT")
    assert g.out_types("c") == (TensorType(DType("DT_FLOAT"), (4,)),)
    g2 = g.copy()
    assert g2.value(ref.node) is value  # cheap copy: arrays are shared
    g2.set_attr("c", "extra", [1, 2])
    assert "extra" not in g.attrs("c")  # attr dicts are not shared
    g2.set_value("c", np.zeros(2, np.int32))
    assert g.value("c") is value and g2.attrs("c")["dtype"] == "DT_INT32"


def test_add_op_names_and_errors() -> None:
    g = Graph()
    a = g.add_op("NoOp")
    b = g.add_op("NoOp")
    assert (a, b) == ("NoOp", "NoOp_1")
    with pytest.raises(InvariantError, match="already exists"):
        g.add_op("NoOp", name="NoOp")
    with pytest.raises(InvariantError, match="does not exist"):
        g.add_op("Relu", [TensorRef("missing")])


def test_check_catches_broken_invariants() -> None:
    g = _diamond()
    g.outputs["bad"] = TensorRef("nope")
    with pytest.raises(InvariantError, match="nope"):
        g.check()
    g = _diamond()
    g.set_out_types("relu", [TensorType(DType("DT_FLOAT"), (2, 3))])
    g.set_input("add", 0, TensorRef("relu", 1))
    with pytest.raises(InvariantError, match="port 1"):
        g.check()
    g = _diamond()
    g.set_attr("relu", "f", FuncRef("missing_fn"))
    with pytest.raises(InvariantError, match="missing_fn"):
        g.check()


def test_cycle_is_rejected_but_next_iteration_back_edge_is_not() -> None:
    # TF1 loop: enter -> merge -> body -> next_iteration -> merge (back edge kept outside the DAG)
    g = Graph()
    x = g.add_op("Placeholder", name="x")
    enter = g.add_op("Enter", [TensorRef(x)], name="enter")
    nxt = g.add_op("NextIteration", name="next")
    merge = g.add_op("Merge", [TensorRef(enter), TensorRef(nxt)], name="merge")
    body = g.add_op("Relu", [TensorRef(merge)], name="body")
    g.set_input(nxt, 0, TensorRef(body))
    g.check()
    assert g.inputs_of("next") == [TensorRef("body")]
    assert ("next", 0) in g.consumers(TensorRef("body"))
    assert g.back_edges() == {"next": [TensorRef("body")]}
    assert g.topo_order().index("merge") < g.topo_order().index("body")
    with pytest.raises(InvariantError):
        g.remove("body")  # still read through the back edge
    # A cycle through an ordinary op is an error.
    g2 = Graph()
    a = g2.add_op("Placeholder", name="a")
    b = g2.add_op("Relu", [TensorRef(a)], name="b")
    c = g2.add_op("AddV2", [TensorRef(b), TensorRef(b)], name="c")
    g2.set_input(b, 0, TensorRef(c))
    with pytest.raises(InvariantError, match="cycle"):
        g2.check()
    assert g2.find_cycle() is not None and g.find_cycle() is None
    with pytest.raises(InvariantError, match="node '[bc]' is on a cycle"):
        g2.topo_order()  # not networkx's NetworkXUnfeasible


def test_function_library_is_checked_and_copied() -> None:
    body = GraphBuilder()
    body.output("out", body.op("Relu", body.input("a", (None,))))
    g = GraphBuilder()
    call = g.op("PartitionedCall", g.input("x", (3,)), f=FuncRef("fn"))
    g.output("y", call)
    graph = g.graph
    graph.functions["fn"] = body.build()
    graph.check()
    g2 = graph.copy()
    g2.functions["fn"].set_op("Relu", "Neg")
    assert graph.functions["fn"].op("Relu") == "Relu"


@pytest.mark.parametrize(("text", "parsed"), [
    ("a", ParsedInput("a", 0, False, None)),
    ("a:1", ParsedInput("a", 1, False, None)),
    ("^a", ParsedInput("a", 0, True, None)),
    ("fn/x:output:2", ParsedInput("fn/x", 2, False, "output")),
])
def test_parse_input(text: str, parsed: ParsedInput) -> None:
    assert parse_input(text) == parsed


@pytest.mark.parametrize("text", ["", "a:", "a:x", "a:b:c:d"])
def test_parse_input_rejects_malformed(text: str) -> None:
    with pytest.raises(ValueError):
        parse_input(text)


def test_format_input_and_unique_namer() -> None:
    assert format_input("a") == "a" and format_input("a", 2) == "a:2"
    assert format_input("a", control=True) == "^a"
    namer = UniqueNamer(["w", "w_1"])
    assert [namer.fresh("w"), namer.fresh("w"), namer.fresh("v")] == ["w_2", "w_3", "v"]


def test_printer_mentions_every_node() -> None:
    text = format_graph(_diamond())
    for name in ("x", "relu", "neg", "add", "sq", "output y <- add:0"):
        assert name in text


def test_replace_uses_skip_inserts_a_node_after_a_tensor() -> None:
    # x -> relu -> add  becomes  x -> relu -> neg -> add  (neg itself keeps reading relu)
    g = _diamond()
    neg2 = g.add_op("Neg", [TensorRef("relu")], name="neg2")
    assert g.replace_uses(TensorRef("relu"), TensorRef(neg2), skip=[neg2]) == 1
    assert g.inputs_of("neg2") == [TensorRef("relu")]
    assert g.inputs_of("add")[0] == TensorRef("neg2")
    g.check()


def test_networkx_internals_the_ir_reads_still_behave_as_assumed() -> None:
    """Graph reads nx.MultiDiGraph's private adjacency dicts and drops its cached views
    (tfjs_lite/ir/graph.py). This fails, instead of the IR silently misbehaving, when a networkx
    release changes them."""
    import functools

    import networkx as nx
    from tfjs_lite.ir import graph as graph_module

    g = nx.MultiDiGraph()
    g.add_node("a", op="Const")
    g.add_node("b", op="Relu")
    g.add_edge("a", "b", 0, src_port=0, control=False)
    g.add_edge("a", "b", "^a", src_port=-1, control=True)
    # node -> data, dst -> src -> key -> data, src -> dst -> key -> data, all plain dicts shared with
    # the public views.
    assert type(g._node) is dict and g._node["a"] is g.nodes["a"]
    assert type(g._succ) is dict and type(g._pred) is dict
    assert g._succ["a"]["b"][0] is g.edges["a", "b", 0] and g._pred["b"]["a"]["^a"]["control"] is True
    assert list(g._succ["a"]["b"]) == [0, "^a"]
    g.remove_edge("a", "b", 0)
    assert list(g._pred["b"]["a"]) == ["^a"]
    g.remove_node("a")
    assert "a" not in g._node and "a" not in g._pred["b"]
    # The cached views Graph forgets after each algorithm run are functools.cached_property.
    assert graph_module._NX_VIEWS, "networkx no longer caches views with cached_property"
    assert {"nodes", "edges", "adj", "succ", "pred"} <= graph_module._NX_VIEWS
    _ = g.nodes, g.edges, g.adj
    assert all(isinstance(getattr(type(g), name), functools.cached_property) for name in graph_module._NX_VIEWS)
    graph_module._drop_views(g)
    assert not any(name in vars(g) for name in graph_module._NX_VIEWS)
