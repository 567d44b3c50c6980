"""How the converted model's outputs compare with the source's: per-output errors, verdict, tolerance.

Error measures, per output (``e`` = source output, ``a`` = converted output):

* max abs error  ``max|a - e|``
* max rel error  ``max|a - e| / max(max|e|, 1e-6)`` (relative to the output's largest magnitude,
  so values near zero do not blow it up)

An output passes when ``max|a - e| <= atol + rtol * max(max|e|, 1e-6)``. Shapes must match
exactly; NaN must appear at the same places; strings must be equal.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TextIO

__all__ = [
    "DEFAULT_RTOL",
    "QUANTIZED_RTOL",
    "OutputComparison",
    "VerifyResult",
    "compare_outputs",
    "default_tolerance",
    "print_result",
    "result_json",
]

DEFAULT_RTOL = 1e-5
# Loosened defaults when weights are stored quantized (the largest applicable one wins).
QUANTIZED_RTOL = {"float16": 1e-3, "uint16": 1e-3, "uint8": 2e-2}
_SCALE_FLOOR = 1e-6


# ----------------------------------------------------------------------------------- results


@dataclass
class OutputComparison:
    """How one output of the converted model compares with the source's."""

    key: str
    shape: tuple[int, ...]
    dtype: str
    max_abs: float
    max_rel: float
    ok: bool
    note: str = ""

    def line(self) -> str:
        """One human-readable line: name, shape, errors, verdict."""
        text = (
            f"{self.key}: shape {list(self.shape)} {self.dtype}  "
            f"max abs error {_fmt(self.max_abs)}  max rel error {_fmt(self.max_rel)}  "
            f"{'ok' if self.ok else 'FAIL'}"
        )
        return f"{text} ({self.note})" if self.note else text

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.key,
            "shape": list(self.shape),
            "dtype": self.dtype,
            "max_abs_error": _json_float(self.max_abs),
            "max_rel_error": _json_float(self.max_rel),
            "ok": self.ok,
            "note": self.note,
        }


@dataclass
class VerifyResult:
    """The outcome of :func:`verify`."""

    outputs: list[OutputComparison]
    rtol: float
    atol: float
    tolerance_note: str = ""
    input_note: str = ""
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.outputs)

    def summary(self) -> str:
        """The one-line verdict."""
        tol = f"rtol {_fmt(self.rtol)}, atol {_fmt(self.atol)}"
        if self.ok:
            return f"verify: ok: all {len(self.outputs)} outputs within {tol}"
        bad = [c for c in self.outputs if not c.ok]
        worst = max(bad, key=lambda c: (c.max_rel if not math.isnan(c.max_rel) else math.inf))
        detail = f"{worst.key} max rel error {_fmt(worst.max_rel)}"
        if worst.note:
            detail += f", {worst.note}"
        return f"verify: FAILED: {len(bad)} of {len(self.outputs)} outputs differ beyond {tol} (worst: {detail})"


def _fmt(x: float) -> str:
    if isinstance(x, float) and (math.isinf(x) or math.isnan(x)):
        return str(x)
    return f"{x:.3g}"


def _json_float(x: float) -> Any:
    return None if math.isnan(x) else (str(x) if math.isinf(x) else x)


# ----------------------------------------------------------------------------------- tolerance


def default_tolerance(quantized: Sequence[str]) -> tuple[float, str]:
    """Default ``rtol`` for a converted model whose weights use these quantized dtypes.

    Returns:
        ``(rtol, note)``; the note is empty for unquantized models.
    """
    loosest = [(QUANTIZED_RTOL[q], q) for q in quantized if q in QUANTIZED_RTOL]
    if not loosest:
        return DEFAULT_RTOL, ""
    rtol, dtype = max(loosest)
    return rtol, (
        f"weights are stored quantized ({', '.join(quantized)}), so the default tolerance is "
        f"rtol {_fmt(rtol)} instead of {_fmt(DEFAULT_RTOL)} ({dtype} rounding); give --rtol to change it"
    )


