"""Read an ``.onnx`` file: parse the ModelProto, resolve opsets, inline model-local functions and
put the nodes in a checked topological order.

The result, :class:`OnnxGraph`, is plain Python (nodes as :class:`OnnxNode`, constants as numpy)
so the lowering never touches protobuf. Initializers are decoded one at a time while the file is read
(:mod:`.wire`), which keeps the peak memory near one copy of the weights.
"""

from __future__ import annotations

import heapq
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from tfjs_lite.errors import ModelFormatError, UnsupportedModelError
from tfjs_lite.limits import INLINE_GROWTH, MAX_INLINED_NODES
from tfjs_lite.readers.graph_def import check_proto_size
from tfjs_lite.readers.onnx.tensors import tensor_to_numpy
from tfjs_lite.readers.onnx.wire import read_model
from tfjs_lite.safe_io import open_binary

__all__ = ["OPSET_RANGE", "OnnxGraph", "OnnxNode", "ValueInfo", "load_onnx"]

# Default-domain opsets the lowering is written for (older ones changed op signatures).
OPSET_RANGE = (11, 21)
_DEFAULT_DOMAINS = ("", "ai.onnx")
_MAX_FUNCTION_DEPTH = 32
_MAX_NODES = 2_000_000


@dataclass
class ValueInfo:
    """Declared type of a value: TF-agnostic ONNX element type and shape (None dims = unknown or
    symbolic; ``shape`` None = unknown rank)."""

    elem_type: int
    shape: tuple[int | None, ...] | None


@dataclass
class OnnxNode:
    op_type: str
    name: str
    inputs: list[str]
    outputs: list[str]
    attrs: dict[str, Any]
    domain: str = ""


@dataclass
class OnnxSubgraph:
    """A branch of an ``If``: its nodes (in topological order), its own initializers and the names
    of its outputs. It may read any value of the enclosing graph by name."""

    nodes: list[OnnxNode]
    initializers: dict[str, np.ndarray]
    outputs: list[str]

    def outer_reads(self) -> list[str]:
        """Names read from the enclosing scope (nested branches included), in first-use order."""
        inner = set(self.initializers) | {o for n in self.nodes for o in n.outputs}
        reads: dict[str, None] = {}
        for n in self.nodes:
            names = list(n.inputs) + [v for b in branches(n) for v in b.outer_reads()]
            for v in names:
                if v and v not in inner:
                    reads.setdefault(v, None)
        return list(reads)


def branches(node: OnnxNode) -> list[OnnxSubgraph]:
    """The subgraphs an ``If`` node carries (none for other nodes)."""
    return [v for v in node.attrs.values() if isinstance(v, OnnxSubgraph)]


@dataclass
class OnnxGraph:
    nodes: list[OnnxNode]
    initializers: dict[str, np.ndarray]
    inputs: list[tuple[str, ValueInfo]]
    outputs: list[tuple[str, ValueInfo]]
    value_info: dict[str, ValueInfo]
    opset: int
    meta: dict[str, Any] = field(default_factory=dict)


def _text(value: Any, what: str) -> str:
    """A string field as ``str``. proto2 hands back ``bytes`` for a string field that is not
    UTF-8; ONNX names must be text, so such a file is refused."""
    if isinstance(value, bytes):
        raise ModelFormatError(f"{what} is not UTF-8 text ({value[:40]!r})")
    return str(value)


def _texts(values: Any, what: str) -> list[str]:
    return [_text(v, what) for v in values]


def _value_info(proto: Any) -> ValueInfo:
    kind = proto.type.WhichOneof("value")
    if kind is None:  # no type given: known only after lowering
        return ValueInfo(0, None)
    if kind != "tensor_type":
        raise UnsupportedModelError(f"value {proto.name!r}: only tensor values are supported, not {kind}")
    tensor = proto.type.tensor_type
    shape = None
    if tensor.HasField("shape"):
        shape = tuple(int(d.dim_value) if d.WhichOneof("value") == "dim_value" and d.dim_value >= 0 else None
                      for d in tensor.shape.dim)
    return ValueInfo(int(tensor.elem_type), shape)


