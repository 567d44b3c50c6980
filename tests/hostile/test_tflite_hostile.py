"""Hostile ``.tflite`` files: truncated, fuzzed, offsets and vector lengths out of range, bad
indices, huge shapes, subgraph cycles. Each must end in one error line and exit 2, leave nothing
behind and stay within the batch's memory bound (tests/hostile/corpus.py)."""

from __future__ import annotations

import random
import struct
import sys
from pathlib import Path
from typing import Callable

import numpy as np

from corpus import FIXTURES, Case, byte_mutations, pristine_check, run_and_judge, truncation_sizes

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tflite"))

from tflite_builder import TfliteBuilder  # noqa: E402

MODEL = FIXTURES / "tflite" / "cnn_int8" / "model.tflite"
MUTATIONS = 40
OFFSET_WORDS = 40


def _relu_model(edit: Callable[[TfliteBuilder, int, int], None] | None = None) -> bytes:
    b = TfliteBuilder()
    x, y = b.tensor("x", [1, 4]), b.tensor("y", [1, 4])
    b.op("RELU", [x], [y])
    if edit is not None:
        edit(b, x, y)
    return b.finish([x], [y])


def _builder_cases() -> dict[str, tuple[str, bytes]]:
    cases: dict[str, tuple[str, bytes]] = {}

    def bad_input_index(b: TfliteBuilder, x: int, y: int) -> None:
        b.sub.ops[0]["inputs"] = [99]

    def bad_opcode_index(b: TfliteBuilder, x: int, y: int) -> None:
        b.sub.ops[0]["code"] = 7

    def bad_buffer(b: TfliteBuilder, x: int, y: int) -> None:
        b.sub.tensors[x]["buffer"] = 1000

    def negative_dim(b: TfliteBuilder, x: int, y: int) -> None:
        b.sub.tensors[x]["shape"] = [1, -4]

    def huge_const(b: TfliteBuilder, x: int, y: int) -> None:
        w = b.tensor("w", [1 << 30, 1 << 30], "float32", np.zeros(4, np.float32))
        b.op("ADD", [y, w], [b.tensor("z", [1, 4])], {})

    def huge_fill(b: TfliteBuilder, x: int, y: int) -> None:
        dims, value = b.const("dims", [1 << 20, 1 << 20]), b.const("v", np.float32(1))
        filled = b.tensor("filled", [1, 4])
        b.op("FILL", [dims, value], [filled])
        b.op("ADD", [y, filled], [b.tensor("z", [1, 4])], {})

    def huge_state(b: TfliteBuilder, x: int, y: int) -> None:
        state = b.tensor("state", [1 << 16, 1 << 16], variable=True)
        b.op("ADD", [y, state], [b.tensor("z", [1, 4])], {})

    def read_before_write(b: TfliteBuilder, x: int, y: int) -> None:
        later = b.tensor("later", [1, 4])
        b.sub.ops.insert(0, {**b.sub.ops[0], "inputs": [later], "outputs": [b.tensor("t", [1, 4])]})
        b.op("RELU", [y], [later])

    def written_twice(b: TfliteBuilder, x: int, y: int) -> None:
        b.op("RELU", [x], [y])

    def outside_buffer(b: TfliteBuilder, x: int, y: int) -> None:
        w = b.tensor("w", [1, 4], buffer=b.external_buffer(offset=1 << 40, size=16))
        b.op("ADD", [y, w], [b.tensor("z", [1, 4])], {})

    def bad_call(b: TfliteBuilder, x: int, y: int) -> None:
        b.op("WHILE", [y], [b.tensor("z", [1, 4])], {"cond_subgraph_index": 5, "body_subgraph_index": 9})

    def no_buffers(b: TfliteBuilder, x: int, y: int) -> None:
        b.buffers.clear()
        b.sub.tensors[x]["buffer"] = 1

    def unfit_constants(b: TfliteBuilder, x: int, y: int) -> None:
        # y = x + (a + c), where a [4] and c [3, 2] do not broadcast
        a, c = b.const("a", np.ones(4, np.float32)), b.const("c", np.ones((3, 2), np.float32))
        s = b.tensor("s", [4])
        add = {"code": b.code("ADD"), "options": {}, "table": "AddOptions"}
        b.sub.ops[:] = [{**add, "inputs": [a, c], "outputs": [s]}, {**add, "inputs": [x, s], "outputs": [y]}]

    def wrong_options(b: TfliteBuilder, x: int, y: int) -> None:
        b.sub.ops[0]["table"] = "Conv2DOptions"
        b.sub.ops[0]["options"] = {"padding": 1}
        b.sub.ops[0]["code"] = b.code("ADD")

    def signature_bad_tensor(b: TfliteBuilder, x: int, y: int) -> None:
        b.signature("serving_default", [("x", 99)], [("y", y)])

    def signature_bad_subgraph(b: TfliteBuilder, x: int, y: int) -> None:
        b.signature("serving_default", [("x", x)], [("y", y)], subgraph=9)

    def buffer_size_2_63(b: TfliteBuilder, x: int, y: int) -> None:
        w = b.tensor("w", [1, 4], buffer=b.external_buffer(offset=64, size=(1 << 63) - 1))
        b.op("ADD", [y, w], [b.tensor("z", [1, 4])], {})

    def shape_signature_of_other_rank(b: TfliteBuilder, x: int, y: int) -> None:
        b.sub.tensors[x]["signature"] = [1, 4, 1 << 30, 1 << 30]

    def negative_call(b: TfliteBuilder, x: int, y: int) -> None:
        b.op("WHILE", [y], [b.tensor("z", [1, 4])], {"cond_subgraph_index": -1, "body_subgraph_index": 1 << 30})

    for name, edit in [("signature naming tensor 99", signature_bad_tensor),
                       ("signature naming subgraph 9", signature_bad_subgraph),
                       ("buffer of 2**63 bytes in the > 2 GB offset form", buffer_size_2_63),
                       ("shape_signature of another rank with 2**30 dims", shape_signature_of_other_rank),
                       ("WHILE calling subgraph -1", negative_call),
                       ("operator input index out of range", bad_input_index),
                       ("operator code index out of range", bad_opcode_index),
                       ("tensor buffer index out of range", bad_buffer),
                       ("negative dimension", negative_dim),
                       ("constant of 2**60 floats from 16 bytes", huge_const),
                       ("FILL of 2**40 elements", huge_fill),
                       ("variable tensor of 2**32 elements", huge_state),
                       ("tensor read before it is written", read_before_write),
                       ("tensor written twice", written_twice),
                       ("buffer offset past the end of the file", outside_buffer),
                       ("WHILE calling subgraphs that do not exist", bad_call),
                       ("options table of another operator", wrong_options),
                       ("constant operands that do not broadcast", unfit_constants),
                       ("no buffers at all, a tensor naming buffer 1", no_buffers)]:
        cases[name] = ("tflite: bad indices and shapes", _relu_model(edit))
    cases["LSTM over 2**30 time steps"] = ("tflite: bad indices and shapes", _long_lstm())
    cases["WHILE body calling itself"] = ("tflite: subgraph cycles", _cycle([2]))
    cases["WHILE bodies calling each other"] = ("tflite: subgraph cycles", _cycle([3, 2]))
    return cases


