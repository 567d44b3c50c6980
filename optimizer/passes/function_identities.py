"""Bypass Identity nodes inside function bodies (the While/If/case branches TF.js runs).

The other passes leave ``graph.functions`` alone; Grappler does not, and the official converter's
``While``/``If`` bodies come out without the ``Identity`` wrappers TF's function tracing puts
before every return value.

Before => after, in every body graph of ``graph.functions``:

* with ``strip_debug`` (the ``strip_debug_ops`` default): ``strip_debug`` on the body (Assert in
  an ``AssertGuard`` branch), and ``control_outputs`` entries naming deleted nodes are dropped;
* ``^c`` control inputs where nothing in ``c``'s ancestry has side effects => dropped (TF's
  tracing makes every return Identity wait for the frozen ``ReadVariableOp``, now a pure Identity);
* ``y = Identity(x)`` (also ``Snapshot``, ``StopGradient``, ``PreventGradient``), where ``x`` is a
  node output or an ``_Arg`` => consumers of ``y`` and the body outputs (``ret``) read ``x``;
  ``y`` is deleted.  A return value can then be an argument directly (``ret {out: "arg"}``), as
  in the official output; TF.js maps it to the fed value;
* a ``NoOp`` nothing depends on any more (and not a ``control_outputs`` anchor) => deleted.

Algebra: ``Identity(x) == x``.

Does NOT fire on an Identity that:

* still has control inputs or control consumers after that (side-effect ordering), or is named
  in the body's ``control_outputs``;
* reads a resource (``DT_RESOURCE`` arg): never the case after freezing, kept to be safe;
* lives in a body with TF1 frame ops (Enter/Switch/Merge/...).
"""

from __future__ import annotations

from tfjs_lite.optimizer._util import effect_taint, has_frames
from tfjs_lite.optimizer.pass_base import Pass
from tfjs_lite.optimizer.passes.strip_debug import StripDebug

from tfjs_lite.ir import Graph, TensorRef

__all__ = ["FunctionIdentities"]

IDENTITY_OPS = frozenset({"Identity", "Snapshot", "StopGradient", "PreventGradient"})


def _is_resource(body: Graph, ref: TensorRef) -> bool:
    types = body.out_types(ref.node)
    if types and ref.port < len(types):
        dtype = getattr(types[ref.port], "dtype", None)
        if dtype is not None and "RESOURCE" in str(dtype):
            return True
    attrs = body.attrs(ref.node)
    return "RESOURCE" in str(attrs.get("T", "")) or "RESOURCE" in str(attrs.get("dtype", ""))


def simplify_body(body: Graph, *, strip_debug: bool = True) -> bool:
    """Bypass the removable identities of one body graph; True iff anything changed."""
    if has_frames(body):
        return False
    changed = StripDebug().run(body) if strip_debug else False
    control_outputs = body.signature.control_outputs if body.signature else {}
    for key in [k for k, n in control_outputs.items() if n not in body]:
        del control_outputs[key]  # the Assert strip_debug just deleted
        changed = True
    anchors = set(control_outputs.values())
    taint = effect_taint(body)
    for n in body.nodes():  # ^c on a pure computation (a frozen ReadVariableOp) orders nothing
        for c in body.control_inputs_of(n):
            if not taint.get(c, True):
                body.remove_control_input(n, c)
                changed = True
    for n in body.topo_order():
        if body.op(n) not in IDENTITY_OPS or n in anchors:
            continue
        inputs = body.inputs_of(n)
        if len(inputs) != 1 or body.control_inputs_of(n) or body.control_consumers(n):
            continue
        src = inputs[0]
        if _is_resource(body, src):
            continue
        body.replace_uses(TensorRef(n, 0), src)
        body.remove(n)
        changed = True
    for n in body.nodes_by_op("NoOp"):
        if n not in anchors and not body.node_consumers(n) and not body.control_consumers(n):
            body.remove(n)
            changed = True
    return changed


class FunctionIdentities(Pass):
    """Identity => its input, inside every function body of the library."""

    name = "function_identities"

    def __init__(self, *, strip_debug: bool = True) -> None:
        self.strip_debug = strip_debug

    def run(self, graph: Graph) -> bool:
        """Rewrite every body in ``graph.functions``; returns True iff any changed."""
        changed = False
        for name in sorted(graph.functions):
            changed |= simplify_body(graph.functions[name], strip_debug=self.strip_debug)
        return changed
