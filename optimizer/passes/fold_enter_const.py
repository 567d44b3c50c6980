"""Turn a loop-invariant constant read inside a TF1 while frame into a frame-local ``Const``.

In a frozen ``tf.compat.v1.while_loop`` body every weight arrives as
``Identity(Enter(Const w, is_constant=true), ^pivot)`` (the frozen ``ReadVariableOp``).  The
fusions need to see a ``Const`` (a 1-D bias for ``normalize_bias_add``, channel counts for
``fuse_matmul``), so ``MatMul + AddV2 + Relu`` stayed three nodes.

Before => after (the identity keeps its name and becomes the constant)::

    e = Enter(w: Const, is_constant=true);  r = Identity(e, ^pivot)
    =>  r = Const(value of w, ^pivot)          # e and w die unless something else reads them

    r = Identity(e)                        # no control input
    =>  r = Const(value of w, ^e)          # Grappler's ConstantFolding/<name>_enter form

Why it is exact: an ``is_constant`` Enter hands the same value to every iteration of its frame;
the identity therefore produces ``w`` in every iteration where its control inputs fire.  The
new ``Const`` keeps those control inputs, so it lives in the same frame and fires in the same
iterations (dead on the same exit iteration); with no control input it takes ``^Enter``,
which (being loop-invariant) reaches every iteration.  A ``Const`` consumed inside a frame must
keep such a control edge: TF's executor places a node in the frame of its inputs, and a
``Const`` with no inputs is in the root frame only.  TF.js 4.22 keeps every ``Const`` in its
weight map, visible from every frame context (``getTensor`` falls back to the ``''`` context),
so the frame-local constant is read correctly there as well.

Does NOT fire when:

* the Enter is not ``is_constant`` (its value exists in iteration 0 only), is a ``RefEnter``,
  or does not read output 0 of a ``Const``;
* the identity is an ``IdentityN``, has more than one data input, is a signature output or is
  in ``graph.keep_nodes``.
"""

from __future__ import annotations

from tfjs_lite.optimizer._util import IDENTITY_OPS, is_output_node, replace_with_const
from tfjs_lite.optimizer.pass_base import Pass

from tfjs_lite.ir import Graph

__all__ = ["FoldEnterConst"]


class FoldEnterConst(Pass):
    """Identity(Enter(Const, is_constant=true)) => frame-local Const."""

    name = "fold_enter_const"

    def run(self, graph: Graph) -> bool:
        """Rewrite every eligible identity; returns True iff any was rewritten."""
        keep = graph.keep_nodes
        changed = False
        for n in graph.nodes_by_op(*IDENTITY_OPS):
            inputs = graph.inputs_of(n)
            if len(inputs) != 1 or is_output_node(graph, n) or n in keep:
                continue
            enter = inputs[0].node
            if graph.op(enter) != "Enter" or not _is_constant(graph.attrs(enter).get("is_constant")):
                continue
            enter_inputs = graph.inputs_of(enter)
            if len(enter_inputs) != 1:
                continue
            src = enter_inputs[0]
            if src.port != 0 or graph.op(src.node) != "Const":
                continue
            anchored = bool(graph.control_inputs_of(n))
            dtype = graph.attrs(src.node).get("dtype")
            value = graph.value(src.node)
            assert value is not None  # a Const always has one (Graph.check)
            replace_with_const(graph, n, value)  # keeps n's control inputs
            if dtype is not None:
                graph.set_attr(n, "dtype", dtype)
            if graph.out_types(src.node) is not None:
                graph.set_out_types(n, graph.out_types(src.node))
            if not anchored:
                graph.add_control_input(n, enter)
            changed = True
        return changed


def _is_constant(value: object) -> bool:
    if isinstance(value, (bytes, str)):
        return (value.decode() if isinstance(value, bytes) else value).lower() == "true"
    return bool(value)
