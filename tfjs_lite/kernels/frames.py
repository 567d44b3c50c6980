"""A dataflow interpreter for TF1 control flow (Enter/Exit/Switch/Merge/NextIteration/LoopCond).

Those ops cannot run in topological order: a loop body runs once per iteration and an untaken
``Switch`` branch must not run at all.  This follows TF's own executor:

* every value is tagged with a *context*: a tuple of ``(frame_name, iteration)`` pairs, outermost
  first (``()`` outside all loops);
* ``Enter`` moves a value into iteration 0 of its frame, ``NextIteration`` into the next
  iteration, ``Exit`` back to the parent context;
* an ``is_constant`` Enter (a loop invariant) is re-sent to every iteration of its frame;
* ``Switch`` emits its input on port ``pred`` and a *dead* marker on the other port.  A node with
  a dead data or control input emits dead outputs without running; ``Merge`` emits its first live
  input (and its index), or dead once every input is dead; dead values reaching ``Exit`` or
  ``NextIteration`` are dropped, which is how a loop ends.

A node fires in a context once all its inputs have arrived there (``Merge``: one live input).
Limitation: a whole loop inside an untaken ``cond`` branch never finishes (its dead Enter values
never fire the loop's Merge), so its outputs are reported as never produced.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from tfjs_lite.ir.graph import Graph, TensorRef
from tfjs_lite.kernels import KernelError
from tfjs_lite.kernels._util import flag, to_str

__all__ = ["FRAME_OPS", "run_frames"]

ENTER = frozenset({"Enter", "RefEnter"})
EXIT = frozenset({"Exit", "RefExit"})
SWITCH = frozenset({"Switch", "RefSwitch"})
MERGE = frozenset({"Merge", "RefMerge"})
NEXT = frozenset({"NextIteration", "RefNextIteration"})
FRAME_OPS = ENTER | EXIT | SWITCH | MERGE | NEXT | {"LoopCond"}

Ctx = tuple[tuple[str, int], ...]
RunNode = Callable[[str, list[np.ndarray]], list[np.ndarray]]
MAX_STEPS = 10_000_000


class _Dead:
    """The value of an untaken Switch branch and of everything computed from it."""

    def __repr__(self) -> str:
        return "<dead>"


DEAD = _Dead()


def run_frames(graph: Graph, fed: Mapping[TensorRef, np.ndarray], fetch: Sequence[TensorRef],
               needed: set[str], run_node: RunNode) -> dict[TensorRef, np.ndarray]:
    """Evaluate the ``needed`` nodes of ``graph`` with TF1 frame semantics.

    Raises:
        KernelError: If a fetched tensor is never produced or is dead.
    """
    interp = _Interpreter(graph, needed, run_node)
    return interp.run(fed, fetch)


class _Interpreter:
    def __init__(self, graph: Graph, needed: set[str], run_node: RunNode) -> None:
        self.graph, self.needed, self.run_node = graph, needed, run_node
        self.values: dict[tuple[TensorRef, Ctx], Any] = {}
        self.tokens: dict[tuple[str, Ctx], Any] = {}  # control "value" of a node in a context
        self.fired: set[tuple[str, Ctx]] = set()
        self.queue: deque[tuple[str, Ctx]] = deque()
        # (parent context, frame) -> loop-invariant Enter outputs, and the iterations started.
        self.invariants: dict[tuple[Ctx, str], list[tuple[str, Any]]] = {}
        self.iterations: dict[tuple[Ctx, str], set[int]] = {}
        self._consumers: dict[str, list[str]] = {}

    def run(self, fed: Mapping[TensorRef, np.ndarray], fetch: Sequence[TensorRef]) -> dict[TensorRef, np.ndarray]:
        fed_nodes = {ref.node for ref in fed}
        for ref, value in fed.items():
            self.fired.add((ref.node, ()))
            self._emit_one(ref, (), value)
        for node in sorted(fed_nodes):
            self._token(node, (), True)
        for node in self.graph.topo_order():
            if node in self.needed and node not in fed_nodes and not self.graph.inputs_of(node) \
                    and not self.graph.control_inputs_of(node):
                self.queue.append((node, ()))
        for _ in range(MAX_STEPS):
            if not self.queue:
                return {ref: self._fetched(ref) for ref in fetch}
            self._try(*self.queue.popleft())
        raise KernelError(f"TF1 control flow did not finish within {MAX_STEPS} steps")

    def _fetched(self, ref: TensorRef) -> np.ndarray:
        value = self.values.get((ref, ()))
        if value is None or value is DEAD:
            state = "never produced" if value is None else "dead (on an untaken branch)"
            raise KernelError(f"tensor {ref} was {state} when running TF1 control flow")
        return value

    # ------------------------------------------------------------------ firing
    def _try(self, node: str, ctx: Ctx) -> None:
        if (node, ctx) in self.fired:
            return
        op = self.graph.op(node)
        ins = [self.values.get((ref, ctx)) for ref in self.graph.inputs_of(node)]
        if op in MERGE:
            self._merge(node, ctx, ins)
            return
        ctrl = [self.tokens.get((c, ctx)) for c in self.graph.control_inputs_of(node)]
        if any(v is None for v in ins) or any(v is None for v in ctrl):
            return  # not all inputs have arrived in this context yet
        self.fired.add((node, ctx))
        if any(v is DEAD for v in ins) or any(v is DEAD for v in ctrl):
            if op not in EXIT and op not in NEXT:  # dead values leaving a frame are dropped
                self._emit(node, ctx, [DEAD] * self._n_outputs(node, op))
            return
        self._fire(node, op, ctx, ins)

    def _merge(self, node: str, ctx: Ctx, ins: list[Any]) -> None:
        live = [i for i, v in enumerate(ins) if v is not None and v is not DEAD]
        if live:
            self.fired.add((node, ctx))
            self._emit(node, ctx, [ins[live[0]], np.array(live[0], np.int32)])
        elif all(v is DEAD for v in ins):
            self.fired.add((node, ctx))
            self._emit(node, ctx, [DEAD, DEAD])

    def _fire(self, node: str, op: str, ctx: Ctx, ins: list[Any]) -> None:
        attrs = self.graph.attrs(node)
        if op in ENTER:
            self._enter(node, ctx, ins[0], to_str(attrs.get("frame_name"), ""), flag(attrs, "is_constant"))
        elif op in EXIT:
            self._emit(node, ctx[:-1], [ins[0]])
        elif op in NEXT:
            frame, i = ctx[-1]
            self._start_iteration(ctx[:-1], frame, i + 1)
            self._emit(node, ctx[:-1] + ((frame, i + 1),), [ins[0]])
        elif op in SWITCH:
            self._emit(node, ctx, [DEAD, ins[0]] if bool(np.asarray(ins[1])) else [ins[0], DEAD])
        elif op == "LoopCond":
            self._emit(node, ctx, [ins[0]])
        else:
            self._emit(node, ctx, self.run_node(node, ins))

    def _enter(self, node: str, ctx: Ctx, value: Any, frame: str, constant: bool) -> None:
        self._start_iteration(ctx, frame, 0)
        if not constant:
            self._emit(node, ctx + ((frame, 0),), [value])
            return
        # Loop invariants are visible in every iteration, including ones already started.
        self.invariants.setdefault((ctx, frame), []).append((node, value))
        for i in sorted(self.iterations[(ctx, frame)]):
            self._emit(node, ctx + ((frame, i),), [value])

    def _start_iteration(self, parent: Ctx, frame: str, i: int) -> None:
        started = self.iterations.setdefault((parent, frame), set())
        if i in started:
            return
        started.add(i)
        for node, value in self.invariants.get((parent, frame), []):
            self._emit(node, parent + ((frame, i),), [value])

    # ------------------------------------------------------------------ emission
    def _emit(self, node: str, ctx: Ctx, outputs: Sequence[Any]) -> None:
        for port, value in enumerate(outputs):
            self._emit_one(TensorRef(node, port), ctx, value if value is DEAD else np.asarray(value))
        live = not outputs or any(v is not DEAD for v in outputs)
        self._token(node, ctx, True if live else DEAD)

    def _emit_one(self, ref: TensorRef, ctx: Ctx, value: Any) -> None:
        self.values[(ref, ctx)] = value

    def _token(self, node: str, ctx: Ctx, value: Any) -> None:
        self.tokens[(node, ctx)] = value
        if node not in self._consumers:  # fed nodes are outside `needed` but still have consumers
            self._consumers[node] = [c for c in self.graph.node_consumers(node) if c in self.needed]
        self.queue.extend((c, ctx) for c in self._consumers[node])

    def _n_outputs(self, node: str, op: str) -> int:
        types = self.graph.out_types(node)
        if types is not None:
            return len(types)
        return 2 if op in SWITCH or op in MERGE else 1
