"""Recurrent layers (RNN, GRU, LSTM), unrolled over their static sequence length.

TF.js graph models have no recurrent op (TF's own ``While`` loops are not what exporters give us
either), so each time step becomes plain ops: the input projection of *every* step is one matrix
product up front (``X·Wᵀ + biases``), and a step adds ``H·Rᵀ`` and applies the gates. The
equations are ONNX's (gate order i,o,f,c for LSTM; z,r,h for GRU; ``linear_before_reset`` as
PyTorch exports it, or not). A missing initial state is zero: the first step then skips the
recurrent terms instead of multiplying zeros, which also keeps a symbolic batch working.
"""

from __future__ import annotations

import numpy as np

from tfjs_lite.errors import ModelFormatError
from tfjs_lite.ir.attrs import DType
from tfjs_lite.limits import MAX_UNROLLED_STEPS
from tfjs_lite.readers.onnx.context import LoweringContext, V
from tfjs_lite.readers.onnx.lowering import lowers
from tfjs_lite.readers.onnx.lowering.elementwise import binary, clip, unary
from tfjs_lite.readers.onnx.lowering.misc import matmul
from tfjs_lite.readers.onnx.lowering.shape import reshape
from tfjs_lite.readers.onnx.lowering.tensor import strided_slice

_DIRECTIONS = {"forward": [False], "reverse": [True], "bidirectional": [False, True]}
_ACTIVATIONS = {"Sigmoid": "Sigmoid", "Tanh": "Tanh", "Relu": "Relu"}
# op -> (gate count, default activations per direction)
_CELLS = {"RNN": (1, ["Tanh"]), "GRU": (3, ["Sigmoid", "Tanh"]), "LSTM": (4, ["Sigmoid", "Tanh", "Tanh"])}


def _squeeze(ctx: LoweringContext, x: V, axis: int) -> V:
    shape = None if x.shape is None else tuple(d for i, d in enumerate(x.shape) if i != axis)
    return ctx.emit("Squeeze", [x], {"T": DType(x.dtype), "squeeze_dims": [axis]}, shape=shape)


def _pack(ctx: LoweringContext, values: list[V], axis: int) -> V:
    first = values[0].shape
    shape = None if first is None else (*first[:axis], len(values), *first[axis:])
    return ctx.emit("Pack", values, {"T": DType("DT_FLOAT"), "N": len(values), "axis": axis}, shape=shape)


def _add(ctx: LoweringContext, a: V | None, b: V) -> V:
    return b if a is None else binary(ctx, "AddV2", a, b, np.add)


class _Cell:
    """The parameters of one direction, split per gate, and the activations it uses."""

    def __init__(self, ctx: LoweringContext, d: int, gates: int, hidden: int, activations: list[str]):
        self.ctx, self.hidden, self.activations = ctx, hidden, activations
        w, r, b = ctx.const_input(1, "W"), ctx.const_input(2, "R"), ctx.const_input(3, "B")
        if w is None or r is None:
            raise ctx.unsupported("the weights W and R are required inputs")
        dirs = len(_DIRECTIONS[str(ctx.attr("direction", "forward"))])
        expected = {"W": (dirs, gates * hidden, w.shape[-1]), "R": (dirs, gates * hidden, hidden),
                    "B": (dirs, 2 * gates * hidden)}
        for name, value in (("W", w), ("R", r), ("B", b)):
            if value is not None and value.shape != expected[name]:
                raise ModelFormatError(f"ONNX node {ctx.node.name!r} ({ctx.node.op_type}): {name} has shape "  # type: ignore[union-attr]
                                       f"{list(value.shape)}, expected {list(expected[name])}")
        self.w_t = w[d].T.astype(np.float32)  # [input, gates*hidden]
        self.r = [r[d, g * hidden:(g + 1) * hidden].T.astype(np.float32) for g in range(gates)]
        bias = np.zeros(2 * gates * hidden, np.float32) if b is None else b[d].astype(np.float32)
        self.wb = bias[:gates * hidden].reshape(gates, hidden)
        self.rb = bias[gates * hidden:].reshape(gates, hidden)
        self.clip = ctx.attr("clip")

    def act(self, index: int, x: V) -> V:
        if self.clip is not None and index < 2:  # clip bounds the gate pre-activations, not h(C)
            x = clip(self.ctx, x, -float(self.clip), float(self.clip))
        return unary(self.ctx, _ACTIVATIONS[self.activations[index]], x)

    def recurrent(self, h: V | None, gate: int, with_bias: bool = True) -> V | None:
        """``h·R_gateᵀ (+ Rb_gate)``; None for the zero initial state without bias."""
        bias = self.ctx.const(self.rb[gate]) if with_bias and self.rb[gate].any() else None
        if h is None:
            return bias
        product = matmul(self.ctx, h, self.ctx.const(self.r[gate]))
        return product if bias is None else binary(self.ctx, "AddV2", product, bias, np.add)


