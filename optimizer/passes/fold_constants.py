"""Constant folding: evaluate nodes whose data inputs are all ``Const`` with the numpy kernels.

Before => after: ``y = Op(Const a, Const b)`` => ``y = Const(Op(a, b))``, keeping the node name
(grappler does the same: PReLU's folded ``Neg(alpha)`` is still called ``.../Neg``).  Multi-output
nodes get one ``Const`` per used port, named ``<node>/port_<k>``.  ``Shape``/``ShapeN``/``Size``/
``Rank`` fold whenever their input's static shape is fully known, even if the input is not
constant.  Sweeping in topological order folds whole constant subgraphs in one run.

Algebra: none; values come from :data:`tfjs_lite.kernels.KERNELS`, the same kernels the executor
uses, so folding cannot disagree with execution.

Does NOT fire on:

* ops without a kernel (left alone, logged at DEBUG), graph inputs, side-effecting or random ops,
  ops calling functions, TF1 frame ops;
* results larger than ``max(MIN_FOLD_ELEMENTS, total elements of the const inputs)``: folding must
  never bloat the weights (``Fill``/``Tile``/``BroadcastTo`` of a scalar stay as they are);
* nodes whose output, predicted from input shapes and shape-like values before running the kernel
  (``tfjs_lite.kernels.sizes``), exceeds that: a size bomb is never computed, not even to be
  thrown away;
* any node once the folds of one ``optimize`` call have made ``max(limits.MAX_FOLD_TOTAL_BYTES,
  2 x the graph's constant bytes)``: one constant read by thousands of nodes must not multiply;
* results of dtypes TF.js cannot hold as weights (``int64``/``uint`` stay allowed, they are cast
  by the writer; ``object`` arrays of non-bytes are refused).

A kernel that raises on constant inputs is a bug (or a graph TF itself rejects) and propagates,
so the manager reports it as a PassError.
"""

from __future__ import annotations

import logging

import numpy as np
from tfjs_lite.optimizer._util import (
    FRAME_OPS,
    INPUT_OPS,
    has_side_effects,
    output_refs,
    replace_with_const,
    static_shape,
)
from tfjs_lite.optimizer.pass_base import Pass

from tfjs_lite.errors import ModelFormatError
from tfjs_lite.ir import Graph, TensorType, dtype_of
from tfjs_lite.kernels import KERNELS, NodeContext
from tfjs_lite.kernels.sizes import predicted_elements
from tfjs_lite.lazy_tensor import is_lazy
from tfjs_lite.limits import MAX_FOLD_TOTAL_BYTES

__all__ = ["MIN_FOLD_ELEMENTS", "FoldConstants"]

logger = logging.getLogger(__name__)

MIN_FOLD_ELEMENTS = 1024
SHAPE_OPS = frozenset({"Shape", "ShapeN", "Size", "Rank"})
NEVER_FOLD = frozenset({"Const", "NoOp", "Identity", "IdentityN"}) | FRAME_OPS | INPUT_OPS


