"""function_identities: Identity wrappers and pure control edges inside While/If bodies."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from tfjs_lite.optimizer.passes.function_identities import FunctionIdentities

from tfjs_lite import executor
from tfjs_lite.pipelines.saved_model_to_graph import _strip_debug_ops
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
    _strip_debug_ops(graph)
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