# ----------------------------------------------------------------------------------- comparison


def _compare_one(key: str, actual: Any, expected: Any, rtol: float, atol: float) -> OutputComparison:
    import numpy as np

    a, e = np.asarray(actual), np.asarray(expected)
    dtype = str(e.dtype) if e.dtype.kind != "O" else "string"
    notes = []
    if a.dtype != e.dtype and not (a.dtype.kind == "O" and e.dtype.kind == "O"):
        notes.append(f"dtype {a.dtype} in the converted model, {e.dtype} in the source")
    if a.shape != e.shape:
        notes.insert(0, f"shape {list(a.shape)} in the converted model, {list(e.shape)} in the source")
        return OutputComparison(key, tuple(e.shape), dtype, math.inf, math.inf, False, "; ".join(notes))
    strings = [x.dtype.kind in "OSU" for x in (a, e)]
    if any(strings):
        equal = all(strings) and bool(np.array_equal(_as_bytes(a), _as_bytes(e)))
        if not equal:
            notes.append("strings differ" if all(strings) else "string vs numeric output")
        err = 0.0 if equal else math.inf
        return OutputComparison(key, tuple(e.shape), dtype, err, err, equal, "; ".join(notes))
    work = np.complex128 if "c" in (a.dtype.kind, e.dtype.kind) else np.float64
    af, ef = a.astype(work), e.astype(work)
    same = (af == ef) | (np.isnan(af) & np.isnan(ef))  # inf == inf, NaN where NaN
    diff = np.where(same, 0.0, np.abs(af - ef))
    diff = np.where(np.isnan(diff), math.inf, diff)  # NaN on one side only
    max_abs = float(diff.max()) if diff.size else 0.0
    finite = np.abs(ef[np.isfinite(ef)])
    scale = max(float(finite.max()) if finite.size else 0.0, _SCALE_FLOOR)
    max_rel = max_abs / scale
    ok = max_abs <= atol + rtol * scale
    if a.dtype.kind != e.dtype.kind and {a.dtype.kind, e.dtype.kind} != {"i", "u"}:
        ok = False  # e.g. float in one, int in the other: the graph changed meaning
    return OutputComparison(key, tuple(e.shape), dtype, max_abs, max_rel, ok, "; ".join(notes))


def _as_bytes(array: Any) -> Any:
    import numpy as np

    flat = [x.encode("utf-8") if isinstance(x, str) else bytes(x) for x in array.reshape(-1)]
    out = np.empty(len(flat), dtype=object)
    out[:] = flat
    return out.reshape(array.shape)


def compare_outputs(
    actual: Mapping[str, Any], expected: Mapping[str, Any], *, rtol: float, atol: float = 0.0
) -> list[OutputComparison]:
    """Compare every expected output (in order) with the converted model's output of that key."""
    return [_compare_one(key, actual[key], value, rtol, atol) for key, value in expected.items()]


# ----------------------------------------------------------------------------------- output


def result_json(result: VerifyResult) -> dict[str, Any]:
    """The ``--json`` form of a result."""
    return {
        "ok": result.ok,
        "summary": result.summary(),
        "rtol": result.rtol,
        "atol": result.atol,
        "inputs": result.input_note,
        "notes": ([result.tolerance_note] if result.tolerance_note else []) + result.notes,
        "outputs": [c.as_dict() for c in result.outputs],
    }


def print_result(result: VerifyResult, source: Any, converted: Any, out: TextIO | None = None) -> int:
    """Print the comparison (verdict on stdout, or on stderr when it failed); returns the exit status."""
    out = out or sys.stdout
    out.write(f"verify: {source} vs {converted} on {result.input_note}\n")
    if result.tolerance_note:
        out.write(f"note: {result.tolerance_note}\n")
    out.writelines(f"note: {note}\n" for note in result.notes)
    out.writelines(comparison.line() + "\n" for comparison in result.outputs)
    if result.ok:
        out.write(result.summary() + "\n")
        return 0
    sys.stderr.write(f"tfjs-lite: error: {result.summary()}\n")
    return 2
