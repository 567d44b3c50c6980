"""Function signatures: how a FunctionDef body kept as a sub-``Graph`` records its arguments."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tfjs_lite.ir.attrs import DType

__all__ = ["ArgDef", "FunctionSignature"]


@dataclass(frozen=True)
class ArgDef:
    """One input or output argument of a function signature.

    ``extra`` keeps the remaining OpDef.ArgDef fields (``type_attr``, ``number_attr``, ...) as
    plain values so a writer can reproduce them.
    """

    name: str
    dtype: DType | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class FunctionSignature:
    """Signature of a FunctionDef body kept as a sub-``Graph``.

    The body's ``inputs`` dict maps each input arg name (in order) to its ``_Arg`` node and its
    ``outputs`` dict maps each output arg name (in order) to the returned tensor, so the body can
    be executed like any graph and written back as a FunctionDef.
    """

    name: str
    input_args: list[ArgDef] = field(default_factory=list)
    output_args: list[ArgDef] = field(default_factory=list)
    attrs: dict[str, Any] = field(default_factory=dict)
    arg_attrs: dict[int, dict[str, Any]] = field(default_factory=dict)
    control_outputs: dict[str, str] = field(default_factory=dict)
