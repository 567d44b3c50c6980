"""Every numpy kernel against outputs recorded from real TF (fixtures/ops/*.npz).

Each fixture holds ``in_k``/``out_k`` arrays and the NodeDef attrs as JSON with dtypes spelled as
numpy names; we turn those into the IR's ``DType`` attrs, run the kernel alone and compare dtype,
shape and values.  Float tolerance is rtol=1e-5 with a small absolute floor (see ATOL).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tfjs_lite.ir import DType
from tfjs_lite.ir.attrs import NUMPY_DTYPES
from tfjs_lite.kernels import KERNELS, NodeContext

OPS_DIR = Path(__file__).resolve().parents[2] / "fixtures" / "ops"
FIXTURES = sorted(OPS_DIR.glob("*.npz"))
_DT_BY_NUMPY = {str(v): k for k, v in NUMPY_DTYPES.items() if k != "DT_STRING"}

RTOL = 1e-5
# Absolute floor, relative to the output's largest magnitude: results that cancel to ~0 (conv,
# matmul, softmax sums) carry float32 rounding of the *terms*, not of the tiny result.
ATOL = 1e-6


def _attr(value: Any) -> Any:
    if isinstance(value, str) and value in _DT_BY_NUMPY:
        return DType(_DT_BY_NUMPY[value])
    if isinstance(value, list):
        return [_attr(v) for v in value]
    return value


def _load(path: Path) -> tuple[str, list[np.ndarray], dict[str, Any], list[np.ndarray]]:
    with np.load(path, allow_pickle=False) as z:
        op = str(z["op"]) if "op" in z.files else path.stem.split("__")[0]
        attrs = {k: _attr(v) for k, v in json.loads(str(z["attrs"])).items()}
        ins = [z[f"in_{i}"] for i in range(sum(f.startswith("in_") for f in z.files))]
        outs = [z[f"out_{i}"] for i in range(sum(f.startswith("out_") for f in z.files))]
    return op, ins, attrs, outs


def test_fixtures_exist() -> None:
    # Fail loudly rather than silently skipping every kernel test.
    assert FIXTURES, f"no op fixtures in {OPS_DIR}; run fixtures/generate_ops.py"


@pytest.mark.parametrize("path", FIXTURES, ids=[p.stem for p in FIXTURES])
def test_kernel_matches_tf(path: Path) -> None:
    op, ins, attrs, expected = _load(path)
    assert op in KERNELS, f"no kernel for {op}"
    got = KERNELS[op](ins, attrs, NodeContext(name=path.stem, op=op))
    assert len(got) >= len(expected)
    for i, want in enumerate(expected):
        out = np.asarray(got[i])
        assert out.dtype == want.dtype, f"out_{i}: dtype {out.dtype} != {want.dtype}"
        assert out.shape == want.shape, f"out_{i}: shape {out.shape} != {want.shape}"
        if want.dtype.kind == "f":
            scale = float(np.max(np.abs(want))) if want.size else 0.0
            np.testing.assert_allclose(out, want, rtol=RTOL, atol=ATOL * max(scale, 1.0),
                                       err_msg=f"{path.stem} out_{i}")
        else:
            np.testing.assert_array_equal(out, want, err_msg=f"{path.stem} out_{i}")
