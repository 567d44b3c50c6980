"""Freezing: every consumer of a variable that became a ``Const`` is rewritten to read the value
(``ReadVariableOp`` -> ``Identity``, ``ResourceGather`` -> ``GatherV2``, control-flow callees
specialised with the resource arg retyped)."""

from __future__ import annotations

from typing import Any

import numpy as np

from tfjs_lite.errors import UnsupportedModelError
from tfjs_lite.ir.attrs import DType, FuncRef
from tfjs_lite.ir.graph import Graph, TensorRef, TensorType

_PASS_THROUGH = frozenset({"Identity", "Enter", "RefEnter", "Exit", "RefExit", "Switch", "RefSwitch",
                           "Merge", "RefMerge", "NextIteration", "RefNextIteration", "Snapshot"})
_WHILE_OPS = frozenset({"While", "StatelessWhile"})
_IF_OPS = frozenset({"If", "StatelessIf"})
_CASE_OPS = frozenset({"Case", "StatelessCase"})


def _freeze(graph: Graph, frozen: dict[TensorRef, DType]) -> None:
    """Rewrite every consumer of a frozen variable (a Const standing in for a resource handle)."""
    pending = list(frozen.items())
    done: set[TensorRef] = set()
    while pending:
        ref, dtype = pending.pop()
        if ref in done:
            continue
        done.add(ref)
        for consumer, slot in graph.consumers(ref):
            pending.extend(_freeze_consumer(graph, consumer, slot, dtype, ref))


def _freeze_consumer(graph: Graph, node: str, slot: int, dtype: DType,
                     ref: TensorRef) -> list[tuple[TensorRef, DType]]:
    op = graph.op(node)
    attrs = graph.attrs(node)
    if op == "ReadVariableOp":
        graph.set_op(node, "Identity")
        keep = {k: v for k, v in attrs.items() if k.startswith("_")}
        attrs.clear()
        attrs.update(keep)
        attrs["T"] = dtype
        return []
    if op in ("ResourceGather", "ResourceGatherNd"):
        batch_dims = attrs.get("batch_dims", 0)
        if batch_dims:
            raise UnsupportedModelError(f"node {node!r}: ResourceGather with batch_dims={batch_dims}")
        tindices = attrs.get("Tindices", DType("DT_INT32"))
        keep = {k: v for k, v in attrs.items() if k.startswith("_")}
        attrs.clear()
        attrs.update(keep)
        attrs["Tparams"] = dtype
        attrs["Tindices"] = tindices
        if op == "ResourceGather":
            axis = graph.add_const(np.array(0, dtype=np.int32), name=graph.unique_name(node + "/axis"))
            graph.set_inputs(node, graph.inputs_of(node) + [axis])
            graph.set_op(node, "GatherV2")
            attrs["Taxis"] = DType("DT_INT32")
            attrs["batch_dims"] = 0
        else:
            graph.set_op(node, "GatherNd")
        return []
    if op in _PASS_THROUGH:
        attrs["T"] = dtype
        types = graph.out_types(node) or ()
        return [(TensorRef(node, p), dtype) for p in range(max(1, len(types)))
                if op not in ("Merge", "RefMerge") or p == 0]
    if op in _WHILE_OPS:
        return _freeze_while(graph, node, slot, dtype, ref)
    if op in _IF_OPS or op in _CASE_OPS:
        _freeze_branches(graph, node, slot, dtype, ref)
        return []
    if op == "_Retval":
        return []
    raise UnsupportedModelError(
        f"node {node!r} ({op}) uses a variable in a way that cannot be frozen into a constant "
        "(only reads are supported in a graph model)")


def _value_shape(graph: Graph, ref: TensorRef) -> tuple[int | None, ...] | None:
    value = graph.value(ref.node)
    if value is not None:
        return tuple(value.shape)
    types = graph.out_types(ref.node)
    return types[ref.port].shape if types and ref.port < len(types) else None


