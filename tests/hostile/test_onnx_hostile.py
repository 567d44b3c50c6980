"""Hostile ONNX files: truncated and fuzzed models, huge or negative dims, cycles, undefined
values, recursive functions, external data that escapes the model's folder or lies about its size,
unsupported ops and opsets, a > 2 GiB file. One error line, exit 2, nothing left behind."""

from __future__ import annotations

import os
import random
from pathlib import Path
from typing import Any, Callable

from corpus import FIXTURES, Case, byte_mutations, refused_by_size, run_and_judge, truncation_sizes

SOURCE = FIXTURES / "onnx" / "models" / "small_cnn" / "model.onnx"
CLASS = "ONNX model"
MUTATIONS = 15


def _model() -> Any:
    from tfjs_lite._proto.onnx_pb2 import ModelProto

    proto = ModelProto()
    proto.ParseFromString(SOURCE.read_bytes())
    return proto


def _first_weight(proto: Any) -> Any:
    return max(proto.graph.initializer, key=lambda t: len(t.raw_data))


def _huge_dims(proto: Any) -> None:
    tensor = _first_weight(proto)
    del tensor.dims[:]
    tensor.dims.extend([1 << 20, 1 << 20, 1 << 10])


def _negative_dims(proto: Any) -> None:
    _first_weight(proto).dims[0] = -3


def _payload_mismatch(proto: Any) -> None:
    _first_weight(proto).raw_data = b"\0" * 12


def _cycle(proto: Any) -> None:
    nodes = proto.graph.node
    nodes[0].input[0] = nodes[2].output[0]  # the first conv reads a value computed after it


def _undefined_input(proto: Any) -> None:
    proto.graph.node[1].input[0] = "nobody_defines_this"


def _defined_twice(proto: Any) -> None:
    proto.graph.node[2].output[0] = proto.graph.node[1].output[0]


def _function_call(names: list[str]) -> Callable[[Any], None]:
    """Model-local functions names[i] calling names[i+1] (the last the first), one called per node."""

    def edit(proto: Any) -> None:
        for i, name in enumerate(names):
            fn = proto.functions.add(name=name, domain="local", input=["x"], output=["y"])
            fn.opset_import.add(domain="", version=20)
            fn.opset_import.add(domain="local", version=1)
            fn.node.add(op_type=names[(i + 1) % len(names)], domain="local", input=["x"], output=["y"])
        proto.opset_import.add(domain="local", version=1)
        relu = next(n for n in proto.graph.node if n.op_type == "Relu")
        relu.op_type, relu.domain = names[0], "local"

    return edit


def _unsupported_ops(proto: Any) -> None:
    for n in proto.graph.node:
        if n.op_type == "Relu":
            n.op_type = "Hardmax"
        elif n.op_type == "LeakyRelu":
            n.op_type, n.domain = "FusedGemm", "com.microsoft"


def _old_opset(proto: Any) -> None:
    for o in proto.opset_import:
        if o.domain in ("", "ai.onnx"):
            o.version = 7


def _no_graph(proto: Any) -> None:
    proto.ClearField("graph")


def _constant_of_huge_shape(proto: Any) -> None:
    """A ConstantOfShape asking for 2**50 floats feeding an Add: refused or left to the runtime,
    never materialised."""
    shape = proto.graph.initializer.add(name="huge_shape", data_type=7, dims=[2])
    shape.raw_data = (1 << 25).to_bytes(8, "little") * 2
    node = proto.graph.node.add(op_type="ConstantOfShape", input=["huge_shape"], output=["huge"])
    attr = node.attribute.add(name="value", type=4)
    attr.t.data_type, attr.t.raw_data = 1, b"\0\0\x80\x3f"
    attr.t.dims.append(1)
    proto.graph.output[0].name = "huge"
    proto.graph.output[0].type.Clear()


PROTO_EDITS = {
    "initializer dims 2**50": _huge_dims,
    "negative initializer dim": _negative_dims,
    "raw_data shorter than the shape": _payload_mismatch,
    "node cycle": _cycle,
    "input nothing defines": _undefined_input,
    "value defined twice": _defined_twice,
    "self-recursive function": _function_call(["loop"]),
    "mutually recursive functions": _function_call(["ping", "pong"]),
    "unsupported ops": _unsupported_ops,
    "opset 7": _old_opset,
    "no graph": _no_graph,
}


