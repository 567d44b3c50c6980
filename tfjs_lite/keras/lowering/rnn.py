"""Lowerings of the recurrent layers (SimpleRNN, GRU incl. ``reset_after``, LSTM, RNN of one of
those cells), Bidirectional and TimeDistributed.

Recurrences are unrolled: the input projection of every step is one matmul over the whole
sequence (``x·W + b``, then ``Unpack`` along time), and each step adds ``h·U`` and applies the
gates. Unrolling needs a static sequence length; TF.js 4.22's graph executor runs a functional
``While`` body op by op with an async round trip per iteration and TensorList bookkeeping, which
for the short sequences Keras models on the web use costs more than the larger unrolled graph
(see docs/keras_graph.md). The first step uses the zero initial state symbolically (no ``h·U``),
as the zero state would contribute nothing.
"""

from __future__ import annotations

from typing import Any, Mapping, Optional

import numpy as np

from tfjs_lite.keras.layers import CELL_GATES, cell_of, layer_name
from tfjs_lite.keras.lowering.activations import activation
from tfjs_lite.keras.lowering.builder import KTensor
from tfjs_lite.keras.lowering.model import LayerCall
from tfjs_lite.limits import MAX_UNROLLED_STEPS

Out = list[KTensor]


class _Cell:
    """One cell's weights and activations; :meth:`step` emits one time step."""

    def __init__(self, call: LayerCall, cell_class: str, config: Mapping[str, Any], prefix: str) -> None:
        self.call, self.b, self.cell_class, self.config = call, call.builder, cell_class, config
        weight = lambda leaf: call.lowerer.weights.get(f"{prefix}/{leaf}")  # noqa: E731
        self.kernel, self.recurrent = _need(call, prefix, "kernel", weight), _need(call, prefix, "recurrent_kernel", weight)
        use_bias = config.get("use_bias", True) is not False
        bias = _need(call, prefix, "bias", weight) if use_bias else None
        self.units = int(self.recurrent.shape[0])
        self.reset_after = cell_class == "GRUCell" and bool(config.get("reset_after", False))
        self.input_bias, self.recurrent_bias = bias, None
        if bias is not None and bias.ndim == 2:  # GRU reset_after: [input bias, recurrent bias]
            self.input_bias, self.recurrent_bias = bias[0], bias[1]

    def act(self, x: KTensor, key: str, default: str) -> KTensor:
        spec = self.config.get(key, default)
        return activation(self.b, x, default if spec is None else spec, keras3=self.call.keras3, where=key)

    def project_inputs(self, x: KTensor) -> list[KTensor]:
        """``x·W + b`` for all steps at once, split into steps."""
        return self.b.unstack(self.b.dense(x, self.kernel, self.input_bias), 1)

    def _rec(self, h: Optional[KTensor], kernel: np.ndarray, bias: Optional[np.ndarray]) -> Optional[KTensor]:
        if h is None:
            return None if bias is None else self.b.const(bias, name="recurrent_bias")
        y = self.b.matmul(h, self.b.const(kernel, name="recurrent_kernel"))
        return y if bias is None else self.b.bias_add(y, bias)

    def _plus(self, a: KTensor, c: Optional[KTensor]) -> KTensor:
        return a if c is None else self.b.add(a, c)

    def step(self, xw: KTensor, state: list[Optional[KTensor]]) -> list[KTensor]:
        """New state from the projected input ``xw`` (``state`` entries None mean zero)."""
        b, u = self.b, self.units
        h = state[0]
        if self.cell_class == "SimpleRNNCell":
            return [self.act(self._plus(xw, self._rec(h, self.recurrent, None)), "activation", "tanh")]
        if self.cell_class == "LSTMCell":
            z = self._plus(xw, self._rec(h, self.recurrent, None))
            i, f, g, o = b.split(z, 4, -1)
            i, f, o = (self.act(t, "recurrent_activation", "sigmoid") for t in (i, f, o))
            c = b.mul(i, self.act(g, "activation", "tanh"))
            if state[1] is not None:
                c = b.add(b.mul(f, state[1]), c)
            return [b.mul(o, self.act(c, "activation", "tanh")), c]
        # GRUCell: gates z (update), r (reset), candidate
        x_z, x_r, x_h = b.split(xw, 3, -1)
        if self.reset_after:
            inner = self._rec(h, self.recurrent, self.recurrent_bias)
            r_z, r_r, r_h = b.split(inner, 3, -1) if inner is not None else (None, None, None)
            z = self.act(self._plus(x_z, r_z), "recurrent_activation", "sigmoid")
            r = self.act(self._plus(x_r, r_r), "recurrent_activation", "sigmoid")
            candidate = self.act(self._plus(x_h, None if r_h is None else b.mul(r, r_h)), "activation", "tanh")
        else:
            zr = self._rec(h, self.recurrent[:, : 2 * u], None)
            r_z, r_r = b.split(zr, 2, -1) if zr is not None else (None, None)
            z = self.act(self._plus(x_z, r_z), "recurrent_activation", "sigmoid")
            r = self.act(self._plus(x_r, r_r), "recurrent_activation", "sigmoid")
            r_h = None if h is None else self._rec(b.mul(r, h), self.recurrent[:, 2 * u:], None)
            candidate = self.act(self._plus(x_h, r_h), "activation", "tanh")
        one_minus_z = b.sub(b.scalar(1.0), z)
        new_h = b.mul(one_minus_z, candidate)
        return [new_h if h is None else b.add(b.mul(z, h), new_h)]


