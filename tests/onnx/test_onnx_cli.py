"""ONNX through the CLI and the library entry points: detection, every flag, inspect, verify
(onnxruntime when importable, else a stated fallback), unsupported ops, external data, NHWC I/O."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from tfjs_node import compare, load_tensors

from tfjs_lite import convert, executor
from tfjs_lite.errors import UnsupportedOpError
from tfjs_lite.readers.onnx import read_onnx
from tfjs_lite.tools.verify_model import verify

ROOT = Path(__file__).resolve().parents[2]
MODELS = ROOT / "fixtures" / "onnx" / "models"
CNN = MODELS / "small_cnn" / "model.onnx"
MOBILENET = MODELS / "mobilenet_v3_small_w050"


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tfjs_lite", *args], capture_output=True, text=True, timeout=300)


def _model_proto(path: Path = CNN):
    from tfjs_lite._proto.onnx_pb2 import ModelProto

    proto = ModelProto()
    proto.ParseFromString(path.read_bytes())
    return proto


def test_cli_detects_onnx_and_writes_a_graph_model(tmp_path):
    done = _cli("convert", str(CNN), str(tmp_path / "out"))
    assert done.returncode == 0, done.stderr
    model = json.loads((tmp_path / "out" / "model.json").read_text())
    assert model["format"] == "graph-model" and list(model["signature"]["inputs"]) == ["image"]


def test_conversion_is_byte_identical(tmp_path):
    for name in ("a", "b"):
        convert(CNN, tmp_path / name)
    for file in sorted(p.name for p in (tmp_path / "a").iterdir()):
        assert (tmp_path / "a" / file).read_bytes() == (tmp_path / "b" / file).read_bytes()


def test_quantization_shards_and_metadata(tfjs, tmp_path):
    meta = tmp_path / "meta.json"
    meta.write_text('{"labels": ["a", "b"]}')
    out = tmp_path / "q"
    convert(MOBILENET / "model.onnx", out, quantize_float16=True, weight_shard_size_bytes=200_000,
            metadata={"info": meta})
    model = json.loads((out / "model.json").read_text())
    assert len(model["weightsManifest"][0]["paths"]) > 2
    assert model["userDefinedMetadata"]["info"] == {"labels": ["a", "b"]}
    assert {w.get("quantization", {}).get("dtype") for w in model["weightsManifest"][0]["weights"]} >= {"float16"}
    inputs, expected = load_tensors(MOBILENET / "inputs.json"), load_tensors(MOBILENET / "expected.json")
    compare(tfjs.execute_graph(str(out), dict(inputs), list(expected)), expected, rtol=1e-3)


def test_skip_pass_keeps_the_unfused_ops(tmp_path):
    convert(CNN, tmp_path / "fused")
    convert(CNN, tmp_path / "plain", skip_passes=("fuse_conv", "sink_transposes"))
    ops = {name: [n["op"] for n in json.loads((tmp_path / name / "model.json").read_text())["modelTopology"]["node"]]
           for name in ("fused", "plain")}
    assert "_FusedConv2D" in ops["fused"] and "_FusedConv2D" not in ops["plain"]
    assert ops["plain"].count("Transpose") > ops["fused"].count("Transpose")


def test_nhwc_inputs_and_outputs(tfjs, tmp_path):
    name = "unet"
    out = tmp_path / "nhwc"
    done = _cli("convert", str(MODELS / name / "model.onnx"), str(out), "--nhwc_inputs", "--nhwc_outputs")
    assert done.returncode == 0, done.stderr
    model = json.loads((out / "model.json").read_text())
    assert [d["size"] for d in model["signature"]["inputs"]["image"]["tensorShape"]["dim"]] == ["1", "32", "32", "3"]
    assert not [n for n in model["modelTopology"]["node"] if n["op"] == "Transpose"]
    inputs, expected = load_tensors(MODELS / name / "inputs.json"), load_tensors(MODELS / name / "expected.json")
    got = tfjs.execute_graph(str(out), {"image": inputs["image"].transpose(0, 2, 3, 1)}, list(expected))
    compare({k: v.transpose(0, 3, 1, 2) for k, v in got.items()}, expected, rtol=1e-4)


def test_inspect_reads_onnx():
    done = _cli("inspect", str(CNN))
    assert done.returncode == 0, done.stderr
    assert "(onnx)" in done.stdout and "Conv2D" in done.stdout


def test_unsupported_ops_are_named_all_at_once(tmp_path):
    proto = _model_proto()
    renamed = []
    for node in proto.graph.node:
        if node.op_type in ("Relu", "HardSwish"):
            node.op_type = "Hardmax" if node.op_type == "Relu" else "BlackmanWindow"
            renamed.append(node.name)
    path = tmp_path / "m.onnx"
    path.write_bytes(proto.SerializeToString())
    with pytest.raises(UnsupportedOpError) as info:
        read_onnx(path)
    message = str(info.value)
    assert "Hardmax" in message and "BlackmanWindow" in message and renamed[0] in message
    done = _cli("convert", str(path), str(tmp_path / "out"))
    errors = [line for line in done.stderr.splitlines() if line.startswith("tfjs-lite: error:")]
    assert done.returncode == 2 and len(errors) == 1 and "Traceback" not in done.stderr
    assert not (tmp_path / "out").exists()


def test_external_data_beside_the_model(tmp_path):
    proto = _model_proto()
    blob = bytearray()
    for tensor in proto.graph.initializer:
        if len(tensor.raw_data) < 256:
            continue
        offset = len(blob)
        blob += tensor.raw_data + b"\0" * (-len(tensor.raw_data) % 64)
        length = len(tensor.raw_data)
        tensor.ClearField("raw_data")
        tensor.data_location = 1
        for key, value in (("location", "weights/data.bin"), ("offset", str(offset)), ("length", str(length))):
            tensor.external_data.add(key=key, value=value)
    (tmp_path / "weights").mkdir()
    (tmp_path / "weights" / "data.bin").write_bytes(bytes(blob))
    (tmp_path / "model.onnx").write_bytes(proto.SerializeToString())
    inputs = load_tensors(MODELS / "small_cnn" / "inputs.json")
    expected = load_tensors(MODELS / "small_cnn" / "expected.json")
    got = executor.run(read_onnx(tmp_path / "model.onnx"), dict(inputs))
    compare(got, expected, rtol=1e-4)


@pytest.mark.parametrize("scale, ok", [(1.0, True), (1.01, False)])
def test_verify_against_recorded_onnxruntime_outputs(tmp_path, scale, ok):
    # onnxruntime's own outputs, recorded by the fixture generator, judge the lowering itself; a
    # 1 % error in them must fail.
    case = MODELS / "small_cnn"
    convert(case / "model.onnx", tmp_path / "out")
    inputs, recorded = load_tensors(case / "inputs.json"), load_tensors(case / "expected.json")
    result = verify(case / "model.onnx", tmp_path / "out", inputs=dict(inputs),
                    expected={k: v * scale for k, v in recorded.items()})
    assert result.ok is ok and "reference: the given expected outputs" in result.notes
    done = _cli("verify", str(case / "model.onnx"), str(tmp_path / "out"),
                "--inputs", str(case / "inputs.json"), "--expected", str(case / "expected.json"))
    assert done.returncode == 0, done.stderr


def test_verify_without_expected_outputs_says_what_it_compared(tmp_path):
    convert(CNN, tmp_path / "out")
    result = verify(CNN, tmp_path / "out")
    assert result.ok and any("not the lowering" in n and "--expected" in n for n in result.notes)
