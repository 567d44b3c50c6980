"""TF.js-only fused ops: ``_FusedConv2D``, ``FusedDepthwiseConv2dNative``, ``_FusedMatMul``.

Semantics are those of the TF.js 4.22 executors (not TF's own kernels), because TF.js is what
runs the converted model:

* ``fused_ops`` is compared lower-case.  Element 0 is the "extra op": ``biasadd`` adds the first
  extra argument; anything else (``noop``, or an activation written first) adds no bias.
  Element 1, if present, is the activation; a single-element list therefore has *no* activation.
* ``biasadd`` requires ``num_args == 1``, or ``2`` with a ``prelu`` activation;
  ``fusedbatchnorm`` is rejected.
* Convolutions: without ``biasadd`` the first extra argument is PReLU's alpha.  ``_FusedMatMul``
  does not make that shift: TF.js always passes ``args[0]`` as the bias and ``args[1]`` as alpha,
  and we reproduce it so a pass that emits ``["NoOp", "Prelu"]`` on a MatMul fails our tests the
  way it would fail in the browser.
* Activations: relu, relu6, elu, leakyrelu (``leakyrelu_alpha``, default 0.2), prelu, sigmoid,
  tanh (tanh beyond TF.js's documented list, accepted because TF's remapper can emit it).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from tfjs_lite.errors import InternalError
from tfjs_lite.kernels import NodeContext, kernel
from tfjs_lite.kernels._util import flag, precise, to_str
from tfjs_lite.kernels.conv import conv2d, depthwise_conv2d
from tfjs_lite.kernels.nn import bias_add, matmul, prelu

Array = np.ndarray

__all__ = ["apply_activation", "parse_fused_ops"]


def parse_fused_ops(attrs: dict[str, Any], node: str) -> tuple[bool, str]:
    """Return ``(has_bias, activation)`` as TF.js reads ``fused_ops``/``num_args``.

    Raises:
        InternalError: For combinations TF.js refuses to execute.
    """
    ops = [to_str(v, "").lower() for v in attrs.get("fused_ops", [])]
    extra = ops[0] if ops else ""
    activation = ops[1] if len(ops) > 1 else "linear"
    num_args = int(attrs.get("num_args", 0))
    if extra == "fusedbatchnorm":
        raise InternalError(f"node {node!r}: TF.js cannot execute fused_ops FusedBatchNorm")
    if extra == "biasadd":
        want = 2 if activation == "prelu" else 1
        if num_args != want:
            raise InternalError(f"node {node!r}: fused_ops {ops} needs num_args={want}, got {num_args}")
    return extra == "biasadd", activation


def apply_activation(x: Array, activation: str, *, alpha: Array | None, leaky_alpha: float) -> Array:
    """Apply one TF.js fused activation (lower-case name)."""
    if activation == "linear":
        return x
    if activation == "relu":
        return np.maximum(x, 0).astype(x.dtype)
    if activation == "relu6":
        return np.clip(x, 0, 6).astype(x.dtype)
    if activation == "elu":
        return precise(lambda v: np.where(v > 0, v, np.expm1(np.minimum(v, 0))), x)
    if activation == "leakyrelu":
        return np.where(x > 0, x, x * np.asarray(leaky_alpha, x.dtype)).astype(x.dtype)
    if activation == "sigmoid":
        return precise(lambda v: 0.5 * (np.tanh(0.5 * v) + 1.0), x)
    if activation == "tanh":
        return precise(np.tanh, x)
    if activation == "prelu":
        if alpha is None:
            raise InternalError("fused prelu activation without an alpha argument")
        return prelu(x, alpha)
    raise InternalError(f"unknown fused activation {activation!r}")


def _finish(y: Array, bias: Array | None, alpha: Array | None, activation: str,
            attrs: dict[str, Any]) -> list[Array]:
    if bias is not None:
        y = bias_add(y, bias, to_str(attrs.get("data_format"), "NHWC"))
    leaky = float(attrs.get("leakyrelu_alpha", 0.2))
    return [apply_activation(y, activation, alpha=alpha, leaky_alpha=leaky)]


def _conv_args(args: Sequence[Array], has_bias: bool) -> tuple[Array | None, Array | None]:
    first = args[0] if args else None
    second = args[1] if len(args) > 1 else None
    return (first, second) if has_bias else (None, first)


@kernel("_FusedConv2D")
def _fused_conv2d(inputs: list[Array], attrs: dict[str, Any], ctx: NodeContext) -> list[Array]:
    has_bias, activation = parse_fused_ops(attrs, ctx.name)
    bias, alpha = _conv_args(inputs[2:], has_bias)
    return _finish(conv2d(inputs[0], inputs[1], attrs), bias, alpha, activation, attrs)


@kernel("FusedDepthwiseConv2dNative")
def _fused_depthwise(inputs: list[Array], attrs: dict[str, Any], ctx: NodeContext) -> list[Array]:
    has_bias, activation = parse_fused_ops(attrs, ctx.name)
    bias, alpha = _conv_args(inputs[2:], has_bias)
    return _finish(depthwise_conv2d(inputs[0], inputs[1], attrs), bias, alpha, activation, attrs)


@kernel("_FusedMatMul")
def _fused_matmul(inputs: list[Array], attrs: dict[str, Any], ctx: NodeContext) -> list[Array]:
    _, activation = parse_fused_ops(attrs, ctx.name)
    args = inputs[2:]
    bias = args[0] if args else None  # TF.js: args[0] is the bias whatever fused_ops[0] says
    alpha = args[1] if len(args) > 1 else None
    y = matmul(inputs[0], inputs[1], transpose_a=flag(attrs, "transpose_a"),
               transpose_b=flag(attrs, "transpose_b"))
    return _finish(y, bias, alpha, activation, attrs)
