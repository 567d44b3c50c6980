"""Quantization: the documented examples byte for byte, properties, selection, and the official outputs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from tfjs_lite.errors import ModelFormatError, UsageError
from tfjs_lite.options import Quantization
from tfjs_lite.quantization import (
    affine_codes,
    affine_params,
    dequantize,
    float16_codes,
    quantized_itemsize,
    select_quantization,
    skip_reason,
)
from tfjs_lite.readers.tfjs_weights import read_model_json, read_weights

REFERENCE = Path(__file__).resolve().parent.parent / "fixtures" / "reference" / "cnn" / "tensorflowjs_4.22"


def quantize(array, dtype: str):
    """One whole weight through the pieces the weights writer streams slices through."""
    data = np.asarray(array)
    if data.dtype.kind != "f":
        raise ValueError(f"only float weights are quantized, got {data.dtype}")
    data = data.astype(np.float32, copy=False)
    reason = skip_reason(data, dtype)
    if reason is not None:
        raise ValueError(f"cannot quantize to {dtype}: {reason}")
    if dtype == "float16":
        return float16_codes(data), {"dtype": "float16", "original_dtype": "float32"}
    params = affine_params(data.min(), data.max(), dtype)
    return affine_codes(data, params), params.manifest()


# --- docs/formats.md §4 examples ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "codes", "manifest_json"),
    [
        ([0, 0.5, 1], "0080ff", '{"dtype": "uint8", "min": -0.0, "scale": 0.00392156862745098, "original_dtype": "float32"}'),
        ([-1, 0.3, 2], "006fff", '{"dtype": "uint8", "min": -1.0, "scale": 0.011764705882352941, "original_dtype": "float32"}'),
        (
            [0.1, 0.2, 0.7],
            "002bff",
            '{"dtype": "uint8", "min": 0.10000000149011612, "scale": 0.0023529411238782548, "original_dtype": "float32"}',
        ),
        ([3, 3], "0000", '{"dtype": "uint8", "min": 3.0, "scale": 1.0, "original_dtype": "float32"}'),
    ],
)
def test_documented_uint8_examples(data, codes, manifest_json):
    quantized, manifest = quantize(np.array(data, np.float32), "uint8")
    assert quantized.dtype == np.uint8
    assert quantized.tobytes().hex() == codes
    assert json.dumps(manifest) == manifest_json


def test_negative_zero_min_is_kept():
    _, manifest = quantize(np.array([0, 0.5, 1], np.float32), "uint8")
    assert manifest["min"] == 0 and np.signbit(manifest["min"])
    assert type(manifest["min"]) is float and type(manifest["scale"]) is float


def test_float16_manifest_and_rounding():
    data = np.array([1.0, 0.1, -2.5, 65504.0, 1e-8], np.float32)
    codes, manifest = quantize(data, "float16")
    assert list(manifest) == ["dtype", "original_dtype"]
    assert manifest == {"dtype": "float16", "original_dtype": "float32"}
    assert codes.tobytes() == data.astype("<f2").tobytes()


def test_uint16_key_order_and_codes():
    data = np.array([-3.0, 0.0, 5.0], np.float32)
    codes, manifest = quantize(data, "uint16")
    assert list(manifest) == ["dtype", "min", "scale", "original_dtype"]
    assert codes.dtype == np.uint16
    assert codes[0] == 0 and codes[2] == 65535
    assert manifest["min"] + int(codes[1]) * manifest["scale"] == 0.0


def test_float64_input_is_treated_as_float32():
    a, ma = quantize(np.array([0.1, 0.2, 0.7], np.float64), "uint8")
    b, mb = quantize(np.array([0.1, 0.2, 0.7], np.float32), "uint8")
    assert a.tobytes() == b.tobytes() and ma == mb


def test_refuses_unknown_dtype():
    with pytest.raises(ValueError, match="unknown"):
        quantized_itemsize("int4")
    with pytest.raises(ValueError, match="uint8 or uint16"):
        affine_params(0.0, 1.0, "int4")


@pytest.mark.parametrize(
    ("data", "dtype", "reason"),
    [
        ([1.0, np.nan], "uint8", "NaN"),
        ([1.0, np.inf], "uint16", "NaN or Inf"),
        ([], "uint8", "empty"),
        ([70000.0], "float16", "float16 range"),
        ([65519.0], "float16", None),  # rounds down to 65504
        ([65520.0], "float16", "float16 range"),
        ([], "float16", None),
        ([np.nan, np.inf], "float16", None),  # already non-finite: float16 keeps them, the manifest has no numbers
    ],
)
def test_skip_reason(data, dtype, reason):
    found = skip_reason(np.array(data, np.float32), dtype)
    if reason is None:
        assert found is None
    else:
        assert found is not None and reason in found
        with pytest.raises(ValueError):
            quantize(np.array(data, np.float32), dtype)


# --- properties -------------------------------------------------------------------------------

finite_float32 = hnp.arrays(
    np.float32,
    hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=8),
    elements=st.floats(-1e6, 1e6, width=32, allow_nan=False),
)


@settings(max_examples=200, deadline=None)
@given(finite_float32, st.sampled_from(["uint8", "uint16"]))
def test_affine_round_trip_error_is_at_most_half_a_step(data, dtype):
    codes, manifest = quantize(data, dtype)
    assert codes.shape == data.shape
    decoded = codes.astype(np.float64) * manifest["scale"] + manifest["min"]
    # The error bound of the nudged range, plus float32 rounding of the data itself.
    tolerance = manifest["scale"] / 2 * (1 + 1e-9) + 1e-9 * np.abs(data).max()
    assert np.all(np.abs(decoded - data.astype(np.float64)) <= tolerance)
    assert np.isfinite(manifest["min"]) and np.isfinite(manifest["scale"])


@settings(max_examples=200, deadline=None)
@given(finite_float32, st.sampled_from(["uint8", "uint16"]))
def test_zero_is_exact_when_in_range(data, dtype):
    data = np.concatenate([data.reshape(-1), np.array([0.0], np.float32)])
    codes, manifest = quantize(data, dtype)
    zero_codes = codes[data == 0]
    decoded = zero_codes.astype(np.float64) * manifest["scale"] + manifest["min"]
    assert np.all(decoded == 0.0)


@settings(max_examples=100, deadline=None)
@given(
    hnp.arrays(np.float32, st.integers(1, 20), elements=st.floats(-6e4, 6e4, width=32, allow_nan=False)),
    st.sampled_from(["float16", "uint8", "uint16"]),
)
def test_quantize_is_deterministic(data, dtype):
    a, ma = quantize(data, dtype)
    b, mb = quantize(data.copy(), dtype)
    assert a.tobytes() == b.tobytes() and json.dumps(ma) == json.dumps(mb)


# --- dequantize (TF.js decodeWeight) ----------------------------------------------------------


def test_dequantize_float32_is_computed_in_float64_then_rounded_to_float32():
    quant = {"dtype": "uint8", "min": 0.10000000149011612, "scale": 0.0023529411238782548}
    codes = np.array([0, 43, 255], np.uint8)
    out = dequantize(codes, quant, "float32")
    assert out.dtype == np.float32
    assert out.tolist() == np.float32(codes.astype(np.float64) * quant["scale"] + quant["min"]).tolist()


def test_dequantize_int32_rounds_half_up_like_math_round():
    quant = {"dtype": "uint8", "min": -2.5, "scale": 1.0}
    out = dequantize(np.array([0, 1, 2, 3, 4], np.uint8), quant, "int32")
    assert out.dtype == np.int32
    assert out.tolist() == [-2, -1, 0, 1, 2]  # Math.round(-2.5) == -2, Math.round(0.5) == 1


def test_dequantize_float16():
    out = dequantize(np.array([1.5, -2], np.float16), {"dtype": "float16"}, "float32")
    assert out.dtype == np.float32 and out.tolist() == [1.5, -2.0]
    with pytest.raises(ModelFormatError):
        dequantize(np.array([1.5], np.float16), {"dtype": "float16"}, "int32")


def test_dequantize_errors():
    with pytest.raises(ModelFormatError, match="min"):
        dequantize(np.zeros(1, np.uint8), {"dtype": "uint8", "scale": 1.0}, "float32")
    with pytest.raises(ModelFormatError, match="unknown"):
        dequantize(np.zeros(1, np.uint8), {"dtype": "int4"}, "float32")


# --- selection --------------------------------------------------------------------------------

NAMES = ["dense/kernel", "dense/bias", "conv/kernel", "conv/bias", "Dense/kernel"]


def test_no_quantization_selects_nothing():
    assert select_quantization(NAMES, None) == {}
    assert select_quantization(NAMES, Quantization()) == {}


def test_fallthrough_selects_everything():
    assert select_quantization(NAMES, Quantization(uint8=True)) == {n: "uint8" for n in NAMES}


def test_patterns_and_fallthrough():
    selected = select_quantization(NAMES, Quantization(float16=("*/kernel",), uint16=True))
    assert selected == {
        "dense/kernel": "float16",
        "dense/bias": "uint16",
        "conv/kernel": "float16",
        "conv/bias": "uint16",
        "Dense/kernel": "float16",
    }
    assert list(selected) == NAMES  # deterministic: names order


def test_patterns_are_case_sensitive_whole_name_globs():
    selected = select_quantization(NAMES, Quantization(uint8=("dense/*",)))
    assert selected == {"dense/kernel": "uint8", "dense/bias": "uint8"}
    assert select_quantization(NAMES, Quantization(uint8=("dense",))) == {}
    assert select_quantization(NAMES, Quantization(uint8=("c?nv/[bk]*",))) == {"conv/kernel": "uint8", "conv/bias": "uint8"}
    assert select_quantization(NAMES, Quantization(uint8=("*[!s]",))) == {
        "dense/kernel": "uint8",
        "conv/kernel": "uint8",
        "Dense/kernel": "uint8",
    }


def test_same_dtype_twice_is_fine_two_dtypes_are_an_error():
    assert select_quantization(NAMES, Quantization(uint8=("dense/*", "*/bias"))) == {
        "dense/kernel": "uint8",
        "dense/bias": "uint8",
        "conv/bias": "uint8",
    }
    with pytest.raises(UsageError, match="dense/bias"):
        select_quantization(NAMES, Quantization(float16=("dense/*",), uint8=("*/bias",)))


# --- the official converter's outputs ---------------------------------------------------------


def _official(case):
    model = read_model_json(REFERENCE / case / "model.json")
    return model["weightsManifest"], (REFERENCE / case / "group1-shard1of1.bin").read_bytes()


@pytest.mark.parametrize(("case", "dtype"), [("sm_to_graph_float16", "float16"), ("sm_to_graph_uint8", "uint8")])
def test_requantizing_official_weights_matches_official_bytes(case, dtype):
    plain_manifest, _ = _official("sm_to_graph")
    weights = read_weights(plain_manifest, REFERENCE / "sm_to_graph")
    official_manifest, official_bytes = _official(case)
    official_specs = official_manifest[0]["weights"]
    assert [s["name"] for s in official_specs] == [spec["name"] for spec, _ in weights]
    parts = []
    for (spec, array), official in zip(weights, official_specs):
        if spec["dtype"] == "float32":
            codes, manifest = quantize(array, dtype)
            assert json.dumps(manifest) == json.dumps(official["quantization"]), spec["name"]
            parts.append(codes.tobytes())
        else:  # the official converter only quantizes float32 entries
            assert "quantization" not in official
            parts.append(np.ascontiguousarray(array).tobytes())
    assert b"".join(parts) == official_bytes
