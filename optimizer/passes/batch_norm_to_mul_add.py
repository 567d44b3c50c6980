"""Rewrite an inference batch norm no contraction could absorb into ``Mul`` + ``Add``.

``fold_batch_norm`` folds a batch norm into the weights of the conv/matmul before it.  When there
is none (``Conv2D → Relu → BatchNorm``, a BN on an input), Grappler still rewrites it, and so the
official converter writes ``Mul(x, scale')`` + ``Add(·, offset')`` with two Consts instead of
``FusedBatchNormV3`` with four (one node fewer, the same two passes over the tensor in TF.js).

Before => after (the ``Add`` keeps the batch norm's name, its consumers are untouched)::

    y = FusedBatchNorm|V2|V3(x, γ, β, μ, σ², epsilon=ε, is_training=False)
    =>
    y = Add(Mul(x, s), o)        s = γ / sqrt(σ² + ε),  o = β − μ·s   (float64, stored as T)

Algebra: ``(x − μ)·γ/sqrt(σ²+ε) + β == x·s + o``; reassociation changes float32 rounding only.

Does NOT fire when: the batch norm is in training mode, any of γ, β, μ, σ² is not a Const
per-channel float vector (shape ``(C,)`` or scalar), the data format is not NHWC/NDHWC (the
channel is then not the last axis, so a ``(C,)`` vector would not broadcast), an output other
than ``y`` (the batch statistics) is used, or ``T`` is not float32 (half-precision BN has float32
parameters; a Mul of mixed dtypes would be invalid).
"""

from __future__ import annotations

import numpy as np
from tfjs_lite.optimizer._util import BATCH_NORM_OPS, const_value, output_refs
from tfjs_lite.optimizer.pass_base import Pass

from tfjs_lite.ir import DType, Graph, TensorRef

__all__ = ["BatchNormToMulAdd"]



def _text(v: object) -> str:
    return v.decode() if isinstance(v, bytes) else str(v)


def _params(graph: Graph, bn: str) -> tuple[np.ndarray, np.ndarray] | None:
    """(scale, offset) as float64 vectors, or None if the batch norm does not qualify."""
    attrs = graph.attrs(bn)
    if attrs.get("is_training", True) in (True, 1):
        return None
    if _text(attrs.get("data_format", "NHWC")) not in ("NHWC", "NDHWC"):
        return None
    if DType(attrs.get("T", "DT_FLOAT")) != DType("DT_FLOAT"):
        return None
    inputs = graph.inputs_of(bn)
    if len(inputs) != 5 or any(r.port != 0 for r in output_refs(graph, bn)):
        return None
    found = [const_value(graph, r) for r in inputs[1:]]
    vals = [v for v in found if v is not None and v.dtype.kind == "f" and v.ndim <= 1]
    if len(vals) != len(found):
        return None
    sizes = {v.size for v in vals if v.ndim == 1}
    if len(sizes) > 1 or 0 in sizes:
        return None
    gamma, beta, mean, var = (v.astype(np.float64) for v in vals)
    eps = float(attrs.get("epsilon", 1e-4))
    scale = gamma / np.sqrt(var + eps)
    offset = beta - mean * scale
    channels = sizes.pop() if sizes else 1
    return np.broadcast_to(scale, (channels,)).copy(), np.broadcast_to(offset, (channels,)).copy()


class BatchNormToMulAdd(Pass):
    """Inference FusedBatchNorm* left after fold_batch_norm => Mul + Add."""

    name = "batch_norm_to_mul_add"

    def run(self, graph: Graph) -> bool:
        """Rewrite every qualifying batch norm; returns True iff any was rewritten."""
        changed = False
        for bn in graph.nodes_by_op(*BATCH_NORM_OPS):
            params = _params(graph, bn)
            if params is None:
                continue
            scale, offset = params
            x = graph.inputs_of(bn)[0]
            t = DType("DT_FLOAT")
            s_ref = graph.add_const(scale.astype(np.float32), name=graph.unique_name(f"{bn}/Scaled"))
            o_ref = graph.add_const(offset.astype(np.float32), name=graph.unique_name(f"{bn}/Offset"))
            mul = graph.add_op("Mul", [x, s_ref], {"T": t}, name=graph.unique_name(f"{bn}/Mul"),
                               control_inputs=graph.control_inputs_of(bn))
            graph.set_inputs(bn, [TensorRef(mul, 0), o_ref])
            for c in graph.control_inputs_of(bn):
                graph.remove_control_input(bn, c)
            graph.set_op(bn, "Add")
            attrs = graph.attrs(bn)
            keep = {k: v for k, v in attrs.items() if k.startswith("_") and k != "_input_shapes"}
            attrs.clear()
            attrs.update({"T": t}, **keep)
            types = graph.out_types(bn)
            graph.set_out_types(bn, types[:1] if types else None)
            changed = True
        return changed
