"""Lower a parsed ONNX graph to the TF-op graph IR.

Graph inputs become ``Placeholder`` nodes (dynamic or symbolic dims as unknown), initializers
numpy constants, every node goes through its lowering, and each graph output gets an ``Identity``
named after it. The signature keeps ONNX's input and output names.
"""

from __future__ import annotations

from pathlib import Path

from tfjs_lite.errors import ModelFormatError, UnsupportedOpError
from tfjs_lite.ir.attrs import DType
from tfjs_lite.ir.graph import Graph, TensorRef, TensorType
from tfjs_lite.readers.onnx.context import LoweringContext, V, tf_dtype, tf_name
from tfjs_lite.readers.onnx.lowering import LOWERINGS
from tfjs_lite.readers.onnx.model import OnnxGraph, OnnxNode, OnnxSubgraph, ValueInfo, branches, load_onnx
from tfjs_lite.readers.onnx.rewrite import fuse_group_norm
from tfjs_lite.readers.onnx.tensors import tf_dtype_of

__all__ = ["lower_graph", "read_onnx", "unsupported_nodes"]


def unsupported_nodes(onnx: OnnxGraph) -> dict[str, list[str]]:
    """``op_type -> node names`` for every node no lowering handles (non-default domains included)."""
    missing: dict[str, list[str]] = {}
    pending = list(onnx.nodes)
    for i, node in enumerate(pending):  # grows with the nodes of If branches
        if node.domain or node.op_type not in LOWERINGS:
            op = f"{node.domain}.{node.op_type}" if node.domain else node.op_type
            missing.setdefault(op, []).append(node.name or f"#{i}")
        pending.extend(n for b in branches(node) for n in b.nodes)
    return missing


def _check_supported(onnx: OnnxGraph) -> None:
    missing = unsupported_nodes(onnx)
    if missing:
        listed = "; ".join(f"{op} ({', '.join(names[:3])}{', ...' if len(names) > 3 else ''})"
                           for op, names in sorted(missing.items()))
        raise UnsupportedOpError(f"{sum(len(v) for v in missing.values())} ONNX node(s) use ops tfjs-lite cannot "
                                 f"convert: {listed}")


def _shape_of(info: ValueInfo | None) -> tuple[int | None, ...] | None:
    return None if info is None else info.shape


def lower_graph(onnx: OnnxGraph) -> Graph:
    """The TF-op graph of a parsed ONNX graph."""
    _check_supported(onnx)
    fuse_group_norm(onnx)
    graph = Graph()
    ctx = LoweringContext(graph, onnx.opset)
    signature: dict[str, dict] = {"inputs": {}, "outputs": {}}
    for name, info in onnx.inputs:
        dtype = tf_dtype_of(info.elem_type, f"graph input {name!r}")
        placeholder = graph.add_op("Placeholder", attrs={"dtype": DType(dtype), "shape": info.shape},
                                   name=graph.unique_name(tf_name(name, "input")),
                                   out_types=[TensorType(DType(dtype), info.shape)])
        graph.inputs[name] = TensorRef(placeholder, 0)
        ctx.values[name] = V(TensorRef(placeholder, 0), info.shape, dtype)
        signature["inputs"][name] = {"dtype": DType(dtype), "shape": info.shape}
    for name, array in onnx.initializers.items():
        ctx.values[name] = ctx.const(array)
    onnx.initializers = {}
    # Readers left per value: a weight is dropped once its last reader is lowered (what the graph
    # needs is then in its Const), so original and converted weights do not pile up.
    ctx.lower_branch = lambda branch: _lower_branch(ctx, branch, onnx)
    remaining: dict[str, int] = {}
    for node in onnx.nodes:
        for name in node.inputs:
            remaining[name] = remaining.get(name, 0) + 1
    keep = {name for name, _ in onnx.outputs}
    for index, node in enumerate(onnx.nodes):
        _lower_node(ctx, node, index, onnx)
        for name in node.inputs:
            remaining[name] -= 1
            if not remaining[name] and name not in keep and name in ctx.values:
                del ctx.values[name]
    ctx.base = "outputs"
    for name, info in onnx.outputs:
        value = ctx.values[name]
        dtype = value.dtype if value.value is None else tf_dtype(value.value)
        shape = info.shape if info.shape is not None else value.shape
        identity = graph.add_op("Identity", [ctx.ref(value)], {"T": DType(dtype)},
                                name=graph.unique_name(tf_name(name, "output")),
                                out_types=[TensorType(DType(dtype), shape)])
        graph.outputs[name] = TensorRef(identity, 0)
        signature["outputs"][name] = {"dtype": DType(dtype), "shape": shape}
    graph.meta["signature"] = signature
    graph.meta["versions"] = {"producer": 0, "min_consumer": 0}
    graph.meta["onnx"] = onnx.meta
    return graph


def _lower_node(ctx: LoweringContext, node: OnnxNode, index: int, onnx: OnnxGraph) -> None:
    """Lower one node through its registered lowering and bind its outputs."""
    ctx.start(node, index)
    try:
        results = LOWERINGS[node.op_type](ctx)
    except (ArithmeticError, IndexError, ValueError) as e:
        # Lowerings check the attributes real exporters write; out-of-range values a hand-made
        # file holds (a block size of 0, pads beyond int32, a perm naming axis 9) end here.
        raise ModelFormatError(f"ONNX node {node.name or node.op_type!r} ({node.op_type}): invalid attributes "
                               f"or constant inputs ({type(e).__name__}: {' '.join(str(e).split())[:200]})") from e
    for out_name, value in zip(node.outputs, results):
        if not out_name or value is None:
            continue
        declared = _shape_of(onnx.value_info.get(out_name))
        if declared is not None and (value.shape is None or len(value.shape) == len(declared)):
            merged = declared if value.shape is None else tuple(
                d if d is not None else s for d, s in zip(declared, value.shape))
            value = V(value.ref, merged, value.dtype, value.value, value.known)
        ctx.values[out_name] = value
    for out_name in node.outputs[len(results):]:
        if out_name:
            raise ctx.unsupported(f"output {out_name!r} is not produced by the lowering")


def _lower_branch(ctx: LoweringContext, branch: OnnxSubgraph, onnx: OnnxGraph) -> list[V]:
    """Lower the nodes of the If branch taken (its values join the enclosing graph's) and return
    its outputs; the If node being lowered is restored afterwards."""
    node, base = ctx.node, ctx.base
    clash = sorted((set(branch.initializers) | {o for n in branch.nodes for o in n.outputs}) & set(ctx.values))
    if clash:
        raise ModelFormatError(f"an If branch redefines the enclosing graph's value {clash[0]!r}")
    for name, array in branch.initializers.items():
        ctx.values[name] = ctx.const(array)
    for index, inner in enumerate(branch.nodes):
        _lower_node(ctx, inner, index, onnx)
    ctx.node, ctx.base = node, base
    return [ctx.values[name] for name in branch.outputs]


def read_onnx(path: Path) -> Graph:
    """Parse and lower ``path`` (an ``.onnx`` file, external data beside it)."""
    return lower_graph(load_onnx(Path(path)))
