"""Call inlining (``(Stateful)PartitionedCall`` bodies spliced in as ``<call>/<inner>``) and
pruning to what the graph's interface needs."""

from __future__ import annotations

from tfjs_lite.errors import ModelFormatError, UnsupportedModelError
from tfjs_lite.ir.attrs import FuncRef
from tfjs_lite.ir.graph import Graph, TensorRef
from tfjs_lite.ir.liveness import remove_dead
from tfjs_lite.limits import INLINE_GROWTH, MAX_INLINED_NODES

CALL_OPS = frozenset({"PartitionedCall", "StatefulPartitionedCall"})


def inline_calls(graph: Graph) -> None:
    """Inline every ``(Stateful)PartitionedCall`` (and direct function-op call) recursively.

    Body nodes are named ``<call>/<inner>``; consumers of ``call:k`` read the body's k-th output;
    control dependencies on the call are dropped (inference has no side effects to order). Library
    functions still referenced afterwards (control-flow bodies) are inlined too.
    """
    library = graph.functions
    _check_inlined_size(graph, library)
    changed = True
    while changed:
        changed = False
        for name in graph.topo_order():
            if name not in graph:
                continue
            func = _called_function(graph, name, library)
            if func is not None:
                _inline_one(graph, name, library[func], library)
                changed = True
    for fname in list(_referenced_functions(graph, library)):
        body = library[fname]
        if any(_called_function(body, n, library) for n in body.nodes()):
            body.functions = library
            inline_calls(body)
            body.functions = {}
    _drop_unreferenced_functions(graph)


def _check_inlined_size(graph: Graph, library: dict[str, Graph]) -> None:
    """Refuse, before inlining anything, a call tree that would expand past the node budget.

    Functions that call the next one twice, 24 deep, are 2**24 nodes once inlined from a file of a
    few KB; the expanded size is counted on the call tree (the reader has refused recursion)."""
    calls: dict[str, list[str]] = {}  # function -> callees, one entry per call node
    plain: dict[str, int] = {}  # function -> nodes that are not calls
    for fname, body in library.items():
        callees = [_called_function(body, n, library) for n in body.nodes()]
        calls[fname] = [c for c in callees if c is not None]
        plain[fname] = len(callees) - len(calls[fname])
    expanded: dict[str, int] = {}
    for root in library:  # iterative post-order: call chains may be thousands deep
        stack = [root]
        while stack:
            fname = stack[-1]
            if fname in expanded:
                stack.pop()
                continue
            pending = [c for c in calls[fname] if c not in expanded and c != fname]
            if pending:
                stack.extend(dict.fromkeys(pending))
                if len(stack) > 10 * len(library) + 10:  # only a cycle grows the stack this far
                    raise ModelFormatError("the function library calls itself recursively")
                continue
            expanded[fname] = plain[fname] + sum(expanded.get(c, 1) for c in calls[fname])
            stack.pop()

    def size(body: Graph) -> int:
        callees = [_called_function(body, n, library) for n in body.nodes()]
        return sum(1 if c is None else expanded[c] for c in callees)

    stored = len(graph) + sum(len(body) for body in library.values())
    limit = max(MAX_INLINED_NODES, INLINE_GROWTH * stored)
    total = size(graph)
    largest = max(expanded.values(), default=0)
    if max(total, largest) > limit:
        raise UnsupportedModelError(
            f"inlining the graph's function calls would make {max(total, largest)} nodes from {stored} "
            f"stored ones (limit {limit}); functions calling each other repeatedly explode when inlined")


def _called_function(graph: Graph, name: str, library: dict[str, Graph]) -> str | None:
    op = graph.op(name)
    if op in CALL_OPS:
        func = graph.attrs(name).get("f")
        if isinstance(func, FuncRef) and func.name in library:
            return func.name
        raise ModelFormatError(f"node {name!r} calls unknown function {func!r}")
    return op if op in library else None


def _inline_one(graph: Graph, call: str, body: Graph, library: dict[str, Graph]) -> None:
    args = graph.inputs_of(call)
    outs = _splice(graph, body, call + "/", args, library)
    for port, ref in enumerate(outs):
        graph.replace_uses(TensorRef(call, port), ref)
    for consumer in graph.control_consumers(call):
        graph.remove_control_input(consumer, call)
    graph.remove(call)


def _splice(graph: Graph, body: Graph, prefix: str, args: list[TensorRef],
            library: dict[str, Graph]) -> list[TensorRef]:
    """Copy ``body`` into ``graph`` with names prefixed, ``_Arg`` i bound to ``args[i]``."""
    assert body.signature is not None
    arg_names = [a.name for a in body.signature.input_args]
    if len(args) != len(arg_names):
        raise ModelFormatError(f"function {body.signature.name!r} takes {len(arg_names)} inputs, "
                               f"called with {len(args)}")
    bound = dict(zip(arg_names, args))
    names: dict[str, str] = {}
    for node in body.nodes():
        if node in bound:
            continue
        new = prefix + node
        if new in graph:
            new = graph.unique_name(new)
        names[node] = new

    def mapped(ref: TensorRef) -> TensorRef:
        return bound[ref.node] if ref.node in bound else TensorRef(names[ref.node], ref.port)

    order = body.topo_order()
    for node in order:
        if node in bound:
            continue
        new = graph.add_op(body.op(node), [], dict(body.attrs(node)), name=names[node],
                           out_types=body.out_types(node), device=body.device(node))
        value = body.value(node)
        if value is not None:
            dtype = body.attrs(node).get("dtype")
            graph.set_value(new, value)
            if dtype is not None:
                graph.set_attr(new, "dtype", dtype)
    for node in order:
        if node in bound:
            continue
        graph.set_inputs(names[node], [mapped(r) for r in body.inputs_of(node)])
        for src in body.control_inputs_of(node):
            if src not in bound:
                graph.add_control_input(names[node], names[src])
    return [mapped(ref) for ref in body.outputs.values()]


def _referenced_functions(graph: Graph, library: dict[str, Graph]) -> list[str]:
    seen: list[str] = []
    stack = [f.name for n in graph.nodes() for f in graph.iter_attr_funcs(n)]
    while stack:
        name = stack.pop()
        if name in seen or name not in library:
            continue
        seen.append(name)
        body = library[name]
        stack.extend(f.name for n in body.nodes() for f in body.iter_attr_funcs(n))
    return sorted(seen)


def _drop_unreferenced_functions(graph: Graph) -> None:
    keep = set(_referenced_functions(graph, graph.functions))
    graph.functions = {k: v for k, v in graph.functions.items() if k in keep}


def prune(graph: Graph) -> int:
    """Remove every node the graph's interface does not need (:func:`tfjs_lite.ir.remove_dead`:
    signature outputs and inputs, a body's parameters and control outputs), then the library
    functions nothing calls any more.

    Returns:
        The number of nodes removed.
    """
    removed = remove_dead(graph)
    _drop_unreferenced_functions(graph)
    return removed
