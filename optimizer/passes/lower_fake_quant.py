"""Lower fake quantization to arithmetic: TF.js 4.22 runs ``FakeQuantWithMinMaxVars`` as an
identity (its graph executor says "This op is currently ignored") and lacks the other forms.

Quantization-aware-trained models (tfmot) export these ops after every quantized layer; as an
identity the TF.js model computes un-quantized values, which is wrong, not approximate.

Before => after, for ``FakeQuantWithMinMaxArgs`` (bounds as attrs), ``FakeQuantWithMinMaxVars``
and ``FakeQuantWithMinMaxVarsPerChannel`` (bounds as constants; per channel along the last axis):
``y = FakeQuant(x)`` => ``y = AddV2(Mul(Floor(AddV2(Mul(Sub(Maximum(Minimum(x, hi), lo), lo),
inv_scale), 0.5)), scale), lo)`` with ``lo``/``hi`` the nudged bounds, computed here in float32
exactly as TF's ``Nudge`` does (``tfjs_lite/kernels/nn.py``), and the same float32 operation order
as TF's kernel (``floor((clamp(x) - lo) · inv_scale + 0.5) · scale + lo``).

Does NOT fire when the bounds of a ``*Vars*`` op are not constants (the nudge cannot be computed
ahead; the op check then refuses the node).
"""

from __future__ import annotations

import numpy as np
from tfjs_lite.optimizer._util import add_derived_const, add_derived_op, const_value
from tfjs_lite.optimizer.pass_base import Pass

from tfjs_lite.ir import DType, Graph, TensorRef
from tfjs_lite.kernels.nn import fake_quant_nudge

__all__ = ["LowerFakeQuant"]

_FLOAT = DType("DT_FLOAT")
_OPS = ("FakeQuantWithMinMaxArgs", "FakeQuantWithMinMaxVars", "FakeQuantWithMinMaxVarsPerChannel")


def _bounds(graph: Graph, node: str) -> tuple[np.ndarray, np.ndarray] | None:
    attrs = graph.attrs(node)
    if graph.op(node) == "FakeQuantWithMinMaxArgs":
        return np.asarray(attrs.get("min", -6.0), np.float32), np.asarray(attrs.get("max", 6.0), np.float32)
    low, high = (const_value(graph, ref) for ref in graph.inputs_of(node)[1:3])
    if low is None or high is None:
        return None
    return np.asarray(low, np.float32), np.asarray(high, np.float32)


def _float_op(graph: Graph, node: str, what: str, op: str, a: TensorRef, b: TensorRef) -> TensorRef:
    return add_derived_op(graph, node, what, op, [a, b], {"T": _FLOAT})


class LowerFakeQuant(Pass):
    """FakeQuantWithMinMax{Args,Vars,VarsPerChannel} with known bounds => clamp/scale/floor arithmetic."""

    name = "lower_fake_quant"

    def run(self, graph: Graph) -> bool:
        """Lower every fake-quant node with known bounds; True iff any was lowered."""
        changed = False
        for node in graph.nodes_by_op(*_OPS):
            bounds = _bounds(graph, node)
            if bounds is None:
                continue
            attrs = graph.attrs(node)
            num_bits, narrow = int(attrs.get("num_bits", 8)), bool(attrs.get("narrow_range", False))
            nudged = [fake_quant_nudge(float(lo), float(hi), num_bits, narrow)
                      for lo, hi in zip(np.ravel(bounds[0]), np.ravel(bounds[1]))]
            shape = np.shape(bounds[0])
            lo, hi, scale, inv_scale = (np.asarray([n[i] for n in nudged], np.float32).reshape(shape)
                                        for i in range(4))
            x = graph.inputs_of(node)[0]
            lo_ref = add_derived_const(graph, node, "nudged_min", lo)
            hi_ref = add_derived_const(graph, node, "nudged_max", hi)
            clamped = _float_op(graph, node, "clamp_max", "Maximum",
                                _float_op(graph, node, "clamp_min", "Minimum", x, hi_ref), lo_ref)
            scaled = _float_op(graph, node, "scaled", "Mul", _float_op(graph, node, "shifted", "Sub", clamped, lo_ref),
                               add_derived_const(graph, node, "inv_scale", inv_scale))
            steps = _float_op(graph, node, "in_steps", "AddV2", scaled,
                              add_derived_const(graph, node, "half", np.asarray(0.5, np.float32)))
            floor = add_derived_op(graph, node, "floor", "Floor", [steps], {"T": _FLOAT})
            graph.set_op(node, "AddV2")
            graph.set_inputs(node, [_float_op(graph, node, "rescaled", "Mul", floor,
                                              add_derived_const(graph, node, "scale", scale)), lo_ref])
            attrs.clear()
            attrs["T"] = _FLOAT
            changed = True
        return changed
