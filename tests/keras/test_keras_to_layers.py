"""Keras .h5/.keras → TF.js layers model, proven by loading every output in real TF.js 4.22."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from tfjs_node import TOLERANCE, assert_quantized_close, compare, load_tensors

from tfjs_lite.conversion import convert
from tfjs_lite.errors import UnsupportedLayerError

REPO = Path(__file__).resolve().parents[2]
CASES_DIR = REPO / "fixtures" / "keras"
REFERENCE_DIR = REPO / "fixtures" / "reference"


def _cases(expect: str) -> list[str]:
    names = []
    for case in sorted(CASES_DIR.glob("*/case.json")):
        info = json.loads(case.read_text())
        if info["expect"] == expect and "architecture_of" not in info:
            names.append(case.parent.name)
    return names


def _case(name: str) -> tuple[Path, dict]:
    info = json.loads((CASES_DIR / name / "case.json").read_text())
    return CASES_DIR / name / info["file"], info


def _manifest_names(out: Path) -> list[str]:
    model = json.loads((out / "model.json").read_text())
    return [w["name"] for group in model["weightsManifest"] for w in group["weights"]]


@pytest.mark.parametrize("case", _cases("convert"))
def test_converted_model_matches_keras_in_tfjs(case, tmp_path, tfjs):
    source, _ = _case(case)
    result = convert(source, tmp_path / "out")
    assert result.warnings == []
    outputs = tfjs.predict_layers(tmp_path / "out", load_tensors(CASES_DIR / case / "inputs.json"))
    compare(outputs, load_tensors(CASES_DIR / case / "expected.json"), rtol=TOLERANCE["float32"])


@pytest.mark.parametrize(
    ("case", "quantize"),
    [("cnn_logits", "uint8"), ("cnn_logits", "uint16"), ("mlp", "float16"), ("k3_functional_keras", "uint16")],
)
def test_quantized_model_within_tolerance(case, quantize, tmp_path, tfjs):
    # Fixtures whose outputs vary strongly with the input (not the near-uniform softmax of cnn or
    # rnn), so that the input-dependence check can tell a working model from a constant one.
    source, _ = _case(case)
    convert(source, tmp_path / "out", **{f"quantize_{quantize}": True})
    model = json.loads((tmp_path / "out" / "model.json").read_text())
    quantized = [w for g in model["weightsManifest"] for w in g["weights"] if "quantization" in w]
    assert quantized and all(w["quantization"]["dtype"] == quantize for w in quantized)
    outputs = tfjs.predict_layers(tmp_path / "out", load_tensors(CASES_DIR / case / "inputs.json"))
    assert_quantized_close(outputs, load_tensors(CASES_DIR / case / "expected.json"), quantize)


def test_keras3_weight_names_are_layer_names(tmp_path):
    source, _ = _case("k3_nested_keras")
    convert(source, tmp_path / "out")
    assert _manifest_names(tmp_path / "out") == [
        "pre/kernel", "pre/bias", "inner_dense1/kernel", "inner_dense1/bias",
        "inner_dense2/kernel", "inner_dense2/bias", "out/kernel", "out/bias",
    ]  # fmt: skip
    topology = json.loads((tmp_path / "out" / "model.json").read_text())["modelTopology"]
    text = json.dumps(topology)
    for keras3_only in ("batch_shape", "DTypePolicy", "__keras_tensor__", "registered_name", "build_config"):
        assert keras3_only not in text


@pytest.mark.parametrize("case", _cases("refuse"))
def test_unsupported_layers_are_refused_by_name(case, tmp_path):
    source, info = _case(case)
    with pytest.raises(UnsupportedLayerError) as caught:
        convert(source, tmp_path / "out")
    message = str(caught.value)
    assert "\n" not in message
    for layer in info["refused_layers"]:
        assert f"{layer['name']} ({layer['class']})" in message
    assert "tfjs_graph_model" in message and "force" in message
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("case", _cases("refuse"))
def test_force_writes_the_model_with_a_warning(case, tmp_path):
    source, info = _case(case)
    result = convert(source, tmp_path / "out", force=True)
    assert (tmp_path / "out" / "model.json").is_file()
    assert any(info["refused_layers"][0]["name"] in w for w in result.warnings)


def test_lambda_code_is_copied_not_decoded(tmp_path):
    source, _ = _case("refuse_lambda")
    convert(source, tmp_path / "out", force=True)
    layers = json.loads((tmp_path / "out" / "model.json").read_text())["modelTopology"]["model_config"]["config"]
    lam = next(layer for layer in layers["layers"] if layer["class_name"] == "Lambda")
    assert lam["config"]["function"]  # still the opaque marshalled blob


def _graft(weights_dir: Path, topology_dir: Path, target: Path) -> None:
    """A model folder with the topology of one conversion and the weights of another."""
    shutil.copytree(weights_dir, target)
    weights = json.loads((weights_dir / "model.json").read_text())
    topology = json.loads((topology_dir / "model.json").read_text())
    weights["modelTopology"] = topology["modelTopology"]
    (target / "model.json").write_text(json.dumps(weights))


@pytest.mark.parametrize("case", ["weights_only_legacy", "weights_only"])
def test_weights_only_files(case, tmp_path, tfjs):
    source, info = _case(case)
    convert(source, tmp_path / "weights")
    model = json.loads((tmp_path / "weights" / "model.json").read_text())
    assert model["modelTopology"] is None and model["generatedBy"] is None
    assert model["weightsManifest"][0]["weights"]
    arch_source, _ = _case(info["architecture_of"])
    convert(arch_source, tmp_path / "arch")
    _graft(tmp_path / "weights", tmp_path / "arch", tmp_path / "both")
    outputs = tfjs.predict_layers(tmp_path / "both", load_tensors(CASES_DIR / case / "inputs.json"))
    compare(outputs, load_tensors(CASES_DIR / case / "expected.json"), rtol=TOLERANCE["float32"])


def test_weights_only_names(tmp_path):
    convert(_case("weights_only_legacy")[0], tmp_path / "legacy")
    assert _manifest_names(tmp_path / "legacy") == ["dense/kernel", "dense/bias", "dense_1/kernel", "dense_1/bias"]
    convert(_case("weights_only")[0], tmp_path / "v3")
    assert _manifest_names(tmp_path / "v3") == ["dense/0", "dense/1", "dense_1/0", "dense_1/1"]


@pytest.mark.parametrize("model", ["mlp", "cnn", "multi_io"])
def test_weights_byte_identical_to_official_converter(model, tmp_path):
    source = REFERENCE_DIR / model / "source" / "model.h5"
    reference = REFERENCE_DIR / model / "tensorflowjs_4.22" / "h5_to_layers"
    convert(source, tmp_path / "out")
    ours = json.loads((tmp_path / "out" / "model.json").read_text())
    theirs = json.loads((reference / "model.json").read_text())
    assert ours["weightsManifest"] == theirs["weightsManifest"]
    assert ours["modelTopology"] == theirs["modelTopology"]
    assert list(ours) == list(theirs)
    for group in theirs["weightsManifest"]:
        for shard in group["paths"]:
            assert (tmp_path / "out" / shard).read_bytes() == (reference / shard).read_bytes()


@pytest.mark.parametrize("case", ["cnn", "k3_functional_keras", "rnn"])
def test_conversion_is_deterministic(case, tmp_path):
    source, _ = _case(case)
    for run in ("a", "b"):
        convert(source, tmp_path / run, quantize_uint8=True, weight_shard_size_bytes=1000)
    files = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert files == sorted(p.name for p in (tmp_path / "b").iterdir())
    for name in files:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


def test_model_json_layout(tmp_path):
    source, _ = _case("k3_sequential_keras")
    meta = tmp_path / "meta.json"
    meta.write_text('{"labels": ["a", "b"]}')
    convert(source, tmp_path / "out", metadata={"info": meta})
    model = json.loads((tmp_path / "out" / "model.json").read_text())
    assert list(model) == [
        "format", "generatedBy", "convertedBy", "userDefinedMetadata", "modelTopology", "weightsManifest",
    ]  # fmt: skip
    assert model["format"] == "layers-model"
    assert model["generatedBy"] == "keras v3.15.1"
    assert model["convertedBy"].startswith("tfjs-lite ")
    assert model["userDefinedMetadata"] == {"info": {"labels": ["a", "b"]}}


def test_split_weights_by_layer_and_small_shards(tmp_path, tfjs):
    source, _ = _case("cnn")
    convert(source, tmp_path / "out", split_weights_by_layer=True, weight_shard_size_bytes=512)
    model = json.loads((tmp_path / "out" / "model.json").read_text())
    groups = model["weightsManifest"]
    assert len(groups) > 1
    prefixes = [{w["name"].split("/")[0] for w in g["weights"]} for g in groups]
    assert all(len(p) == 1 for p in prefixes)
    assert any(len(g["paths"]) > 1 for g in groups)
    for g, group in enumerate(groups, start=1):
        for path in group["paths"]:
            assert path.startswith(f"group{g}-shard") and (tmp_path / "out" / path).stat().st_size <= 512
    outputs = tfjs.predict_layers(tmp_path / "out", load_tensors(CASES_DIR / "cnn" / "inputs.json"))
    compare(outputs, load_tensors(CASES_DIR / "cnn" / "expected.json"), rtol=TOLERANCE["float32"])
