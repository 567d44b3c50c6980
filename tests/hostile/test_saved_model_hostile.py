"""SavedModels and frozen graphs: broken protos, dangling inputs, cycles, missing or recursive
functions, unknown dtypes, constant bombs, missing or corrupt variables, a > 2 GiB graph."""

from __future__ import annotations

import random
import shutil
from pathlib import Path
from typing import Any, Callable

from corpus import (
    FIXTURES,
    Case,
    account,
    byte_mutations,
    judge,
    pristine_check,
    refused_by_size,
    run_and_judge,
    run_cases,
    truncation_sizes,
)

SAVED = FIXTURES / "graph" / "cnn" / "saved_model"
FROZEN = FIXTURES / "graph" / "frozen" / "model.pb"
FROZEN_FLAGS = ["--input_format", "tf_frozen_model", "--output_node_names", "Identity"]
MUTATIONS = 15


def _copy_saved(dst: Path) -> Path:
    shutil.copytree(SAVED, dst)
    for p in [dst, *dst.rglob("*")]:
        p.chmod(0o755 if p.is_dir() else 0o644)
    return dst


def _saved_model() -> Any:
    from tfjs_lite._proto.saved_model_pb2 import SavedModel

    proto = SavedModel()
    proto.ParseFromString((SAVED / "saved_model.pb").read_bytes())
    return proto


def _frozen() -> Any:
    from tfjs_lite._proto.graph_pb2 import GraphDef

    proto = GraphDef()
    proto.ParseFromString(FROZEN.read_bytes())
    return proto


def _bodies(graph_def: Any) -> list[Any]:
    """Node lists to mutate: the top level and every library function body."""
    return [graph_def.node] + [f.node_def for f in graph_def.library.function]


def _dangling(graph_def: Any) -> None:
    for nodes in _bodies(graph_def):
        for node in nodes:
            if node.input and not node.input[0].startswith("^"):
                node.input[0] = "ghost_node:output:0" if ":" in node.input[0] and node.input[0].count(":") == 2 else "ghost_node"


def _self_cycle(graph_def: Any) -> None:
    for nodes in _bodies(graph_def):
        for node in nodes:
            if node.op == "Identity" and node.input:
                node.input[0] = f"{node.name}:output:0" if nodes is not graph_def.node else node.name


def _two_cycle(graph_def: Any) -> None:
    for nodes in _bodies(graph_def):
        names = {n.name: n for n in nodes}
        for node in nodes:
            if node.input and node.input[0].split(":")[0] in names and not node.input[0].startswith("^"):
                producer = names[node.input[0].split(":")[0]]
                if producer.input and not producer.input[0].startswith("^"):
                    top = nodes is graph_def.node
                    suffix = "" if top else ":output:0"
                    producer.input[0] = node.name + suffix
                    break


def _identity_cycle(graph_def: Any) -> None:
    """Identity n reads p, p now reads n: a two-node cycle whose references all resolve (the
    ``_two_cycle`` edit names ``out_arg`` ``output`` on any op, which function bodies refuse
    earlier for ops that have no such output arg)."""
    for nodes in _bodies(graph_def):
        top = nodes is graph_def.node
        names = {n.name: n for n in nodes}
        for node in nodes:
            if node.op != "Identity" or not node.input or node.input[0].startswith("^"):
                continue
            producer = names.get(node.input[0].split(":")[0])
            if producer is not None and producer.input and not producer.input[0].startswith("^"):
                producer.input[0] = node.name if top else f"{node.name}:output:0"
                break


