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
            finite = np.abs(want[np.isfinite(want)])  # nan/inf outputs (Xlogy) compare as equal
            scale = float(np.max(finite)) if finite.size else 0.0
            np.testing.assert_allclose(out, want, rtol=RTOL, atol=ATOL * max(scale, 1.0),
                                       err_msg=f"{path.stem} out_{i}")
        else:
            np.testing.assert_array_equal(out, want, err_msg=f"{path.stem} out_{i}")


# ------------------------------------------------------------------ ops without TF fixtures
# Expected values below are worked out by hand from the TF op documentation.
def _run(op: str, *inputs: Any, **attrs: Any) -> list[np.ndarray]:
    arrays = [np.asarray(v) for v in inputs]
    return KERNELS[op](arrays, {k: _attr(v) for k, v in attrs.items()}, NodeContext(op=op))


I32 = np.int32
F32 = np.float32
HAND_CASES: list[tuple[str, tuple[Any, ...], dict[str, Any], list[Any]]] = [
    ("Div", (np.array([7, -7, 7, -7], I32), np.array([2, 2, -2, -2], I32)), {}, [[3, -3, -3, 3]]),
    ("TruncateDiv", (np.array([-7], I32), np.array([2], I32)), {}, [[-3]]),
    ("Mod", (np.array([7, -7], I32), np.array([3, 3], I32)), {}, [[1, -1]]),
    ("FloorMod", (np.array([7, -7], I32), np.array([3, 3], I32)), {}, [[1, 2]]),
    ("DivNoNan", (np.array([1.0, 2.0], F32), np.array([0.0, 4.0], F32)), {}, [[0.0, 0.5]]),
    ("RealDiv", (np.array([1.0], F32), np.array([0.0], F32)), {}, [[np.inf]]),
    ("Expm1", (np.array([1e-10], F32),), {}, [[1e-10]]),
    ("Log1p", (np.array([1e-10], F32),), {}, [[1e-10]]),
    ("Sin", (np.array([0.0, np.pi / 2], F32),), {}, [[0.0, 1.0]]),
    ("Cos", (np.array([0.0], F32),), {}, [[1.0]]),
    ("Softsign", (np.array([-3.0, 1.0], F32),), {}, [[-0.75, 0.5]]),
    ("Round", (np.array([0.5, 1.5, 2.5, -0.5], F32),), {}, [[0.0, 2.0, 2.0, -0.0]]),
    ("NotEqual", (np.array([1, 2], I32), np.array([1, 3], I32)), {}, [[False, True]]),
    ("GreaterEqual", (np.array([1, 2], I32), np.array([2, 2], I32)), {}, [[False, True]]),
    ("LessEqual", (np.array([1, 3], I32), np.array([2, 2], I32)), {}, [[True, False]]),
    ("LogicalAnd", (np.array([True, False]), np.array([True, True])), {}, [[True, False]]),
    ("LogicalOr", (np.array([True, False]), np.array([False, False])), {}, [[True, False]]),
    ("LogicalNot", (np.array([True, False]),), {}, [[False, True]]),
    ("All", (np.array([[True, False], [True, True]]), np.array(1, I32)), {}, [[False, True]]),
    ("Any", (np.array([[True, False], [False, False]]), np.array([1], I32)), {"keep_dims": True},
     [[[True], [False]]]),
    ("ArgMin", (np.array([[3, 1, 1]], F32), np.array(1, I32)), {"output_type": "int32"}, [np.array([1], I32)]),
    ("Cumsum", (np.array([1, 2, 3], F32), np.array(0, I32)), {"exclusive": True, "reverse": True},
     [[5.0, 3.0, 0.0]]),
    ("GatherNd", (np.arange(6, dtype=F32).reshape(2, 3), np.array([[1, 2], [0, 0]], I32)), {}, [[5.0, 0.0]]),
    ("ShapeN", (np.zeros((2, 3), F32), np.zeros(4, F32)), {}, [np.array([2, 3], I32), np.array([4], I32)]),
    ("BroadcastTo", (np.array([1, 2], F32), np.array([2, 2], I32)), {}, [[[1.0, 2.0], [1.0, 2.0]]]),
    ("Where", (np.array([[True, False], [False, True]]),), {}, [np.array([[0, 0], [1, 1]], np.int64)]),
    ("TopKV2", (np.array([1.0, 3.0, 3.0, 2.0], F32), np.array(2, I32)), {},
     [[3.0, 3.0], np.array([1, 2], I32)]),
    ("IdentityN", (np.array(1, I32), np.array([2.0], F32)), {}, [1, [2.0]]),
    ("BatchMatMulV3", (np.ones((2, 1, 2), F32), np.ones((2, 3), F32)), {"Tout": "float32"},
     [np.full((2, 1, 3), 2.0, F32)]),
    ("Concat", (np.array(0, I32), np.array([1], I32), np.array([2], I32)), {}, [[1, 2]]),
    ("ReverseV2", (np.array([[1, 2], [3, 4]], I32), np.array([-1], I32)), {}, [[[2, 1], [4, 3]]]),
    ("Cast", (np.array([-1.7, 2.9], F32),), {"DstT": "int32"}, [np.array([-1, 2], I32)]),
    ("Cast", (np.array([0.0, 0.5], F32),), {"DstT": "bool"}, [[False, True]]),
    ("ClipByValue", (np.array([-2, 5], I32), np.array(0, I32), np.array(3, I32)), {}, [[0, 3]]),
]


