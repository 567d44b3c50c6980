"""Property-based fuzzing (hypothesis) of the TFLite reader and lowering, in-process: byte edits
anywhere in small models with subgraphs (WHILE/IF) and a fused LSTM must be read and lowered, or
refused with a ConversionError; nothing else may escape."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from corpus import FIXTURES
from test_fuzz_parsers import SETTINGS, Findings


@pytest.mark.parametrize("name", ["ops_control", "lstm_fused", "cnn_int8"])
def test_tflite_bytes_fuzzed(name: str) -> None:
    from tfjs_lite.readers.tflite.builder import build_graph
    from tfjs_lite.readers.tflite.model import read_tflite_bytes

    data = (FIXTURES / "tflite" / name / "model.tflite").read_bytes()
    findings = Findings(f"fuzz: .tflite bytes of {name} (hypothesis)")

    @SETTINGS
    @given(st.lists(st.tuples(st.integers(0, len(data) - 1), st.integers(0, 255)), min_size=1, max_size=6))
    def check(edits: list) -> None:
        mutated = bytearray(data)
        for pos, value in edits:
            mutated[pos] = value
        findings.run(lambda: build_graph(read_tflite_bytes(bytes(mutated), Path("model.tflite"))))

    check()
    findings.check()
