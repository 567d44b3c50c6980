"""``GraphDef`` + ``FunctionDefLibrary`` protos -> :class:`tfjs_lite.ir.Graph`.

The top-level nodes become the graph's nodes; every library function becomes a sub-``Graph`` in
``graph.functions`` whose input args are ``_Arg`` nodes (named after the arg, attrs ``T`` and
``index``) and whose ``outputs`` map each output arg to the returned tensor.

Reference syntax (docs/formats.md §6.2): GraphDef inputs are ``node``, ``node:k`` and ``^node``;
FunctionDef body inputs are ``arg``, ``node:out_arg:i`` and ``^node``. The second form names an
*output arg* of the producing op, so resolving it to a flat port needs the op's output-arg list:
``MatMul:product:0`` is port 0, ``FusedBatchNormV3:batch_mean:0`` is port 1, ``Split:output:2`` is
port 2. :class:`OpRegistry` answers that from, in order, the OpDefs a SavedModel ships in
``stripped_op_list``, the library's own function signatures (a body node whose op is a function),
and a table of every TF op's output args and attr defaults (``tfjs_lite/data/op_defs.json``,
dumped from TF's op registry), for ops the model ships no OpDef for.
The same registry maps ports back to ``out_arg:i`` when a writer emits a FunctionDef again, so
readers store it in ``graph.meta["op_registry"]``.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import networkx as nx

from tfjs_lite.errors import ModelFormatError
from tfjs_lite.ir.attrs import DType, attr_from_proto, shape_from_proto
from tfjs_lite.ir.graph import (
    ArgDef,
    FunctionSignature,
    Graph,
    TensorRef,
    TensorType,
    describe_cycle,
    one_cycle,
)
from tfjs_lite.ir.names import parse_input
from tfjs_lite.limits import PROTOBUF_LIMIT  # protobuf cannot parse (nor TF write) 2 GiB or more
from tfjs_lite.safe_io import read_bytes

__all__ = ["ArgSpec", "OpRegistry", "OpSpec", "PROTOBUF_LIMIT", "check_proto_size",
           "read_function_def", "read_graph_def"]



def check_proto_size(path: Any, hint: str) -> None:
    """Refuse a protobuf file too large to be one message before reading any of it.

    Raises:
        ModelFormatError: ``path`` is at least :data:`PROTOBUF_LIMIT` bytes; ``hint`` ends the message.
    """
    try:
        size = path.stat().st_size
    except OSError:
        return  # reading it reports the problem
    if size >= PROTOBUF_LIMIT:
        raise ModelFormatError(f"{path}: {size} bytes, larger than protobuf's 2 GiB limit; {hint}")


@dataclass(frozen=True)
class ArgSpec:
    """One input or output arg of an op: how many tensors it stands for and of which type."""

    name: str
    dtype: DType | None = None  # a fixed type
    type_attr: str = ""
    number_attr: str = ""
    type_list_attr: str = ""

    def expand(self, attrs: dict[str, Any]) -> list[DType | None] | None:
        """The dtypes of the tensors this arg stands for on a node with ``attrs``; None if unknown."""
        if self.type_list_attr:
            types = attrs.get(self.type_list_attr)
            return None if not isinstance(types, list) else [DType(t) for t in types]
        single = self.dtype
        if single is None and self.type_attr:
            found = attrs.get(self.type_attr)
            single = DType(found) if isinstance(found, str) else None
        if self.number_attr:
            count = attrs.get(self.number_attr)
            return None if not isinstance(count, int) else [single] * count
        return [single]


@dataclass(frozen=True)
class OpSpec:
    """What the reader needs of an OpDef: arg lists and attr defaults."""

    name: str
    inputs: tuple[ArgSpec, ...] = ()
    outputs: tuple[ArgSpec, ...] = ()
    defaults: dict[str, Any] = field(default_factory=dict)
    is_function: bool = False


_OP_DEFS_RESOURCE = "op_defs.json"


@functools.lru_cache(maxsize=1)
def _known_ops() -> dict[str, Any]:
    # Output args and attr defaults of every TF op, dumped from TF's registry by
    # scripts/gen_op_outputs.py: SavedModels list OpDefs only for top-level ops, and frozen
    # GraphDefs none at all.
    text = resources.files("tfjs_lite").joinpath("data").joinpath(_OP_DEFS_RESOURCE).read_text("utf-8")
    ops: dict[str, Any] = json.loads(text)["ops"]
    return ops


def _spec_from_known(op: str) -> OpSpec | None:
    entry = _known_ops().get(op)
    if entry is None:
        return None
    from google.protobuf import json_format

    from tfjs_lite._proto.attr_value_pb2 import AttrValue

    outputs = tuple(
        ArgSpec(name, attr_from_proto_type(typ) if typ else None, type_attr, number_attr, type_list_attr)
        for name, typ, type_attr, number_attr, type_list_attr in entry["o"])
    defaults = {k: attr_from_proto(json_format.ParseDict(v, AttrValue())) for k, v in entry.get("d", {}).items()}
    return OpSpec(op, (), outputs, defaults)


class OpRegistry:
    """Op name -> :class:`OpSpec`, from shipped OpDefs, library functions and a built-in table."""

    def __init__(self, op_defs: Iterable[Any] = (), functions: Iterable[Any] = ()) -> None:
        self._specs: dict[str, OpSpec] = {}
        for op_def in op_defs:
            self._specs[op_def.name] = _spec_from_op_def(op_def)
        for fdef in functions:
            self.add_function(fdef.signature)

    def add_function(self, signature: Any) -> None:
        """Register a library function (its ``signature`` OpDef) as an op callable by name."""
        spec = _spec_from_op_def(signature, "function")
        self._specs[signature.name] = OpSpec(spec.name, spec.inputs, spec.outputs, {}, True)

    def add_spec(self, spec: OpSpec) -> None:
        """Register (or replace) one op spec."""
        self._specs[spec.name] = spec

    def spec(self, op: str) -> OpSpec | None:
        """The spec of ``op``, or None when nothing describes it."""
        found = self._specs.get(op)
        if found is None:
            found = _spec_from_known(op)
            if found is not None:
                self._specs[op] = found
        return found

    def output_layout(self, op: str, attrs: dict[str, Any]) -> list[tuple[str, list[DType | None]]] | None:
        """``[(out_arg name, [dtype per tensor]), ...]`` for a node, or None when unknown."""
        spec = self.spec(op)
        if spec is None:
            return None
        layout = []
        for arg in spec.outputs:
            types = arg.expand(attrs)
            if types is None:
                return None
            layout.append((arg.name, types))
        return layout

    def flat_port(self, op: str, attrs: dict[str, Any], out_arg: str, index: int) -> int | None:
        """Flat output index of ``out_arg:index`` on a node, or None when the op is unknown."""
        layout = self.output_layout(op, attrs)
        if layout is None:
            return None
        offset = 0
        for name, types in layout:
            if name == out_arg:
                return offset + index if index < len(types) else None
            offset += len(types)
        return None

    def out_arg_of(self, op: str, attrs: dict[str, Any], port: int) -> tuple[str, int] | None:
        """Inverse of :meth:`flat_port`: ``(out_arg, index)`` of flat output ``port``."""
        layout = self.output_layout(op, attrs)
        if layout is None:
            return None
        offset = 0
        for name, types in layout:
            if port < offset + len(types):
                return name, port - offset
            offset += len(types)
        return None

    def defaults(self, op: str) -> dict[str, Any]:
        """Default attr values of ``op`` (empty when unknown)."""
        spec = self.spec(op)
        return {} if spec is None else spec.defaults


def _arg_spec(arg: Any) -> ArgSpec:
    dtype = attr_from_proto_type(arg.type) if arg.type else None
    return ArgSpec(arg.name, dtype, arg.type_attr, arg.number_attr, arg.type_list_attr)


@functools.lru_cache(maxsize=None)
def attr_from_proto_type(number: int) -> DType:
    """A ``DataType`` enum number as a :class:`DType` name."""
    from tfjs_lite._proto.attr_value_pb2 import AttrValue

    value = attr_from_proto(AttrValue(type=number))  # type: ignore[arg-type]  # an enum number is a DataType
    assert isinstance(value, DType)
    return value


def _spec_from_op_def(op_def: Any, what: str = "OpDef") -> OpSpec:
    try:
        defaults = {a.name: attr_from_proto(a.default_value) for a in op_def.attr if a.HasField("default_value")}
        return OpSpec(
            op_def.name,
            tuple(_arg_spec(a) for a in op_def.input_arg),
            tuple(_arg_spec(a) for a in op_def.output_arg),
            defaults,
        )
    except ModelFormatError as e:
        raise ModelFormatError(f"{what} {op_def.name!r}: {e}") from None


# ----------------------------------------------------------------------------------- nodes


def _node_attrs(node: Any, registry: OpRegistry, add_defaults: bool) -> dict[str, Any]:
    attrs = {}
    for key, value in sorted(node.attr.items()):
        try:
            attrs[key] = attr_from_proto(value)
        except ModelFormatError as e:
            raise ModelFormatError(f"node {node.name!r} ({node.op}): attr {key!r}: {e}") from None
    if add_defaults:
        for key, value in registry.defaults(node.op).items():
            attrs.setdefault(key, value)
    return attrs


def _out_types(op: str, attrs: dict[str, Any], registry: OpRegistry) -> list[TensorType] | None:
    layout = registry.output_layout(op, attrs)
    if layout is None:
        return None
    dtypes = [t for _, types in layout for t in types]
    shapes = attrs.get("_output_shapes")
    if not isinstance(shapes, list) or len(shapes) != len(dtypes):
        shapes = [None] * len(dtypes)
    if op in ("Placeholder", "PlaceholderWithDefault") and "shape" in attrs and len(dtypes) == 1:
        shapes = [attrs["shape"]]
    return [TensorType(DType(d) if d else DType("DT_INVALID"), s) for d, s in zip(dtypes, shapes)]


def _add_nodes(graph: Graph, nodes: Sequence[Any], registry: OpRegistry, add_defaults: bool,
               context: str = "") -> None:
    """Create every node without edges (GraphDefs need not be topologically sorted)."""
    for node in nodes:
        if node.name in graph:
            raise ModelFormatError(f"{context}duplicate node name {node.name!r}")
        try:
            attrs = _node_attrs(node, registry, add_defaults)
        except ModelFormatError as e:
            raise ModelFormatError(f"{context}{e}") from None
        value = None
        if node.op == "Const":
            value = attrs.pop("value", None)
            if value is None:
                raise ModelFormatError(f"Const node {node.name!r} has no value")
        graph.add_op(node.op, (), attrs, name=node.name, device=node.device,
                     out_types=_out_types(node.op, attrs, registry))
        if value is not None:
            dtype = attrs.get("dtype")
            graph.set_value(node.name, value)
            if isinstance(dtype, DType):  # keep e.g. DT_BFLOAT16 (decoded to float32) as declared
                graph.set_attr(node.name, "dtype", dtype)


def _resolve(graph: Graph, text: str, registry: OpRegistry, where: str) -> tuple[TensorRef | None, str | None]:
    """Parse one input string of a node; returns (data ref, None) or (None, control source)."""
    try:
        parsed = parse_input(text)
    except ValueError:
        raise ModelFormatError(f"{where}: malformed input {text!r}") from None
    if parsed.node not in graph:
        raise ModelFormatError(f"{where}: input {text!r} names a node that does not exist")
    if parsed.control:
        return None, parsed.node
    op = graph.op(parsed.node)
    port: int | None = parsed.port
    if parsed.out_arg is not None:
        port = registry.flat_port(op, graph.attrs(parsed.node), parsed.out_arg, parsed.port)
    if port is None:
        raise ModelFormatError(
            f"{where}: cannot resolve {text!r}: output arg {parsed.out_arg!r} of op {op!r} is unknown "
            "(the model ships no OpDef for it)")
    types = graph.out_types(parsed.node)
    if port < 0 or (types is not None and port >= len(types)):
        # TF.js would read an output that does not exist: the model loads, then fails or hangs.
        raise ModelFormatError(f"{where}: input {text!r} reads output {port} of {parsed.node!r} ({op}), "
                               f"which has {len(types) if types is not None else 'no such'} outputs")
    return TensorRef(parsed.node, port), None


def _connect_nodes(graph: Graph, nodes: Sequence[Any], registry: OpRegistry, context: str) -> None:
    for node in nodes:
        refs, controls = [], []
        for text in node.input:
            ref, control = _resolve(graph, text, registry, f"{context}node {node.name!r}")
            if control is not None:
                controls.append(control)
            elif ref is not None:
                if controls:
                    raise ModelFormatError(f"{context}node {node.name!r}: data input after a control input")
                refs.append(ref)
        graph.set_inputs(node.name, refs)
        for control in controls:
            graph.add_control_input(node.name, control)
    cycle = graph.find_cycle()
    if cycle is not None:  # TF1 loops close through NextIteration, whose in-edges are back edges
        raise ModelFormatError(f"{context}{describe_cycle(cycle)}; a graph may loop only through NextIteration")


# ----------------------------------------------------------------------------------- entry points


def read_function_def(fdef: Any, registry: OpRegistry, *, add_defaults: bool = True) -> Graph:
    """One ``FunctionDef`` -> a body ``Graph`` with ``_Arg`` nodes and named outputs.

    Args:
        fdef: The ``tensorflow.FunctionDef`` proto.
        registry: Op specs for resolving ``node:out_arg:i`` references.
        add_defaults: Fill attrs the writer stripped because they equal the OpDef default.

    Returns:
        The body graph; ``graph.signature`` describes args, attrs and control outputs.
    """
    sig = fdef.signature
    context = f"function {sig.name!r}: "
    for args, kind in ((sig.input_arg, "input"), (sig.output_arg, "output")):
        seen: set[str] = set()
        for arg in args:
            if arg.name in seen:
                raise ModelFormatError(f"{context}duplicate {kind} arg name {arg.name!r}")
            seen.add(arg.name)
    try:
        arg_attrs = {int(i): {k: attr_from_proto(v) for k, v in sorted(a.attr.items())}
                     for i, a in fdef.arg_attr.items()}
        signature = FunctionSignature(
            name=sig.name,
            input_args=[_arg_def(a) for a in sig.input_arg],
            output_args=[_arg_def(a) for a in sig.output_arg],
            attrs={k: attr_from_proto(v) for k, v in sorted(fdef.attr.items())},
            arg_attrs=arg_attrs,
            control_outputs=dict(sorted(fdef.control_ret.items())),
        )
    except ModelFormatError as e:
        raise ModelFormatError(f"{context}signature: {e}") from None
    body = Graph(signature=signature)
    for index, arg in enumerate(sig.input_arg):
        dtype = attr_from_proto_type(arg.type) if arg.type else None
        shapes = arg_attrs.get(index, {}).get("_output_shapes")
        shape = shapes[0] if isinstance(shapes, list) and shapes else None
        attrs: dict[str, Any] = {"index": index}
        if dtype is not None:
            attrs["T"] = dtype
        out = [TensorType(dtype, shape)] if dtype is not None else None
        body.add_op("_Arg", (), attrs, name=arg.name, out_types=out)
        body.inputs[arg.name] = TensorRef(arg.name, 0)
    _add_nodes(body, fdef.node_def, registry, add_defaults, context)
    _connect_nodes(body, fdef.node_def, registry, context)
    for key, node in sorted(fdef.control_ret.items()):
        if node not in body:
            raise ModelFormatError(f"{context}control output {key!r} names node {node!r}, which does not exist")
    for arg in sig.output_arg:
        if arg.name not in fdef.ret:
            raise ModelFormatError(f"{context}output {arg.name!r} has no ret entry")
        ref, _ = _resolve(body, fdef.ret[arg.name], registry, f"{context}ret {arg.name!r}")
        if ref is None:
            raise ModelFormatError(f"{context}ret {arg.name!r} is a control reference")
        body.outputs[arg.name] = ref
    body.meta["op_registry"] = registry
    return body


def _arg_def(arg: Any) -> ArgDef:
    extra = {k: getattr(arg, k) for k in ("type_attr", "number_attr", "type_list_attr", "is_ref")
             if getattr(arg, k)}
    if arg.handle_data:
        extra["handle_data"] = [(attr_from_proto_type(h.dtype), shape_from_proto(h.shape))
                                for h in arg.handle_data]
    return ArgDef(arg.name, attr_from_proto_type(arg.type) if arg.type else None, extra)


def _call_graph(by_name: dict[str, Any], roots: Iterable[str], *, strict: bool) -> dict[str, list[str]]:
    """Function name -> the functions its body names, for every function reachable from ``roots``.

    ``strict`` refuses (ModelFormatError) a func attr naming a function the library lacks.
    """
    calls: dict[str, list[str]] = {}
    stack = list(roots)
    while stack:
        name = stack.pop()
        if name in calls:
            continue
        calls[name] = _called_functions(by_name[name].node_def, by_name,
                                        f"function {name!r}: " if strict else None)
        stack.extend(n for n in calls[name] if n not in calls)
    return calls


def _called_functions(nodes: Iterable[Any], by_name: dict[str, Any], strict: str | None = None) -> list[str]:
    """Library functions the nodes call or name; with ``strict`` (a message prefix), a name the
    library lacks is refused instead of skipped."""
    found = []
    for node in nodes:
        if node.op in by_name:
            found.append(node.op)
        for key, value in sorted(node.attr.items()):
            for fname in _funcs_in_attr(value):
                if fname in by_name:
                    found.append(fname)
                elif strict is not None:
                    raise ModelFormatError(
                        f"{strict}node {node.name!r} ({node.op}) attr {key!r} names function {fname!r}, "
                        "which is not in the function library")
    return found


def _check_recursion(calls: dict[str, list[str]]) -> None:
    """Refuse functions that call themselves, directly or through others (inlining would not end)."""
    graph = nx.DiGraph()
    graph.add_nodes_from(sorted(calls))
    graph.add_edges_from((name, callee) for name in sorted(calls) for callee in calls[name])
    if nx.is_directed_acyclic_graph(graph):
        return
    cycle = one_cycle(graph)
    if len(cycle) == 1:
        raise ModelFormatError(f"function {cycle[0]!r} calls itself; recursive functions are not supported")
    path = " -> ".join(repr(n) for n in [*cycle[:6], cycle[0] if len(cycle) <= 6 else "..."])
    raise ModelFormatError(f"functions call each other recursively ({path}); recursive functions are "
                           "not supported")


def _funcs_in_attr(value: Any) -> list[str]:
    kind = value.WhichOneof("value")
    if kind == "func":
        return [value.func.name] + [n for v in value.func.attr.values() for n in _funcs_in_attr(v)]
    if kind == "list":
        return [f.name for f in value.list.func]
    return []


def read_graph_def(
    graph_def: Any,
    *,
    op_defs: Iterable[Any] = (),
    add_defaults: bool = True,
    functions: Iterable[str] | None = None,
    include_nodes: bool = True,
    registry: OpRegistry | None = None,
) -> Graph:
    """A ``GraphDef`` -> ``Graph`` with the library functions it uses as sub-graphs.

    Args:
        graph_def: The ``tensorflow.GraphDef`` proto.
        op_defs: OpDefs to resolve output args and defaults (a MetaGraph's ``stripped_op_list.op``).
        add_defaults: Fill attrs omitted because they equal the OpDef default.
        functions: Read these library functions and those they call; default: every function
            reachable from the top-level nodes (unused ones, e.g. GPU-only variants, are skipped).
        include_nodes: False reads only the library (the top level stays empty).
        registry: The ``op_registry`` of an earlier read of the same ``graph_def`` and
            ``op_defs``, reused instead of describing every library function again.

    Returns:
        The graph; ``meta`` holds ``versions`` and the ``op_registry``.

    Raises:
        ModelFormatError: On dangling or malformed references, duplicate names, cycles (outside
            NextIteration back edges), unknown dtype numbers, func attrs naming functions the
            library lacks, and recursive functions.
    """
    library = list(graph_def.library.function)
    if registry is None:
        registry = OpRegistry(op_defs, library)
    graph = Graph()
    if include_nodes:
        _add_nodes(graph, graph_def.node, registry, add_defaults)
        _connect_nodes(graph, graph_def.node, registry, "")
    by_name: dict[str, Any] = {}
    for fdef in library:
        earlier = by_name.setdefault(fdef.signature.name, fdef)
        if earlier is not fdef and earlier != fdef:  # TF accepts a repeated identical definition
            raise ModelFormatError(f"the function library defines {fdef.signature.name!r} twice, differently")
    # Every function a node names (call ops' ``f``, If/While/Case branches and bodies, ...) must
    # exist, and none may reach itself again: inlining a recursive function would never end.
    called = _called_functions(graph_def.node, by_name, "") if include_nodes else []
    roots = list(functions) if functions is not None else called
    for name in roots:
        if name not in by_name:
            raise ModelFormatError(f"function {name!r} is not in the graph's function library")
    calls = _call_graph(by_name, roots, strict=True)
    _check_recursion(calls)
    for name in sorted(calls):
        graph.functions[name] = read_function_def(by_name[name], registry, add_defaults=add_defaults)
    versions = graph_def.versions
    graph.meta["versions"] = {"producer": versions.producer, "min_consumer": versions.min_consumer,
                              "bad_consumers": list(versions.bad_consumers)}
    graph.meta["op_registry"] = registry
    return graph


# Ops that end a frozen graph without being one of its outputs.
_NOT_OUTPUTS = frozenset({"NoOp", "Const", "Placeholder", "PlaceholderV2", "Assert", "SaveV2", "RestoreV2",
                          "VarHandleOp", "VariableV2", "AssignVariableOp", "MergeV2Checkpoints"})


def frozen_graph_outputs(path: Path) -> list[str]:
    """The likely outputs of the frozen GraphDef file at ``path``: nodes nothing consumes.

    Used by ``inspect`` and to suggest ``--output_node_names`` when they are missing.

    Raises:
        ModelFormatError: The file is not a readable binary GraphDef.
    """
    from google.protobuf.message import DecodeError

    from tfjs_lite._proto.graph_pb2 import GraphDef

    check_proto_size(path, "not a GraphDef TF could have written")
    data = read_bytes(path, limit=PROTOBUF_LIMIT - 1, what="frozen graph")
    graph_def = GraphDef()
    try:
        graph_def.ParseFromString(data)
    except DecodeError as e:
        raise ModelFormatError(f"not a binary GraphDef ({e})", path=path) from None
    consumed = {i.lstrip("^").split(":")[0] for n in graph_def.node for i in n.input}
    return [n.name for n in graph_def.node if n.name not in consumed and n.op not in _NOT_OUTPUTS]