def _projections(ctx: LoweringContext, x: V, cell: _Cell, gates: int, fold_rb: list[bool]) -> list[list[V]]:
    """``X·Wᵀ + Wb (+ Rb where folded)`` for every step, sliced per step and gate: [[V per gate] per step]."""
    seq, batch = int(x.shape[0]), x.shape[1]  # type: ignore[index,arg-type]
    size, hidden = cell.w_t.shape[0], cell.hidden
    bias = cell.wb + np.where(np.array(fold_rb)[:, None], cell.rb, 0.0)
    flat = reshape(ctx, x, [-1, size])
    projected = binary(ctx, "AddV2", matmul(ctx, flat, ctx.const(cell.w_t)),
                       ctx.const(bias.reshape(-1).astype(np.float32)), np.add)
    projected = reshape(ctx, projected, [seq, -1, gates * hidden], (seq, batch, gates * hidden))
    steps = []
    for t in range(seq):
        step = _squeeze(ctx, strided_slice(ctx, projected, [t], [t + 1], [0], [1]), 0)
        steps.append([step if gates == 1 else strided_slice(ctx, step, [g * hidden], [(g + 1) * hidden], [1], [1])
                      for g in range(gates)])
    return steps


def _initial(ctx: LoweringContext, index: int, d: int, axis: int) -> V | None:
    """Direction ``d`` of an initial state ([dirs, batch, hidden]; layout 1: [batch, dirs, hidden])."""
    state = ctx.input(index)
    if state is None:
        return None
    return _squeeze(ctx, strided_slice(ctx, state, [d], [d + 1], [axis], [1]), axis)


def _lstm_step(ctx: LoweringContext, cell: _Cell, xs: list[V], h: V | None, c: V | None,
               peep: np.ndarray | None) -> tuple[V, V]:
    def gate(g: int, act: int, state: V | None = None, p: int | None = None) -> V:
        pre = _add(ctx, cell.recurrent(h, g), xs[g])
        if peep is not None and state is not None and p is not None:
            pre = binary(ctx, "AddV2", pre, binary(ctx, "Mul", state, ctx.const(peep[p]), np.multiply), np.add)
        return cell.act(act, pre)

    i, f, g = gate(0, 0, c, 0), gate(2, 0, c, 2), gate(3, 1)
    new_c = binary(ctx, "Mul", i, g, np.multiply)
    if c is not None:
        new_c = binary(ctx, "AddV2", binary(ctx, "Mul", f, c, np.multiply), new_c, np.add)
    o = gate(1, 0, new_c, 1)
    return binary(ctx, "Mul", o, cell.act(2, new_c), np.multiply), new_c


def _gru_step(ctx: LoweringContext, cell: _Cell, xs: list[V], h: V | None, linear_before_reset: bool) -> V:
    z = cell.act(0, _add(ctx, cell.recurrent(h, 0), xs[0]))
    r = cell.act(0, _add(ctx, cell.recurrent(h, 1), xs[1]))
    if linear_before_reset:
        rec = cell.recurrent(h, 2)
        candidate = xs[2] if rec is None else binary(ctx, "AddV2", xs[2], binary(ctx, "Mul", r, rec, np.multiply))
    else:  # (r ⊙ h)·Rᵀ: Rb_h was folded into the projection
        candidate = _add(ctx, cell.recurrent(None if h is None else binary(ctx, "Mul", r, h, np.multiply), 2, False), xs[2])
    candidate = cell.act(1, candidate)
    one_minus_z = binary(ctx, "Sub", ctx.const(np.float32(1.0)), z, np.subtract)
    new_h = binary(ctx, "Mul", one_minus_z, candidate, np.multiply)
    return new_h if h is None else binary(ctx, "AddV2", new_h, binary(ctx, "Mul", z, h, np.multiply), np.add)