class FoldConstants(Pass):
    """Replace constant subgraphs by their value."""

    name = "fold_constants"

    def __init__(self) -> None:
        super().__init__()
        self._folded_bytes = 0  # made by folding so far, over every round of one optimize() call
        self._budget: int | None = None

    def run(self, graph: Graph) -> bool:
        """Fold in one topological sweep; returns True iff any node was folded."""
        if self._budget is None:
            # Folding replaces constants by others about as large; a graph whose folds would add
            # far more than the constants it holds (one const read by 10k Mul nodes) stops early.
            held = sum(int(getattr(graph.value(n), "nbytes", 0)) for n in graph.nodes_by_op("Const"))
            self._budget = max(MAX_FOLD_TOTAL_BYTES, 2 * held)
        changed = False
        for n in graph.topo_order():
            if n not in graph or not self._foldable(graph, n):
                continue
            outputs = self._evaluate(graph, n)
            if outputs is not None:
                self._replace(graph, n, outputs)
                changed = True
        return changed

    @staticmethod
    def _foldable(graph: Graph, n: str) -> bool:
        op = graph.op(n)
        if op in NEVER_FOLD or op not in KERNELS or has_side_effects(graph, n):
            return False
        inputs = graph.inputs_of(n)
        if op in SHAPE_OPS:
            return bool(inputs) and all(_known(static_shape(graph, r)) for r in inputs)
        # File-backed (lazy) constants are huge by construction: never read them to fold.
        return bool(inputs) and all(graph.op(r.node) == "Const" and not is_lazy(graph.value(r.node))
                                    for r in inputs)

    def _evaluate(self, graph: Graph, n: str) -> list[np.ndarray] | None:
        op = graph.op(n)
        inputs = graph.inputs_of(n)
        if op in SHAPE_OPS:
            # Only the shape matters: evaluate on zero-size-cost stand-ins of the right shape.
            args = [np.broadcast_to(np.zeros((), np.float32), static_shape(graph, r))  # type: ignore[arg-type]
                    for r in inputs]
            budget = None
        else:
            args = [graph.value(r.node) for r in inputs]  # type: ignore[misc]
            budget = max(MIN_FOLD_ELEMENTS, sum(int(a.size) for a in args))
            # Predict before computing: Fill/Tile/Range of a few bytes must not allocate gigabytes.
            predicted = predicted_elements(op, args, graph.attrs(n))
            itemsize = max((np.asarray(a).dtype.itemsize for a in args), default=4)
            assert self._budget is not None
            if predicted > budget or self._folded_bytes + predicted * itemsize > self._budget:
                logger.debug("fold_constants: %s (%s) would produce %d elements, not folded", n, op, predicted)
                return None
        ctx = NodeContext(name=n, op=op)
        try:
            outputs = KERNELS[op](list(args), graph.attrs(n), ctx)
        except (ValueError, ArithmeticError, IndexError, TypeError) as e:
            # Constants whose shapes or dtypes contradict the op (weights for 3 channels applied to
            # an input with 1): the model cannot run anywhere, so refuse it rather than write it.
            # This is the one place for every reader (TFLite and ONNX files reach it hand-made).
            raise ModelFormatError(f"node {n!r} ({op}): its constant inputs {[tuple(np.shape(a)) for a in args]} "
                                   f"do not fit it ({type(e).__name__}: {' '.join(str(e).split())[:200]})") from e
        outputs = [np.asarray(o) for o in outputs]
        if budget is not None and any(o.size > budget for o in outputs):
            logger.debug("fold_constants: %s (%s) result too large, not folded", n, op)
            return None
        if any(o.dtype == object and not all(isinstance(v, bytes) for v in o.flat) for o in outputs):
            return None
        self._folded_bytes += sum(int(o.nbytes) for o in outputs)
        return outputs

    @staticmethod
    def _replace(graph: Graph, n: str, outputs: list[np.ndarray]) -> None:
        controls = sorted({c for r in graph.inputs_of(n) for c in graph.control_inputs_of(r.node)})
        if len(outputs) == 1:
            replace_with_const(graph, n, outputs[0])
            for c in controls:
                graph.add_control_input(n, c)
            return
        for ref in output_refs(graph, n):
            const = graph.add_const(outputs[ref.port],
                                    name=graph.unique_name(f"{n}/port_{ref.port}"))
            for c in controls + graph.control_inputs_of(n):
                graph.add_control_input(const.node, c)
            graph.set_out_types(const.node, [TensorType(dtype_of(outputs[ref.port]),
                                                        tuple(outputs[ref.port].shape))])
            graph.replace_uses(ref, const)
        for dst in graph.control_consumers(n):
            graph.remove_control_input(dst, n)
            for c in graph.control_inputs_of(n):
                graph.add_control_input(dst, c)
        graph.remove(n)


def _known(shape: tuple[int | None, ...] | None) -> bool:
    return shape is not None and all(d is not None for d in shape)


