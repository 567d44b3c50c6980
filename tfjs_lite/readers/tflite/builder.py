"""A read TFLite model -> the project IR: the signature's subgraph becomes the main graph, the
subgraphs WHILE/IF call become library functions.

Before anything is lowered, every subgraph the main one reaches is checked: the call graph must
be acyclic (a WHILE body calling itself would recurse forever) and every operator must have a
lowering; all unsupported operators are reported at once, with their operator indices.
"""

from __future__ import annotations

from collections import Counter
from typing import Callable

import networkx as nx
import numpy as np

from tfjs_lite.errors import ModelFormatError, UnsupportedOpError, UsageError
from tfjs_lite.ir import ArgDef, FunctionSignature, Graph, TensorRef, TensorType
from tfjs_lite.readers.tflite.context import FLOAT, INT32, Lowering, graph_dtype, node_name
from tfjs_lite.readers.tflite.lower import LOWERINGS
from tfjs_lite.readers.tflite.model import Operator, Signature, SubGraph, Tensor, TfliteModel
from tfjs_lite.readers.tflite.tensors import is_quantized

__all__ = ["build_graph", "called_subgraphs"]

_CALL_OPTIONS = {"WHILE": ("cond_subgraph_index", "body_subgraph_index"),
                 "IF": ("then_subgraph_index", "else_subgraph_index")}


def called_subgraphs(model: TfliteModel, sub: SubGraph) -> list[tuple[int, int]]:
    """(operator index, called subgraph index) for each WHILE/IF of ``sub``, indices checked."""
    calls = []
    for op in sub.operators:
        for key in _CALL_OPTIONS.get(op.opcode, ()):
            target = op.options[key]
            if not 0 <= target < len(model.subgraphs):
                raise ModelFormatError(f"not a valid TFLite file: operator {op.index} ({op.opcode}) of subgraph "
                                       f"{sub.index} calls subgraph {target} of {len(model.subgraphs)}")
            calls.append((op.index, target))
    return calls


def _reachable(model: TfliteModel, main: int) -> list[int]:
    """Subgraphs reachable from ``main`` (itself first); raises on a call cycle."""
    seen, edges, todo = {main}, [], [main]
    while todo:  # iterative: the depth is bounded by the number of subgraphs, not the C stack
        index = todo.pop()
        for _, target in called_subgraphs(model, model.subgraphs[index]):
            if target not in seen:
                seen.add(target)
                todo.append(target)
            edges.append((index, target))
    calls = nx.DiGraph(edges)
    calls.add_nodes_from(seen)
    try:
        cycle = [u for u, _ in nx.find_cycle(calls, source=main)]
    except nx.NetworkXNoCycle:
        return [main] + sorted(set(calls) - {main})
    text = " -> ".join(str(i) for i in cycle + [cycle[0]])
    raise ModelFormatError(f"not a valid TFLite file: subgraphs call each other in a cycle ({text})")


def _check_supported(model: TfliteModel, subgraphs: list[int]) -> None:
    missing: dict[str, list[str]] = {}
    for index in subgraphs:
        for op in model.subgraphs[index].operators:
            if op.opcode not in LOWERINGS:
                where = f"{op.index}" if index == 0 else f"{op.index} of subgraph {index}"
                missing.setdefault(_describe(op.opcode), []).append(where)
    if missing:
        parts = [f"{name} (operator{'s' if len(w) > 1 else ''} {', '.join(w[:5])}{', ...' if len(w) > 5 else ''})"
                 for name, w in sorted(missing.items())]
        raise UnsupportedOpError("the TFLite model uses operators that have no TF.js lowering: " + "; ".join(parts))


def _describe(opcode: str) -> str:
    if opcode.startswith("custom op 'Flex"):
        return f"{opcode} (a TensorFlow op for the Flex delegate)"
    return opcode