def _attr_value(attr: Any, model_dir: Path, where: str) -> Any:
    kind = attr.type
    if kind == 1:
        return float(attr.f)
    if kind == 2:
        return int(attr.i)
    if kind == 3:
        return bytes(attr.s).decode("utf-8", "replace")
    if kind == 4:
        return tensor_to_numpy(attr.t, model_dir, f"{where} attribute {attr.name!r}")
    if kind == 6:
        return [float(v) for v in attr.floats]
    if kind == 7:
        return [int(v) for v in attr.ints]
    if kind == 8:
        return [bytes(v).decode("utf-8", "replace") for v in attr.strings]
    if kind == 5 and where.endswith("(If)"):
        return _subgraph(attr.g, model_dir, f"{where} {attr.name}")
    if kind in (5, 10):
        raise UnsupportedModelError(f"{where}: graph attribute {attr.name!r} (control flow: Loop/Scan) "
                                    "is not supported")
    raise UnsupportedModelError(f"{where}: attribute {attr.name!r} of type {kind} is not supported")


def _add_branch_reads(nodes: list[OnnxNode]) -> None:
    """An If's branches may read values of the enclosing graph: list them as the If's extra inputs,
    so the topological order puts it after their producers and weights stay alive until it."""
    for node in nodes:
        node.inputs += [v for b in branches(node) for v in b.outer_reads() if v not in node.inputs]


def _subgraph(proto: Any, model_dir: Path, where: str) -> OnnxSubgraph:
    if len(proto.node) > _MAX_NODES:
        raise ModelFormatError(f"{where}: {len(proto.node)} nodes, more than {_MAX_NODES}")
    nodes = [_node(p, model_dir) for p in proto.node]
    initializers = {_text(t.name, f"{where}: an initializer name"): tensor_to_numpy(t, model_dir, where)
                    for t in proto.initializer}
    _add_branch_reads(nodes)
    produced = {o for n in nodes for o in n.outputs}
    outer = {v for n in nodes for v in n.inputs if v not in produced} | set(initializers)
    return OnnxSubgraph(_topological(nodes, outer), initializers,
                        [_text(v.name, f"{where}: an output name") for v in proto.output])


def _node(proto: Any, model_dir: Path) -> OnnxNode:
    name, op_type = _text(proto.name, "a node name"), _text(proto.op_type, "an op type")
    where = f"node {name or op_type!r} ({op_type})"
    attrs = {}
    for a in proto.attribute:
        key = _text(a.name, f"{where}: an attribute name")
        ref = _text(a.ref_attr_name, f"{where}: an attribute reference")
        attrs[key] = ("ref", ref) if ref else _attr_value(a, model_dir, where)
    domain = _text(proto.domain, f"{where}: the domain")
    domain = "" if domain in _DEFAULT_DOMAINS else domain
    return OnnxNode(op_type, name, _texts(proto.input, f"{where}: an input name"),
                    _texts(proto.output, f"{where}: an output name"), attrs, domain)