def _recursive_calls(cycle: list[str]) -> Callable[[Any], None]:
    """New library functions ``cycle[i]`` calling ``cycle[i+1]`` (the last calls the first), with
    consistent arity and types, called by a PartitionedCall spliced in front of every Identity of
    every function body (of the top level when there are no functions, as in a frozen graph):
    inlining them would never end."""

    def edit(graph_def: Any) -> None:
        bodies = [f.node_def for f in graph_def.library.function] or [graph_def.node]
        for i, name in enumerate(cycle):
            fn = graph_def.library.function.add()
            fn.signature.name = name
            fn.signature.input_arg.add(name="x", type=1)
            fn.signature.output_arg.add(name="y", type=1)
            call = fn.node_def.add(name="call", op="PartitionedCall", input=["x"])
            call.attr["f"].func.name = cycle[(i + 1) % len(cycle)]
            call.attr["Tin"].list.type.append(1)
            call.attr["Tout"].list.type.append(1)
            fn.ret["y"] = "call:output:0"
        for nodes in bodies:
            top = nodes is graph_def.node
            targets = [n for n in nodes if n.op == "Identity" and n.input and not n.input[0].startswith("^")]
            for n, node in enumerate(targets):
                entry = nodes.add(name=f"recursive_entry_{n}", op="PartitionedCall", input=[node.input[0]])
                entry.attr["f"].func.name = cycle[0]
                entry.attr["Tin"].list.type.append(1)
                entry.attr["Tout"].list.type.append(1)
                node.input[0] = entry.name if top else f"{entry.name}:output:0"

    return edit


def _call_nodes(graph_def: Any) -> list[tuple[Any, Any]]:
    calls = []
    for fn in graph_def.library.function:
        for node in fn.node_def:
            if "f" in node.attr and node.attr["f"].func.name:
                calls.append((fn, node))
    for node in graph_def.node:
        if "f" in node.attr and node.attr["f"].func.name:
            calls.append((None, node))
    return calls


def _missing_function(graph_def: Any) -> None:
    for _, node in _call_nodes(graph_def):
        node.attr["f"].func.name = "__inference_missing_function_0"


def _drop_library(graph_def: Any) -> None:
    del graph_def.library.function[:]


def _self_recursive(graph_def: Any) -> None:
    for fn, node in _call_nodes(graph_def):
        if fn is not None:
            node.attr["f"].func.name = fn.signature.name


def _mutually_recursive(graph_def: Any) -> None:
    callers = [fn for fn, _ in _call_nodes(graph_def) if fn is not None]
    order = list(dict.fromkeys(fn.signature.name for fn in callers))
    nxt = {name: order[(i + 1) % len(order)] for i, name in enumerate(order)}
    for fn, node in _call_nodes(graph_def):
        if fn is not None:
            node.attr["f"].func.name = nxt[fn.signature.name]


def _unknown_dtype(graph_def: Any) -> None:
    for nodes in _bodies(graph_def):
        for node in nodes:
            for key in ("T", "dtype"):
                if key in node.attr and node.attr[key].WhichOneof("value") == "type":
                    node.attr[key].type = 9999


def _const_bomb(graph_def: Any) -> None:
    """Const nodes whose shape says 2**40 floats: TF broadcasts a single float_val to the whole shape."""
    for nodes in _bodies(graph_def):
        for node in nodes:
            if node.op == "Const" and "value" in node.attr:
                t = node.attr["value"].tensor
                t.tensor_content = b""
                t.dtype = 1
                del t.float_val[:]
                t.float_val.append(1.0)
                del t.tensor_shape.dim[:]
                for _ in range(2):
                    t.tensor_shape.dim.add().size = 1 << 20


def _content_mismatch(graph_def: Any) -> None:
    for nodes in _bodies(graph_def):
        for node in nodes:
            if node.op == "Const" and "value" in node.attr and node.attr["value"].tensor.tensor_content:
                t = node.attr["value"].tensor
                t.tensor_shape.dim.add().size = 1 << 30


def _negative_shape(graph_def: Any) -> None:
    for nodes in _bodies(graph_def):
        for node in nodes:
            if node.op == "Const" and "value" in node.attr:
                node.attr["value"].tensor.tensor_shape.dim.add().size = -7


