"""Property-based fuzzing (hypothesis) of the TFLite reader and lowering, in-process: byte edits
anywhere in small models with subgraphs (WHILE/IF) and a fused LSTM must be read and lowered, or
refused with a ConversionError; nothing else may escape."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given

from corpus import FIXTURES
from test_fuzz_parsers import SETTINGS, Findings, edited_bytes


@pytest.mark.parametrize("name", ["ops_control", "lstm_fused", "cnn_int8"])
def test_tflite_bytes_fuzzed(name: str) -> None:
    from tfjs_lite.readers.tflite.builder import build_graph
    from tfjs_lite.readers.tflite.model import read_tflite_bytes

    data = (FIXTURES / "tflite" / name / "model.tflite").read_bytes()
    findings = Findings(f"fuzz: .tflite bytes of {name} (hypothesis)")

    @SETTINGS
    @given(edited_bytes(data))
    def check(mutated: bytes) -> None:
        findings.run(lambda: build_graph(read_tflite_bytes(mutated, Path("model.tflite"))))

    check()
    findings.check()
