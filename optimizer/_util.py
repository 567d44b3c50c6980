"""Small graph helpers shared by passes (read-mostly; all edits go through ``ir.Graph``)."""

from __future__ import annotations

from typing import Any

import numpy as np

from tfjs_lite.ir import DType, Graph, TensorRef

__all__ = [
    "ADD_OPS",
    "BATCH_NORM_OPS",
    "CONTRACTION_OPS",
    "FRAME_OPS",
    "FUSED_OF",
    "IDENTITY_OPS",
    "INPUT_OPS",
    "SIDE_EFFECT_OPS",
    "add_derived_const",
    "add_derived_op",
    "const_value",
    "has_frames",
    "is_output_node",
    "move_control_consumers",
    "output_refs",
    "remove_if_dead",
    "static_dtype",
    "static_shape",
]

# TF1 loop/cond frame ops: passes leave the control structure around them alone.
FRAME_OPS = frozenset({"Switch", "RefSwitch", "Merge", "RefMerge", "Enter", "RefEnter", "Exit",
                       "RefExit", "NextIteration", "RefNextIteration", "LoopCond"})

# Ops whose execution matters beyond their outputs (or whose outputs differ run to run).
# Control dependencies on them are kept; they are never folded, deduplicated or pruned when
# something kept depends on them.
SIDE_EFFECT_OPS = frozenset({
    "Assert", "Print", "PrintV2", "AssignVariableOp", "AssignAddVariableOp",
    "AssignSubVariableOp", "Assign", "AssignAdd", "AssignSub", "VarHandleOp", "VariableV2",
    "Variable", "ReadVariableOp", "HashTable", "HashTableV2", "MutableHashTable",
    "MutableHashTableV2", "MutableHashTableOfTensorsV2", "MutableDenseHashTableV2",
    "InitializeTable", "InitializeTableV2", "InitializeTableFromTextFile",
    "InitializeTableFromTextFileV2", "LookupTableImport", "LookupTableImportV2",
    "LookupTableInsert", "LookupTableInsertV2", "LookupTableRemoveV2", "TensorArrayV3",
    "TensorArrayWriteV3", "TensorArrayScatterV3", "TensorArraySplitV3", "TensorArrayCloseV3",
    "RandomUniform", "RandomUniformInt", "RandomStandardNormal", "TruncatedNormal", "Multinomial",
    "RandomShuffle", "RandomGamma", "RandomPoisson", "RandomPoissonV2", "StatefulPartitionedCall",
    "While", "If", "Case", "SaveV2", "RestoreV2", "MergeV2Checkpoints", "_Retval", "EmptyTensorList", "TensorListReserve",
})

# Ops that are graph inputs: never folded, deduplicated or bypassed.
INPUT_OPS = frozenset({"Placeholder", "PlaceholderV2", "PlaceholderWithDefault", "_Arg"})

# Ops that return their one input unchanged (at inference time).
IDENTITY_OPS = frozenset({"Identity", "Snapshot", "StopGradient", "PreventGradient"})

# Element-wise additions (BiasAdd is handled apart: it has a data_format).
ADD_OPS = frozenset({"Add", "AddV2"})

# Inference-mode batch normalisation.
BATCH_NORM_OPS = frozenset({"FusedBatchNorm", "FusedBatchNormV2", "FusedBatchNormV3"})

# Contractions TF.js has a fused kernel for, and that kernel's op.
FUSED_OF = {"Conv2D": "_FusedConv2D", "MatMul": "_FusedMatMul",
            "DepthwiseConv2dNative": "FusedDepthwiseConv2dNative"}
CONTRACTION_OPS = frozenset(FUSED_OF)


def has_frames(graph: Graph) -> bool:
    """True if the graph uses TF1 control flow (Switch/Merge/Enter/... frames)."""
    return bool(graph.nodes_by_op(*FRAME_OPS))


def const_value(graph: Graph, ref: TensorRef) -> np.ndarray | None:
    """The value of ``ref`` if it is a ``Const`` output, else None."""
    if graph.op(ref.node) != "Const" or ref.port != 0:
        return None
    return graph.value(ref.node)


def static_shape(graph: Graph, ref: TensorRef) -> tuple[int | None, ...] | None:
    """The static shape of ``ref`` (Const value shape, else recorded ``out_types``), or None."""
    value = const_value(graph, ref)
    if value is not None:
        return tuple(value.shape)
    types = graph.out_types(ref.node)
    if types is None or ref.port >= len(types):
        return None
    shape = types[ref.port].shape
    return None if shape is None else tuple(None if d is None or d < 0 else int(d) for d in shape)


def static_dtype(graph: Graph, ref: TensorRef) -> DType | None:
    """The dtype of ``ref`` when known."""
    value = const_value(graph, ref)
    if value is not None:
        return DType(graph.attrs(ref.node)["dtype"])
    types = graph.out_types(ref.node)
    if types is None or ref.port >= len(types):
        return None
    return types[ref.port].dtype


