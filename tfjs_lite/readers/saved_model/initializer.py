"""The initializer graph that creates and fills a signature's captured TrackableResources
(hash tables)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tfjs_lite.errors import UnsupportedModelError
from tfjs_lite.ir.attrs import DType
from tfjs_lite.ir.graph import Graph, TensorRef, TensorType
from tfjs_lite.readers.graph_def import read_graph_def
from tfjs_lite.readers.saved_model.captures import _resolve_captures
from tfjs_lite.readers.saved_model.inline import _splice, prune


def _build_initializer(path: Path, mg: Any, top: Graph, op_defs: list[Any],
                       resources: list[tuple[str, int]]) -> tuple[Graph | None, dict[str, int]]:
    """The graph that creates and fills every captured TrackableResource (hash tables)."""
    if not resources:
        return None, {}
    objects = mg.object_graph_def.nodes
    functions = mg.object_graph_def.concrete_functions
    init = Graph()
    outputs: dict[str, int] = {}
    for number, (_, node_id) in enumerate(resources):
        children = {c.local_name: c.node_id for c in objects[node_id].children}
        create_fn = _concrete_of(objects, children.get("_create_resource"))
        init_fn = _concrete_of(objects, children.get("_initialize"))
        if create_fn is None:
            raise UnsupportedModelError(f"{path}: resource object {node_id} has no _create_resource function")
        names = [create_fn] + ([init_fn] if init_fn else [])
        lib = read_graph_def(mg.graph_def, op_defs=op_defs, functions=names, include_nodes=False,
                             registry=top.meta["op_registry"])
        prefix = "" if number == 0 else f"resource_{number}/"
        handle = _splice(init, lib.functions[create_fn], prefix, [], lib.functions)[0]
        anchor = handle
        if init_fn:
            bound = list(functions[init_fn].bound_inputs)
            body = lib.functions[init_fn]
            assert body.signature is not None  # every library function is read with its signature
            n_user = len(body.signature.input_args) - len(bound)
            if n_user != 0:
                raise UnsupportedModelError(f"{path}: initializer {init_fn} takes non-captured inputs")
            args: list[TensorRef] = []
            captures = _resolve_captures(path, mg, top, [b for b in bound if b != node_id]) \
                if any(b != node_id for b in bound) else []
            it = iter(captures)
            for arg, b in zip(body.signature.input_args, bound):
                if b == node_id:
                    args.append(handle)
                    continue
                cap = next(it)
                if cap.kind == "resource" or cap.value is None:
                    raise UnsupportedModelError(f"{path}: initializer {init_fn} captures another resource")
                const = init.add_const(cap.value, name=init.unique_name(prefix + arg.name))
                args.append(const)
            init_prefix = prefix + "init/"
            _splice(init, body, init_prefix, args, lib.functions)
            anchor = handle
            import_ops = [n for n in init.nodes() if n.startswith(init_prefix) and init.op(n) in
                          ("LookupTableImportV2", "LookupTableImport", "InitializeTableV2", "InitializeTable")]
            out = init.add_op("Identity", [handle], {"T": DType("DT_RESOURCE")},
                              name=init.unique_name(prefix + "Identity"), control_inputs=import_ops,
                              out_types=[TensorType(DType("DT_RESOURCE"), ())])
            anchor = TensorRef(out, 0)
        init.outputs[str(anchor)] = anchor
        outputs[f"{anchor.node}:{anchor.port}"] = node_id
    prune(init)
    init.meta["versions"] = {"producer": mg.graph_def.versions.producer, "min_consumer": 0}
    return init, outputs


def _concrete_of(objects: Any, node_id: int | None) -> str | None:
    if node_id is None:
        return None
    obj = objects[node_id]
    if obj.WhichOneof("kind") == "function" and obj.function.concrete_functions:
        return str(obj.function.concrete_functions[0])
    if obj.WhichOneof("kind") == "bare_concrete_function":
        return str(obj.bare_concrete_function.concrete_function_name)
    return None
