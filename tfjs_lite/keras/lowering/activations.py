"""Keras activation functions as TF ops (shared by Activation, the ``activation`` option of
Dense/Conv/RNN layers and the activation layers).

Where tf.keras 2 and Keras 3 differ, the model's Keras version decides:

* ``hard_sigmoid``: tf.keras 2 ``clip(0.2x + 0.5, 0, 1)``, Keras 3 ``relu6(x + 3) / 6``.
"""

from __future__ import annotations

import math
from typing import Any, Callable

from tfjs_lite.errors import UnsupportedLayerError
from tfjs_lite.keras.lowering.builder import BOOL, Builder, KTensor

__all__ = ["ACTIVATIONS", "activation", "softmax"]


def softmax(b: Builder, x: KTensor, axis: int = -1, *, log: bool = False) -> KTensor:
    """(Log)Softmax along ``axis``: TF's kernel works on the last axis, so others are transposed there."""
    op = "LogSoftmax" if log else "Softmax"
    axis = axis % x.rank
    if axis == x.rank - 1:
        return b.unary(op, x)
    perm = [i for i in range(x.rank) if i != axis] + [axis]
    back = [perm.index(i) for i in range(x.rank)]
    return b.transpose(b.unary(op, b.transpose(x, perm)), back)


def _gelu(b: Builder, x: KTensor) -> KTensor:
    """Exact GELU ``0.5x(1 + erf(x/√2))``: the activation named "gelu" in tf.keras 2 and Keras 3."""
    return b.mul(b.scale(x, 0.5), b.add(b.scalar(1.0), b.unary("Erf", b.scale(x, 1 / math.sqrt(2)))))


def _clip(b: Builder, x: KTensor, low: float, high: float) -> KTensor:
    return b.binary("Minimum", b.binary("Maximum", x, b.scalar(low)), b.scalar(high))


def _where_abs_above(b: Builder, x: KTensor, threshold: float, then: KTensor) -> KTensor:
    """``then`` where ``|x| > threshold``, else 0."""
    mask = b.cast(b.op("Greater", [b.unary("Abs", x), b.scalar(threshold)], x.shape, dtype=BOOL), x.dtype)
    return b.mul(then, mask)


def _glu(b: Builder, x: KTensor) -> KTensor:
    a, gate = b.split(x, 2, -1)
    return b.mul(a, b.unary("Sigmoid", gate))


def _celu(b: Builder, x: KTensor) -> KTensor:  # alpha 1: max(0, x) + min(0, exp(x) − 1)
    return b.add(b.unary("Relu", x), b.unary("Elu", b.binary("Minimum", x, b.scalar(0.0))))


def _sparse_plus(b: Builder, x: KTensor) -> KTensor:  # 0 (x ≤ −1), (x+1)²/4 (|x| < 1), x (x ≥ 1)
    middle = b.scale(b.unary("Square", b.add(_clip(b, x, -1.0, 1.0), b.scalar(1.0))), 0.25)
    return b.add(middle, b.unary("Relu", b.sub(x, b.scalar(1.0))))


def _hard_sigmoid(b: Builder, x: KTensor, keras3: bool) -> KTensor:
    if keras3:
        return b.scale(b.unary("Relu6", b.add(x, b.scalar(3.0))), 1 / 6)
    return _clip(b, b.add(b.scale(x, 0.2), b.scalar(0.5)), 0.0, 1.0)


def _mish(b: Builder, x: KTensor) -> KTensor:
    return b.mul(x, b.unary("Tanh", b.unary("Softplus", x)))


_Fn = Callable[[Builder, KTensor, bool], KTensor]
ACTIVATIONS: dict[str, _Fn] = {
    "linear": lambda b, x, k3: x,
    "relu": lambda b, x, k3: b.unary("Relu", x),
    "relu6": lambda b, x, k3: b.unary("Relu6", x),
    "elu": lambda b, x, k3: b.unary("Elu", x),
    "selu": lambda b, x, k3: b.unary("Selu", x),
    "sigmoid": lambda b, x, k3: b.unary("Sigmoid", x),
    "tanh": lambda b, x, k3: b.unary("Tanh", x),
    "softplus": lambda b, x, k3: b.unary("Softplus", x),
    "softsign": lambda b, x, k3: b.unary("Softsign", x),
    "exponential": lambda b, x, k3: b.unary("Exp", x),
    "softmax": lambda b, x, k3: softmax(b, x),
    "log_softmax": lambda b, x, k3: softmax(b, x, log=True),
    "swish": lambda b, x, k3: b.mul(x, b.unary("Sigmoid", x)),
    "silu": lambda b, x, k3: b.mul(x, b.unary("Sigmoid", x)),
    "gelu": lambda b, x, k3: _gelu(b, x),
    "hard_sigmoid": _hard_sigmoid,
    "hard_silu": lambda b, x, k3: b.mul(x, _hard_sigmoid(b, x, True)),
    "hard_swish": lambda b, x, k3: b.mul(x, _hard_sigmoid(b, x, True)),
    "mish": lambda b, x, k3: _mish(b, x),
    "leaky_relu": lambda b, x, k3: b.unary("LeakyRelu", x, alpha=0.2),
    "log_sigmoid": lambda b, x, k3: b.unary("Neg", b.unary("Softplus", b.unary("Neg", x))),
    "tanh_shrink": lambda b, x, k3: b.sub(x, b.unary("Tanh", x)),
    "hard_tanh": lambda b, x, k3: _clip(b, x, -1.0, 1.0),
    "celu": lambda b, x, k3: _celu(b, x),
    "glu": lambda b, x, k3: _glu(b, x),
    "hard_shrink": lambda b, x, k3: _where_abs_above(b, x, 0.5, x),
    "soft_shrink": lambda b, x, k3: _where_abs_above(
        b, x, 0.5, b.mul(b.unary("Sign", x), b.sub(b.unary("Abs", x), b.scalar(0.5)))),
    "squareplus": lambda b, x, k3: b.scale(b.add(x, b.unary("Sqrt", b.add(b.unary("Square", x), b.scalar(4.0)))), 0.5),
    "sparse_plus": lambda b, x, k3: _sparse_plus(b, x),
    "sparse_sigmoid": lambda b, x, k3: _clip(b, b.scale(b.add(x, b.scalar(1.0)), 0.5), 0.0, 1.0),
}


def activation(b: Builder, x: KTensor, spec: Any, *, keras3: bool, where: str = "activation") -> KTensor:
    """Apply the activation named by a layer option (a name, or ``None`` for linear)."""
    if spec is None:
        return x
    if isinstance(spec, dict) and spec.get("class_name") == "function" and isinstance(spec.get("config"), str):
        spec = spec["config"]  # Keras 3 may serialise a built-in activation as a function object
    if not isinstance(spec, str):
        raise UnsupportedLayerError(f"{where} is a serialized Python function, not a built-in activation")
    fn = ACTIVATIONS.get(spec)
    if fn is None:
        raise UnsupportedLayerError(f"{where} {spec!r} has no graph lowering")
    return fn(b, x, keras3)
