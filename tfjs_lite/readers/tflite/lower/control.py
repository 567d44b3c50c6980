"""WHILE and IF: functional ``StatelessWhile`` / ``StatelessIf`` whose cond, body and branches
are the referenced subgraphs, lowered into ``graph.functions`` (as the SavedModel reader keeps
TF2 control flow)."""

from __future__ import annotations

from tfjs_lite.ir import DType, FuncRef, TensorRef
from tfjs_lite.readers.tflite.context import Lowering, graph_dtype
from tfjs_lite.readers.tflite.lower import lowering
from tfjs_lite.readers.tflite.model import Operator


def _types(ctx: Lowering, indices: tuple[int, ...]) -> list[DType]:
    return [graph_dtype(ctx.tensor(i)) for i in indices]


def _shapes(ctx: Lowering, indices: tuple[int, ...]) -> list[tuple[int | None, ...]]:
    return [tuple(None if d < 0 else d for d in ctx.tensor(i).signature) for i in indices]


def _bind(ctx: Lowering, op: Operator, node: str) -> None:
    for port in range(len(op.outputs)):
        ctx.set_output(op, port, TensorRef(node, port))


@lowering("WHILE")
def while_(ctx: Lowering, op: Operator) -> None:
    cond = ctx.function(op.options["cond_subgraph_index"])
    body = ctx.function(op.options["body_subgraph_index"])
    refs = [ctx.need(op, k) for k in range(len(op.inputs))]
    attrs = {"T": _types(ctx, op.inputs), "cond": FuncRef(cond), "body": FuncRef(body),
             "output_shapes": _shapes(ctx, op.outputs), "parallel_iterations": 10}
    (ref,) = ctx.emit("StatelessWhile", refs, attrs, base=ctx.name_for(op) + "/while")
    _bind(ctx, op, ref.node)


@lowering("IF")
def if_(ctx: Lowering, op: Operator) -> None:
    then_branch = ctx.function(op.options["then_subgraph_index"])
    else_branch = ctx.function(op.options["else_subgraph_index"])
    refs = [ctx.need(op, k) for k in range(len(op.inputs))]
    attrs = {"Tcond": DType("DT_BOOL"), "Tin": _types(ctx, op.inputs[1:]), "Tout": _types(ctx, op.outputs),
             "then_branch": FuncRef(then_branch), "else_branch": FuncRef(else_branch),
             "output_shapes": _shapes(ctx, op.outputs)}
    (ref,) = ctx.emit("StatelessIf", refs, attrs, base=ctx.name_for(op) + "/cond")
    _bind(ctx, op, ref.node)
