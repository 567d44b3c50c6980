"""The committed part of the model zoo (fixtures/zoo), proven by real TF.js 4.22 on every path.

``fixtures/generate_zoo.py`` builds keras.applications architectures with random weights and TF's
outputs; the small ones are committed (the real architecture builders with fewer/narrower stages,
and the smallest public variants). For each architecture and path (tf_keras h5 → layers and → graph,
SavedModel → graph; Keras 3 .keras and h5 → layers and → graph, ``model.export``'s SavedModel →
graph) the conversion either loads in TF.js and matches TF
within 1e-4 (normalised error), or is refused before writing anything with the reason listed in
``REFUSED``.  The generator keeps the random models well-conditioned, so float32 rounding is far
below that tolerance and no appeal to the exact result (``tests/float64_reference.py``) is
allowed here. The whole zoo (every architecture) runs with ``python benchmarks/zoo.py``
(docs/zoo.md).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from float64_reference import verdict
from tfjs_node import TOLERANCE as TOLERANCE_TABLE
from tfjs_node import load_tensors

from tfjs_lite.conversion import convert
from tfjs_lite.errors import UnsupportedLayerError, UnsupportedOpError

ZOO = Path(__file__).resolve().parents[2] / "fixtures" / "zoo"
TOLERANCE = TOLERANCE_TABLE["deep_float32"]
# (path, source in the case folder, TF.js kind, inputs file, expected file); the kind is also the
# output format asked for (Keras files lowered to a graph model take the h5/.keras inputs).
TF_KERAS_PATHS = [("h5_layers", "model.h5", "layers", "inputs.json", "expected.json"),
                  ("h5_graph", "model.h5", "graph", "inputs.json", "expected.json"),
                  ("saved_model_graph", "saved_model", "graph", "inputs_graph.json", "expected_graph.json")]
KERAS3_PATHS = [("keras_layers", "model.keras", "layers", "inputs.json", "expected.json"),
                ("keras_graph", "model.keras", "graph", "inputs.json", "expected.json"),
                ("h5_layers", "model.h5", "layers", "inputs.json", "expected.json"),
                ("h5_graph", "model.h5", "graph", "inputs.json", "expected.json"),
                ("saved_model_graph", "saved_model", "graph", "inputs_graph.json", "expected_graph.json")]
OUTPUT_FORMAT = {"layers": "tfjs_layers_model", "graph": "tfjs_graph_model"}
# (case, path) -> what the refusal must name: the architectures tfjs-layers cannot run as built.
REFUSED = {
    ("MiniConvNeXt", "h5_layers"): "LayerScale",
    ("MiniRegNetX", "h5_layers"): "groups=",
    ("k3_MiniConvNeXt", "keras_layers"): "LayerScale",
    ("k3_MiniConvNeXt", "h5_layers"): "LayerScale",
}


def _cases() -> list[tuple[str, tuple]]:
    found = []
    for case in sorted(p.parent.name for p in ZOO.glob("*/case.json")):
        for spec in (KERAS3_PATHS if case.startswith("k3_") else TF_KERAS_PATHS):
            found.append((case, spec))
    return found


CASES = _cases()


def test_the_zoo_is_committed():
    names = {case for case, _ in CASES}
    assert len(names) >= 5 and any(n.startswith("k3_") for n in names)
    assert all((case, path) in {(c, s[0]) for c, s in CASES} for case, path in REFUSED)


@pytest.mark.parametrize("case,spec", CASES, ids=[f"{c}-{s[0]}" for c, s in CASES])
def test_architecture_converts_and_matches_tf_or_is_refused(case, spec, tmp_path, tfjs):
    path, source, kind, inputs, expected = spec
    out = tmp_path / "out"
    if (case, path) in REFUSED:
        with pytest.raises((UnsupportedLayerError, UnsupportedOpError), match=REFUSED[case, path]) as info:
            convert(ZOO / case / source, out, output_format=OUTPUT_FORMAT[kind])
        assert "\n" not in str(info.value)
        if kind == "layers":  # the way out of a layers-model refusal is the graph model
            assert "tfjs_graph_model" in str(info.value)
        assert not out.exists()
        return
    convert(ZOO / case / source, out, output_format=OUTPUT_FORMAT[kind])
    feeds, want = load_tensors(ZOO / case / inputs), load_tensors(ZOO / case / expected)
    got = dict(tfjs.run(out, kind, feeds))
    result = verdict(ZOO / case / source, feeds, want, got, TOLERANCE)
    # well-conditioned models (fixtures/generate_zoo.py: BETA_SHIFT): no float32 excuse needed; on
    # a miss the verdict carries both distances from the exact result for the message
    assert result["status"] == "ok", f"{case} {path}: {result}"


def test_case_records_name_the_source():
    for case_json in ZOO.glob("*/case.json"):
        info = json.loads(case_json.read_text())
        assert info["script"] == "fixtures/generate_zoo.py" and info.get("params")
