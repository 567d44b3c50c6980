"""tfjs_lite._proto must work on every protobuf runtime from 4.21 to the newest 7.x.

The official converter dies on a protoc-gencode/runtime mismatch; ours builds classes from
serialized descriptors at import time instead (proto/README.md). The in-process tests cover the
dev venv's runtime; ``test_other_runtimes`` repeats the checks in throwaway venvs holding only
protobuf (oldest supported, newest) + numpy, with the repo on PYTHONPATH, both with the upb
backend and the pure-Python one.

Venvs are cached under ``$TFJS_LITE_VENV_CACHE`` (default ``~/.cache/tfjs-lite/proto-venvs``);
delete that folder to pick up a newer protobuf release. Without network the cross-runtime test
skips, except under CI (``CI`` set) or ``TFJS_LITE_REQUIRE_PROTO_COMPAT=1``, where it fails
(tests/cached_venv.py).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from cached_venv import child_env, venv_python
from google.protobuf import json_format

from tfjs_lite._proto import graph_pb2, saved_model_pb2, types_pb2

REPO = Path(__file__).resolve().parents[1]
REFERENCE = REPO / "fixtures" / "reference"
SAVED_MODELS = sorted(REFERENCE.glob("*/source/saved_model/saved_model.pb"))
OLDEST = "protobuf==4.21.12"
NEWEST = "protobuf<8"


def requires_reference(test):  # the copies are committed: their absence is a broken checkout, not a skip
    assert SAVED_MODELS, f"no reference SavedModels under {REFERENCE}"
    return test

# Runs inside the throwaway venvs: only the standard library, protobuf, numpy and the repo.
PROBE = r"""
import json, sys, time
start = time.perf_counter()
from tfjs_lite._proto import graph_pb2, saved_model_pb2, saver_pb2, tensor_bundle_pb2, types_pb2
from tfjs_lite._proto import attr_value_pb2, meta_graph_pb2, saved_object_graph_pb2, struct_pb2
from tfjs_lite._proto import module_def_pb2, saved_metadata_pb2, trackable_object_graph_pb2
import_ms = (time.perf_counter() - start) * 1000
import google.protobuf
from google.protobuf import json_format
from google.protobuf.internal import api_implementation
from tfjs_lite import dtypes
import numpy as np

report = {"version": google.protobuf.__version__, "backend": api_implementation.Type(),
          "import_ms": round(import_ms, 1), "models": {}}
for path in sys.argv[1:]:
    data = open(path, "rb").read()
    model = saved_model_pb2.SavedModel.FromString(data)
    again = saved_model_pb2.SavedModel.FromString(model.SerializeToString())
    assert again == model, "round trip changed the message"
    stable = model.SerializeToString(deterministic=True)
    assert stable == again.SerializeToString(deterministic=True)
    meta = model.meta_graphs[0]
    as_dict = json_format.MessageToDict(meta.graph_def)
    back = json_format.ParseDict(as_dict, graph_pb2.GraphDef())
    assert back == meta.graph_def, "JSON round trip changed the GraphDef"
    bodies = [meta.graph_def.node] + [f.node_def for f in meta.graph_def.library.function]
    consts = [n.attr["value"].tensor for body in bodies for n in body if n.op == "Const"]
    values = [dtypes.tensor_proto_to_numpy(tensor) for tensor in consts]
    kinds = sorted({node.WhichOneof("kind") for node in meta.object_graph_def.nodes})
    report["models"][path] = {
        "nodes": len(meta.graph_def.node),
        "dict_nodes": len(as_dict["node"]),
        "functions": len(meta.graph_def.library.function),
        "signatures": sorted(meta.signature_def),
        "kinds": kinds,
        "const_values": sum(int(v.size) for v in values),
        "const_sum": sum(float(np.sum(v, dtype=np.float64)) for v in values if v.dtype != object),
        "saver_v2": meta.saver_def.version == saver_pb2.SaverDef.V2,
    }
