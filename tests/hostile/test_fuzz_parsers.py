"""Property-based fuzzing (hypothesis) of every parser, in-process and bounded in time.

Property, for every generated input: the parser returns, or raises a ConversionError (one-line,
exit status 2 in the CLI). Any other exception is a bug; those seen are collected (deduplicated by
exception type and the tfjs_lite line that raised it) and reported together at the end, so one
run lists every distinct crash instead of the first shrunk example only.

CI runs 120 derandomized examples per parser. A deeper, random run (how the B27 classes were found):
``TFJS_LITE_FUZZ_EXAMPLES=1500 python -m pytest tests/hostile/test_fuzz_parsers.py``.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import traceback
from pathlib import Path
from typing import Any, Callable

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from corpus import FIXTURES, KNOWN_BUGS, STRICT, record
from tfjs_lite.errors import ConversionError

CI_EXAMPLES = 120
EXAMPLES = int(os.environ.get("TFJS_LITE_FUZZ_EXAMPLES", CI_EXAMPLES))
# CI's run is the same every time; a deeper run draws new examples
SETTINGS = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck),
                    derandomize=EXAMPLES == CI_EXAMPLES)
H5 = FIXTURES / "keras" / "mlp" / "model.h5"
KERAS = FIXTURES / "keras" / "k3_functional_keras" / "model.keras"
LAYERS = FIXTURES / "reference" / "mlp" / "tensorflowjs_4.22" / "h5_to_layers"
FROZEN = FIXTURES / "graph" / "frozen" / "model.pb"

JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**64) | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=8,
)


def edited_bytes(data: bytes) -> st.SearchStrategy[bytes]:
    """``data`` with one to six bytes overwritten."""

    def apply(edits: list) -> bytes:
        mutated = bytearray(data)
        for pos, value in edits:
            mutated[pos] = value
        return bytes(mutated)

    return st.lists(st.tuples(st.integers(0, len(data) - 1), st.integers(0, 255)), min_size=1, max_size=6).map(apply)


def _signature(error: BaseException) -> str:
    frames = [f for f in traceback.extract_tb(error.__traceback__) if "tfjs_lite" in f.filename]
    last = Path(frames[-1].filename) if frames else None
    where = f"{last.parent.name}/{last.name}" if last else "?"  # no line number: stable while files change
    return f"{type(error).__name__} at {where}"


class Findings:
    def __init__(self, cls: str) -> None:
        self.cls = cls
        self.crashes: dict[str, str] = {}

    def run(self, action: Callable[[], Any]) -> None:
        try:
            action()
            outcome = "accepted"
        except ConversionError:
            outcome = "refused (ConversionError)"
        except Exception as e:  # noqa: BLE001 - the property under test
            sig = _signature(e)
            line = [f for f in traceback.extract_tb(e.__traceback__) if "tfjs_lite" in f.filename]
            at = f" (line {line[-1].lineno})" if line else ""
            self.crashes.setdefault(sig, f"{type(e).__name__}{at}: {' '.join(str(e).split())[:160]}")
            outcome = f"BUG: {type(e).__name__}" + (f" (known, {KNOWN_BUGS[sig]})" if sig in KNOWN_BUGS else "")
        record(self.cls, outcome)

    def check(self) -> None:
        unknown = {s: m for s, m in self.crashes.items() if STRICT or s not in KNOWN_BUGS}
        assert not unknown, "\n".join(f"{s}: {m}" for s, m in unknown.items())


def _paths(tree: Any, prefix: tuple = ()) -> list[tuple]:
    out = [prefix]
    if isinstance(tree, dict):
        for k, v in tree.items():
            out += _paths(v, prefix + (k,))
    elif isinstance(tree, list):
        for i, v in enumerate(tree):
            out += _paths(v, prefix + (i,))
    return out


def _replace(tree: Any, path: tuple, value: Any) -> Any:
    if not path:
        return value
    tree = copy.copy(tree)
    tree[path[0]] = _replace(tree[path[0]], path[1:], value)
    return tree


@st.composite
def mutated(draw: st.DrawFn, tree: Any, count: int = 2) -> Any:
    """``tree`` with up to ``count`` subtrees replaced by arbitrary JSON values (or deleted)."""
    for _ in range(draw(st.integers(1, count))):
        paths = _paths(tree)
        path = draw(st.sampled_from(paths[1:] if len(paths) > 1 else paths))
        if path and draw(st.integers(0, 5)) == 0 and isinstance(_get(tree, path[:-1]), dict):
            parent = copy.copy(_get(tree, path[:-1]))
            parent.pop(path[-1])
            tree = _replace(tree, path[:-1], parent)
        else:
            tree = _replace(tree, path, draw(JSON))
    return tree


def _get(tree: Any, path: tuple) -> Any:
    for p in path:
        tree = tree[p]
    return tree


def _convert(src: Path, out: Path, **kwargs: Any) -> None:
    from tfjs_lite import convert

    try:
        convert(src, out, **kwargs)
    finally:
        if out.is_dir():
            shutil.rmtree(out)
        elif out.exists():
            out.unlink()


def _fuzz_h5_model_config(source: Path, label: str, tmp_path: Path, **convert_kwargs: Any) -> None:
    """Replace JSON subtrees of ``source``'s ``model_config`` attribute and convert each result."""
    import h5py

    with h5py.File(source, "r") as f:
        config = json.loads(f.attrs["model_config"])
    findings = Findings(label)
    model = tmp_path / "model.h5"

    @SETTINGS
    @given(mutated(config))
    def check(new_config: Any) -> None:
        shutil.copyfile(source, model)
        with h5py.File(model, "r+") as f:
            f.attrs["model_config"] = json.dumps(new_config)
        findings.run(lambda: _convert(model, tmp_path / "out", **convert_kwargs))

    check()
    findings.check()


