"""Lower ``TensorScatterAdd``/``TensorScatterSub`` (absent from TF.js 4.22): one lowering per op.

Before => after: ``z = TensorScatterAdd(t, indices, updates)`` =>
``z = AddV2(t, ScatterNd(indices, updates, Shape(t)))`` (``Sub`` for ``TensorScatterSub``); the
Add/Sub keeps the name ``z``.

Algebra: both ops add (subtract) every update at its index, summing repeated indices; ``ScatterNd``
of the updates into zeros of ``t``'s shape is exactly that sum (TF and TF.js sum duplicates too).

Does NOT fire on ``TensorScatterUpdate`` (TF.js has it) or ``TensorScatterMax``/``Min`` (no exact
form with TF.js ops; the op check reports them).
"""

from __future__ import annotations

from tfjs_lite.optimizer.pass_base import Pass

from tfjs_lite.ir import DType, Graph, TensorRef

__all__ = ["LOWERINGS", "LowerTensorScatter"]

# One lowering per op: the element-wise op applied to the tensor and the scattered updates.
LOWERINGS = {"TensorScatterAdd": "AddV2", "TensorScatterSub": "Sub"}


class LowerTensorScatter(Pass):
    """TensorScatterAdd/Sub => AddV2/Sub(t, ScatterNd(indices, updates, Shape(t)))."""

    name = "lower_tensor_scatter"

    def run(self, graph: Graph) -> bool:
        """Lower every such op; returns True iff any was found."""
        nodes = graph.nodes_by_op(*LOWERINGS)
        for node in nodes:
            attrs = graph.attrs(node)
            t, ti = attrs.get("T", DType("DT_FLOAT")), attrs.get("Tindices", DType("DT_INT32"))
            tensor, indices, updates = graph.inputs_of(node)
            shape = graph.add_op("Shape", [tensor], {"T": t, "out_type": ti},
                                 name=graph.unique_name(f"{node}/shape"))
            scattered = graph.add_op("ScatterNd", [indices, updates, TensorRef(shape, 0)],
                                     {"T": t, "Tindices": ti}, name=graph.unique_name(f"{node}/scatter"))
            graph.set_op(node, LOWERINGS[graph.op(node)])
            graph.set_inputs(node, [tensor, TensorRef(scattered, 0)])
            attrs.clear()
            attrs["T"] = t
        return bool(nodes)
