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


@pytest.mark.parametrize("case", SAVED_MODEL_CASES)
def test_reads_every_fixture_graph(case):
    saved_model = SavedModel.FromString((FIXTURES / case / "saved_model" / "saved_model.pb").read_bytes())
    mg = saved_model.meta_graphs[0]
    graph = read_graph_def(mg.graph_def, op_defs=mg.meta_info_def.stripped_op_list.op)
    graph.check()
    assert len(graph) == len(mg.graph_def.node)
