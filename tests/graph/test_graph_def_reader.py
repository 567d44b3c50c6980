"""GraphDef/FunctionDef -> ir.Graph (readers/graph_def.py) and AttrValue <-> Python (ir/attrs.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tfjs_lite._proto.attr_value_pb2 import AttrValue
from tfjs_lite._proto.graph_pb2 import GraphDef
from tfjs_lite._proto.saved_model_pb2 import SavedModel
from tfjs_lite.errors import ModelFormatError
from tfjs_lite.ir import DType, FuncRef, TensorRef
from tfjs_lite.ir.attrs import AttrPlaceholder, attr_from_proto, attr_to_proto
from tfjs_lite.readers.graph_def import OpRegistry, read_graph_def

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "graph"
SAVED_MODEL_CASES = sorted(p.parent.parent.name for p in FIXTURES.glob("*/saved_model/saved_model.pb"))


def _type(name: str) -> int:
    from tfjs_lite._proto.types_pb2 import DataType

    return int(DataType.Value(name))


# ----------------------------------------------------------------------------- attrs


@pytest.mark.parametrize(
    "value",
    [
        7,
        -3,
        0.25,
        True,
        False,
        "SAME",
        b"\xff\xfe",
        DType("DT_FLOAT"),
        (None, 8, 3),
        (),
        None,
        [1, 2, 3],
        [0.5, 1.5],
        [True, False],
        ["BiasAdd", "Relu"],
        [DType("DT_FLOAT"), DType("DT_INT32")],
        [(1, 2), None],
        [],
        FuncRef("body_fn", {"T": DType("DT_FLOAT")}),
        [FuncRef("a"), FuncRef("b")],
        AttrPlaceholder("T"),
    ],
    ids=repr,
)
def test_attr_round_trip(value):
    proto = attr_to_proto(value)
    back = attr_from_proto(AttrValue.FromString(proto.SerializeToString()))
    assert back == value
    assert type(back) is type(value)


def test_attr_tensor_round_trip():
    array = np.arange(6, dtype=np.int64).reshape(2, 3)
    back = attr_from_proto(attr_to_proto(array))
    np.testing.assert_array_equal(back, array)
    assert back.dtype == np.int64 and not back.flags.writeable


def test_float_attr_is_float32_precision():
    # AttrValue.f is a float32 field: 0.2 comes back as the float32 nearest to 0.2.
    assert attr_from_proto(attr_to_proto(0.2)) == float(np.float32(0.2))


# ----------------------------------------------------------------------------- GraphDef syntax


def _node(graph_def, name, op, inputs=(), **attrs):
    node = graph_def.node.add(name=name, op=op)
    node.input.extend(inputs)
    for key, value in attrs.items():
        attr_to_proto(value, node.attr[key])
    return node


def _const(graph_def, name, array):
    from tfjs_lite.dtypes import numpy_to_tensor_proto

    node = graph_def.node.add(name=name, op="Const")
    node.attr["value"].tensor.CopyFrom(numpy_to_tensor_proto(array))
    attr_to_proto(DType("DT_FLOAT" if array.dtype == np.float32 else "DT_INT32"), node.attr["dtype"])
    return node


def test_graph_def_inputs_ports_and_controls():
    gd = GraphDef()
    # Out of topological order on purpose: GraphDefs need not be sorted.
    _node(gd, "out", "AddV2", ["split:2", "split", "^c"], T=DType("DT_FLOAT"))
    _node(gd, "split", "Split", ["axis", "x"], T=DType("DT_FLOAT"), num_split=3)
    _node(gd, "x", "Placeholder", dtype=DType("DT_FLOAT"), shape=(6,))
    _const(gd, "axis", np.array(0, np.int32))
    _const(gd, "c", np.ones(2, np.float32))
    graph = read_graph_def(gd)
    graph.check()
    assert graph.inputs_of("out") == [TensorRef("split", 2), TensorRef("split", 0)]
    assert graph.control_inputs_of("out") == ["c"]
    assert len(graph.out_types("split")) == 3
    np.testing.assert_array_equal(graph.value("c"), np.ones(2, np.float32))
    assert "value" not in graph.attrs("c") and graph.attrs("c")["dtype"] == "DT_FLOAT"


def test_default_attrs_are_restored():
    gd = GraphDef()
    _node(gd, "a", "Placeholder", dtype=DType("DT_FLOAT"), shape=(2, 2))
    _node(gd, "m", "MatMul", ["a", "a"], T=DType("DT_FLOAT"))
    attrs = read_graph_def(gd).attrs("m")
    assert attrs["transpose_a"] is False and attrs["transpose_b"] is False
    assert read_graph_def(gd, add_defaults=False).attrs("m") == {"T": "DT_FLOAT"}


def test_dangling_input_is_a_format_error():
    gd = GraphDef()
    _node(gd, "m", "Identity", ["nowhere"], T=DType("DT_FLOAT"))
    with pytest.raises(ModelFormatError, match="nowhere"):
        read_graph_def(gd)


def _function_graph_def():
    gd = GraphDef()
    fdef = gd.library.function.add()
    fdef.signature.name = "body"
    fdef.signature.input_arg.add(name="x", type=_type("DT_FLOAT"))
    fdef.signature.output_arg.add(name="y", type=_type("DT_FLOAT"))
    fdef.signature.output_arg.add(name="mean", type=_type("DT_FLOAT"))
    fdef.signature.output_arg.add(name="third", type=_type("DT_FLOAT"))
    from tfjs_lite.dtypes import numpy_to_tensor_proto

    fdef.node_def.add(name="axis", op="Const")
    fdef.node_def[0].attr["value"].tensor.CopyFrom(numpy_to_tensor_proto(np.array(0, np.int32)))
    attr_to_proto(DType("DT_INT32"), fdef.node_def[0].attr["dtype"])
    split = fdef.node_def.add(name="split", op="Split")
    split.input.extend(["axis:output:0", "x"])
    attr_to_proto(DType("DT_FLOAT"), split.attr["T"])
    attr_to_proto(3, split.attr["num_split"])
    bn = fdef.node_def.add(name="bn", op="FusedBatchNormV3")
    bn.input.extend(["x", "x", "x", "x", "x"])
    for key in ("T", "U"):
        attr_to_proto(DType("DT_FLOAT"), bn.attr[key])
    fdef.ret["y"] = "split:output:2"
    fdef.ret["mean"] = "bn:batch_mean:0"
    fdef.ret["third"] = "x"
    call = gd.node.add(name="call", op="PartitionedCall")
    call.input.append("p")
    attr_to_proto(FuncRef("body"), call.attr["f"])
    attr_to_proto([DType("DT_FLOAT")], call.attr["Tin"])
    attr_to_proto([DType("DT_FLOAT")] * 3, call.attr["Tout"])
    _node(gd, "p", "Placeholder", dtype=DType("DT_FLOAT"), shape=(6,))
    return gd


def test_function_body_out_arg_references():
    graph = read_graph_def(_function_graph_def())
    graph.check()
    body = graph.functions["body"]
    assert body.op("x") == "_Arg" and body.attrs("x") == {"index": 0, "T": "DT_FLOAT"}
    assert body.inputs_of("split") == [TensorRef("axis", 0), TensorRef("x", 0)]
    # split:output:2 -> port 2; bn:batch_mean:0 -> port 1 (after y); a bare arg name -> the _Arg.
    assert body.outputs == {"y": TensorRef("split", 2), "mean": TensorRef("bn", 1), "third": TensorRef("x", 0)}
    assert [a.name for a in body.signature.output_args] == ["y", "mean", "third"]


def test_registry_round_trips_ports():
    registry = OpRegistry()
    attrs = {"T": DType("DT_FLOAT"), "U": DType("DT_FLOAT")}
    for port in range(6):
        out_arg, index = registry.out_arg_of("FusedBatchNormV3", attrs, port)
        assert registry.flat_port("FusedBatchNormV3", attrs, out_arg, index) == port
    assert registry.out_arg_of("Unpack", {"num": 4, "T": DType("DT_FLOAT")}, 3) == ("output", 3)


def test_unknown_out_arg_is_a_format_error():
    gd = _function_graph_def()
    gd.library.function[0].ret["y"] = "split:nonsense:0"
    with pytest.raises(ModelFormatError, match="nonsense"):
        read_graph_def(gd)


def test_unused_functions_are_not_read():
    gd = _function_graph_def()
    broken = gd.library.function.add()
    broken.signature.name = "unused"
    broken.node_def.add(name="n", op="NoSuchOp").input.append("missing:zzz:0")
    graph = read_graph_def(gd)
    assert sorted(graph.functions) == ["body"]


def test_cycles_are_format_errors_naming_a_node():
    gd = GraphDef()
    _node(gd, "x", "Placeholder", dtype=DType("DT_FLOAT"), shape=(2,))
    _node(gd, "a", "Relu", ["b"], T=DType("DT_FLOAT"))
    _node(gd, "b", "Relu", ["a"], T=DType("DT_FLOAT"))
    with pytest.raises(ModelFormatError, match=r"node '[ab]' is on a cycle \((a -> b -> a|b -> a -> b)\)"):
        read_graph_def(gd)
    loop = GraphDef()
    _node(loop, "s", "Identity", ["s"], T=DType("DT_FLOAT"))
    with pytest.raises(ModelFormatError, match="node 's' is on a cycle"):
        read_graph_def(loop)
    body = _function_graph_def()
    body.library.function[0].node_def[1].input[1] = "split:output:0"  # split reads itself
    with pytest.raises(ModelFormatError, match="function 'body': node 'split' is on a cycle"):
        read_graph_def(body)


def test_tf1_loop_back_edges_are_not_cycles():
    gd = GraphDef()
    _node(gd, "x", "Placeholder", dtype=DType("DT_FLOAT"), shape=(2,))
    _node(gd, "enter", "Enter", ["x"], T=DType("DT_FLOAT"), frame_name="f")
    _node(gd, "merge", "Merge", ["enter", "next"], T=DType("DT_FLOAT"), N=2)
    _node(gd, "body", "Relu", ["merge"], T=DType("DT_FLOAT"))
    _node(gd, "next", "NextIteration", ["body"], T=DType("DT_FLOAT"))
    graph = read_graph_def(gd)
    assert graph.back_edges() == {"next": [TensorRef("body")]}


def test_missing_and_recursive_functions_are_format_errors():
    gd = _function_graph_def()
    gd.node[0].attr["f"].func.name = "nowhere"
    with pytest.raises(ModelFormatError, match="node 'call' .*'nowhere', which is not in the function library"):
        read_graph_def(gd)
    with pytest.raises(ModelFormatError, match="function 'ghost' is not in"):
        read_graph_def(_function_graph_def(), functions=["ghost"], include_nodes=False)
    gd = _function_graph_def()
    inner = gd.library.function[0].node_def.add(name="again", op="PartitionedCall", input=["x"])
    attr_to_proto(FuncRef("body"), inner.attr["f"])
    with pytest.raises(ModelFormatError, match="function 'body' calls itself"):
        read_graph_def(gd)
    gd = _function_graph_def()
    other = gd.library.function.add()
    other.CopyFrom(gd.library.function[0])
    other.signature.name = "other"
    for fdef, callee in ((gd.library.function[0], "other"), (other, "body")):
        attr_to_proto(FuncRef(callee), fdef.node_def.add(name="again", op="PartitionedCall", input=["x"]).attr["f"])
    with pytest.raises(ModelFormatError, match="recursively .*'body' -> 'other' -> 'body'"):
        read_graph_def(gd)


def test_unknown_dtype_numbers_are_format_errors():
    with pytest.raises(ModelFormatError, match="DataType enum value 9999"):
        attr_from_proto(AttrValue(type=9999))
    gd = GraphDef()
    gd.node.add(name="x", op="Placeholder").attr["dtype"].type = 9999
    with pytest.raises(ModelFormatError, match="node 'x' .*attr 'dtype'.*9999"):
        read_graph_def(gd)


def test_protobuf_files_over_2_gib_are_refused_unread(tmp_path):
    from tfjs_lite.readers.saved_model import load_frozen_graph, read_saved_model_proto

    pb = tmp_path / "huge.pb"
    with open(pb, "wb") as f:
        f.truncate(2**31)  # sparse: nothing is written
    with pytest.raises(ModelFormatError, match="larger than protobuf's 2 GiB limit"):
        load_frozen_graph(pb, "out")
    folder = tmp_path / "saved"
    folder.mkdir()
    pb.rename(folder / "saved_model.pb")
    with pytest.raises(ModelFormatError, match="2 GiB limit; variables belong in the variables/ checkpoint"):
        read_saved_model_proto(folder)


@pytest.mark.parametrize("case", SAVED_MODEL_CASES)
def test_reads_every_fixture_graph(case):
    saved_model = SavedModel.FromString((FIXTURES / case / "saved_model" / "saved_model.pb").read_bytes())
    mg = saved_model.meta_graphs[0]
    graph = read_graph_def(mg.graph_def, op_defs=mg.meta_info_def.stripped_op_list.op)
    graph.check()
    assert len(graph) == len(mg.graph_def.node)
