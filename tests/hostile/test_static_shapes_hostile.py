"""Absurd-but-allocation-free shapes and window attributes, for every graph reader and for the Keras
layers path: converting costs nothing here, but the model written would ask TF.js for a tensor of
2**40 elements, a 2**40 pooling window, or a Reshape TF.js refuses at load. Each is refused with one
line naming the node (or layer) and op (BUGS.md B24); the same kinds of models at real sizes, with
dynamic dimensions, still convert."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path
from typing import Any, Callable

import numpy as np
from corpus import FIXTURES, Case, account, h5_edit, judge, pristine_check, run_cases
from test_keras_hostile import LAYER_OPTIONS, _layer_config
from test_onnx_hostile import _int64s, _one_node
from test_safety_classes_hostile import FROZEN_FLAGS, _const, _node

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tflite"))

from tflite_builder import TfliteBuilder  # noqa: E402

BIG = 1 << 40
M20 = 1 << 20
GRAPH = ["--output_format", "tfjs_graph_model"]


def _float32s(*shape: int) -> bytes:
    return np.zeros(shape, np.float32).tobytes()


def _scales(*values: float) -> bytes:
    return np.array(values, np.float32).tobytes()


ONNX_REFUSED = {
    # what: (model, text the error line must hold)
    "MaxPool kernel 2**40": (_one_node("MaxPool", attrs=(("kernel_shape", [BIG, BIG]),)), "kernel size"),
    "MaxPool kernel 2**20 (in int32)": (_one_node("MaxPool", attrs=(("kernel_shape", [M20, M20]),)), "kernel size"),
    "MaxPool VALID kernel 9 on 8 x 8": (_one_node("MaxPool", attrs=(("kernel_shape", [9, 9]),)), "does not fit"),
    "Tile by 2**40": (_one_node("Tile", (("r", 7, [4], _int64s(1, 1, BIG, BIG)),), extra_inputs=("r",)), "(Tile)"),
    "Tile by 2**16 x 2**16": (_one_node("Tile", (("r", 7, [4], _int64s(1, 1, 1 << 16, 1 << 16)),), extra_inputs=("r",)),
                              "(Tile): output 0 has the static shape"),
    "Reshape to 2**20 x 2**20": (_one_node("Reshape", (("s", 7, [2], _int64s(M20, M20)),), extra_inputs=("s",)),
                                 "holds 1099511627776 elements but the input"),
    "Reshape to 7 x 3": (_one_node("Reshape", (("s", 7, [2], _int64s(7, 3)),), extra_inputs=("s",)), "holds 21 elements"),
    "Pad by 2**20": (_one_node("Pad", (("p", 7, [8], _int64s(0, 0, M20, M20, 0, 0, M20, M20)),), extra_inputs=("p",)),
                     "(Pad"),
    "Resize sizes 2**20": (_one_node("Resize", (("s", 7, [4], _int64s(1, 3, M20, M20)),), extra_inputs=("", "", "s")),
                           "(Resize"),
    "Expand to 2**27 x 3 x 8 x 8": (_one_node("Expand", (("s", 7, [4], _int64s(1 << 27, 3, 8, 8)),), extra_inputs=("s",)),
                                    "elements"),
    "Conv strides 2**20": (_one_node("Conv", (("w", 1, [4, 3, 3, 3], _float32s(4, 3, 3, 3)),), (("strides", [M20, M20]),),
                                     ("w",)), "stride"),
    "DepthToSpace blocksize 2**20": (_one_node("DepthToSpace", attrs=(("blocksize", M20),)), "block size"),
    "Resize scales 2**20": (_one_node("Resize", (("sc", 1, [4], _scales(1, 1, M20, M20)),), extra_inputs=("", "sc")),
                            "8388608, 8388608"),  # the Resize lowering's table budget or the shape check
    "ConvTranspose strides 2**20": (_one_node("ConvTranspose", (("w", 1, [3, 4, 3, 3], _float32s(3, 4, 3, 3)),),
                                              (("strides", [M20, M20]),), ("w",)), "(Conv2DBackpropInput): stride"),
    "AveragePool kernel 2**20": (_one_node("AveragePool", attrs=(("kernel_shape", [M20, M20]),)), "(AvgPool): kernel size"),
}


def _dynamic_batch(proto: Any) -> Any:
    dim = proto.graph.input[0].type.tensor_type.shape.dim[0]
    dim.ClearField("dim_value")
    dim.dim_param = "N"
    return proto


ONNX_ACCEPTED = {
    "Tile by 4 of a dynamic batch": _dynamic_batch(_one_node("Tile", (("r", 7, [4], _int64s(4, 1, 1, 1)),),
                                                             extra_inputs=("r",))),
    "Resize to 2048 x 2048 of a dynamic batch": _dynamic_batch(_one_node("Resize", (("s", 7, [4], _int64s(1, 3, 2048, 2048)),),
                                                                         extra_inputs=("", "", "s"))),
    "Reshape of a dynamic batch to [-1, 192]": _dynamic_batch(_one_node("Reshape", (("s", 7, [2], _int64s(-1, 192)),),
                                                                        extra_inputs=("s",))),
    "global MaxPool 8 x 8": _one_node("MaxPool", attrs=(("kernel_shape", [8, 8]),)),
    "Resize by 256 to 2048 x 2048": _one_node("Resize", (("sc", 1, [4], _scales(1, 1, 256, 256)),), extra_inputs=("", "sc")),
}


def _tflite(build: Callable[[TfliteBuilder, int], int]) -> bytes:
    b = TfliteBuilder()
    x = b.tensor("x", [1, 8, 8, 3])
    y = build(b, x)
    return b.finish([x], [y])


def _tile(b: TfliteBuilder, x: int) -> int:
    y = b.tensor("y", [1, 8, 8, 3])
    b.op("TILE", [x, b.const("m", np.array([1, 1 << 15, 1 << 15, 1], np.int32))], [y])
    return y


def _reshape(b: TfliteBuilder, x: int) -> int:
    y = b.tensor("y", [7, 3])
    b.op("RESHAPE", [x, b.const("s", np.array([7, 3], np.int32))], [y], {"new_shape": [7, 3]})
    return y


def _pool(size: int) -> Callable[[TfliteBuilder, int], int]:
    def build(b: TfliteBuilder, x: int) -> int:
        y = b.tensor("y", [1, 8, 8, 3])
        b.op("MAX_POOL_2D", [x], [y], {"padding": 0, "stride_w": 1, "stride_h": 1, "filter_width": size,
                                        "filter_height": size})
        return y

    return build


TFLITE_REFUSED = {
    "TILE by 2**15 x 2**15": (_tflite(_tile), "(Tile)"),
    "RESHAPE of 192 elements to 7 x 3": (_tflite(_reshape), "holds 21 elements"),
    "MAX_POOL_2D filter 2**20": (_tflite(_pool(M20)), "kernel size"),
}

ZOO = FIXTURES / "keras" / "layers_zoo"
KERAS_REFUSED = {
    # what: (source folder, edit, text the error line must hold)
    "Reshape to the wrong size": (ZOO, _layer_config("Reshape", target_shape=[7, 3]), "holds 21 elements but the input"),
    "Reshape to 2**20 x 2**20": (ZOO, _layer_config("Reshape", target_shape=[M20, M20]), "elements but the input"),
    "UpSampling2D size 2**20": (LAYER_OPTIONS / "upsampling2d_nearest", _layer_config("UpSampling2D", size=[M20, M20]),
                                "'size' is [1048576, 1048576], over"),
    "MaxPooling2D pool 2**40": (LAYER_OPTIONS / "max_pooling2d_same", _layer_config("MaxPooling2D", pool_size=[BIG, BIG]),
                                "'pool_size'"),
    "MaxPooling2D VALID pool larger than the input": (LAYER_OPTIONS / "max_pooling2d_same",
                                                      _layer_config("MaxPooling2D", pool_size=[9, 9], padding="valid"),
                                                      "does not fit"),
    "Conv2D strides 2**20": (ZOO, _layer_config("Conv2D", strides=[M20, M20]), "'strides' is [1048576, 1048576], over"),
    "Cropping2D more than the input": (LAYER_OPTIONS / "cropping2d", _layer_config("Cropping2D", cropping=[[4, 4], [0, 0]]),
                                       "removes more"),
    "ZeroPadding2D by 2**20": (ZOO, _layer_config("ZeroPadding2D", padding=[[M20, M20], [M20, M20]]), "over the"),
    "input of 2**15 x 2**15 pixels": (LAYER_OPTIONS / "upsampling2d_nearest",
                                      _layer_config("InputLayer", batch_input_shape=[None, 1 << 15, 1 << 15, 3]), "over the"),
}


def _run(cases: list[Case], expected: dict[str, str], work: Path) -> list[str]:
    """Judge every case by the hostile-input contract, and check each is refused for its own reason."""
    results, _ = run_cases(cases, work)
    failures = []
    for case in cases:
        outcome, problems = judge(case, results[case.id])
        failures.extend(account(case, outcome, problems))
        stderr = results[case.id].get("stderr", "")
        if not problems and expected[case.id] not in stderr:
            failures.append(f"{case.id}: refused for another reason than {expected[case.id]!r}: {stderr.strip()[:300]}")
    return failures


def test_graph_readers_refuse_absurd_static_shapes(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    cases, expected = [], {}
    for i, (what, (proto, text)) in enumerate(ONNX_REFUSED.items()):
        path = tmp_path / f"o{i}.onnx"
        path.write_bytes(proto.SerializeToString())
        cases.append(Case(f"onnx {what}", "static shapes: ONNX", path, out / f"o{i}"))
        expected[cases[-1].id] = text
    for i, (what, (payload, text)) in enumerate(TFLITE_REFUSED.items()):
        path = tmp_path / f"t{i}.tflite"
        path.write_bytes(payload)
        cases.append(Case(f"tflite {what}", "static shapes: TFLite", path, out / f"t{i}"))
        expected[cases[-1].id] = text
    failures = _run(cases, expected, tmp_path)
    assert not failures, "\n".join(failures)


def test_keras_configs_that_cannot_run_are_refused_for_both_outputs(tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    out = tmp_path / "out"
    out.mkdir()
    cases, expected = [], {}
    for i, (what, (folder, edit, text)) in enumerate(KERAS_REFUSED.items()):
        path = h5_edit(folder / "model.h5", tmp_path / "in" / f"k{i}.h5", edit)
        for output, flags in (("layers", []), ("graph", GRAPH)):
            cases.append(Case(f"keras {output} {what}", f"static shapes: Keras -> {output} model", path,
                              out / f"k{i}{output}", flags=flags))
            expected[cases[-1].id] = text
    failures = _run(cases, expected, tmp_path)
    assert not failures, "\n".join(failures)


def test_real_sizes_and_dynamic_dims_still_convert(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    errors = []
    for i, (what, proto) in enumerate(ONNX_ACCEPTED.items()):
        path = tmp_path / f"ok{i}.onnx"
        path.write_bytes(proto.SerializeToString())
        err = pristine_check(path, out / f"ok{i}", tmp_path)
        errors += [f"onnx {what}: {err}"] if err else []
    for folder in (ZOO, LAYER_OPTIONS / "upsampling2d_nearest", LAYER_OPTIONS / "cropping2d"):
        for flags in ([], GRAPH):
            err = pristine_check(folder / "model.h5", out / f"{folder.name}{len(flags)}", tmp_path, flags)
            errors += [f"keras {folder.name} {flags}: {err}"] if err else []
    assert not errors, "\n".join(errors)


TFJS_LAYERS = FIXTURES / "reference" / "cnn" / "tensorflowjs_4.22" / "h5_to_layers"


def _layers_json_edit(class_name: str, **changes: object) -> Callable[[dict], None]:
    def edit(model: dict) -> None:
        layers = model["modelTopology"]["model_config"]["config"]["layers"]
        next(layer for layer in layers if layer["class_name"] == class_name)["config"].update(changes)

    return edit


TFJS_LAYERS_REFUSED = {
    "MaxPooling2D VALID pool 27 on 26 x 26": (_layers_json_edit("MaxPooling2D", pool_size=[27, 27]), "does not fit"),
    "input of 2**16 x 2**16 pixels": (_layers_json_edit("InputLayer", batch_input_shape=[None, 1 << 16, 1 << 16, 1]),
                                      "over the"),
}


def test_tfjs_layers_models_that_cannot_run_are_refused(tmp_path: Path) -> None:
    """A TF.js layers model.json is rewritten (layers -> layers, layers -> Keras) without lowering:
    the same Keras-config check runs."""
    out = tmp_path / "out"
    out.mkdir()
    cases, expected = [], {}
    for i, (what, (edit, text)) in enumerate(TFJS_LAYERS_REFUSED.items()):
        folder = tmp_path / f"m{i}"
        shutil.copytree(TFJS_LAYERS, folder)
        model = json.loads((folder / "model.json").read_text())
        edit(model)
        (folder / "model.json").write_text(json.dumps(model))
        for output, target in (("layers", ["--output_format", "tfjs_layers_model"]),
                               ("keras", ["--output_format", "keras"]), ("graph", GRAPH)):
            suffix = ".h5" if output == "keras" else ""
            cases.append(Case(f"tfjs layers -> {output} {what}", f"static shapes: TF.js layers -> {output} model",
                              folder / "model.json", out / f"m{i}{output}{suffix}", flags=target, names=("model.json",)))
            expected[cases[-1].id] = text
    failures = _run(cases, expected, tmp_path)
    assert not failures, "\n".join(failures)


def _frozen(build: Callable[[Any], str], batch: int = -1) -> bytes:
    """A frozen graph ``out = Identity(build(x))``, x a float Placeholder of shape [batch, 8, 8, 3]."""
    from tfjs_lite._proto.graph_pb2 import GraphDef

    graph_def = GraphDef()
    x = _node(graph_def, "x", "Placeholder", dtype=1)
    for d in (batch, 8, 8, 3):
        x.attr["shape"].shape.dim.add(size=d)
    _node(graph_def, "out", "Identity", [build(graph_def)], T=1)
    return graph_def.SerializeToString()


def _ints_attr(*values: int) -> Any:
    from tfjs_lite._proto.attr_value_pb2 import AttrValue

    return AttrValue(list=AttrValue.ListValue(i=list(values)))


def _text_attr(text: str) -> Any:
    from tfjs_lite._proto.attr_value_pb2 import AttrValue

    return AttrValue(s=text.encode())


def _frozen_tile(*multiples: int) -> Callable[[Any], str]:
    def build(g: Any) -> str:
        _const(g, "m", list(multiples), np.int32)
        _node(g, "tile", "Tile", ["x", "m"], T=1, Tmultiples=3)
        return "tile"

    return build


def _frozen_reshape(*target: int) -> Callable[[Any], str]:
    def build(g: Any) -> str:
        _const(g, "s", list(target), np.int32)
        _node(g, "reshape", "Reshape", ["x", "s"], T=1, Tshape=3)
        return "reshape"

    return build


def _frozen_pool(k: int, padding: str = "VALID") -> Callable[[Any], str]:
    def build(g: Any) -> str:
        _node(g, "pool", "MaxPool", ["x"], T=1, ksize=_ints_attr(1, k, k, 1), strides=_ints_attr(1, 1, 1, 1),
              padding=_text_attr(padding))
        return "pool"

    return build


def _frozen_conv(stride: int) -> Callable[[Any], str]:
    def build(g: Any) -> str:
        _const(g, "w", np.zeros((3, 3, 3, 4), np.float32))
        _node(g, "conv", "Conv2D", ["x", "w"], T=1, strides=_ints_attr(1, stride, stride, 1), padding=_text_attr("SAME"))
        return "conv"

    return build


def _frozen_resize(height: int, width: int) -> Callable[[Any], str]:
    def build(g: Any) -> str:
        _const(g, "size", [height, width], np.int32)
        _node(g, "resize", "ResizeBilinear", ["x", "size"], T=1)
        return "resize"

    return build


FROZEN_REFUSED = {
    "Tile of a dynamic batch by 2**20 x 2**20": (_frozen(_frozen_tile(1 << 20, 1 << 20, 1, 1)), "'tile' (Tile)"),
    "MaxPool ksize 2**40": (_frozen(_frozen_pool(BIG)), "'pool' (MaxPool): kernel size"),
    "MaxPool VALID 9 x 9 on 8 x 8": (_frozen(_frozen_pool(9)), "does not fit"),
    "Conv2D strides 0": (_frozen(_frozen_conv(0)), "'conv' (Conv2D): stride"),
    "Reshape of 192 elements to [-1, 7]": (_frozen(_frozen_reshape(-1, 7), batch=1), "cannot be reshaped to [-1, 7]"),
    "ResizeBilinear to 2**20 x 2**20": (_frozen(_frozen_resize(M20, M20)), "'resize' (ResizeBilinear)"),
}
FROZEN_ACCEPTED = {
    "Tile of a dynamic batch by 2": _frozen(_frozen_tile(2, 1, 1, 1)),
    "Reshape of a dynamic batch to [-1, 192]": _frozen(_frozen_reshape(-1, 192)),
    "Reshape of a dynamic batch to [2, 96] (known at run time only)": _frozen(_frozen_reshape(2, 96)),
    "MaxPool SAME 9 x 9 on 8 x 8": _frozen(_frozen_pool(9, "SAME")),
    "ResizeBilinear to 2048 x 2048": _frozen(_frozen_resize(2048, 2048)),
}


def test_frozen_graphs_with_absurd_static_shapes(tmp_path: Path) -> None:
    """The GraphDef readers (frozen here; SavedModel and TF-Hub share the pipeline) meet the same check."""
    out = tmp_path / "out"
    out.mkdir()
    cases, expected = [], {}
    for i, (what, (payload, text)) in enumerate(FROZEN_REFUSED.items()):
        path = tmp_path / f"f{i}.pb"
        path.write_bytes(payload)
        cases.append(Case(f"frozen {what}", "static shapes: frozen GraphDef", path, out / f"f{i}", FROZEN_FLAGS))
        expected[cases[-1].id] = text
    failures = _run(cases, expected, tmp_path)
    for i, (what, payload) in enumerate(FROZEN_ACCEPTED.items()):
        path = tmp_path / f"ok{i}.pb"
        path.write_bytes(payload)
        err = pristine_check(path, out / f"ok{i}", tmp_path, FROZEN_FLAGS)
        failures += [f"frozen {what}: {err}"] if err else []
    assert not failures, "\n".join(failures)