def output_refs(graph: Graph, name: str) -> list[TensorRef]:
    """Every output port of ``name`` that is read by a node or a signature output, sorted."""
    refs = {r for c in graph.node_consumers(name) for r in graph.inputs_of(c) if r.node == name}
    refs.update(r for r in graph.outputs.values() if r.node == name)
    return sorted(refs)


def is_output_node(graph: Graph, name: str) -> bool:
    """True if any port of ``name`` is a signature output."""
    return any(r.node == name for r in graph.outputs.values())


def move_control_consumers(graph: Graph, old: str, new: str | None) -> None:
    """Re-point every ``^old`` control dependency to ``^new`` (or drop it if ``new`` is None)."""
    for dst in graph.control_consumers(old):
        graph.remove_control_input(dst, old)
        if new is not None and new != dst:
            graph.add_control_input(dst, new)


def replace_with_const(graph: Graph, name: str, value: np.ndarray) -> str:
    """Turn single-output node ``name`` into a ``Const`` with the same name, inputs dropped.

    Data inputs are disconnected; control inputs are kept (they may pin the node in a frame).
    """
    graph.set_inputs(name, [])
    graph.set_op(name, "Const")
    attrs = graph.attrs(name)
    attrs.clear()
    graph.set_value(name, value)  # also sets attrs["dtype"]
    graph.set_out_types(name, None)
    _set_const_type(graph, name, value)
    return name


def _set_const_type(graph: Graph, name: str, value: np.ndarray) -> None:
    from tfjs_lite.ir import TensorType, dtype_of

    graph.set_out_types(name, [TensorType(dtype_of(value), tuple(value.shape))])


def attrs_key(value: Any) -> Any:
    """A hashable, order-independent key for an attr value (dicts, lists, arrays, FuncRefs)."""
    if isinstance(value, dict):
        return tuple(sorted((k, attrs_key(v)) for k, v in value.items()))
    if isinstance(value, (list, tuple)):
        return (type(value).__name__, tuple(attrs_key(v) for v in value))
    if isinstance(value, np.ndarray):
        return ("nd", str(value.dtype), value.shape, value.tobytes() if value.dtype != object
                else repr(value.tolist()))
    if hasattr(value, "__dataclass_fields__"):
        return (type(value).__name__,
                tuple((f, attrs_key(getattr(value, f))) for f in value.__dataclass_fields__))
    return (type(value).__name__, value)


def has_side_effects(graph: Graph, name: str) -> bool:
    """True for side-effecting/stateful ops and for ops that call functions (unknown bodies)."""
    return graph.op(name) in SIDE_EFFECT_OPS or any(True for _ in graph.iter_attr_funcs(name))


def effect_taint(graph: Graph) -> dict[str, bool]:
    """Node -> True if it or any ancestor (data or control) has side effects.

    A control dependency on an untainted node only orders pure computations, so it is useless.
    """
    taint: dict[str, bool] = {}
    for n in graph.topo_order():
        taint[n] = (has_side_effects(graph, n)
                    or any(taint.get(r.node, True) for r in graph.inputs_of(n))
                    or any(taint.get(c, True) for c in graph.control_inputs_of(n)))
    return taint


def remove_if_dead(graph: Graph, name: str) -> bool:
    """Remove ``name`` if nothing reads it; returns True if it was removed."""
    if name in graph and not graph.node_consumers(name) and not is_output_node(graph, name):
        graph.remove(name)
        return True
    return False


def add_derived_op(graph: Graph, node: str, what: str, op: str, inputs: list[TensorRef],
                   attrs: dict[str, Any]) -> TensorRef:
    """Output 0 of a new ``op`` node named ``<node>/<what>`` (made unique): a piece of ``node``'s lowering."""
    return TensorRef(graph.add_op(op, inputs, attrs, name=graph.unique_name(f"{node}/{what}")), 0)


def add_derived_const(graph: Graph, node: str, what: str, value: np.ndarray) -> TensorRef:
    """A new Const named ``<node>/<what>`` (made unique): a constant of ``node``'s lowering."""
    return graph.add_const(value, name=graph.unique_name(f"{node}/{what}"))


def become_select(graph: Graph, node: str, condition: TensorRef, then: TensorRef, otherwise: TensorRef,
                  t: DType) -> None:
    """Turn ``node`` itself into ``SelectV2(condition, then, otherwise)`` of type ``t``, keeping its
    name (and so every consumer) and dropping its old attributes."""
    graph.set_op(node, "SelectV2")
    graph.set_inputs(node, [condition, then, otherwise])
    graph.attrs(node).clear()
    graph.attrs(node)["T"] = t