def _set_list_entry(attrs: dict[str, Any], key: str, index: int, value: Any) -> None:
    entry = attrs.get(key)
    if isinstance(entry, list) and index < len(entry):
        entry = list(entry)
        entry[index] = value
        attrs[key] = entry


def _freeze_while(graph: Graph, node: str, slot: int, dtype: DType,
                  ref: TensorRef) -> list[tuple[TensorRef, DType]]:
    attrs = graph.attrs(node)
    shape = _value_shape(graph, ref)
    _set_list_entry(attrs, "T", slot, dtype)
    _set_list_entry(attrs, "output_shapes", slot, shape)
    _set_list_entry(attrs, "_output_shapes", slot, shape)
    for key in ("cond", "body"):
        func = attrs.get(key)
        if isinstance(func, FuncRef):
            attrs[key] = FuncRef(_specialize(graph, func.name, {slot: (dtype, shape)},
                                             also_output=key == "body"), func.attrs)
    types = graph.out_types(node)
    if types and slot < len(types):
        new = list(types)
        new[slot] = TensorType(dtype, shape)
        graph.set_out_types(node, new)
    return [(TensorRef(node, slot), dtype)]


def _freeze_branches(graph: Graph, node: str, slot: int, dtype: DType, ref: TensorRef) -> None:
    attrs = graph.attrs(node)
    if slot == 0:
        raise UnsupportedModelError(f"node {node!r}: a variable used as a branch predicate")
    index = slot - 1
    shape = _value_shape(graph, ref)
    _set_list_entry(attrs, "Tin", index, dtype)
    for key in ("then_branch", "else_branch"):
        func = attrs.get(key)
        if isinstance(func, FuncRef):
            attrs[key] = FuncRef(_specialize(graph, func.name, {index: (dtype, shape)}), func.attrs)
    branches = attrs.get("branches")
    if isinstance(branches, list):
        attrs["branches"] = [FuncRef(_specialize(graph, f.name, {index: (dtype, shape)}), f.attrs)
                             for f in branches]


def _specialize(graph: Graph, fname: str, args: dict[int, tuple[DType, Any]], *,
                also_output: bool = False) -> str:
    """A copy of function ``fname`` whose resource args ``args`` are frozen values."""
    from tfjs_lite.ir.graph import ArgDef, FunctionSignature

    library = graph.functions
    source = library[fname]
    assert source.signature is not None
    body = source.copy()
    sig = source.signature
    new_name = fname + "_frozen"
    counter = 0
    while new_name in library:
        counter += 1
        new_name = f"{fname}_frozen_{counter}"
    inputs = list(sig.input_args)
    outputs = list(sig.output_args)
    frozen: dict[TensorRef, DType] = {}
    for index, (dtype, shape) in args.items():
        arg = inputs[index]
        inputs[index] = ArgDef(arg.name, dtype, {k: v for k, v in arg.extra.items() if k != "handle_data"})
        body.set_attr(arg.name, "T", dtype)
        body.set_out_types(arg.name, [TensorType(dtype, shape)])
        frozen[TensorRef(arg.name, 0)] = dtype
        if also_output and index < len(outputs):
            out = outputs[index]
            outputs[index] = ArgDef(out.name, dtype, {k: v for k, v in out.extra.items() if k != "handle_data"})
        arg_attrs = sig.arg_attrs
    arg_attrs = {i: dict(a) for i, a in sig.arg_attrs.items()}
    for index, (_, shape) in args.items():
        if index in arg_attrs and "_output_shapes" in arg_attrs[index]:
            arg_attrs[index]["_output_shapes"] = [shape]
    body.signature = FunctionSignature(new_name, inputs, outputs, dict(sig.attrs), arg_attrs,
                                       dict(sig.control_outputs))
    body.functions = library
    _freeze(body, frozen)
    body.functions = {}
    library[new_name] = body
    return new_name
