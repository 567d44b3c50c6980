"""executor.run: feeds/outputs, errors, function calls, fused kernels vs unfused, harness."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings

from builders import GraphBuilder
from harness import assert_pass_preserves, op_histogram, random_feeds
from strategies import random_graphs
from tfjs_lite import executor
from tfjs_lite.errors import InternalError, UsageError
from tfjs_lite.ir import FuncRef, Graph, TensorRef
from tfjs_lite.kernels import KernelError, MissingKernelError

RNG = np.random.default_rng(0)


def _mlp() -> Graph:
    # x(2,3) -> MatMul(w) -> BiasAdd(b) -> Relu -> y ; also Softmax -> p
    g = GraphBuilder()
    x = g.input("x", (None, 3))
    w = g.const(RNG.standard_normal((3, 4)), name="w")
    b = g.const(RNG.standard_normal(4), name="b")
    h = g.op("Relu", g.op("BiasAdd", g.op("MatMul", x, w, name="mm"), b, name="ba"), name="relu")
    g.output("y", h)
    g.output("p", g.op("Softmax", h, name="sm"))
    return g.build()


def test_run_matches_numpy() -> None:
    graph = _mlp()
    x = RNG.standard_normal((2, 3)).astype(np.float32)
    out = executor.run(graph, {"x": x})
    assert list(out) == ["y", "p"]
    w, b = graph.value("w"), graph.value("b")
    want = np.maximum(x.astype(np.float64) @ w + b, 0)
    np.testing.assert_allclose(out["y"], want, rtol=1e-6)
    assert out["y"].dtype == np.float32
    np.testing.assert_allclose(out["p"].sum(axis=-1), 1.0, rtol=1e-6)


def test_feed_by_node_name_and_fetch_tensor_names() -> None:
    graph = _mlp()
    x = np.ones((1, 3), np.float32)
    out = executor.run(graph, {"x:0": x}, outputs=["mm", "y"])
    assert set(out) == {"mm", "y"} and out["mm"].shape == (1, 4)
    # Feeding an intermediate tensor cuts its ancestors: no feed for x needed.
    out = executor.run(graph, {"ba": np.full((1, 4), -1, np.float32)}, outputs=["y"])
    assert np.all(out["y"] == 0)


def test_errors_name_node_and_op() -> None:
    g = GraphBuilder()
    g.output("y", g.op("NoSuchOp", g.input("x", (1,)), name="weird"))
    graph = g.build()
    with pytest.raises(MissingKernelError, match="weird.*NoSuchOp"):
        executor.run(graph, {"x": np.zeros(1, np.float32)})
    with pytest.raises(UsageError, match="needs a feed"):
        executor.run(_mlp(), {})
    with pytest.raises(UsageError, match="unknown feed"):
        executor.run(_mlp(), {"nope": np.zeros(1)})
    g = GraphBuilder()
    g.output("y", g.op("MatMul", g.input("x", (2, 3)), g.const(np.ones((2, 2))), name="bad_mm"))
    with pytest.raises(KernelError, match="bad_mm"):
        executor.run(g.build(), {"x": np.ones((2, 3), np.float32)})


def test_unneeded_unfed_placeholders_are_ignored() -> None:
    g = GraphBuilder()
    g.input("unused", (1,))
    g.output("y", g.op("Neg", g.input("x", (1,))))
    assert executor.run(g.build(), {"x": np.ones(1, np.float32)})["y"][0] == -1


def _body(op: str) -> Graph:
    b = GraphBuilder()
    b.output("out", b.op(op, b.input("a", (None,), op="_Arg")))
    return b.build()


def test_partitioned_call_and_if() -> None:
    g = GraphBuilder()
    x = g.input("x", (3,))
    c = g.input("c", (), "DT_BOOL")
    g.output("call", g.op("StatefulPartitionedCall", x, f=FuncRef("neg")))
    g.output("if", g.op("StatelessIf", c, x, then_branch=FuncRef("neg"), else_branch=FuncRef("relu")))
    graph = g.graph
    graph.functions.update(neg=_body("Neg"), relu=_body("Relu"))
    graph.check()
    x_val = np.array([-1.0, 0.5, 2.0], np.float32)
    out = executor.run(graph, {"x": x_val, "c": np.array(True)})
    np.testing.assert_array_equal(out["call"], -x_val)
    np.testing.assert_array_equal(out["if"], -x_val)
    out = executor.run(graph, {"x": x_val, "c": np.array(False)})
    np.testing.assert_array_equal(out["if"], np.maximum(x_val, 0))


def test_while_loop() -> None:
    # i, acc = 0, x ; while i < n: i += 1; acc *= 2
    cond = GraphBuilder()
    i = cond.input("i", (), "DT_INT32", op="_Arg")
    cond.input("acc", (None,), op="_Arg")
    n = cond.input("n", (), "DT_INT32", op="_Arg")
    cond.output("keep", cond.op("Less", i, n))
    body = GraphBuilder()
    i, acc, n = (body.input(k, s, t, op="_Arg") for k, s, t in
                 (("i", (), "DT_INT32"), ("acc", (None,), "DT_FLOAT"), ("n", (), "DT_INT32")))
    body.output("i", body.op("AddV2", i, body.const(1)))
    body.output("acc", body.op("Mul", acc, body.const(2.0)))
    body.output("n", body.op("Identity", n))
    g = GraphBuilder()
    loop = g.op("StatelessWhile", g.const(0), g.input("x", (2,)), g.input("n", (), "DT_INT32"),
                outputs=3, cond=FuncRef("cond"), body=FuncRef("body"))
    g.output("acc", loop[1])
    graph = g.graph
    graph.functions.update(cond=cond.build(), body=body.build())
    graph.check()
    out = executor.run(graph, {"x": np.ones(2, np.float32), "n": np.array(5, np.int32)})
    np.testing.assert_array_equal(out["acc"], [32.0, 32.0])


def test_call_unknown_function_is_internal_error() -> None:
    with pytest.raises(InternalError, match="unknown function"):
        executor.call_function({}, "nope", [])


# ------------------------------------------------------------------ fused vs unfused
CONV_ATTRS = {"strides": [1, 2, 2, 1], "padding": "SAME", "data_format": "NHWC", "dilations": [1, 1, 1, 1]}
ACTIVATIONS = {"Relu": "Relu", "Relu6": "Relu6", "Elu": "Elu", "LeakyRelu": "LeakyRelu",
               "Sigmoid": "Sigmoid", "Tanh": "Tanh"}


def _run_pair(build_unfused, build_fused, feeds) -> None:  # noqa: ANN001
    want = executor.run(build_unfused(), feeds)["y"]
    got = executor.run(build_fused(), feeds)["y"]
    assert got.dtype == want.dtype and got.shape == want.shape
    # Same float32 rounding steps in the same order: results agree to the last ulp or so.
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("act", [None, *ACTIVATIONS, "Prelu"])
@pytest.mark.parametrize("kind", ["conv", "depthwise", "matmul"])
def test_fused_kernels_equal_unfused(kind: str, act: str | None) -> None:
    rng = np.random.default_rng(1)
    x_shape, w_shape = {"conv": ((1, 5, 5, 3), (3, 3, 3, 4)), "depthwise": ((1, 5, 5, 3), (3, 3, 3, 2)),
                        "matmul": ((2, 3), (3, 6))}[kind]
    channels = {"conv": 4, "depthwise": 6, "matmul": 6}[kind]
    w = rng.standard_normal(w_shape).astype(np.float32)
    bias = rng.standard_normal(channels).astype(np.float32)
    alpha = rng.standard_normal(channels).astype(np.float32)
    op = {"conv": "Conv2D", "depthwise": "DepthwiseConv2dNative", "matmul": "MatMul"}[kind]
    fused_op = {"conv": "_FusedConv2D", "depthwise": "FusedDepthwiseConv2dNative", "matmul": "_FusedMatMul"}[kind]
    attrs = {} if kind == "matmul" else CONV_ATTRS
    act_attrs = {"alpha": 0.3} if act == "LeakyRelu" else {}

    def unfused() -> Graph:
        g = GraphBuilder()
        y = g.op("BiasAdd", g.op(op, g.input("x", x_shape), g.const(w), **attrs), g.const(bias))
        if act == "Prelu":
            y = g.op("Prelu", y, g.const(alpha))
        elif act:
            y = g.op(act, y, **act_attrs)
        g.output("y", y)
        return g.build()

    def fused() -> Graph:
        g = GraphBuilder()
        args = [g.const(bias)] + ([g.const(alpha)] if act == "Prelu" else [])
        fused_ops = ["BiasAdd"] + ([act] if act else [])
        extra = {"leakyrelu_alpha": 0.3} if act == "LeakyRelu" else {}
        g.output("y", g.op(fused_op, g.input("x", x_shape), g.const(w), *args, fused_ops=fused_ops,
                           num_args=len(args), **attrs, **extra))
        return g.build()

    _run_pair(unfused, fused, {"x": rng.standard_normal(x_shape).astype(np.float32)})


@pytest.mark.parametrize("act", ["Relu", "Prelu"])
def test_fused_depthwise_noop_activation_without_bias(act: str) -> None:
    rng = np.random.default_rng(2)
    w = rng.standard_normal((3, 3, 2, 1)).astype(np.float32)
    alpha = np.full(2, 0.25, np.float32)

    def unfused() -> Graph:
        g = GraphBuilder()
        y = g.op("DepthwiseConv2dNative", g.input("x", (1, 4, 4, 2)), g.const(w), **CONV_ATTRS)
        g.output("y", g.op("Prelu", y, g.const(alpha)) if act == "Prelu" else g.op(act, y))
        return g.build()

    def fused() -> Graph:
        g = GraphBuilder()
        args = [g.const(alpha)] if act == "Prelu" else []
        g.output("y", g.op("FusedDepthwiseConv2dNative", g.input("x", (1, 4, 4, 2)), g.const(w), *args,
                           fused_ops=["NoOp", act], num_args=len(args), **CONV_ATTRS))
        return g.build()

    _run_pair(unfused, fused, {"x": rng.standard_normal((1, 4, 4, 2)).astype(np.float32)})


def test_fused_single_entry_list_applies_no_activation_like_tfjs() -> None:
    # TF.js reads fused_ops[1] as the activation, so ["Relu"] alone is a plain convolution.
    g = GraphBuilder()
    w = np.ones((1, 1, 1, 1), np.float32)
    g.output("y", g.op("_FusedConv2D", g.input("x", (1, 1, 2, 1)), g.const(w), fused_ops=["Relu"],
                       num_args=0, **CONV_ATTRS))
    out = executor.run(g.build(), {"x": np.array([[[[-1.0], [2.0]]]], np.float32)})
    assert out["y"].ravel().tolist() == [-1.0]


def test_fused_bad_num_args_is_rejected() -> None:
    g = GraphBuilder()
    g.output("y", g.op("_FusedMatMul", g.input("x", (1, 2)), g.const(np.ones((2, 2))),
                       fused_ops=["BiasAdd"], num_args=0, name="fm"))
    with pytest.raises(KernelError, match="num_args"):
        executor.run(g.build(), {"x": np.ones((1, 2), np.float32)})


# ------------------------------------------------------------------ harness + strategies
class _DropIdentity:
    """A minimal pass for testing the harness: bypass and remove Identity nodes."""

    def run(self, graph: Graph) -> bool:
        changed = False
        for name in graph.nodes_by_op("Identity"):
            graph.replace_uses(TensorRef(name), graph.inputs_of(name)[0])
            graph.remove(name)
            changed = True
        return changed


def test_harness_accepts_a_correct_pass() -> None:
    g = GraphBuilder()
    g.output("y", g.op("Identity", g.op("Relu", g.input("x", (2, 2)))))
    graph = g.build()
    out = assert_pass_preserves(graph, _DropIdentity(), expect_ops={"Placeholder": 1, "Relu": 1})
    assert op_histogram(graph)["Identity"] == 1  # the original is untouched
    assert op_histogram(out) == {"Placeholder": 1, "Relu": 1}


class _BreakRelu:
    def run(self, graph: Graph) -> bool:
        for name in graph.nodes_by_op("Relu"):
            graph.set_op(name, "Neg")
        return bool(graph.nodes_by_op("Neg"))


def test_harness_catches_a_wrong_pass() -> None:
    g = GraphBuilder()
    g.output("y", g.op("Relu", g.input("x", (4, 4))))
    with pytest.raises(AssertionError):
        assert_pass_preserves(g.build(), _BreakRelu())


def test_random_feeds_are_deterministic() -> None:
    a, b = random_feeds(_mlp(), seed=3), random_feeds(_mlp(), seed=3)
    assert a.keys() == {"x"} and a["x"].shape == (2, 3) and np.array_equal(a["x"], b["x"])


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(random_graphs())
def test_random_dags_execute_and_copy_is_equivalent(graph: Graph) -> None:
    feeds = random_feeds(graph, seed=0)
    out = executor.run(graph, feeds)
    again = executor.run(graph.copy(), feeds)
    for key, value in out.items():
        assert value.dtype == np.float32 and np.array_equal(value, again[key], equal_nan=True)


# ------------------------------------------------------------------ TF1 frames
def _tf1_loop() -> Graph:
    # i, acc = 0, x;  while i < n: i, acc = i + 1, acc * 2 + c   (c a loop invariant)
    # then  y = acc * 3 if mean(acc) > 10 else acc - 1   (TF1 cond: Switch/Merge)
    g = GraphBuilder()
    x, n = g.input("x", (2,)), g.input("n", (), "DT_INT32")
    frame = {"frame_name": "loop", "parallel_iterations": 10}
    i_enter = g.op("Enter", g.const(0), name="i_enter", is_constant=False, **frame)
    a_enter = g.op("Enter", x, name="a_enter", is_constant=False, **frame)
    n_enter = g.op("Enter", n, name="n_enter", is_constant=True, **frame)
    c_enter = g.op("Enter", g.const(0.5), name="c_enter", is_constant=True, **frame)
    i_next, a_next = g.op("NextIteration", name="i_next"), g.op("NextIteration", name="a_next")
    i_merge = g.op("Merge", i_enter, i_next, name="i_merge", outputs=2)[0]
    a_merge = g.op("Merge", a_enter, a_next, name="a_merge", outputs=2)[0]
    cond = g.op("LoopCond", g.op("Less", i_merge, n_enter), name="cond")
    i_f, i_t = g.op("Switch", i_merge, cond, name="i_switch", outputs=2)
    a_f, a_t = g.op("Switch", a_merge, cond, name="a_switch", outputs=2)
    pivot = g.op("Identity", i_t, name="pivot")
    one = g.op("Const", name="one", control=[pivot], dtype="DT_INT32")
    g.graph.set_value("one", np.array(1, np.int32))
    g.graph.set_input("i_next", 0, g.op("AddV2", pivot, one))
    two = g.op("Const", name="two", control=[pivot], dtype="DT_FLOAT")
    g.graph.set_value("two", np.array(2.0, np.float32))
    g.graph.set_input("a_next", 0, g.op("AddV2", g.op("Mul", g.op("Identity", a_t), two), c_enter))
    acc = g.op("Exit", a_f, name="a_exit")
    g.op("Exit", i_f, name="i_exit")
    pred = g.op("Greater", g.op("Mean", acc, g.const([0])), g.const(10.0))
    s_f, s_t = g.op("Switch", acc, pred, name="c_switch", outputs=2)
    merged = g.op("Merge", g.op("Sub", s_f, g.const(1.0)), g.op("Mul", s_t, g.const(3.0)), outputs=2)[0]
    g.output("y", merged)
    g.output("acc", acc)
    return g.build()


@pytest.mark.parametrize("n", [0, 1, 4])
def test_tf1_while_and_cond(n: int) -> None:
    x = np.array([1.0, 2.0], np.float32)
    acc = x.copy()
    for _ in range(n):
        acc = acc * 2 + 0.5
    want = acc * 3 if acc.mean() > 10 else acc - 1
    out = executor.run(_tf1_loop(), {"x": x, "n": np.array(n, np.int32)})
    np.testing.assert_allclose(out["acc"], acc)
    np.testing.assert_allclose(out["y"], want)


def test_tf1_fetching_a_dead_branch_is_an_error() -> None:
    g = GraphBuilder()
    f, t = g.op("Switch", g.input("x", (1,)), g.const(True), outputs=2, name="sw")
    g.output("dead", g.op("Neg", f))
    with pytest.raises(KernelError, match="dead"):
        executor.run(g.build(), {"x": np.ones(1, np.float32)})
