"""Declare a graph's 4-D inputs and outputs NHWC (the ``--nhwc_inputs``/``--nhwc_outputs`` flags).

A graph from an NCHW source (ONNX) takes and returns NCHW tensors, so after the transposes in its
body cancel, one ``Transpose(perm [0,2,3,1])`` stays behind each 4-D input and one
``Transpose(perm [0,3,1,2])`` before each 4-D output.  This pass changes the contract instead:

* input ``x`` of shape ``[N,C,H,W]`` becomes a placeholder of shape ``[N,H,W,C]`` followed by
  ``Transpose(x, [0,3,1,2])``, which gives the old consumers the NCHW tensor they expect;
* output node ``y`` (rank proven 4) is renamed aside to ``y/nchw`` and ``y`` becomes
  ``Transpose(y/nchw, [0,2,3,1])``, so the signature output keeps its name and is NHWC.

Both inserted transposes are exact inverses of the boundary ones, so ``merge_transposes`` and
``sink_transposes`` (in the default pipeline, run afterwards) cancel them: no transpose is left
at the boundary.  The signature shapes change accordingly; nothing else does.

Not in the default pipeline (it changes the model's interface); the graph pipelines run it when
the options ask for it.  Leaves alone: inputs that are not 4-D Placeholders with a known shape,
outputs whose rank is not proven 4, Const outputs, inputs passed straight through as outputs,
and outputs read on a port other than 0.  Runs once per graph (``graph.meta["nhwc_io"]``).
"""

from __future__ import annotations

from tfjs_lite.optimizer._layout import add_transpose, rank_of
from tfjs_lite.optimizer._util import INPUT_OPS, output_refs, static_dtype
from tfjs_lite.optimizer.pass_base import Pass

from tfjs_lite.ir import DType, Graph, TensorRef, TensorType

__all__ = ["NCHW_TO_NHWC", "NHWC_TO_NCHW", "DeclareNhwcIo"]

NCHW_TO_NHWC = (0, 2, 3, 1)
NHWC_TO_NCHW = (0, 3, 1, 2)


class DeclareNhwcIo(Pass):
    """Make 4-D signature inputs and/or outputs NHWC.

    Args:
        inputs: Declare the 4-D inputs NHWC.
        outputs: Declare the 4-D outputs NHWC.
    """

    name = "declare_nhwc_io"

    def __init__(self, *, inputs: bool = True, outputs: bool = True) -> None:
        self.inputs = inputs
        self.outputs = outputs

    def run(self, graph: Graph) -> bool:
        """Rewrite in place; returns True iff anything changed."""
        if graph.meta.get("nhwc_io") or not (self.inputs or self.outputs):
            return False
        graph.meta["nhwc_io"] = True
        changed = False
        if self.inputs:
            for key in sorted(graph.inputs):
                if _declare_input(graph, graph.inputs[key]):
                    _signature_to_nhwc(graph, "inputs", key)
                    changed = True
        if self.outputs:
            for key in sorted(graph.outputs):
                if _declare_output(graph, graph.outputs[key]):
                    _signature_to_nhwc(graph, "outputs", key)
                    changed = True
        return changed


def _signature_to_nhwc(graph: Graph, side: str, key: str) -> None:
    """Permute the shape a reader recorded for the signature entry, if any."""
    info = (graph.meta.get("signature") or {}).get(side, {}).get(key)
    if info is not None and info.get("shape") is not None and len(info["shape"]) == 4:
        info["shape"] = tuple(info["shape"][d] for d in NCHW_TO_NHWC)


def _declare_input(graph: Graph, ref: TensorRef) -> bool:
    node = ref.node
    attrs = graph.attrs(node)
    shape = attrs.get("shape")
    if graph.op(node) != "Placeholder" or shape is None or len(shape) != 4 or ref.port != 0:
        return False
    nhwc = tuple(shape[d] for d in NCHW_TO_NHWC)
    attrs["shape"] = nhwc
    if attrs.get("_output_shapes"):
        attrs["_output_shapes"] = [nhwc]
    dtype = attrs.get("dtype")
    graph.set_out_types(node, None if dtype is None else [TensorType(dtype, nhwc)])
    nchw = add_transpose(graph, ref, NHWC_TO_NCHW, name=f"{node}/to_nchw", dtype=dtype)
    graph.replace_uses(ref, nchw, skip={nchw.node})
    return True


def _declare_output(graph: Graph, ref: TensorRef) -> bool:
    node = ref.node
    op = graph.op(node)
    if ref.port != 0 or op == "Const" or op in INPUT_OPS or rank_of(graph, ref) != 4 \
            or any(r.port for r in output_refs(graph, node)):
        return False
    dtype = static_dtype(graph, ref) or graph.attrs(node).get("T")
    aside = graph.add_op(op, graph.inputs_of(node), dict(graph.attrs(node)),
                         name=graph.unique_name(f"{node}/nchw"),
                         control_inputs=graph.control_inputs_of(node),
                         out_types=graph.out_types(node))
    for c in graph.control_inputs_of(node):
        graph.remove_control_input(node, c)
    output_keys = [k for k, r in graph.outputs.items() if r == ref]
    graph.replace_uses(ref, TensorRef(aside, 0))
    for key in output_keys:
        graph.outputs[key] = ref
    # `node` keeps its name and becomes the NCHW -> NHWC transpose of its old computation.
    perm = add_transpose(graph, TensorRef(aside, 0), NCHW_TO_NHWC, name=f"{node}/to_nhwc", dtype=dtype)
    perm_ref = graph.inputs_of(perm.node)[1]
    graph.set_inputs(node, [TensorRef(aside, 0), perm_ref])
    graph.set_op(node, "Transpose")
    attrs = graph.attrs(node)
    attrs.clear()
    attrs["Tperm"] = DType("DT_INT32")
    if dtype is not None:
        attrs["T"] = dtype
    graph.set_out_types(node, graph.out_types(perm.node))
    graph.remove(perm.node)
    return True

