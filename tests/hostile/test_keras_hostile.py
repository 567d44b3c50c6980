"""Keras HDF5 inputs: empty, truncated, bit-flipped, structurally broken, hostile (code, escapes, bombs)."""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path
from typing import Callable

import numpy as np
import pytest

from corpus import (
    FIXTURES,
    MB,
    Case,
    byte_mutations,
    h5_edit,
    judge,
    lambda_payload,
    pristine_check,
    account,
    run_and_judge,
    run_cases,
    truncation_sizes,
)

MLP = FIXTURES / "keras" / "mlp" / "model.h5"
K3_H5 = FIXTURES / "keras" / "k3_h5" / "model.h5"
LAMBDA = FIXTURES / "keras" / "refuse_lambda" / "model.h5"
WEIGHTS_LEGACY = FIXTURES / "keras" / "weights_only_legacy" / "model_weights.h5"
FLIPS_PER_FIXTURE = 40


def _dirs(tmp_path: Path) -> tuple[Path, Path]:
    (tmp_path / "in").mkdir()
    (tmp_path / "out").mkdir()
    return tmp_path / "in", tmp_path / "out"


def _finish(failures: list[str], pristine: list[str]) -> None:
    problems = failures + [f"pristine fixture does not convert: {p}" for p in pristine]
    assert not problems, "\n".join(problems)


# The graph-model path reads Keras files with the same code: the same bad inputs get the same refusals.
OUTPUTS = {"layers": [], "graph": ["--output_format", "tfjs_graph_model"]}


@pytest.mark.parametrize("output", sorted(OUTPUTS))
def test_h5_empty_truncated_bitflipped(tmp_path: Path, output: str) -> None:
    src, out = _dirs(tmp_path)
    flags = OUTPUTS[output]
    cases: list[Case] = []
    pristine = []
    # a weights-only file has no model to lower: graph output refuses even the pristine one
    for fixture in (MLP, K3_H5) + ((WEIGHTS_LEGACY,) if output == "layers" else ()):
        data = fixture.read_bytes()
        tag = fixture.parent.name
        err = pristine_check(fixture, out / f"{tag}-pristine", tmp_path, flags)
        if err:
            pristine.append(f"{fixture}: {err}")
        for size in truncation_sizes(len(data)):
            p = src / f"{tag}-trunc{size}.h5"
            p.write_bytes(data[:size])
            cls = "HDF5: empty file" if size == 0 else "HDF5: truncated file"
            cases.append(Case(p.stem, cls, p, out / p.stem, flags))
        rng = random.Random(f"h5-{tag}")
        for i in range(FLIPS_PER_FIXTURE):
            p = src / f"{tag}-mut{i}.h5"
            p.write_bytes(byte_mutations(data, rng))
            cases.append(Case(p.stem, "HDF5: bit flips / byte mutations", p, out / p.stem, flags, may_convert=True))
    _finish(run_and_judge(cases, tmp_path), pristine)


def _config(f) -> dict:  # noqa: ANN001
    return json.loads(f.attrs["model_config"])


def _set_config(f, config: dict) -> None:  # noqa: ANN001
    f.attrs["model_config"] = json.dumps(config)


def _dense(config: dict) -> dict:
    return next(layer for layer in config["config"]["layers"] if layer["class_name"] == "Dense")


def _replace_dataset(f, path: str, **kwargs) -> None:  # noqa: ANN001
    del f[path]
    f.create_dataset(path, **kwargs)


def _kernel_path(f) -> str:  # noqa: ANN001
    group = f["model_weights/dense"]
    return "model_weights/dense/" + [n.decode() if isinstance(n, bytes) else n for n in group.attrs["weight_names"]][0]