@lowers("RNN", "GRU", "LSTM")
def _recurrent(ctx: LoweringContext) -> list[V | None]:
    op = ctx.node.op_type  # type: ignore[union-attr]
    gates, default_acts = _CELLS[op]
    x = ctx.input(0)
    assert x is not None
    if x.shape is None or len(x.shape) != 3 or x.shape[0 if not ctx.attr("layout", 0) else 1] is None:
        raise ctx.unsupported("the sequence length must be static (the recurrence is unrolled per step)")
    layout = int(ctx.attr("layout", 0))
    if layout:
        x = ctx.transpose(x, [1, 0, 2])
    seq = int(x.shape[0])  # type: ignore[index,arg-type]
    if seq > MAX_UNROLLED_STEPS:
        raise ctx.unsupported(f"a sequence of {seq} steps is too long to unroll (limit {MAX_UNROLLED_STEPS})")
    lens = ctx.const_input(4, "sequence_lens")
    if lens is not None and not (lens == seq).all():
        raise ctx.unsupported("sequence_lens shorter than the sequence (per-example lengths) is not supported")
    if op == "LSTM" and ctx.attr("input_forget", 0):
        raise ctx.unsupported("input_forget=1 (coupled input/forget gates) is not supported")
    if ctx.attr("activation_alpha") or ctx.attr("activation_beta"):
        raise ctx.unsupported("activations with alpha/beta parameters are not supported")
    direction = str(ctx.attr("direction", "forward"))
    if direction not in _DIRECTIONS:
        raise ctx.unsupported(f"direction {direction!r} is not forward, reverse or bidirectional")
    directions = _DIRECTIONS[direction]
    acts = [str(a) for a in ctx.attr("activations") or default_acts * len(directions)]
    if len(acts) != len(default_acts) * len(directions):
        raise ctx.unsupported(f"{len(acts)} activations given, {op} {direction} takes "
                              f"{len(default_acts) * len(directions)}")
    unknown = sorted({a for a in acts if a not in _ACTIVATIONS})
    if unknown:
        raise ctx.unsupported(f"activation(s) {', '.join(unknown)} are not supported (only {', '.join(_ACTIVATIONS)})")
    weights = ctx.const_input(2, "R")
    hidden = int(ctx.attr("hidden_size", 0) or (0 if weights is None or weights.ndim != 3 else weights.shape[-1]))
    if hidden <= 0:
        raise ctx.unsupported("hidden_size is missing and R does not give it")
    per_dir = len(default_acts)
    peepholes = ctx.const_input(7, "P") if op == "LSTM" else None
    linear_before_reset = bool(ctx.attr("linear_before_reset", 0))
    outputs: list[list[V]] = []  # per direction: H per time step (time order)
    finals: list[tuple[V, V | None]] = []
    for d, reverse in enumerate(directions):
        cell = _Cell(ctx, d, gates, hidden, acts[d * per_dir:(d + 1) * per_dir])
        # fold every recurrent bias into the projection, except GRU's h-gate one that r multiplies
        fold = [True] * gates if op != "GRU" else [True, True, not linear_before_reset]
        projections = _projections(ctx, x, cell, gates, fold)
        cell.rb = np.where(np.array(fold)[:, None], 0.0, cell.rb).astype(np.float32)
        h = _initial(ctx, 5, d, layout)
        c = _initial(ctx, 6, d, layout) if op == "LSTM" else None
        if peepholes is not None and peepholes.shape != (len(directions), 3 * hidden):
            raise ctx.unsupported(f"peepholes P of shape {list(peepholes.shape)}, expected "
                                  f"{[len(directions), 3 * hidden]}")
        peep = None if peepholes is None else peepholes[d].astype(np.float32).reshape(3, hidden)
        states: list[V] = [None] * seq  # type: ignore[list-item]
        for t in (range(seq - 1, -1, -1) if reverse else range(seq)):
            if op == "LSTM":
                h, c = _lstm_step(ctx, cell, projections[t], h, c, peep)
            elif op == "GRU":
                h = _gru_step(ctx, cell, projections[t], h, linear_before_reset)
            else:
                h = cell.act(0, _add(ctx, cell.recurrent(h, 0), projections[t][0]))
            states[t] = h
        outputs.append(states)
        finals.append((h, c))  # type: ignore[arg-type]
    # Y: [seq, dirs, batch, hidden] (layout 1: [batch, seq, dirs, hidden]); Y_h/Y_c: [dirs, batch, hidden]
    state_axis = 1 if layout else 0
    per_step = [_pack(ctx, [outputs[d][t] for d in range(len(directions))], state_axis) for t in range(seq)]
    y = _pack(ctx, per_step, 1 if layout else 0)
    y_h = _pack(ctx, [h for h, _ in finals], state_axis)
    y_c = _pack(ctx, [c for _, c in finals], state_axis) if op == "LSTM" else None  # type: ignore[misc]
    return [y, y_h, y_c][:3 if op == "LSTM" else 2]
