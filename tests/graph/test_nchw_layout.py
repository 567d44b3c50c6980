"""An NCHW model (transposes around every conv/pool/resize, as ONNX lowers) in real TF.js 4.22.

fixtures/graph/nchw_cnn holds 20 transposes.  Converted, only the 2 its NCHW interface needs stay
(after the input, before the 4-D ``features`` output); with ``--nhwc_inputs --nhwc_outputs``
none stay and the signature is NHWC.  Both must reproduce TF's outputs in TF.js.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np

from tfjs_lite.cli import main
from tfjs_node import TOLERANCE, compare, load_tensors

FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "graph" / "nchw_cnn"
TO_NHWC = (0, 2, 3, 1)


def _convert(out: Path, *flags: str) -> dict:
    assert main(["convert", str(FIXTURE / "saved_model"), str(out), *flags]) == 0
    return json.loads((out / "model.json").read_text())


def _ops(model: dict) -> Counter:
    return Counter(n["op"] for n in model["modelTopology"]["node"])


def _dims(info: dict) -> list[int]:
    return [int(d["size"]) for d in info["tensorShape"]["dim"]]


def test_only_boundary_transposes_stay(tfjs, tmp_path):
    model = _convert(tmp_path / "m")
    assert _ops(model)["Transpose"] == 2
    inputs, expected = load_tensors(FIXTURE / "inputs.json"), load_tensors(FIXTURE / "expected.json")
    got = tfjs.execute_graph(str(tmp_path / "m"), inputs)
    compare(got, expected, rtol=TOLERANCE["float32"])


def test_nhwc_flags_remove_the_boundary_transposes(tfjs, tmp_path):
    model = _convert(tmp_path / "m", "--nhwc_inputs", "--nhwc_outputs")
    assert _ops(model)["Transpose"] == 0
    signature = model["signature"]
    assert _dims(signature["inputs"]["image"]) == [1, 16, 16, 3]
    assert _dims(signature["outputs"]["features"]) == [1, 16, 16, 6]
    assert _dims(signature["outputs"]["logits"]) == [1, 5]
    inputs, expected = load_tensors(FIXTURE / "inputs.json"), load_tensors(FIXTURE / "expected.json")
    got = tfjs.execute_graph(str(tmp_path / "m"), {"image": np.transpose(inputs["image"], TO_NHWC)})
    compare(got, {"features": np.transpose(expected["features"], TO_NHWC), "logits": expected["logits"]},
            rtol=TOLERANCE["float32"])


def test_only_inputs_declared(tmp_path):
    model = _convert(tmp_path / "m", "--nhwc_inputs")
    assert _ops(model)["Transpose"] == 1  # before the NCHW features output
    assert _dims(model["signature"]["inputs"]["image"]) == [1, 16, 16, 3]
    assert _dims(model["signature"]["outputs"]["features"]) == [1, 6, 16, 16]


def test_python_api_takes_the_flags(tmp_path):
    from tfjs_lite.conversion import convert

    convert(FIXTURE / "saved_model", tmp_path / "m", nhwc_inputs=True, nhwc_outputs=True)
    model = json.loads((tmp_path / "m" / "model.json").read_text())
    assert _ops(model)["Transpose"] == 0
    assert _dims(model["signature"]["inputs"]["image"]) == [1, 16, 16, 3]