def _long_lstm() -> bytes:
    """A well-formed UNIDIRECTIONAL_SEQUENCE_LSTM whose input claims 2**30 time steps."""
    b = TfliteBuilder()
    x = b.tensor("x", [1, 1 << 30, 2])
    weights = [b.const(f"w{k}", np.zeros((3, 2), np.float32)) for k in range(4)]
    recurrent = [b.const(f"r{k}", np.zeros((3, 3), np.float32)) for k in range(4)]
    biases = [b.const(f"b{k}", np.zeros(3, np.float32)) for k in range(4)]
    h, c = b.tensor("h", [1, 3], variable=True), b.tensor("c", [1, 3], variable=True)
    y = b.tensor("y", [1, 1 << 30, 3])
    inputs = [x, *weights, *recurrent, -1, -1, -1, *biases, -1, -1, h, c]
    b.op("UNIDIRECTIONAL_SEQUENCE_LSTM", inputs, [y], {"fused_activation_function": 4})
    return b.finish([x], [y])


def _cycle(calls: list[int]) -> bytes:
    """main WHILE(cond 1, body 2); body k calls WHILE(cond 1, body calls[k-2])."""
    b = TfliteBuilder()
    x, y = b.tensor("x", [2]), b.tensor("y", [2])
    b.op("WHILE", [x], [y], {"cond_subgraph_index": 1, "body_subgraph_index": 2})
    b.subgraph([x], [y], "main")
    cx, limit, c = b.tensor("x", [2]), b.const("limit", np.float32(5)), b.tensor("c", [2], "bool")
    b.op("LESS", [cx, limit], [c])
    b.subgraph([cx], [c], "cond")
    for target in calls:
        bx, by = b.tensor("x", [2]), b.tensor("y", [2])
        b.op("WHILE", [bx], [by], {"cond_subgraph_index": 1, "body_subgraph_index": target})
        b.subgraph([bx], [by], "body")
    return b.finish()


