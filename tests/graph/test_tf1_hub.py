"""TF1-format TF-Hub modules (``tfhub_module.pb``) -> graph model, proven in real TF.js 4.22.

Fixture ``fixtures/graph/hub_tf1`` (fixtures/generate_tf1_hub.py): MetaGraphs tagged ``[]`` and
``["train"]`` (dropout), signatures ``default`` and ``scaled``, a VariableV2 and resource variables
in a TF1 name-keyed checkpoint.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tfjs_node import compare, load_tensors
from tfjs_lite import executor
from tfjs_lite.conversion import convert
from tfjs_lite.detect import detect_input_format
from tfjs_lite.errors import ModelFormatError, UnsupportedModelError
from tfjs_lite.options import ConvertOptions
from tfjs_lite.pipelines import saved_model_to_graph as pipeline
from tfjs_lite.readers.tf_hub import load_hub_module, read_module_def
from tfjs_lite.report import Report
from tfjs_lite.tools.source import load_source_graph

CASE = Path(__file__).resolve().parents[2] / "fixtures" / "graph" / "hub_tf1"
MODULE = CASE / "module"
SIGNATURES = {"default": ("inputs.json", "expected.json"), "scaled": ("inputs_scaled.json", "expected_scaled.json")}


def _data(signature: str) -> tuple[dict, dict]:
    inputs, expected = SIGNATURES[signature]
    return load_tensors(CASE / inputs), load_tensors(CASE / expected)


def _ops(model: dict) -> set[str]:
    return {n["op"] for n in model["modelTopology"]["node"]}


def _copy_module(tmp_path: Path, module_def: bytes | None = None) -> Path:
    module = tmp_path / "module"
    shutil.copytree(MODULE, module)
    if module_def is not None:
        (module / "tfhub_module.pb").write_bytes(module_def)
    return module


def test_fixture_is_a_tf1_hub_module():
    assert read_module_def(MODULE).format == 3
    assert detect_input_format(MODULE) == "tf_hub"
    case = json.loads((CASE / "case.json").read_text())
    assert case["format"] == "tf_hub" and case["signature"] == "default"


@pytest.mark.parametrize("signature", sorted(SIGNATURES))
def test_converts_and_runs_in_tfjs(signature, tfjs, tmp_path):
    out = tmp_path / signature
    options = ConvertOptions(signature_name=None if signature == "default" else signature)
    pipeline.run_hub(MODULE, out, options, Report())
    model = json.loads((out / "model.json").read_text())
    inputs, expected = _data(signature)
    assert sorted(model["signature"]["inputs"]) == sorted(inputs)
    assert sorted(model["signature"]["outputs"]) == sorted(expected)
    # The []-tagged default graph, not the ["train"] one (dropout), despite --saved_model_tags serve.
    assert "RandomUniform" not in _ops(model)
    assert not _ops(model) & {"VariableV2", "VarHandleOp", "ReadVariableOp", "Assign"}
    got = tfjs.execute_graph(str(out), inputs)
    assert sorted(got) == sorted(expected)
    err = compare(got, expected, rtol=1e-5)
    print(f"hub_tf1/{signature}: max normalised error in TF.js {err:.3g}")


def test_numpy_executor_matches_tf():
    for signature in SIGNATURES:
        graph = load_hub_module(MODULE, signature_name=None if signature == "default" else signature)
        assert graph.meta["signature_key"] == signature
        inputs, expected = _data(signature)
        compare({k: np.atleast_1d(v) for k, v in executor.run(graph, inputs).items()},
                {k: np.atleast_1d(v) for k, v in expected.items()}, rtol=1e-5)


def test_convert_api_detects_the_module(tmp_path):
    result = convert(MODULE, tmp_path / "out")
    assert (tmp_path / "out" / "model.json").is_file() and result is not None


@pytest.mark.parametrize("tags", ["serve", "", " "])
def test_default_tags_pick_the_default_graph(tags):
    graph = load_hub_module(MODULE, tags=tags)
    assert not graph.nodes_by_op("RandomUniform")


def test_explicit_tags_are_honoured():
    graph = load_hub_module(MODULE, tags="train")
    assert graph.nodes_by_op("RandomUniform")  # dropout: the training variant


def test_explicit_unknown_tags_are_refused():
    with pytest.raises(ModelFormatError, match="available tag sets"):
        load_hub_module(MODULE, tags="gpu")


def test_unknown_signature_is_refused():
    with pytest.raises(ModelFormatError, match="scaled"):
        load_hub_module(MODULE, signature_name="nope")


def test_verify_reads_tf1_modules():
    graph, fmt = load_source_graph(MODULE)
    assert fmt == "tf_hub" and sorted(graph.outputs) == ["default", "logits"]


@pytest.mark.parametrize("module_def, match", [
    (b"\x08\x02", "format 2"),  # FORMAT_V2 never was a hub reader format
    (b"", "format 0"),  # FORMAT_UNSPECIFIED
    (b"\x08\x03\x12\x0bfancy_thing", "fancy_thing"),  # required_features (hub supports none)
])
def test_unsupported_module_defs_are_refused(tmp_path, module_def, match):
    module = _copy_module(tmp_path, module_def)
    with pytest.raises(UnsupportedModelError, match=match) as info:
        pipeline.run_hub(module, tmp_path / "out", ConvertOptions(), Report())
    assert "\n" not in str(info.value)
    assert not (tmp_path / "out" / "model.json").exists()


def test_damaged_module_def_is_a_format_error(tmp_path):
    module = _copy_module(tmp_path, b"\x0a\xff\xff")
    with pytest.raises(ModelFormatError, match="ModuleDef") as info:
        pipeline.run_hub(module, tmp_path / "out", ConvertOptions(), Report())
    assert "\n" not in str(info.value)


def test_cli_refuses_unknown_format_in_one_line(tmp_path):
    module = _copy_module(tmp_path, b"\x08\x07")
    done = subprocess.run([sys.executable, "-m", "tfjs_lite", "convert", str(module), str(tmp_path / "out")],
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode != 0
    assert done.stderr.count("\n") == 1 and "format 7" in done.stderr
    assert not (tmp_path / "out").exists()


def test_module_def_without_saved_model(tmp_path):
    module = tmp_path / "module"
    module.mkdir()
    (module / "tfhub_module.pb").write_bytes(b"\x08\x03")
    with pytest.raises(ModelFormatError, match="saved_model.pb"):
        load_hub_module(module)


def test_not_a_folder_is_refused(tmp_path):
    (tmp_path / "file").write_bytes(b"x")
    with pytest.raises(ModelFormatError, match="network"):
        load_hub_module(tmp_path / "file")