def _parse(path: Path, initializers: dict[str, np.ndarray]) -> Any:
    """The ModelProto of ``path``; its initializers are decoded into ``initializers`` one by one
    while reading (:mod:`tfjs_lite.readers.onnx.wire`), never all held as protobuf at once."""
    from tfjs_lite._proto.onnx_pb2 import TensorProto

    check_proto_size(path, "an ONNX model this large must keep its weights in external data files")

    def add(serialized: bytes, read_raw: Any) -> None:
        tensor = TensorProto()
        try:
            tensor.ParseFromString(serialized)
        except Exception as e:  # protobuf's DecodeError
            raise ModelFormatError(f"{path}: not an ONNX model (an initializer does not parse: {e})") from None
        name = _text(tensor.name, f"{path}: an initializer name")
        if name in initializers:
            raise ModelFormatError(f"{path}: two initializers are named {name!r}")
        initializers[name] = tensor_to_numpy(tensor, path.parent, f"initializer {name!r}", raw_data=read_raw)

    try:
        with open_binary(path, what="ONNX model") as f:
            model = read_model(f, os.fstat(f.fileno()).st_size, add)
    except OSError as e:
        raise ModelFormatError(f"{path}: cannot read ({e.strerror})") from None
    except ModelFormatError as e:
        if str(path) not in str(e):
            raise ModelFormatError(f"{path}: {e}") from None
        raise
    if not model.HasField("graph") or model.ir_version < 3:
        raise ModelFormatError(f"{path}: not an ONNX model (no graph or IR version {model.ir_version} < 3)")
    return model


class _Inliner:
    """Expands calls of model-local functions (recursively, with a depth limit)."""

    def __init__(self, functions: dict[tuple[str, str], Any], model_dir: Path, stored_nodes: int) -> None:
        self.functions = functions
        self.model_dir = model_dir
        self.counter = 0
        # Functions that each call the next twice double at every level: count the nodes copied
        # out of bodies and stop at the same budget as SavedModel function inlining.
        self.copied = 0
        self.limit = max(MAX_INLINED_NODES, INLINE_GROWTH * stored_nodes)

    def expand(self, node: OnnxNode, stack: tuple[str, ...] = ()) -> list[OnnxNode]:
        fn = self.functions.get((node.domain, node.op_type))
        if fn is None:
            return [node]
        key = f"{node.domain}:{node.op_type}"
        if key in stack:
            raise ModelFormatError(f"function {key!r} calls itself ({' -> '.join(stack + (key,))})")
        if len(stack) >= _MAX_FUNCTION_DEPTH:
            raise ModelFormatError(f"functions nested deeper than {_MAX_FUNCTION_DEPTH} at {key!r}")
        self.counter += 1
        prefix = f"{node.name or node.op_type}__{self.counter}/"
        rename = dict(zip(_texts(fn.input, f"function {key!r}: an input"), node.inputs))
        rename.update(zip(_texts(fn.output, f"function {key!r}: an output"), node.outputs))
        defaults = {a.name: _attr_value(a, self.model_dir, key) for a in fn.attribute_proto}
        out = []
        for proto in fn.node:
            self.copied += 1
            if self.copied > self.limit:
                raise UnsupportedModelError(
                    f"inlining the model's local functions would make more than {self.limit} nodes; "
                    "functions calling each other repeatedly explode when inlined")
            inner = _node(proto, self.model_dir)
            inner.name = prefix + (inner.name or inner.op_type)
            inner.inputs = [rename.get(v, prefix + v) if v else "" for v in inner.inputs]
            inner.outputs = [rename.get(v, prefix + v) if v else "" for v in inner.outputs]
            for k, v in list(inner.attrs.items()):
                if isinstance(v, tuple) and v[0] == "ref":
                    if v[1] in node.attrs:
                        inner.attrs[k] = node.attrs[v[1]]
                    elif v[1] in defaults:
                        inner.attrs[k] = defaults[v[1]]
                    else:
                        del inner.attrs[k]
            out.extend(self.expand(inner, stack + (key,)))
        return out


