"""The clean-up of function bodies (the While/If/case branches TF.js runs): the only one.

The other passes leave ``graph.functions`` alone; Grappler does not, and the official converter's
``While``/``If`` bodies come out without the ``Identity`` wrappers TF's function tracing puts
before every return value.  TF.js also needs some edits the main graph does not.

Before => after, in every body graph of ``graph.functions``:

1. with ``strip_debug`` (the ``strip_debug_ops`` default): ``strip_debug`` on the body (Assert in
   an ``AssertGuard`` branch, ``EnsureShape``, ``PrintV2``: the one table of debug ops is that
   pass's), and ``control_outputs`` entries naming deleted nodes are dropped;
2. every ``NoOp`` is deleted together with the ``^NoOp`` control edges on it and its
   ``control_outputs`` entry (TF.js turns control inputs into data inputs, and refuses to execute
   a body holding an input-less ``NoOp``);
3. dead nodes are deleted (:func:`tfjs_lite.ir.remove_dead`: what the outputs, the ``_Arg``
   parameters and the remaining ``control_outputs`` need stays);
4. only in bodies without TF1 frame ops (Enter/Switch/Merge/...):

   * ``^c`` control inputs where nothing in ``c``'s ancestry has side effects => dropped (TF's
     tracing makes every return Identity wait for the frozen ``ReadVariableOp``, now a pure
     Identity);
   * ``y = Identity(x)`` (also ``Snapshot``, ``StopGradient``, ``PreventGradient``), where ``x``
     is a node output or an ``_Arg`` => consumers of ``y`` and the body outputs (``ret``) read
     ``x``; ``y`` is deleted.  A return value can then be an argument directly (``ret {out:
     "arg"}``), as in the official output; TF.js maps it to the fed value.

Algebra: ``Identity(x) == x``; a NoOp computes nothing; dead nodes feed no output.

Does NOT fire on an Identity that:

* still has control inputs or control consumers after that (side-effect ordering), or is named
  in the body's ``control_outputs``;
* reads a resource (``DT_RESOURCE`` arg): never the case after freezing, kept to be safe;
* lives in a body with TF1 frame ops (steps 1-3 still apply there).
"""

from __future__ import annotations

from tfjs_lite.optimizer._util import IDENTITY_OPS, effect_taint, has_frames
from tfjs_lite.optimizer.pass_base import Pass
from tfjs_lite.optimizer.passes.strip_debug import StripDebug

from tfjs_lite.ir import Graph, TensorRef, remove_dead

__all__ = ["FunctionIdentities"]


def _is_resource(body: Graph, ref: TensorRef) -> bool:
    types = body.out_types(ref.node)
    if types and ref.port < len(types):
        dtype = getattr(types[ref.port], "dtype", None)
        if dtype is not None and "RESOURCE" in str(dtype):
            return True
    attrs = body.attrs(ref.node)
    return "RESOURCE" in str(attrs.get("T", "")) or "RESOURCE" in str(attrs.get("dtype", ""))


def _drop_control_outputs(body: Graph, doomed: set[str]) -> bool:
    control_outputs = body.signature.control_outputs if body.signature else {}
    keys = [k for k, n in control_outputs.items() if n not in body or n in doomed]
    for key in keys:
        del control_outputs[key]
    return bool(keys)


def _remove_noops(body: Graph) -> bool:
    noops = body.nodes_by_op("NoOp")
    _drop_control_outputs(body, set(noops))
    for n in noops:
        for consumer in body.control_consumers(n):
            body.remove_control_input(consumer, n)
        body.remove(n)  # a NoOp has no data outputs, so nothing else reads it
    return bool(noops)


def _bypass_identities(body: Graph) -> bool:
    changed = False
    anchors = set(body.signature.control_outputs.values()) if body.signature else set()
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
    return changed


def simplify_body(body: Graph, *, strip_debug: bool = True) -> bool:
    """Clean up one body graph (steps 1-4 of the module docstring); True iff anything changed."""
    changed = StripDebug().run(body) if strip_debug else False
    changed |= _drop_control_outputs(body, set())  # the Asserts strip_debug just deleted
    changed |= _remove_noops(body)
    changed |= remove_dead(body) > 0
    if not has_frames(body):
        changed |= _bypass_identities(body)
        changed |= remove_dead(body) > 0
    return changed


class FunctionIdentities(Pass):
    """Debug ops, NoOps, dead nodes and Identity wrappers out of every function body."""

    name = "function_identities"

    def __init__(self, *, strip_debug: bool = True) -> None:
        self.strip_debug = strip_debug

    def run(self, graph: Graph) -> bool:
        """Rewrite every body in ``graph.functions``; returns True iff any changed."""
        changed = False
        for name in sorted(graph.functions):
            changed |= simplify_body(graph.functions[name], strip_debug=self.strip_debug)
        return changed