def test_keras_h5_model_config_fuzzed(tmp_path: Path) -> None:
    _fuzz_h5_model_config(H5, "fuzz: Keras .h5 model_config (hypothesis, JSON subtrees replaced)", tmp_path)


def test_keras_zip_config_fuzzed(tmp_path: Path) -> None:
    import zipfile

    with zipfile.ZipFile(KERAS) as z:
        members = {i.filename: z.read(i) for i in z.infolist()}
    config = json.loads(members["config.json"])
    findings = Findings("fuzz: .keras config.json (hypothesis, JSON subtrees replaced)")
    model = tmp_path / "model.keras"

    @SETTINGS
    @given(mutated(config))
    def check(new_config: Any) -> None:
        with zipfile.ZipFile(model, "w") as z:
            for name, data in members.items():
                z.writestr(name, json.dumps(new_config) if name == "config.json" else data)
        findings.run(lambda: _convert(model, tmp_path / "out"))

    check()
    findings.check()


def test_keras_ops_config_fuzzed_to_graph(tmp_path: Path) -> None:
    """keras.ops nodes (reductions, reshape, where, cast, ...) with fuzzed arguments, lowered to a
    graph model: every outcome is a conversion or a ConversionError."""
    _fuzz_h5_model_config(FIXTURES / "keras_graph" / "k3_keras_ops" / "model.h5",
                          "fuzz: Keras 3 keras.ops config → graph (hypothesis, JSON subtrees replaced)", tmp_path,
                          output_format="tfjs_graph_model")


def test_model_json_fuzzed(tmp_path: Path) -> None:
    model = json.loads((LAYERS / "model.json").read_text())
    shard = (LAYERS / "group1-shard1of1.bin").read_bytes()
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "group1-shard1of1.bin").write_bytes(shard)
    (tmp_path / "outside.bin").write_bytes(shard)
    findings = Findings("fuzz: TF.js model.json (hypothesis, JSON subtrees replaced)")
    weird_paths = st.sampled_from(["../outside.bin", "/etc/passwd", "http://x/y", "a/../../outside.bin", "", ".",
                                   "group1-shard1of1.bin", "group1-shard1of1.bin/", "..", "C:\\x"])

    @SETTINGS
    @given(mutated(model, 3), st.booleans(), weird_paths)
    def check(new_model: Any, bad_path: bool, path: str) -> None:
        if bad_path and isinstance(new_model.get("weightsManifest"), list) and new_model["weightsManifest"] \
                and isinstance(new_model["weightsManifest"][0], dict):
            new_model = copy.deepcopy(new_model)
            new_model["weightsManifest"][0]["paths"] = [path]
        (folder / "model.json").write_text(json.dumps(new_model))
        findings.run(lambda: _convert(folder, tmp_path / "out.keras", output_format="keras_keras"))

    check()
    findings.check()