def _pick_signature(model: TfliteModel, key: str | None) -> Signature | None:
    if key is None:
        return model.signatures[0] if model.signatures else None
    for sig in model.signatures:
        if sig.key == key:
            return sig
    known = ", ".join(repr(s.key) for s in model.signatures) or "none"
    raise UsageError(f"signature {key!r} does not exist in the TFLite model (signatures: {known})")


def build_graph(model: TfliteModel, signature_key: str | None = None, *, keep_unsupported: bool = False) -> Graph:
    """The float32 TF graph of ``model``'s signature (or of subgraph 0 without SignatureDefs).

    With ``keep_unsupported`` (for ``inspect``), an operator without a lowering becomes one node
    whose op is the operator's name (the custom code for custom ops), which the op check then
    reports; the graph cannot run.
    """
    sig = _pick_signature(model, signature_key)
    main = sig.subgraph if sig is not None else 0
    reachable = _reachable(model, main)
    if not keep_unsupported:
        _check_supported(model, reachable)
    graph = Graph()
    functions: dict[int, str] = {}

    def function(index: int) -> str:
        if index not in functions:
            functions[index] = _function(model, model.subgraphs[index], graph, function)
        return functions[index]

    sub = model.subgraphs[main]
    ctx = Lowering(model, sub, graph, function)
    inputs = sig.inputs if sig is not None else [(sub.tensors[i].name, i) for i in sub.inputs]
    outputs = sig.outputs if sig is not None else [(sub.tensors[i].name, i) for i in sub.outputs]
    signature: dict[str, dict] = {"inputs": {}, "outputs": {}}
    for name, index in inputs:
        key = name if sig is not None else node_name(name)
        tensor = sub.tensors[index]
        ctx.values[index] = _placeholder(graph, key, tensor)
        signature["inputs"][key] = _info(tensor, quantized_input=True)
    _lower_operators(ctx)
    for name, index in outputs:
        key = name if sig is not None else node_name(name)
        graph.outputs[key] = ctx.ref(index, f"output {key!r}")
        signature["outputs"][key] = _info(sub.tensors[index])
    graph.meta["signature"] = signature
    graph.meta["signature_key"] = sig.key if sig is not None else None
    graph.meta["structured_outputs"] = list(graph.outputs) if sig is not None else None
    graph.meta["source_notes"] = _source_notes(model, main)
    # TFLite tensor index -> the IR tensor holding its value, so that a check can feed and fetch
    # the interpreter's intermediate tensors operator by operator (tests/tflite_tolerance.py).
    graph.meta["tflite_tensors"] = {index: f"{ref.node}:{ref.port}" for index, ref in ctx.values.items()}
    return graph


def _source_notes(model: TfliteModel, main: int) -> list[str]:
    """What the TFLite file holds, for ``inspect``: its operators and how its constants are stored."""
    ops = Counter(op.opcode for sub in model.subgraphs for op in sub.operators)
    stored: Counter[str] = Counter()
    for sub in model.subgraphs:
        for tensor in sub.tensors:
            if model.buffers[tensor.buffer][1]:
                per_channel = tensor.quantization is not None and len(tensor.quantization.scale) > 1
                stored[tensor.type_name.lower() + (" per-channel" if per_channel else "")] += 1
    histogram = ", ".join(f"{name} {n}" for name, n in sorted(ops.items(), key=lambda kv: (-kv[1], kv[0])))
    return [f"TFLite file: {len(model.subgraphs)} subgraph(s), main = {main}; operators: {histogram}",
            "TFLite constants by stored type: " + ", ".join(f"{k} {v}" for k, v in sorted(stored.items()))]


def _info(tensor: Tensor, quantized_input: bool = False) -> dict:
    dtype = INT32 if quantized_input and is_quantized(tensor) else graph_dtype(tensor)
    return {"dtype": dtype, "shape": tuple(None if d < 0 else d for d in tensor.signature)}