STRUCTURAL = {
    "no model_weights group": lambda f: f.__delitem__("model_weights"),
    "no model_config attr": lambda f: f.attrs.__delitem__("model_config"),
    "model_config not JSON": lambda f: f.attrs.__setitem__("model_config", "{not json"),
    "model_config a JSON list": lambda f: f.attrs.__setitem__("model_config", "[1, 2]"),
    "model_config an int": lambda f: f.attrs.__setitem__("model_config", 5),
    "model_config an int array": lambda f: f.attrs.__setitem__("model_config", np.arange(3)),
    "model_config invalid UTF-8": lambda f: f.attrs.__setitem__("model_config", np.bytes_(b"{\xff\xfe}")),
    "model_config 100000 levels deep": lambda f: f.attrs.__setitem__(
        "model_config", '{"class_name": "Sequential", "config": ' + "[" * 100000 + "]" * 100000 + "}"
    ),
    "class_name not a string": lambda f: _set_config(f, {"class_name": 5, "config": {}}),
    "config without layers": lambda f: _set_config(f, {"class_name": "Sequential", "config": {}}),
    "layers not a list": lambda f: _set_config(f, {"class_name": "Sequential", "config": {"layers": 5}}),
    "layer without class_name": lambda f: _set_config(
        f, {"class_name": "Sequential", "config": {"layers": [{"config": {}}]}}
    ),
    "unknown layer class": lambda f: _set_config(
        f, {"class_name": "Sequential", "config": {"layers": [{"class_name": "EvilLayer", "config": {"name": "e"}}]}}
    ),
    "Dense units a string": lambda f: _set_config(f, _edit(_config(f), lambda c: _dense(c)["config"].update(units="many"))),
    "Dense units negative": lambda f: _set_config(f, _edit(_config(f), lambda c: _dense(c)["config"].update(units=-3))),
    "Dense units 2**62": lambda f: _set_config(f, _edit(_config(f), lambda c: _dense(c)["config"].update(units=2**62))),
    "input shape a string": lambda f: _set_config(
        f, _edit(_config(f), lambda c: c["config"]["layers"][0]["config"].update(batch_input_shape="x"))
    ),
    "keras_version an int": lambda f: f.attrs.__setitem__("keras_version", 7),
    "training_config not JSON": lambda f: f.attrs.__setitem__("training_config", "{oops"),
    "weight_names lists a missing dataset": lambda f: f["model_weights/dense"].attrs.__setitem__(
        "weight_names", [b"dense/nope:0"]
    ),
    "weight_names an int array": lambda f: f["model_weights/dense"].attrs.__setitem__("weight_names", np.arange(2)),
    "weight is a group": lambda f: (f.__delitem__(_kernel_path(f)), f.create_group(_kernel_path_cache[0])),
    "weight of the wrong shape": lambda f: _replace_dataset(f, _kernel_path(f), data=np.zeros((3, 3), "f4")),
    "weight of strings": lambda f: _replace_dataset(f, _kernel_path(f), data=np.array([b"a", b"b"])),
    "weight of a compound dtype": lambda f: _replace_dataset(
        f, _kernel_path(f), data=np.zeros(4, dtype=[("a", "f4"), ("b", "i4")])
    ),
    "weight scalar": lambda f: _replace_dataset(f, _kernel_path(f), data=np.float32(1)),
    "weight with an empty dataspace": lambda f: _replace_dataset(f, _kernel_path(f), shape=None, dtype="f4"),
    "weight NaN and Inf": lambda f: f[_kernel_path(f)].__setitem__(..., np.nan),
}
_kernel_path_cache: list[str] = []


def _edit(config: dict, change) -> dict:  # noqa: ANN001
    change(config)
    return config


def _structural_cases(src: Path, out: Path, prefix: str, cls: str, flags: list[str]) -> list[Case]:
    import h5py

    with h5py.File(MLP, "r") as f:
        _kernel_path_cache[:] = [_kernel_path(f)]
    cases = []
    for i, (what, edit) in enumerate(STRUCTURAL.items()):
        p = h5_edit(MLP, src / f"{prefix}{i}.h5", edit)
        # The layers path keeps an unknown layer opaque; the graph lowering cannot.
        benign = what in ("weight NaN and Inf", "keras_version an int") or (not flags and what == "unknown layer class")
        cases.append(Case(f"{prefix}{i} {what}{' (graph model)' if flags else ''}", cls, p, out / f"{prefix}{i}",
                          flags=flags, may_convert=benign, converted="converted (NaN/Inf weights or a harmless change)"))
    return cases


def test_h5_structurally_broken(tmp_path: Path) -> None:
    src, out = _dirs(tmp_path)
    cases = _structural_cases(src, out, "s", "HDF5: missing groups/attrs, wrong types, bad config JSON", [])
    _finish(run_and_judge(cases, tmp_path), [])


def test_h5_external_data_never_read(tmp_path: Path) -> None:
    """External storage, external links and virtual datasets would read files beside the input."""
    import h5py

    src, out = _dirs(tmp_path)
    secret = b"SECRET-" + bytes(range(256)) * 8
    secret_file = tmp_path / "secret.bin"
    secret_file.write_bytes(secret * 4)
    other = tmp_path / "other.h5"
    with h5py.File(MLP, "r") as f:
        kernel = _kernel_path(f)
        shape = f[kernel].shape
    count = int(np.prod(shape))
    with h5py.File(other, "w") as g:
        g.create_dataset("k", data=np.frombuffer((secret * 64)[: count * 4], "<f4").reshape(shape))
        g.create_group("dense").attrs["weight_names"] = [b"k"]
        g["dense"].create_dataset("k", data=g["k"][()])
    edits = {
        "external raw storage": lambda f: _replace_dataset(
            f, kernel, shape=shape, dtype="<f4", external=[(str(secret_file), 0, count * 4)]
        ),
        "external link to another file": lambda f: (
            f.__delitem__(kernel), f.__setitem__(kernel, h5py.ExternalLink(str(other), "/k"))
        ),
        "external link replacing a layer group": lambda f: (
            f.__delitem__("model_weights/dense"),
            f.__setitem__("model_weights/dense", h5py.ExternalLink(str(other), "/dense")),
        ),
        "virtual dataset over another file": lambda f: (
            f.__delitem__(kernel),
            f.create_virtual_dataset(kernel, _vds(other, shape)),
        ),
    }
    cases = []
    for i, (what, edit) in enumerate(edits.items()):
        p = h5_edit(MLP, src / f"x{i}.h5", edit)
        cases.append(Case(f"x{i} {what}", "HDF5: external storage / links / virtual datasets (file escape)", p,
                          out / f"x{i}", may_convert=True, secret=secret[:64]))
    _finish(run_and_judge(cases, tmp_path), [])