def _need(call: LayerCall, prefix: str, leaf: str, weight: Any) -> np.ndarray:
    value = weight(leaf)
    if value is None:
        raise call.refuse(f"the weight {prefix}/{leaf} is missing")
    return np.asarray(value, np.float32)


def _run(call: LayerCall, layer_class: str, config: Mapping[str, Any], x: KTensor, prefix: str,
         go_backwards: bool) -> tuple[list[KTensor], list[KTensor]]:
    """Unrolled recurrence: (outputs in processing order, final states)."""
    cell = cell_of(layer_class, config)
    if cell is None or cell[0] not in CELL_GATES or cell[0] == "ConvLSTM2DCell":
        raise call.refuse("only SimpleRNN, GRU and LSTM cells are lowered")
    cell_class, cell_config, cell_name = cell
    if x.rank != 3 or x.shape[1] is None:
        raise call.refuse("recurrent layers are lowered for a static sequence length only")
    if config.get("time_major"):
        raise call.refuse("time_major=True is not lowered")
    if x.shape[1] > MAX_UNROLLED_STEPS:
        raise call.refuse(f"the sequence has {x.shape[1]} time steps; up to {MAX_UNROLLED_STEPS} are unrolled")
    rnn = _Cell(call, cell_class, cell_config, f"{prefix}/{cell_name}")
    steps = rnn.project_inputs(x)
    if go_backwards:
        steps = steps[::-1]
    state: list[Optional[KTensor]] = [None, None] if cell_class == "LSTMCell" else [None]
    outputs = []
    for xw in steps:
        new_state = rnn.step(xw, state)
        state = list(new_state)
        outputs.append(new_state[0])
    return outputs, [s for s in state if s is not None]


def _check_call(call: LayerCall) -> None:
    if len(call.inputs) != 1:
        raise call.refuse("initial states or constants passed as inputs are not lowered")
    if call.kwargs.get("mask") is not None or call.kwargs.get("initial_state") is not None:
        raise call.refuse("masks and initial states are not lowered")


def recurrent(call: LayerCall) -> Out:
    _check_call(call)
    x = call.inputs[0]
    outputs, states = _run(call, call.class_name, call.config, x, call.weight_prefix,
                           bool(call.config.get("go_backwards")))
    sequence = call.builder.stack(outputs, 1) if call.config.get("return_sequences") else outputs[-1]
    return [sequence, *states] if call.config.get("return_state") else [sequence]


def bidirectional(call: LayerCall) -> Out:
    _check_call(call)
    b, x = call.builder, call.inputs[0]
    inner = call.config.get("layer") or {}
    if call.config.get("backward_layer") is not None:
        raise call.refuse("a separate backward_layer is not lowered")
    inner_class, inner_config, inner_name = str(inner.get("class_name")), inner.get("config") or {}, layer_name(inner)
    go_backwards = bool(inner_config.get("go_backwards"))
    fwd, fwd_states = _run(call, inner_class, inner_config, x, f"{call.weight_prefix}/forward_{inner_name}",
                           go_backwards)
    bwd, bwd_states = _run(call, inner_class, inner_config, x, f"{call.weight_prefix}/backward_{inner_name}",
                           not go_backwards)
    if inner_config.get("return_sequences"):
        forward, backward = b.stack(fwd, 1), b.stack(bwd[::-1], 1)  # Keras re-reverses the backward sequence
    else:
        forward, backward = fwd[-1], bwd[-1]
    mode = call.config.get("merge_mode", "concat")
    if mode is None:
        merged = [forward, backward]
    elif mode == "concat":
        merged = [b.concat([forward, backward], -1)]
    elif mode == "sum":
        merged = [b.add(forward, backward)]
    elif mode == "mul":
        merged = [b.mul(forward, backward)]
    elif mode == "ave":
        merged = [b.scale(b.add(forward, backward), 0.5)]
    else:
        raise call.refuse(f"merge_mode={mode!r} is not supported")
    return merged + fwd_states + bwd_states if inner_config.get("return_state") else merged


def time_distributed(call: LayerCall) -> Out:
    b, x = call.builder, call.inputs[0]
    steps = x.shape[1]
    if steps is None or any(d is None for d in x.shape[2:]):
        raise call.refuse("TimeDistributed needs a static time length and step shape")
    folded = b.reshape(x, (None, *x.shape[2:]))
    inner = call.config.get("layer") or {}
    outputs = call.call_inner(inner, [folded], call.weight_prefix)
    return [b.reshape(y, (None, steps, *y.shape[1:])) for y in outputs]