def _placeholder(graph: Graph, key: str, tensor: Tensor) -> TensorRef:
    """A graph input; quantized integer inputs are fed as their integers (int32 in TF.js) and
    dequantized in the graph: ``(float(q) - zero_point) * scale``."""
    shape = tuple(None if d < 0 else d for d in tensor.signature)
    quantized = is_quantized(tensor)
    dtype = INT32 if quantized else graph_dtype(tensor)
    name = graph.unique_name(node_name(key))
    graph.add_op("Placeholder", [], {"dtype": dtype, "shape": shape}, name=name,
                 out_types=[TensorType(dtype, shape)])
    graph.inputs[key] = ref = TensorRef(name, 0)
    if not quantized:
        return ref
    q = tensor.quantization
    assert q is not None
    if len(q.scale) != 1:
        raise UnsupportedOpError(f"input {key!r} is quantized per channel, which is not supported for inputs")
    as_float = graph.add_op("Cast", [ref], {"SrcT": INT32, "DstT": FLOAT, "Truncate": False},
                            name=graph.unique_name(name + "/to_float"))
    zero = graph.add_const(np.array(q.zero_point[0], np.float32), name=graph.unique_name(name + "/zero_point"))
    scale = graph.add_const(np.array(q.scale[0], np.float32), name=graph.unique_name(name + "/scale"))
    centred = graph.add_op("Sub", [TensorRef(as_float, 0), zero], {"T": FLOAT}, name=graph.unique_name(name + "/centred"))
    return TensorRef(graph.add_op("Mul", [TensorRef(centred, 0), scale], {"T": FLOAT},
                                  name=graph.unique_name(name + "/dequantized")), 0)


def _lower_operators(ctx: Lowering) -> None:
    for op in ctx.sub.operators:
        LOWERINGS.get(op.opcode, _opaque)(ctx, op)


def _opaque(ctx: Lowering, op: Operator) -> None:
    """An operator without a lowering, kept as a node named after it (``keep_unsupported``)."""
    name = op.opcode.split("'")[1] if op.custom and "'" in op.opcode else op.opcode
    inputs = [ctx.need(op, k) for k in range(len(op.inputs)) if op.inputs[k] >= 0]
    refs = ctx.emit(name, inputs, {}, base=ctx.name_for(op) if op.outputs else name, outputs=len(op.outputs))
    for port, ref in enumerate(refs):
        ctx.set_output(op, port, ref)


def _function(model: TfliteModel, sub: SubGraph, graph: Graph, function: Callable[[int], str]) -> str:
    """Lower subgraph ``sub`` into ``graph.functions``; returns the function's name."""
    name = node_name(sub.name)
    base, n = name, 0
    while name in graph.functions:
        n += 1
        name = f"{base}_{n}"
    in_args = [ArgDef(f"arg{i}", graph_dtype(sub.tensors[t])) for i, t in enumerate(sub.inputs)]
    out_args = [ArgDef(f"output{i}", graph_dtype(sub.tensors[t])) for i, t in enumerate(sub.outputs)]
    body = Graph(signature=FunctionSignature(name=name, input_args=in_args, output_args=out_args))
    graph.functions[name] = body  # registered first, so the name is taken while the body is lowered
    ctx = Lowering(model, sub, body, function)
    for i, (arg, t) in enumerate(zip(in_args, sub.inputs)):
        shape = tuple(None if d < 0 else d for d in sub.tensors[t].signature)
        dtype = graph_dtype(sub.tensors[t])  # what arg.dtype was made from, never None
        body.add_op("_Arg", [], {"T": dtype, "index": i}, name=arg.name,
                    out_types=[TensorType(dtype, shape)])
        body.inputs[arg.name] = ctx.values[t] = TensorRef(arg.name, 0)
    _lower_operators(ctx)
    for arg, t in zip(out_args, sub.outputs):
        body.outputs[arg.name] = ctx.ref(t, f"output {arg.name!r}")
    return name