def _vds(other: Path, shape: tuple) -> object:
    import h5py

    layout = h5py.VirtualLayout(shape=shape, dtype="<f4")
    layout[...] = h5py.VirtualSource(str(other), "k", shape=shape)
    return layout


def test_lambda_bytecode_never_runs(tmp_path: Path) -> None:
    import h5py

    src, out = _dirs(tmp_path)
    marker = tmp_path / "LAMBDA_RAN"
    with h5py.File(LAMBDA, "r") as f:
        config = json.loads(f.attrs["model_config"])
    for layer in config["config"]["layers"]:
        if layer["class_name"] == "Lambda":
            layer["config"]["function"] = lambda_payload(marker)
            layer["config"]["output_shape"] = lambda_payload(marker)
            layer["config"]["output_shape_type"] = "lambda"
    p = h5_edit(LAMBDA, src / "lambda.h5", lambda f: f.attrs.__setitem__("model_config", json.dumps(config)))
    cases = [
        Case("lambda", "Lambda layer with marshalled code (must never run)", p, out / "a", marker=marker),
        Case("lambda --force", "Lambda layer with marshalled code (must never run)", p, out / "b", ["--force"],
             marker=marker, may_convert=True, converted="converted with --force; the code never ran"),
    ]
    failures = run_and_judge(cases, tmp_path)
    assert not marker.exists()
    _finish(failures, [])


def _fresh(folder: Path) -> Path:
    folder.mkdir()
    return folder


def _bomb_cases(src: Path, out: Path) -> list[Case]:
    import h5py

    cases = []
    with h5py.File(MLP, "r") as f:
        kernel = _kernel_path(f)
        n_in = f[kernel].shape[0]
    units = 1 << 26  # a 4 GiB kernel (256 MiB rows) declared in a file of a few KB
    def huge_dense(f):  # noqa: ANN001, ANN202
        config = json.loads(f.attrs["model_config"])
        dense = next(layer for layer in config["config"]["layers"] if layer["class_name"] == "Dense")
        dense["config"]["units"] = units
        f.attrs["model_config"] = json.dumps(config)
        bias = kernel.replace("kernel", "bias")
        _replace_dataset(f, kernel, shape=(n_in, units), dtype="<f4", chunks=(1, 1 << 16))
        _replace_dataset(f, bias, shape=(units,), dtype="<f4", chunks=(1 << 16,))
    cases.append(Case("bomb-config-consistent", "memory bombs: declared tensor size far beyond the file",
                      h5_edit(MLP, src / "bomb1.h5", huge_dense), _fresh(out / "b1") / "bomb1"))

    def weights_only_bomb(f):  # noqa: ANN001, ANN202
        name = next(iter(f.attrs["layer_names"]))
        name = name.decode() if isinstance(name, bytes) else name
        group = f[name]
        wname = group.attrs["weight_names"][0]
        wname = wname.decode() if isinstance(wname, bytes) else wname
        del group[wname]
        group.create_dataset(wname, shape=(1 << 14, 1 << 14), dtype="<f4", chunks=(64, 1 << 14))  # 1 GiB, unallocated
    cases.append(Case("bomb-weights-only", "memory bombs: declared tensor size far beyond the file",
                      h5_edit(WEIGHTS_LEGACY, src / "bomb2.h5", weights_only_bomb), _fresh(out / "b2") / "bomb2"))

    def gzip_bomb(f):  # noqa: ANN001, ANN202
        name = next(iter(f.attrs["layer_names"]))
        name = name.decode() if isinstance(name, bytes) else name
        group = f[name]
        wname = group.attrs["weight_names"][0]
        wname = wname.decode() if isinstance(wname, bytes) else wname
        del group[wname]
        d = group.create_dataset(wname, shape=(1 << 13, 1 << 13), dtype="<f4", chunks=(64, 1 << 13),
                                 compression="gzip", compression_opts=9)  # 256 MiB in ~300 KB
        block = np.zeros((64, 1 << 13), "<f4")
        for start in range(0, 1 << 13, 64):
            d[start : start + 64] = block
    # Compressed data is legitimate HDF5: converting is fine, within the memory bound.
    cases.append(Case("bomb-gzip", "memory bombs: declared tensor size far beyond the file",
                      h5_edit(WEIGHTS_LEGACY, src / "bomb3.h5", gzip_bomb), _fresh(out / "b3") / "bomb3", may_convert=True))
    return cases