def _write(proto: Any, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "model.onnx"
    path.write_bytes(proto.SerializeToString())
    return path


def test_onnx_structure_hostile(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    cases = []
    for i, (what, edit) in enumerate(PROTO_EDITS.items()):
        proto = _model()
        edit(proto)
        cases.append(Case(f"onnx {what}", CLASS, _write(proto, tmp_path / f"m{i}"), out / f"m{i}"))
    proto = _model()
    _constant_of_huge_shape(proto)
    cases.append(Case("onnx ConstantOfShape 2**50", CLASS, _write(proto, tmp_path / "cos"), out / "cos",
                      may_convert=True, converted="converted (the Fill runs in TF.js, not in the converter)"))
    # a node name that is not UTF-8 (proto2 parsers hand such string fields back as bytes)
    data = SOURCE.read_bytes()
    name = _model().graph.node[0].name.encode()
    bad = tmp_path / "bad_name"
    bad.mkdir()
    (bad / "model.onnx").write_bytes(data.replace(name, b"\xff" + name[1:]))
    cases.append(Case("onnx node name not UTF-8", CLASS, bad / "model.onnx", out / "bad_name"))
    garbage = tmp_path / "garbage.onnx"
    garbage.write_bytes(os.urandom(4096))
    cases.append(Case("onnx random bytes", CLASS, garbage, out / "garbage"))
    failures = run_and_judge(cases, tmp_path)
    assert not failures, "\n".join(failures)


def test_onnx_truncated_and_fuzzed(tmp_path: Path) -> None:
    data = SOURCE.read_bytes()
    rng = random.Random(14)
    out = tmp_path / "out"
    out.mkdir()
    cases = []
    for size in truncation_sizes(len(data)):
        path = tmp_path / f"t{size}" / "model.onnx"
        path.parent.mkdir()
        path.write_bytes(data[:size])
        cases.append(Case(f"onnx truncated to {size}", CLASS, path, out / f"t{size}", may_convert=size == len(data)))
    for i in range(MUTATIONS):
        path = tmp_path / f"f{i}" / "model.onnx"
        path.parent.mkdir()
        path.write_bytes(byte_mutations(data, rng))
        cases.append(Case(f"onnx fuzzed {i}", CLASS, path, out / f"f{i}", may_convert=True))
    failures = run_and_judge(cases, tmp_path)
    assert not failures, "\n".join(failures)


def _externalise(proto: Any, folder: Path, location: str, *, offset: int = 0, length: int | None = None,
                 write: bool = True) -> Path:
    """Move the biggest initializer to external data at ``location`` (relative to ``folder``)."""
    tensor = _first_weight(proto)
    data = tensor.raw_data
    if write:
        target = folder / location
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(b"\0" * offset + data)
    tensor.ClearField("raw_data")
    tensor.data_location = 1
    tensor.external_data.add(key="location", value=location)
    tensor.external_data.add(key="offset", value=str(offset))
    tensor.external_data.add(key="length", value=str(len(data) if length is None else length))
    return _write(proto, folder)


def test_onnx_external_data_hostile(tmp_path: Path) -> None:
    """External data outside the model's folder (.., absolute, symlinks), lying offsets and lengths,
    missing files. The secret file beside the model folder must never be read into the output."""
    secret = b"SECRET-" + os.urandom(64)
    out = tmp_path / "out"
    out.mkdir()
    outside = tmp_path / "outside.bin"
    outside.write_bytes(secret * 100)
    cases = []

    def add(what: str, build: Callable[[Path], Path], **kw: Any) -> None:
        folder = tmp_path / f"e{len(cases)}"
        folder.mkdir()
        cases.append(Case(f"onnx external data {what}", "ONNX external data", build(folder), out / folder.name,
                          secret=secret, **kw))

    add("../ escape", lambda f: _externalise(_model(), f, "../outside.bin", write=False))
    add("absolute path", lambda f: _externalise(_model(), f, str(outside), write=False))
    add("nested ../ escape", lambda f: _externalise(_model(), f, "sub/../../outside.bin", write=False))

    def symlinked(f: Path) -> Path:
        (f / "weights.bin").symlink_to(outside)
        return _externalise(_model(), f, "weights.bin", write=False)

    def symlinked_dir(f: Path) -> Path:
        (f / "sub").symlink_to(tmp_path)
        return _externalise(_model(), f, "sub/outside.bin", write=False)

    add("symlink to a file outside", symlinked)
    add("symlinked directory", symlinked_dir)
    add("missing file", lambda f: _externalise(_model(), f, "gone.bin", write=False))
    add("offset past the end", lambda f: _externalise(_model(), f, "w.bin", offset=0, length=None) and
        _externalise(_model(), f, "w.bin", offset=1 << 40, write=False))
    add("length past the end", lambda f: _externalise(_model(), f, "w.bin", length=1 << 30))
    add("length not matching the shape", lambda f: _externalise(_model(), f, "w.bin", length=8))
    add("directory as location", lambda f: (f / "dir").mkdir() or _externalise(_model(), f, "dir", write=False))
    add("a FIFO as location", lambda f: os.mkfifo(f / "w.bin") or _externalise(_model(), f, "w.bin", write=False))
    add("a symlink to /dev/zero", lambda f: (f / "w.bin").symlink_to("/dev/zero")
        or _externalise(_model(), f, "w.bin", write=False))
    failures = run_and_judge(cases, tmp_path)
    assert not failures, "\n".join(failures)


def test_onnx_over_2gib_refused_by_size(tmp_path: Path) -> None:
    """A sparse > 2 GiB .onnx: refused from its size without reading it."""
    failures = refused_by_size(tmp_path, SOURCE.read_bytes(), ".onnx", "onnx > 2 GiB",
                               "ONNX over protobuf's 2 GiB limit (sparse file)")
    assert not failures, "\n".join(failures)


def _shadowed_input(proto: Any) -> None:
    """An initializer named like the graph input (its default value) with a shape the first conv's
    weights contradict: constant folding meets the contradiction."""
    name = proto.graph.input[0].name
    proto.graph.initializer.add(name=name, data_type=1, dims=[1, 1, 2, 2], raw_data=b"\0" * 16)


def _reads_own_output(proto: Any) -> None:
    node = proto.graph.node[1]
    node.input[0] = node.output[0]


def _control_chars(proto: Any) -> None:
    proto.graph.node[1].op_type = "Bogus\nOp\x1b[31m"
    proto.graph.node[2].input[0] = "evil\nname\r\x07"


def _opset(version: int) -> Callable[[Any], None]:
    def edit(proto: Any) -> None:
        for o in proto.opset_import:
            if o.domain in ("", "ai.onnx"):
                o.version = version
    return edit


def _subgraph(op: str, attribute: str) -> Callable[[Any], None]:
    def edit(proto: Any) -> None:
        relu = next(n for n in proto.graph.node if n.op_type == "Relu")
        relu.op_type = op
        body = relu.attribute.add(name=attribute, type=5).g
        body.name = "body"
        body.node.add(op_type=op, input=list(relu.input), output=["inner"])  # calls itself again
        body.output.add(name="inner")
    return edit


def _doubling_functions(proto: Any, depth: int = 24) -> None:
    """f0 calls f1 twice, f1 calls f2 twice, ...: 2**24 nodes when inlined, from 48 stored."""
    for i in range(depth):
        fn = proto.functions.add(name=f"f{i}", domain="local", input=["x"], output=["y"])
        fn.opset_import.add(domain="", version=20)
        fn.opset_import.add(domain="local", version=1)
        if i + 1 < depth:
            fn.node.add(op_type=f"f{i + 1}", domain="local", input=["x"], output=["a"])
            fn.node.add(op_type=f"f{i + 1}", domain="local", input=["a"], output=["y"])
        else:
            fn.node.add(op_type="Relu", input=["x"], output=["y"])
    proto.opset_import.add(domain="local", version=1)
    relu = next(n for n in proto.graph.node if n.op_type == "Relu")
    relu.op_type, relu.domain = "f0", "local"


def _reshape_to_2_40(proto: Any) -> None:
    proto.graph.initializer.add(name="rs", data_type=7, dims=[2], raw_data=(1 << 40).to_bytes(8, "little") * 2)
    proto.graph.node.add(op_type="Reshape", input=[proto.graph.output[0].name, "rs"], output=["big"])
    proto.graph.output[0].name = "big"
    proto.graph.output[0].type.Clear()


def _conv_dilations_2_40(proto: Any) -> None:
    conv = next(n for n in proto.graph.node if n.op_type == "Conv")
    for attr in conv.attribute:
        if attr.name == "dilations":
            del attr.ints[:]
            attr.ints.extend([1 << 40, 1 << 40])


def _no_outputs(proto: Any) -> None:
    del proto.graph.output[:]


def _listed_twice(field: str) -> Callable[[Any], None]:
    def edit(proto: Any) -> None:
        values = getattr(proto.graph, field)
        values.add().CopyFrom(values[0])
    return edit


REDTEAM_EDITS = {
    "no graph outputs": _no_outputs,
    "graph input listed twice": _listed_twice("input"),
    "graph output listed twice": _listed_twice("output"),
    "functions each calling the next twice (2**24 nodes inlined)": _doubling_functions,
    "Reshape to 2**40 x 2**40": _reshape_to_2_40,
    "Conv dilations 2**40": _conv_dilations_2_40,
    "graph input shadowed by a contradicting initializer": _shadowed_input,
    "node reads its own output": _reads_own_output,
    "control characters in names": _control_chars,
    "opset 10**12": _opset(10**12),
    "opset -5": _opset(-5),
    "If subgraph": _subgraph("If", "then_branch"),
    "Loop subgraph nesting a Loop": _subgraph("Loop", "body"),
    "Scan subgraph": _subgraph("Scan", "body"),
}


def test_onnx_redteam_structure(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    cases = []
    for i, (what, edit) in enumerate(REDTEAM_EDITS.items()):
        proto = _model()
        edit(proto)
        cases.append(Case(f"onnx {what}", CLASS, _write(proto, tmp_path / f"r{i}"), out / f"r{i}",
                          forbid=("out of memory", "\x1b", "\x07")))
    failures = run_and_judge(cases, tmp_path)
    assert not failures, "\n".join(failures)


def _one_node(op: str, inits: tuple = (), attrs: tuple = (), extra_inputs: tuple = ()) -> Any:
    """A model computing ``y = op(x, *extra_inputs)`` on a [1, 3, 8, 8] float input; ``inits`` are
    (name, data_type, dims, raw_data), ``attrs`` (name, int or list of ints)."""
    from tfjs_lite._proto.onnx_pb2 import ModelProto

    proto = ModelProto(ir_version=8)
    proto.opset_import.add(domain="", version=17)
    graph = proto.graph
    x = graph.input.add(name="x")
    x.type.tensor_type.elem_type = 1
    for d in (1, 3, 8, 8):
        x.type.tensor_type.shape.dim.add(dim_value=d)
    for name, data_type, dims, raw in inits:
        graph.initializer.add(name=name, data_type=data_type, dims=dims, raw_data=raw)
    node = graph.node.add(op_type=op, input=["x", *extra_inputs], output=["y"], name="n")
    for name, value in attrs:
        attr = node.attribute.add(name=name)
        if isinstance(value, list):
            attr.type, attr.ints[:] = 7, value
        else:
            attr.type, attr.i = 2, value
    graph.output.add(name="y").type.tensor_type.elem_type = 1
    return proto


def _int64s(*values: int) -> bytes:
    return b"".join(v.to_bytes(8, "little", signed=True) for v in values)


BIG = 1 << 40
ATTRIBUTE_CASES = {
    # what: (model, may convert: the value is the TF.js runtime's to refuse, nothing allocated here)
    "Pad by 2**40": (_one_node("Pad", (("p", 7, [8], _int64s(0, 0, BIG, BIG, 0, 0, BIG, BIG)),), extra_inputs=("p",)), False),
    "MaxPool pads 2**40": (_one_node("MaxPool", attrs=(("kernel_shape", [2, 2]), ("pads", [BIG] * 4))), False),
    "SpaceToDepth blocksize 0": (_one_node("SpaceToDepth", attrs=(("blocksize", 0),)), False),
    "Transpose perm naming axis 9": (_one_node("Transpose", attrs=(("perm", [0, 9, BIG, -1]),)), False),
    "Expand to 2**40": (_one_node("Expand", (("s", 7, [4], _int64s(BIG, 3, 8, 8)),), extra_inputs=("s",)), False),
    "Resize sizes 2**40": (_one_node("Resize", (("s", 7, [4], _int64s(1, 3, BIG, BIG)),), extra_inputs=("", "", "s")), False),
    "TopK k 2**40": (_one_node("TopK", (("k", 7, [1], _int64s(BIG)),), extra_inputs=("k",)), False),
    "Slice axis 2**40": (_one_node("Slice", (("a", 7, [1], _int64s(-BIG)), ("b", 7, [1], _int64s(BIG)),
                                            ("c", 7, [1], _int64s(BIG))), extra_inputs=("a", "b", "c")), False),
    "Split into [2**40, -2**40]": (_one_node("Split", (("s", 7, [2], _int64s(BIG, -BIG)),), (("axis", 1),), ("s",)), False),
    "Tile by 2**40": (_one_node("Tile", (("r", 7, [4], _int64s(1, 1, BIG, BIG)),), extra_inputs=("r",)), False),
    "MaxPool kernel 2**40": (_one_node("MaxPool", attrs=(("kernel_shape", [BIG, BIG]),)), False),
}


def test_onnx_attributes_out_of_range(tmp_path: Path) -> None:
    """Attributes and constant inputs far out of range: one line from the lowering (never an
    internal error, never an allocation of their size)."""
    out = tmp_path / "out"
    out.mkdir()
    cases = []
    for i, (what, (proto, may_convert)) in enumerate(ATTRIBUTE_CASES.items()):
        cases.append(Case(f"onnx {what}", "ONNX attributes out of range", _write(proto, tmp_path / f"a{i}"),
                          out / f"a{i}", may_convert=may_convert,
                          converted="converted (left to the TF.js runtime, nothing allocated here)"))
    failures = run_and_judge(cases, tmp_path)
    assert not failures, "\n".join(failures)