# nested classes, enums, oneofs and unknown fields
value = attr_value_pb2.AttrValue(list=attr_value_pb2.AttrValue.ListValue(i=[1, 2]))
assert value.WhichOneof("value") == "list"
assert types_pb2.DataType.Name(types_pb2.DT_BFLOAT16) == "DT_BFLOAT16"
assert saved_object_graph_pb2.FunctionSpec.JitCompile.Value("OFF") == 2
extra = graph_pb2.GraphDef(versions={"producer": 7}).SerializeToString() + b"\xa8\x06\x2a"
kept = graph_pb2.GraphDef.FromString(extra)
assert kept.versions.producer == 7 and kept.SerializeToString().endswith(b"\xa8\x06\x2a")
print(json.dumps(report))
"""


def _venv_python(spec: str) -> Path:
    """A cached venv with only ``spec`` + numpy; skip (or fail under CI) if it cannot be made."""
    name = spec.replace("==", "-").replace("<", "-lt")
    return venv_python("TFJS_LITE_VENV_CACHE", "proto-venvs", name, (spec, "numpy"), timeout=240)


def _probe(python: Path, backend: str | None) -> dict:
    env = child_env(PYTHONPATH=str(REPO))
    if backend:
        env["PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION"] = backend
    result = subprocess.run(
        [str(python), "-c", PROBE, *map(str, SAVED_MODELS)],
        capture_output=True,
        text=True,
        env=env,
        cwd=str(REPO.parent),
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def in_process_report() -> dict:
    """The probe's answer for the dev venv's own runtime, as the baseline for other runtimes."""
    return _probe(Path(sys.executable), None)


@requires_reference
@pytest.mark.parametrize("spec", [OLDEST, NEWEST])
def test_other_runtimes(spec: str, in_process_report: dict) -> None:
    python = _venv_python(spec)
    for backend in (None, "python"):
        report = _probe(python, backend)
        if spec == OLDEST:
            assert report["version"] == "4.21.12"
        else:
            assert int(report["version"].split(".")[0]) >= 7
        if backend:
            assert report["backend"] == "python"
        assert report["models"] == in_process_report["models"], (spec, backend)


@requires_reference
@pytest.mark.parametrize("path", SAVED_MODELS, ids=lambda p: p.parts[-4])
def test_saved_model_round_trip(path: Path) -> None:
    data = path.read_bytes()
    model = saved_model_pb2.SavedModel.FromString(data)
    assert model.saved_model_schema_version == 1
    meta = model.meta_graphs[0]
    assert list(meta.meta_info_def.tags) == ["serve"]
    assert "serving_default" in meta.signature_def
    assert meta.object_graph_def.nodes[0].WhichOneof("kind") == "user_object"
    # Every byte was understood: nothing parked in unknown fields, so re-encoding loses nothing.
    again = saved_model_pb2.SavedModel.FromString(model.SerializeToString())
    assert again == model
    assert len(again.SerializeToString()) == len(data)
    graph = json_format.MessageToDict(meta.graph_def)
    assert len(graph["node"]) == len(meta.graph_def.node)


def test_unknown_fields_survive() -> None:
    # Field 99 (varint 42) is not in GraphDef; proto3 runtimes must carry it through.
    unknown = b"\x98\x06\x2a"
    data = graph_pb2.GraphDef(versions={"producer": 3}).SerializeToString() + unknown
    graph = graph_pb2.GraphDef.FromString(data)
    assert graph.versions.producer == 3
    assert graph.SerializeToString().endswith(unknown)


def test_import_is_lazy() -> None:
    code = "import sys, tfjs_lite; assert 'google.protobuf' not in sys.modules; print('ok')"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.strip() == "ok", result.stderr


def test_private_pool_does_not_touch_default_pool() -> None:
    from google.protobuf import descriptor_pool

    with pytest.raises(KeyError):
        descriptor_pool.Default().FindMessageTypeByName("tensorflow.GraphDef")
    assert types_pb2.DataType.Value("DT_HALF") == 19
