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


def test_operators_swapped_for_others(tmp_path: Path) -> None:
    """Well-formed files whose operators are replaced by other operators (with default or odd
    options): lowering, optimizing and writing must succeed or raise a ConversionError. The
    structure stays valid, so this reaches what byte edits rarely do: lowerings and constant
    folding fed operands of the wrong rank, shape or type."""
    import random

    from tfjs_lite.options import ConvertOptions
    from tfjs_lite.pipelines.saved_model_to_graph import convert_graph
    from tfjs_lite.readers.tflite import load_tflite
    from tfjs_lite.readers.tflite import schema as S
    from tfjs_lite.readers.tflite.builder import build_graph
    from tfjs_lite.readers.tflite.lower import LOWERINGS
    from tfjs_lite.report import Report

    rng = random.Random("tflite-swaps")
    names = sorted(LOWERINGS)
    findings = Findings("fuzz: .tflite operators swapped for other operators")
    for source in ("cnn_int8", "ops_shape", "ops_elementwise", "ops_control", "lstm_fused"):
        path = FIXTURES / "tflite" / source / "model.tflite"
        for trial in range(12):
            model = load_tflite(path)
            for op in (op for sub in model.subgraphs for op in sub.operators):
                if rng.random() < 0.3:
                    op.opcode, op.custom = rng.choice(names), False
                    table = S.OP_OPTIONS.get(op.opcode)
                    fields = S.OPTIONS_TABLES[table][1] if table else ()
                    op.options = {n: (rng.choice([0, 1, 2, 3, -1, 100]) if kind == "i32" else default)
                                  for n, _, kind, default in fields}

            out = tmp_path / f"{source}-{trial}"
            findings.run(lambda: convert_graph(build_graph(model), out, ConvertOptions(), Report()))
    findings.check()
