"""Run a Graph with the numpy kernels, in topological order.

Only the ancestors of the requested outputs are evaluated, so unrelated unfed placeholders do not
matter.  Function bodies (``Graph.functions``) are executed on demand for ``If``, ``While`` and
``(Stateful)PartitionedCall``.  Graphs with TF1 frame ops (Enter/Exit/Switch/Merge/NextIteration/
LoopCond) are run by the dataflow interpreter in :mod:`tfjs_lite.kernels.frames` instead of in
topological order.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from tfjs_lite.errors import InternalError, UnsupportedModelError, UsageError
from tfjs_lite.ir.graph import Graph, TensorRef
from tfjs_lite.ir.names import parse_input
from tfjs_lite.kernels import KERNELS, KernelError, MissingKernelError, NodeContext
from tfjs_lite.kernels.frames import FRAME_OPS, run_frames
from tfjs_lite.kernels.sizes import predicted_elements
from tfjs_lite.limits import MAX_EXECUTOR_ELEMENTS

__all__ = ["call_function", "run"]

FED_OPS = frozenset({"Placeholder", "_Arg", "PlaceholderV2"})


def run(
    graph: Graph,
    feeds: Mapping[str, np.ndarray],
    *,
    outputs: Sequence[str] | None = None,
    library: Mapping[str, Graph] | None = None,
) -> dict[str, np.ndarray]:
    """Evaluate ``graph``.

    Args:
        graph: The graph to run (not modified).
        feeds: Keyed by ``graph.inputs`` signature key, else by tensor name (``"x"``, ``"x:1"``).
        outputs: Signature output keys or tensor names to fetch.  Defaults to all of
            ``graph.outputs`` in order.
        library: Functions callable from the graph.  Defaults to ``graph.functions``.

    Returns:
        One array per requested output, keyed as requested.

    Raises:
        UsageError: An unknown feed/output key, or a needed placeholder without a feed.
        MissingKernelError: A needed op has no kernel (message names node and op).
        KernelError: A kernel failed or returned the wrong number of outputs.
    """
    lib = graph.functions if library is None else library
    fed = {_resolve(graph, key, graph.inputs, "feed"): np.asarray(v) for key, v in feeds.items()}
    keys = list(graph.outputs) if outputs is None else list(outputs)
    fetch = {key: _resolve(graph, key, graph.outputs, "output") for key in keys}
    needed = _needed(graph, list(fetch.values()), fed)
    if any(graph.op(n) in FRAME_OPS for n in needed):
        values = run_frames(graph, fed, list(fetch.values()), needed,
                            lambda name, args: _run_node(graph, name, args, lib))
    else:
        values = _evaluate(graph, fed, list(fetch.values()), needed, lib)
    return {key: values[ref] for key, ref in fetch.items()}


def call_function(library: Mapping[str, Graph], name: str, args: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Run function ``name`` on positional ``args``; return its outputs in signature order.

    Raises:
        InternalError: If the function is unknown or the argument count is wrong.
    """
    if name not in library:
        raise InternalError(f"call to unknown function {name!r}")
    body = library[name]
    if len(args) != len(body.inputs):
        raise InternalError(f"function {name!r} takes {len(body.inputs)} args, got {len(args)}")
    feeds = dict(zip(body.inputs, args))
    result = run(body, feeds, library=library)
    return [result[key] for key in body.outputs]


def _resolve(graph: Graph, key: str, table: Mapping[str, TensorRef], what: str) -> TensorRef:
    if key in table:
        return table[key]
    try:
        parsed = parse_input(key)
    except ValueError as e:
        raise UsageError(f"unknown {what} {key!r}") from e
    if parsed.control or parsed.node not in graph:
        raise UsageError(f"unknown {what} {key!r}: not a signature key or node of the graph")
    return TensorRef(parsed.node, parsed.port)


def _needed(graph: Graph, fetch: Sequence[TensorRef], fed: Mapping[TensorRef, np.ndarray]) -> set[str]:
    """Nodes that must run: ancestors of ``fetch`` (through data and control edges), cut at feeds."""
    fed_nodes = {ref.node for ref in fed}
    stack = [ref.node for ref in fetch if ref not in fed]
    seen: set[str] = set()
    while stack:
        name = stack.pop()
        if name in seen:
            continue
        seen.add(name)
        if name in fed_nodes:
            continue
        stack.extend(r.node for r in graph.inputs_of(name) if r not in fed)
        stack.extend(graph.control_inputs_of(name))
    return seen


def _evaluate(graph: Graph, fed: Mapping[TensorRef, np.ndarray], fetch: Sequence[TensorRef],
              needed: set[str], library: Mapping[str, Graph]) -> dict[TensorRef, np.ndarray]:
    values: dict[TensorRef, np.ndarray] = dict(fed)
    fed_nodes = {ref.node for ref in fed}
    for name in graph.topo_order():
        if name not in needed or name in fed_nodes:
            continue
        args = [_lookup(values, ref, name) for ref in graph.inputs_of(name)]
        for port, out in enumerate(_run_node(graph, name, args, library)):
            values[TensorRef(name, port)] = out
    for ref in fetch:
        _lookup(values, ref, "<fetch>")
    return values


def _lookup(values: Mapping[TensorRef, np.ndarray], ref: TensorRef, consumer: str) -> np.ndarray:
    if ref not in values:
        raise KernelError(f"node {consumer!r} reads {ref}, which was not produced")
    return values[ref]


def _run_node(graph: Graph, name: str, args: list[np.ndarray], library: Mapping[str, Graph]) -> list[np.ndarray]:
    op = graph.op(name)
    if op in FED_OPS:
        raise UsageError(f"{op} node {name!r} needs a feed")
    fn = KERNELS.get(op)
    if fn is None:
        raise MissingKernelError(f"cannot execute node {name!r}: no numpy kernel for op {op!r}")
    ctx = NodeContext(name=name, op=op, value=graph.value(name),
                      call=lambda fname, fargs: call_function(library, fname, fargs))
    predicted = predicted_elements(op, args, graph.attrs(name))
    if predicted > MAX_EXECUTOR_ELEMENTS:
        raise UnsupportedModelError(
            f"node {name!r} ({op}) would produce {predicted} elements, over the reference executor's "
            f"limit of {MAX_EXECUTOR_ELEMENTS}; the model cannot be run locally")
    try:
        outs = fn(args, graph.attrs(name), ctx)
    except (MissingKernelError, UsageError, KernelError):
        raise  # already names the innermost node (inside a function body)
    except Exception as e:
        raise KernelError(f"kernel {op!r} failed on node {name!r}: {type(e).__name__}: {e}") from e
    types = graph.out_types(name)
    if types is not None and len(outs) != len(types):
        raise KernelError(f"kernel {op!r} returned {len(outs)} outputs for node {name!r}, "
                          f"expected {len(types)}")
    return [np.asarray(o) for o in outs]
