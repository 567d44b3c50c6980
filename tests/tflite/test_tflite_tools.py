"""``.tflite`` in format detection, ``inspect``, ``verify`` and ``convert --verify``."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tfjs_lite import cli, convert
from tfjs_lite.detect import detect_input_format
from tfjs_lite.errors import ModelFormatError, UnsupportedOpError
from tfjs_lite.tools.inspect_model import inspect_path
from tfjs_lite.tools.verify_model import verify

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "tflite"
CNN = FIXTURES / "cnn_int8" / "model.tflite"


def test_detected_by_identifier_and_by_suffix(tmp_path):
    renamed = tmp_path / "model.bin"
    shutil.copyfile(CNN, renamed)
    assert detect_input_format(renamed) == "tflite"
    fake = tmp_path / "fake.tflite"
    fake.write_bytes(b"\x00" * 64)
    assert detect_input_format(fake) == "tflite"
    with pytest.raises(ModelFormatError, match="TFL3"):
        convert(fake, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_inspect_report():
    report = inspect_path(CNN)
    assert report["format"] == "tflite" and report["signature"] == "serving_default"
    assert report["inputs"] == [{"name": "image", "tensor": "image:0", "dtype": "float32", "shape": [1, 16, 16, 3]}]
    ops = report["ops"]
    assert ops["Conv2D"] == 2 and ops["DepthwiseConv2dNative"] == 1 and ops["MatMul"] == 2
    assert "Dequantize" not in ops and "Quantize" not in ops
    assert report["unsupported_ops"] == {}
    assert report["optimizer"]["changes"]["_FusedConv2D"]["after"] >= 1
    notes = "\n".join(report["notes"])
    assert "operators: CONV_2D 2, FULLY_CONNECTED 2" in notes and "int8 per-channel 5" in notes


def test_inspect_lists_operators_without_lowering(tmp_path):
    flex = FIXTURES / "flex_op" / "model.tflite"
    report = inspect_path(flex)
    assert list(report["unsupported_ops"]) == ["FlexMatrixInverse"]
    convert(CNN, tmp_path / "other")
    with pytest.raises(UnsupportedOpError, match="FlexMatrixInverse"):  # convert and verify stay strict
        verify(flex, tmp_path / "other")


@pytest.mark.parametrize("name", ["cnn_uint8_io_per_tensor", "ops_control", "lstm_text"])
def test_verify_against_the_source(name, tmp_path):
    convert(FIXTURES / name / "model.tflite", tmp_path / "m")
    result = verify(FIXTURES / name / "model.tflite", tmp_path / "m")
    assert result.ok and result.outputs


def test_verify_catches_a_changed_weight(tmp_path):
    import json
    import math

    convert(CNN, tmp_path / "m")
    manifest = json.loads((tmp_path / "m" / "model.json").read_text())["weightsManifest"][0]
    shard = tmp_path / "m" / manifest["paths"][0]
    data = bytearray(shard.read_bytes())
    offset = 0
    for w in manifest["weights"]:  # the first float32 weight's first value becomes 1000
        if w["dtype"] == "float32" and len(w["shape"]) == 4:
            data[offset:offset + 4] = b"\x00\x00\x7a\x44"
            break
        offset += 4 * math.prod(w["shape"])
    shard.write_bytes(bytes(data))
    assert not verify(CNN, tmp_path / "m").ok


def test_convert_with_verify_flag(tmp_path, capsys):
    assert cli.main(["convert", str(CNN), str(tmp_path / "m"), "--verify"]) == 0
    assert "verify: ok" in capsys.readouterr().out