GRAPH_EDITS: dict[str, tuple[str, Callable[[Any], None]]] = {
    "dangling node inputs": ("dangling node inputs", _dangling),
    "self loops": ("cycles", _self_cycle),
    "two-node cycles": ("cycles", _two_cycle),
    "calls of missing functions": ("missing / recursive functions", _missing_function),
    "empty function library": ("missing / recursive functions", _drop_library),
    "self-recursive functions": ("missing / recursive functions", _self_recursive),
    "mutually recursive functions": ("missing / recursive functions", _mutually_recursive),
    "Identity two-node cycles": ("cycles", _identity_cycle),
    "self-recursive function, consistent call": ("missing / recursive functions", _recursive_calls(["rec_self"])),
    "mutually recursive functions, consistent calls": ("missing / recursive functions",
                                                       _recursive_calls(["rec_a", "rec_b", "rec_c"])),
    "unknown dtype 9999": ("unknown dtypes", _unknown_dtype),
    "Const of 2**40 floats from one float_val": ("memory bombs: declared tensor size far beyond the file", _const_bomb),
    "Const shape larger than its content": ("memory bombs: declared tensor size far beyond the file", _content_mismatch),
    "Const with a negative dimension": ("unknown dtypes", _negative_shape),
}


def test_saved_model_broken_bytes(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    err = pristine_check(SAVED, out / "pristine", tmp_path)
    cases = []
    rng = random.Random("saved-model")
    files = {
        "saved_model.pb": "SavedModel: saved_model.pb",
        "variables/variables.index": "checkpoint: variables.index",
        "variables/variables.data-00000-of-00001": "checkpoint: variables.data",
    }
    for rel, cls in files.items():
        data = (SAVED / rel).read_bytes()
        tag = rel.split("/")[-1].split(".")[-1].split("-")[0]
        for size in truncation_sizes(len(data))[::2]:
            folder = _copy_saved(tmp_path / f"{tag}-t{size}")
            (folder / rel).write_bytes(data[:size])
            cases.append(Case(f"{tag}-t{size}", f"{cls} empty/truncated", folder, out / f"{tag}-t{size}"))
        for i in range(MUTATIONS):
            folder = _copy_saved(tmp_path / f"{tag}-m{i}")
            (folder / rel).write_bytes(byte_mutations(data, rng))
            cases.append(Case(f"{tag}-m{i}", f"{cls} byte mutations", folder, out / f"{tag}-m{i}", may_convert=True))
    for what, remove in {
        "no variables folder": "variables",
        "no variables.index": "variables/variables.index",
        "no data shard": "variables/variables.data-00000-of-00001",
    }.items():
        folder = _copy_saved(tmp_path / what.replace(" ", "_"))
        target = folder / remove
        shutil.rmtree(target) if target.is_dir() else target.unlink()
        cases.append(Case(what, "SavedModel: missing variables", folder, out / what.replace(" ", "_")))
    failures = run_and_judge(cases, tmp_path)
    problems = failures + ([f"pristine SavedModel does not convert: {err}"] if err else [])
    assert not problems, "\n".join(problems)


def test_graph_structure_hostile(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    err = pristine_check(FROZEN, out / "pristine", tmp_path, FROZEN_FLAGS)
    cases = []
    for i, (what, (cls, edit)) in enumerate(GRAPH_EDITS.items()):
        proto = _saved_model()
        edit(proto.meta_graphs[0].graph_def)
        folder = _copy_saved(tmp_path / f"g{i}")
        (folder / "saved_model.pb").write_bytes(proto.SerializeToString())
        cases.append(Case(f"saved_model {what}", f"graph: {cls}", folder, out / f"g{i}"))
        frozen = _frozen()
        edit(frozen)
        if frozen == _frozen():  # the frozen graph has nothing this edit changes (no functions)
            continue
        pb = tmp_path / f"f{i}.pb"
        pb.write_bytes(frozen.SerializeToString())
        # Functions nothing calls may be dropped or broken: the frozen fixture calls none (the
        # recursive-call edits add calls, which must be refused).
        unused = cls.startswith("missing") and not _call_nodes(frozen)
        cases.append(Case(f"frozen {what}", f"graph: {cls}", pb, out / f"f{i}", FROZEN_FLAGS, may_convert=unused))
    rng = random.Random("frozen")
    data = FROZEN.read_bytes()
    for size in truncation_sizes(len(data))[::2]:
        pb = tmp_path / f"ft{size}.pb"
        pb.write_bytes(data[:size])
        cases.append(Case(f"frozen-t{size}", "frozen graph: empty/truncated", pb, out / f"ft{size}", FROZEN_FLAGS))
    for i in range(MUTATIONS):
        pb = tmp_path / f"fm{i}.pb"
        pb.write_bytes(byte_mutations(data, rng))
        cases.append(Case(f"frozen-m{i}", "frozen graph: byte mutations", pb, out / f"fm{i}", FROZEN_FLAGS,
                          may_convert=True))
    results, _ = run_cases(cases, tmp_path, timeout=300)
    failures = []
    for case in cases:
        outcome, problems = judge(case, results[case.id])
        failures.extend(account(case, outcome, problems))
    problems = failures + ([f"pristine frozen graph does not convert: {err}"] if err else [])
    assert not problems, "\n".join(problems)


CONTROL_FLOW = FIXTURES / "graph" / "control_flow" / "saved_model"


def _control_flow_attrs(edit: Callable[[str, Any, Any], None]) -> Callable[[Any], None]:
    """Apply ``edit(function name, node, attr value)`` to every func attr of If/While nodes."""

    def apply(graph_def: Any) -> None:
        for fn in graph_def.library.function:
            for node in fn.node_def:
                if node.op in ("If", "StatelessIf", "While", "StatelessWhile"):
                    for value in node.attr.values():
                        if value.WhichOneof("value") == "func":
                            edit(fn.signature.name, node, value)

    return apply


def _missing_branch(owner: str, node: Any, value: Any) -> None:
    value.func.name += "_missing"


def _branch_is_caller(owner: str, node: Any, value: Any) -> None:
    value.func.name = owner  # the If/While's cond, body or branch is the function holding it


def test_control_flow_functions_hostile(tmp_path: Path) -> None:
    """If/While nodes naming bodies or branches missing from the library, or their own function."""
    from tfjs_lite._proto.saved_model_pb2 import SavedModel

    out = tmp_path / "out"
    out.mkdir()
    err = pristine_check(CONTROL_FLOW, out / "pristine", tmp_path)
    cases = []
    edits = {"If/While bodies and branches missing": _missing_branch,
             "If/While bodies and branches recursive": _branch_is_caller}
    for i, (what, edit) in enumerate(edits.items()):
        proto = SavedModel()
        proto.ParseFromString((CONTROL_FLOW / "saved_model.pb").read_bytes())
        _control_flow_attrs(edit)(proto.meta_graphs[0].graph_def)
        folder = tmp_path / f"cf{i}"
        shutil.copytree(CONTROL_FLOW, folder)
        (folder / "saved_model.pb").write_bytes(proto.SerializeToString())
        cases.append(Case(f"control_flow {what}", "graph: missing / recursive functions", folder, out / f"cf{i}"))
    failures = run_and_judge(cases, tmp_path)
    problems = failures + ([f"pristine control_flow SavedModel does not convert: {err}"] if err else [])
    assert not problems, "\n".join(problems)


TF1 = FIXTURES / "graph" / "tf1_control_flow" / "saved_model"


def _signature_tensors(field: str, name: Callable[[str], str]) -> Callable[[Any], None]:
    def edit(proto: Any) -> None:
        for sig in proto.meta_graphs[0].signature_def.values():
            for info in getattr(sig, field).values():
                info.name = name(info.name)

    return edit


def _functions(edit: Callable[[Any], None]) -> Callable[[Any], None]:
    def apply(proto: Any) -> None:
        for fn in list(proto.meta_graphs[0].graph_def.library.function):
            edit(fn)

    return apply


def _duplicate_input_args(fn: Any) -> None:
    if len(fn.signature.input_arg) > 1:
        fn.signature.input_arg[1].name = fn.signature.input_arg[0].name


def _ghost_control_ret(fn: Any) -> None:
    fn.control_ret["ghost"] = "ghost_node"


def _conflicting_definitions(proto: Any) -> None:
    library = proto.meta_graphs[0].graph_def.library.function
    for fn in list(library):
        twin = library.add()
        twin.CopyFrom(fn)
        twin.signature.description = "a different definition under the same name"


SIGNATURE_EDITS: dict[str, tuple[Path, Callable[[Any], None]]] = {
    "signature output port out of range": (SAVED, _signature_tensors("outputs", lambda n: n.split(":")[0] + ":99")),
    "signature output port not a number": (SAVED, _signature_tensors("outputs", lambda n: n.split(":")[0] + ":x")),
    "signature output port negative": (SAVED, _signature_tensors("outputs", lambda n: n.split(":")[0] + ":-1")),
    "TF1 signature output port out of range": (TF1, _signature_tensors("outputs", lambda n: n.split(":")[0] + ":7")),
    "TF1 signature input port out of range": (TF1, _signature_tensors("inputs", lambda n: n.split(":")[0] + ":7")),
    "signature output dtype 9999": (SAVED, lambda p: [i.__setattr__("dtype", 9999) for s in
                                                      p.meta_graphs[0].signature_def.values()
                                                      for i in s.outputs.values()]),
    "function input arg dtype 9999": (SAVED, _functions(lambda f: [a.__setattr__("type", 9999)
                                                                   for a in f.signature.input_arg])),
    "duplicate function input arg names": (SAVED, _functions(_duplicate_input_args)),
    "control_ret naming a missing node": (SAVED, _functions(_ghost_control_ret)),
    "two different functions under one name": (SAVED, _conflicting_definitions),
}


def test_saved_model_signature_and_library_hostile(tmp_path: Path) -> None:
    """Signatures naming tensors that do not exist; malformed function signatures and libraries."""
    from tfjs_lite._proto.saved_model_pb2 import SavedModel

    out = tmp_path / "out"
    out.mkdir()
    cases = []
    for i, (what, (source, edit)) in enumerate(SIGNATURE_EDITS.items()):
        proto = SavedModel()
        proto.ParseFromString((source / "saved_model.pb").read_bytes())
        edit(proto)
        folder = _copy_saved(tmp_path / f"s{i}") if source == SAVED else shutil.copytree(source, tmp_path / f"s{i}")
        (folder / "saved_model.pb").write_bytes(proto.SerializeToString())
        cases.append(Case(f"saved_model {what}", "SavedModel: signatures and function library", folder, out / f"s{i}"))
    pb = tmp_path / "port.pb"
    shutil.copyfile(FROZEN, pb)
    cases.append(Case("frozen output port out of range", "SavedModel: signatures and function library", pb,
                      out / "port", ["--input_format", "tf_frozen_model", "--output_node_names", "Identity:3"]))
    failures = run_and_judge(cases, tmp_path)
    assert not failures, "\n".join(failures)


def test_frozen_graph_over_2gib_refused_by_size(tmp_path: Path) -> None:
    """A sparse > 2 GiB .pb (no disk used): refused from its size, without reading it."""
    failures = refused_by_size(tmp_path, FROZEN.read_bytes(), ".pb", "frozen > 2 GiB",
                               "frozen graph over protobuf's 2 GiB limit (sparse file)", FROZEN_FLAGS)
    assert not failures, "\n".join(failures)