def _structure_words(count: int) -> list[int]:
    """Positions of 4-byte words in the FlatBuffer's tables and vectors (offsets, counts, indices),
    i.e. outside the constant data, spread evenly."""
    from tfjs_lite.readers.tflite import load_tflite

    model = load_tflite(MODEL)
    data_bytes = set()
    for start, length in model.buffers:
        data_bytes.update(range(start // 4, (start + length + 3) // 4))
    words = [4 * w for w in range(len(model.data) // 4) if w not in data_bytes]
    step = max(1, len(words) // count)
    return words[::step][:count]


def test_tflite_hostile(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    err = pristine_check(MODEL, out / "pristine", tmp_path)
    data = MODEL.read_bytes()
    cases: list[Case] = []

    def add(case_id: str, cls: str, payload: bytes, **kw: object) -> None:
        path = tmp_path / f"{case_id}.tflite"
        path.write_bytes(payload)
        cases.append(Case(case_id, cls, path, out / case_id, **kw))  # type: ignore[arg-type]

    for size in truncation_sizes(len(data)):
        add(f"t{size}", "tflite: empty/truncated", data[:size])
    rng = random.Random("tflite")
    for i in range(MUTATIONS):
        add(f"m{i}", "tflite: byte mutations", byte_mutations(data, rng), may_convert=True)
    for i, pos in enumerate(_structure_words(OFFSET_WORDS)):
        for value, tag in ((0x7FFFFFF0, "big"), (0xFFFFFFFF, "neg")):
            patched = data[:pos] + struct.pack("<I", value) + data[pos + 4:]
            add(f"w{i}{tag}", "tflite: offsets and vector lengths out of range", patched, may_convert=True)
    for i, (what, (cls, payload)) in enumerate(_builder_cases().items()):
        add(f"b{i}", cls, payload)
    add("not-tfl3", "tflite: empty/truncated", b"\x1c\x00\x00\x00XXXX" + data[8:])
    failures = run_and_judge(cases, tmp_path)
    problems = failures + ([f"pristine model does not convert: {err}"] if err else [])
    assert not problems, "\n".join(problems)


REASONS = {
    "signature naming tensor 99": "names tensor 99 of 2",
    "signature naming subgraph 9": "names subgraph 9",
    "buffer of 2**63 bytes in the > 2 GB offset form": "lies outside the file",
    "shape_signature of another rank with 2**30 dims": "(signature [1, 4, 1073741824, 1073741824])",
    "WHILE calling subgraph -1": "calls subgraph -1 of 1",
    "operator input index out of range": "names a tensor outside",
    "operator code index out of range": "names operator code 7 of 1",
    "tensor buffer index out of range": "names buffer 1000",
    "negative dimension": "has shape [1, -4]",
    "constant of 2**60 floats from 16 bytes": "holds 16 bytes",
    "FILL of 2**40 elements": "would make a constant",
    "variable tensor of 2**32 elements": "is too large",
    "tensor read before it is written": "before anything produces it",
    "tensor written twice": "written twice",
    "buffer offset past the end of the file": "lies outside the file",
    "WHILE calling subgraphs that do not exist": "calls subgraph 5 of 1",
    "options table of another operator": "expected AddOptions",
    "constant operands that do not broadcast": "do not fit it (ValueError",
    "no buffers at all, a tensor naming buffer 1": "names buffer 1 of 1",
    "LSTM over 2**30 time steps": "up to 2048 are unrolled",
    "WHILE body calling itself": "cycle (2 -> 2)",
    "WHILE bodies calling each other": "cycle (2 -> 3 -> 2)",
}


def test_tflite_structural_cases_fail_for_their_own_reason(tmp_path: Path) -> None:
    """Each hand-made bad file is refused by the check it targets, not by an accident."""
    from tfjs_lite import convert
    from tfjs_lite.errors import ConversionError

    cases = _builder_cases()
    assert sorted(cases) == sorted(REASONS)
    for name, (_, payload) in cases.items():
        path = tmp_path / "m.tflite"
        path.write_bytes(payload)
        try:
            convert(path, tmp_path / "out")
        except ConversionError as e:
            assert REASONS[name] in str(e), (name, str(e))
        else:
            raise AssertionError(f"{name}: converted")
