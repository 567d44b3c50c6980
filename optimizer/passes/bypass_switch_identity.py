"""Bypass the ``Identity`` that TF1 control flow puts after a ``Switch`` output.

``tf.compat.v1.while_loop`` (and ``tf.cond``) read every loop variable in the body through
``Identity(Switch:1)``.  ``remove_identity`` keeps every identity fed by a frame op (some of them
are *pivots*: frame-local constants hang off them by a control edge).  An identity nobody
depends on by a control edge is a plain copy, and Grappler removes it too.

Before => after::

    s = Switch(merge, pred);  i = Identity(s:1);  y = MatMul(i, w)
    =>  y = MatMul(s:1, w)

Every data consumer of ``Identity(Switch:k)`` (NextIteration back edges included) reads
``Switch:k`` directly.  Algebra: ``Identity(x) == x``; a dead (untaken) ``Switch`` port makes the
identity dead too, so the consumer sees the same live/dead value either way.  TF.js 4.22 runs
consumers of ``Switch:k`` directly (its executor looks ``Switch:1`` up in the current frame
context, exactly as it looks up the identity's output); the official converter's output has
``_FusedMatMul(while/Switch_1:1, ...)``.

Does NOT fire when the identity:

* has a control consumer (``^while/Identity`` is the pivot anchoring the frame's constants) or
  control inputs of its own;
* is a signature output or in ``graph.keep_nodes`` (its name is part of the interface);
* reads anything but a ``Switch`` (a ``RefSwitch`` output is a reference the identity
  dereferences); ``IdentityN`` is left to ``remove_identity``.
"""

from __future__ import annotations

from tfjs_lite.optimizer._util import IDENTITY_OPS, is_output_node
from tfjs_lite.optimizer.pass_base import Pass

from tfjs_lite.ir import Graph, TensorRef

__all__ = ["BypassSwitchIdentity"]


class BypassSwitchIdentity(Pass):
    """Identity(Switch:k) with no control edges => consumers read Switch:k."""

    name = "bypass_switch_identity"

    def run(self, graph: Graph) -> bool:
        """Bypass every eligible identity; returns True iff any was removed."""
        keep = graph.keep_nodes
        changed = False
        for n in graph.nodes_by_op(*IDENTITY_OPS):
            inputs = graph.inputs_of(n)
            if len(inputs) != 1 or graph.op(inputs[0].node) != "Switch":
                continue
            if (graph.control_inputs_of(n) or graph.control_consumers(n)
                    or is_output_node(graph, n) or n in keep):
                continue
            graph.replace_uses(TensorRef(n, 0), inputs[0])
            graph.remove(n)
            changed = True
        return changed
