"""Pass-through ops, Const, and functional control flow (If, While, PartitionedCall).

TF1 frame ops (Switch/Merge/Enter/Exit/NextIteration) have no kernels: executing them needs
dead-tensor propagation and frame bookkeeping in the executor, which tfjs-lite does not do.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tfjs_lite.errors import InternalError
from tfjs_lite.ir.attrs import FuncRef
from tfjs_lite.kernels import NodeContext, kernel

Array = np.ndarray

# Guard against a non-terminating While in a broken graph instead of hanging a test run.
MAX_WHILE_ITERATIONS = 1_000_000


@kernel("Const")
def _const(inputs: list[Array], attrs: dict[str, Any], ctx: NodeContext) -> list[Array]:
    if ctx.value is None:
        raise InternalError(f"Const node {ctx.name!r} has no value")
    return [ctx.value]


@kernel("Identity", "Snapshot", "StopGradient", "PreventGradient", "CheckNumerics",
        "EnsureShape", "PlaceholderWithDefault", "ReadVariableOp")
def _identity(inputs: list[Array], attrs: dict[str, Any], ctx: NodeContext) -> list[Array]:
    return [inputs[0]]


@kernel("IdentityN")
def _identity_n(inputs: list[Array], attrs: dict[str, Any], ctx: NodeContext) -> list[Array]:
    return list(inputs)


@kernel("NoOp", "PrintV2")  # PrintV2 only logs: no outputs, nothing to compute
def _no_op(inputs: list[Array], attrs: dict[str, Any], ctx: NodeContext) -> list[Array]:
    return []


@kernel("Assert")
def _assert(inputs: list[Array], attrs: dict[str, Any], ctx: NodeContext) -> list[Array]:
    # Assert has no outputs; evaluating it must not change results, so we only check it.
    if not bool(np.all(inputs[0])):
        raise InternalError(f"Assert node {ctx.name!r} failed")
    return []


def _truthy(cond: Array) -> bool:
    # TF: a scalar is tested by value; a non-scalar tensor is true iff it is non-empty.
    cond = np.asarray(cond)
    return bool(cond) if cond.ndim == 0 else cond.size > 0


def _func(attrs: dict[str, Any], key: str) -> str:
    ref = attrs[key]
    return ref.name if isinstance(ref, FuncRef) else str(ref)


@kernel("If", "StatelessIf")
def _if(inputs: list[Array], attrs: dict[str, Any], ctx: NodeContext) -> list[Array]:
    branch = "then_branch" if _truthy(inputs[0]) else "else_branch"
    return ctx.call(_func(attrs, branch), inputs[1:])


@kernel("While", "StatelessWhile")
def _while(inputs: list[Array], attrs: dict[str, Any], ctx: NodeContext) -> list[Array]:
    cond, body = _func(attrs, "cond"), _func(attrs, "body")
    state = list(inputs)
    for _ in range(MAX_WHILE_ITERATIONS):
        if not _truthy(ctx.call(cond, state)[0]):
            return state
        state = ctx.call(body, state)
    raise InternalError(f"While node {ctx.name!r} did not stop after {MAX_WHILE_ITERATIONS} iterations")


@kernel("PartitionedCall", "StatefulPartitionedCall")
def _call(inputs: list[Array], attrs: dict[str, Any], ctx: NodeContext) -> list[Array]:
    return ctx.call(_func(attrs, "f"), inputs)
