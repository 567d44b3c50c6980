"""strip_debug: Assert/PrintV2 removed, CheckNumerics/Print become Identity."""

from __future__ import annotations

import numpy as np
from builders import GraphBuilder
from harness import assert_pass_preserves
from tfjs_lite.optimizer.passes.strip_debug import StripDebug


def test_strip() -> None:
    g = GraphBuilder()
    x = g.input("x", (2,))
    a = g.op("Assert", g.op("All", g.op("IsFinite", x), g.const(np.int32(0))), x, name="assert")
    c = g.op("CheckNumerics", x, message="bad", name="check", control=[a])
    g.output("y", g.op("Relu", c))
    g2 = assert_pass_preserves(g.build(), StripDebug())
    assert "assert" not in g2 and g2.op("check") == "Identity" and not g2.control_inputs_of("check")


def test_nothing_to_strip() -> None:
    g = GraphBuilder()
    g.output("y", g.op("Relu", g.input("x", (2,))))
    assert_pass_preserves(g.build(), StripDebug(), expect_modified=False)


def test_ensure_shape_and_print_v2_are_debug_ops() -> None:
    g = GraphBuilder()
    x = g.input("x", (2,))
    log = g.op("PrintV2", g.const(np.array(b"x", dtype=object)), name="log")
    e = g.op("EnsureShape", x, shape=(2,), T="DT_FLOAT", name="ensure", control=[log])
    g.output("y", g.op("Exp", e))
    g2 = assert_pass_preserves(g.build(), StripDebug())
    assert "log" not in g2 and g2.op("ensure") == "Identity" and not g2.control_inputs_of("ensure")


def test_sink_with_a_data_consumer_is_left_alone() -> None:
    # An op named like a sink but read as data is not the debug op we know: must not fire.
    g = GraphBuilder()
    x = g.input("x", (2,))
    odd = g.op("Assert", g.const(np.array(True)), x, name="odd")
    g.output("y", g.op("Identity", odd))
    graph = g.build()
    assert StripDebug().run(graph) is False and graph.op("odd") == "Assert"