def _topological(nodes: list[OnnxNode], known: set[str]) -> list[OnnxNode]:
    """Kahn's algorithm keeping the file order among ready nodes; refuses cycles, unknown inputs
    and values defined twice."""
    producer: dict[str, int] = {}
    for i, n in enumerate(nodes):
        for out in n.outputs:
            if out and (out in producer or out in known):
                raise ModelFormatError(f"value {out!r} is defined twice (node {n.name or n.op_type!r})")
            if out:
                producer[out] = i
    waiting = [0] * len(nodes)
    users: list[list[int]] = [[] for _ in nodes]
    for i, n in enumerate(nodes):
        for v in n.inputs:
            if not v or v in known:
                continue
            if v not in producer:
                raise ModelFormatError(f"node {n.name or n.op_type!r} reads {v!r}, which nothing defines")
            waiting[i] += 1
            users[producer[v]].append(i)
    ready = [i for i, w in enumerate(waiting) if w == 0]
    heapq.heapify(ready)
    order = []
    while ready:
        i = heapq.heappop(ready)
        order.append(nodes[i])
        for j in users[i]:
            waiting[j] -= 1
            if waiting[j] == 0:
                heapq.heappush(ready, j)
    if len(order) != len(nodes):
        stuck = next(n for i, n in enumerate(nodes) if waiting[i] > 0)
        raise ModelFormatError(f"the graph has a cycle through node {stuck.name or stuck.op_type!r}")
    return order


def load_onnx(path: Path) -> OnnxGraph:
    """Parse ``path`` and return its main graph, functions inlined, nodes in topological order."""
    path = Path(path)
    initializers: dict[str, np.ndarray] = {}
    model = _parse(path, initializers)
    model_dir = path.parent
    domains = [_text(o.domain, f"{path}: an opset domain") for o in model.opset_import]
    opsets = {("" if d in _DEFAULT_DOMAINS else d): int(o.version) for d, o in zip(domains, model.opset_import)}
    opset = opsets.get("", 0)
    if not OPSET_RANGE[0] <= opset <= OPSET_RANGE[1]:
        raise UnsupportedModelError(f"{path}: default-domain opset {opset} is outside the supported "
                                    f"{OPSET_RANGE[0]}-{OPSET_RANGE[1]}; re-export with opset_version in that range")
    graph = model.graph
    if len(graph.node) > _MAX_NODES:
        raise ModelFormatError(f"{path}: {len(graph.node)} nodes, more than {_MAX_NODES}")
    if len(graph.sparse_initializer):
        raise UnsupportedModelError(f"{path}: sparse initializers are not supported")
    functions = {("" if _text(f.domain, "a function domain") in _DEFAULT_DOMAINS else f.domain,
                  _text(f.name, "a function name")): f for f in model.functions}
    inliner = _Inliner(functions, model_dir, len(graph.node) + sum(len(f.node) for f in model.functions))
    nodes: list[OnnxNode] = []
    for proto in graph.node:
        nodes.extend(inliner.expand(_node(proto, model_dir)))
    inputs = [(_text(v.name, "an input name"), _value_info(v)) for v in graph.input if v.name not in initializers]
    outputs = [(_text(v.name, "an output name"), _value_info(v)) for v in graph.output]
    value_info = {}
    for v in graph.value_info:
        try:
            value_info[_text(v.name, "a value_info name")] = _value_info(v)
        except UnsupportedModelError:
            continue
    _add_branch_reads(nodes)
    known = set(initializers) | {name for name, _ in inputs}
    ordered = _topological(nodes, known)
    defined = known | {o for n in ordered for o in n.outputs}
    if not outputs:
        raise ModelFormatError(f"{path}: the graph has no outputs")
    for kind, values in (("input", [v.name for v in graph.input]), ("output", [name for name, _ in outputs])):
        twice = sorted(name for name, n in Counter(values).items() if n > 1)  # linear: lists may be long
        if twice:
            raise ModelFormatError(f"{path}: graph {kind} {twice[0]!r} is listed twice")
    for name, _ in outputs:
        if name not in defined:
            raise ModelFormatError(f"{path}: graph output {name!r} is not computed by any node")
    meta = {"producer": f"{_text(model.producer_name, 'the producer')} "
                        f"{_text(model.producer_version, 'the producer version')}".strip(),
            "ir_version": model.ir_version, "opsets": opsets,
            "metadata_props": {_text(p.key, "a metadata key"): _text(p.value, "a metadata value")
                               for p in model.metadata_props}}
    return OnnxGraph(ordered, initializers, inputs, outputs, value_info, opset, meta)
