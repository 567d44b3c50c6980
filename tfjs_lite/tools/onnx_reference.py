"""The reference outputs of an ONNX source for ``verify``: onnxruntime when it is installed.

onnxruntime is an optional extra (``pip install "tfjs-lite[onnx]"``), imported only here and only
when an ONNX model is verified. Without it ``verify`` falls back to the numpy reference executor on
the lowered graph and says so: that still checks the optimizer, the writer and the stored weights,
but not the ONNX-to-TF lowering itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["FALLBACK_NOTE", "onnxruntime_outputs"]

FALLBACK_NOTE = ("onnxruntime is not installed (pip install 'tfjs-lite[onnx]'): the reference is tfjs-lite's "
                 "numpy executor on the lowered ONNX graph, which checks the optimizer, writer and weights but "
                 "not the lowering")

# onnxruntime input type -> numpy dtype to feed (TF.js computes int64 as int32, float16 as float32).
_FEED_TYPES = {"tensor(float)": np.float32, "tensor(double)": np.float64, "tensor(float16)": np.float16,
               "tensor(int64)": np.int64, "tensor(int32)": np.int32, "tensor(int8)": np.int8,
               "tensor(uint8)": np.uint8, "tensor(int16)": np.int16, "tensor(bool)": np.bool_}


def onnxruntime_outputs(model: Path, feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray] | None:
    """onnxruntime's outputs for ``feeds`` (keyed by ONNX input names), as TF.js dtypes; None when
    onnxruntime cannot be imported."""
    try:
        import onnxruntime
    except ImportError:
        return None
    from tfjs_lite.errors import UnsupportedModelError

    try:
        session: Any = onnxruntime.InferenceSession(str(model), providers=["CPUExecutionProvider"])
        typed: dict[str, np.ndarray] = {i.name: np.asarray(feeds[i.name]).astype(_FEED_TYPES.get(i.type, np.float32))
                 for i in session.get_inputs()}
        names = [o.name for o in session.get_outputs()]
        values = session.run(names, typed)
    except Exception as e:  # noqa: BLE001 - onnxruntime's own errors have no common base
        raise UnsupportedModelError(f"onnxruntime cannot run {model}: {' '.join(str(e).split())[:300]}") from None
    out = {}
    for name, value in zip(names, values):
        value = np.asarray(value)
        if value.dtype.kind in "iu":
            value = value.astype(np.int32)
        elif value.dtype.kind == "f":
            value = value.astype(np.float32)
        out[name] = value
    return out