def test_h5_memory_bombs(tmp_path: Path) -> None:
    src, out = _dirs(tmp_path)
    empty = src / "empty.h5"
    empty.write_bytes(b"")
    base = run_cases([Case("base", "base", empty, out / "base")], tmp_path)[1]
    failures = []
    for case in _bomb_cases(src, out):
        results, peak = run_cases([case], tmp_path, timeout=60)
        outcome, problems = judge(case, results[case.id])
        limit = base + 10 * case.input.stat().st_size + 100 * MB
        if peak > limit:
            problems.append(f"peak RSS {peak / MB:.0f} MB > {limit / MB:.0f} MB allowed")
            outcome = "BUG: unbounded memory"
        failures.extend(account(case, outcome, problems))
        shutil.rmtree(case.output.parent)  # a killed bomb leaves up to DISK_LIMIT of staging files
    _finish(failures, [])


GRAPH = ["--output_format", "tfjs_graph_model"]


def test_h5_structurally_broken_to_graph_model(tmp_path: Path) -> None:
    """The Keras -> graph lowering refuses the same broken configs the layers path refuses."""
    src, out = _dirs(tmp_path)
    cases = _structural_cases(src, out, "g", "Keras -> graph model: broken configs", GRAPH)
    bomb = _bomb_cases(src, out)[0]
    cases.append(Case("bomb-config-consistent (graph model)", bomb.cls, bomb.input, out / "gbomb", flags=GRAPH))
    _finish(run_and_judge(cases, tmp_path), [])


LAYER_OPTIONS = FIXTURES / "layer_options"


def _layer_config(class_name: str, **changes: object) -> Callable[[object], None]:
    """Edit the config of the model's first ``class_name`` layer."""

    def edit(f) -> None:  # noqa: ANN001
        config = json.loads(f.attrs["model_config"])
        layer = next(layer for layer in config["config"]["layers"] if layer["class_name"] == class_name)
        layer["config"].update(changes)
        f.attrs["model_config"] = json.dumps(config)

    return edit


GRAPH_SHAPE_CASES = {
    # (source, edit, may convert: the size is left to the TF.js runtime, nothing allocated here)
    "LSTM over 2**30 time steps": (LAYER_OPTIONS / "lstm_go_backwards", _layer_config("InputLayer", batch_input_shape=[None, 1 << 30, 4]), False),
    "LSTM units disagreeing with its weights": (LAYER_OPTIONS / "lstm_go_backwards", _layer_config("LSTM", units=64), False),
    "UpSampling2D size 0": (LAYER_OPTIONS / "upsampling2d_nearest", _layer_config("UpSampling2D", size=[0, 2]), False),
    "UpSampling2D size 2**20": (LAYER_OPTIONS / "upsampling2d_nearest", _layer_config("UpSampling2D", size=[1 << 20, 1 << 20]), False),
    "input of 2**30 pixels": (LAYER_OPTIONS / "upsampling2d_nearest", _layer_config("InputLayer", batch_input_shape=[None, 1 << 15, 1 << 15, 3]), False),
    "Reshape to 2**40 x 3": (FIXTURES / "keras" / "layers_zoo", _layer_config("Reshape", target_shape=[1 << 40, 3]), False),
    "Reshape with two -1": (FIXTURES / "keras" / "layers_zoo", _layer_config("Reshape", target_shape=[-1, -1]), False),
    "Reshape to the wrong size": (FIXTURES / "keras" / "layers_zoo", _layer_config("Reshape", target_shape=[7, 3]), False),
}


def test_keras_graph_lowering_huge_or_contradicting_shapes(tmp_path: Path) -> None:
    """Shapes in the config a lowering turns into constants or unrolls: refused before any
    allocation, or left to the runtime; never an internal error or a model of the wrong size."""
    src, out = _dirs(tmp_path)
    cases = []
    for i, (what, (folder, edit, may_convert)) in enumerate(GRAPH_SHAPE_CASES.items()):
        p = h5_edit(folder / "model.h5", src / f"shape{i}.h5", edit)
        cases.append(Case(f"keras graph {what}", "Keras -> graph model: huge or contradicting shapes", p,
                          out / f"shape{i}", flags=GRAPH, may_convert=may_convert,
                          converted="converted (the size is the TF.js runtime's, nothing allocated here)"))
    _finish(run_and_judge(cases, tmp_path), [])