def test_weights_manifest_fuzzed(tmp_path: Path) -> None:
    """read_weights alone: arbitrary manifests over a shard of arbitrary length."""
    from tfjs_lite.readers.tfjs_weights import read_weights

    findings = Findings("fuzz: weights manifest + shard sizes (hypothesis)")
    dtypes = st.sampled_from(["float32", "int32", "bool", "uint8", "string", "complex64", "float16", "x", None])
    spec = st.fixed_dictionaries(
        {"name": st.text(max_size=4), "shape": st.lists(st.integers(-2, 2**40), max_size=3) | JSON, "dtype": dtypes},
        optional={"quantization": st.fixed_dictionaries({"dtype": st.sampled_from(["uint8", "uint16", "float16", "q"])},
                                                        optional={"scale": JSON, "min": JSON}) | JSON},
    )

    @SETTINGS
    @given(st.lists(st.fixed_dictionaries({"paths": st.just(["w.bin"]), "weights": st.lists(spec, max_size=3)}),
                    max_size=2),
           st.binary(max_size=256))
    def check(manifest: list, shard: bytes) -> None:
        (tmp_path / "w.bin").write_bytes(shard)

        def read() -> None:
            entries = read_weights(manifest, tmp_path)
            for spec_, array in entries:
                assert isinstance(array, np.ndarray)

        findings.run(read)

    check()
    findings.check()


def test_graph_def_fuzzed(tmp_path: Path) -> None:
    """read_graph_def on GraphDefs with arbitrary wiring: references, cycles, functions, dtypes."""
    from tfjs_lite._proto.graph_pb2 import GraphDef
    from tfjs_lite.readers.graph_def import read_graph_def

    findings = Findings("fuzz: GraphDef wiring (hypothesis: dangling refs, cycles, recursive functions)")
    names = st.sampled_from(["a", "b", "c", "d", "fn_a", "fn_b"])
    refs = st.one_of(names, names.map(lambda n: f"{n}:1"), names.map(lambda n: f"^{n}"),
                     names.map(lambda n: f"{n}:output:0"), st.text(max_size=6))
    ops = st.sampled_from(["Const", "Identity", "AddV2", "Placeholder", "PartitionedCall", "StatefulPartitionedCall",
                           "NoOp", "NotAnOp", "Switch", "Merge"])
    node = st.tuples(names, ops, st.lists(refs, max_size=3), st.integers(-1, 30), names)

    def build(nodes: list, functions: list) -> GraphDef:
        g = GraphDef()
        for name, op, inputs, dtype, fn in nodes:
            n = g.node.add(name=name, op=op)
            n.input.extend(inputs)
            n.attr["T"].type = dtype
            if op.endswith("PartitionedCall"):
                n.attr["f"].func.name = fn
        for fname, body in functions:
            f = g.library.function.add()
            f.signature.name = fname
            f.signature.input_arg.add(name="x", type=1)
            f.signature.output_arg.add(name="y", type=1)
            for name, op, inputs, dtype, fn in body:
                n = f.node_def.add(name=name, op=op)
                n.input.extend(inputs)
                if op.endswith("PartitionedCall"):
                    n.attr["f"].func.name = fn
            f.ret["y"] = body[0][0] + ":output:0" if body else "x"
        return g

    @SETTINGS
    @given(st.lists(node, max_size=6), st.lists(st.tuples(names, st.lists(node, max_size=3)), max_size=3))
    def check(nodes: list, functions: list) -> None:
        findings.run(lambda: read_graph_def(build(nodes, functions)))

    check()
    findings.check()


def _fuzz_file_bytes(source: Path, path: Path, label: str, read: Callable[[Path], Any]) -> None:
    """Hypothesis-edited bytes of ``source`` written to ``path`` and handed to ``read``."""
    data = source.read_bytes()
    findings = Findings(label)

    @SETTINGS
    @given(edited_bytes(data))
    def check(mutated_bytes: bytes) -> None:
        path.write_bytes(mutated_bytes)
        findings.run(lambda: read(path))

    check()
    findings.check()


def test_frozen_graph_bytes_fuzzed(tmp_path: Path) -> None:
    from tfjs_lite.readers.saved_model import load_frozen_graph

    _fuzz_file_bytes(FROZEN, tmp_path / "model.pb", "fuzz: frozen GraphDef bytes (hypothesis)",
                     lambda pb: load_frozen_graph(pb, "Identity"))


def test_onnx_bytes_fuzzed(tmp_path: Path) -> None:
    """Edited bytes of a PyTorch ONNX export through the reader and the lowering (our own wire walk
    of ModelProto/GraphProto included): only ConversionErrors, never a crash or a hang."""
    from tfjs_lite.readers.onnx import read_onnx

    _fuzz_file_bytes(FIXTURES / "onnx" / "models" / "small_cnn" / "model.onnx", tmp_path / "model.onnx",
                     "fuzz: ONNX model bytes (hypothesis)", read_onnx)