@pytest.mark.parametrize(("op", "inputs", "attrs", "want"), HAND_CASES,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(HAND_CASES)])
def test_kernel_hand_checked(op: str, inputs: tuple[Any, ...], attrs: dict[str, Any], want: list[Any]) -> None:
    got = _run(op, *inputs, **attrs)
    assert len(got) == len(want)
    for out, expected in zip(got, want):
        if isinstance(expected, np.ndarray):  # an explicit dtype in the case pins the output dtype
            assert out.dtype == expected.dtype
        np.testing.assert_allclose(out.astype(np.float64), np.asarray(expected, np.float64), rtol=1e-6)


def test_fused_batch_norm_inference_and_training() -> None:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 3, 4)).astype(F32)
    scale, offset = rng.random(4).astype(F32) + 0.5, rng.standard_normal(4).astype(F32)
    mean, var = rng.standard_normal(4).astype(F32), rng.random(4).astype(F32) + 0.1
    for op in ("FusedBatchNorm", "FusedBatchNormV2", "FusedBatchNormV3"):
        y = _run(op, x, scale, offset, mean, var, epsilon=1e-3, is_training=False)
        assert len(y) == (6 if op.endswith("V3") else 5)
        want = (x - mean) / np.sqrt(var.astype(np.float64) + 1e-3) * scale + offset
        np.testing.assert_allclose(y[0], want, rtol=1e-5, atol=1e-6)
    y, batch_mean, batch_var = _run("FusedBatchNormV3", x, scale, offset, np.zeros(0, F32),
                                    np.zeros(0, F32), epsilon=1e-3)[:3]
    np.testing.assert_allclose(batch_mean, x.mean(axis=(0, 1, 2)), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(batch_var, x.var(axis=(0, 1, 2), ddof=1), rtol=1e-5)


def test_nchw_conv_and_pool_match_nhwc() -> None:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((1, 6, 6, 3)).astype(F32)
    w = rng.standard_normal((3, 3, 3, 2)).astype(F32)
    nhwc = _run("Conv2D", x, w, strides=[1, 2, 1, 1], padding="SAME", data_format="NHWC")[0]
    nchw = _run("Conv2D", x.transpose(0, 3, 1, 2), w, strides=[1, 1, 2, 1], padding="SAME",
                data_format="NCHW")[0]
    np.testing.assert_allclose(nchw.transpose(0, 2, 3, 1), nhwc, rtol=1e-6)
    pool = dict(ksize=[1, 2, 2, 1], strides=[1, 2, 2, 1], padding="VALID")
    np.testing.assert_array_equal(_run("MaxPool", x, **pool)[0], x.reshape(1, 3, 2, 3, 2, 3).max(axis=(2, 4)))


def test_tensor_list_round_trip() -> None:
    # reserve(3) -> set[0], set[2] -> get[2] -> stack (unset slot 1 reads as zeros: shape known)
    shape = np.array([2], I32)
    tl = _run("TensorListReserve", shape, np.array(3, I32), element_dtype="float32")[0]
    tl = _run("TensorListSetItem", tl, np.array(0, I32), np.array([1.0, 2.0], F32))[0]
    tl = _run("TensorListSetItem", tl, np.array(2, I32), np.array([5.0, 6.0], F32))[0]
    assert _run("TensorListGetItem", tl, np.array(2, I32), shape, element_dtype="float32")[0].tolist() == [5.0, 6.0]
    stacked = _run("TensorListStack", tl, shape, element_dtype="float32")[0]
    np.testing.assert_array_equal(stacked, [[1.0, 2.0], [0.0, 0.0], [5.0, 6.0]])
    assert int(_run("TensorListLength", tl)[0]) == 3
    back = _run("TensorListFromTensor", stacked, shape)[0]
    np.testing.assert_array_equal(_run("TensorListStack", back, shape)[0], stacked)
