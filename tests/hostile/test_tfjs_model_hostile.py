"""TF.js layers models (model.json + shards) as input: escaping weight paths, size lies, bad specs."""

from __future__ import annotations

import json
import os
import random
from pathlib import Path
from typing import Any, Callable

import numpy as np

from corpus import FIXTURES, Case, byte_mutations, pristine_check, run_and_judge, truncation_sizes

MODEL = FIXTURES / "reference" / "mlp" / "tensorflowjs_4.22" / "h5_to_layers"
SHARD = "group1-shard1of1.bin"
MUTATIONS = 30


def _model() -> dict:
    return json.loads((MODEL / "model.json").read_text())


def _make(folder: Path, model: Any = None, shard: bytes | None = None, raw: bytes | None = None) -> Path:
    folder.mkdir(parents=True)
    if raw is not None:
        (folder / "model.json").write_bytes(raw)
    else:
        (folder / "model.json").write_text(json.dumps(_model() if model is None else model))
    (folder / SHARD).write_bytes((MODEL / SHARD).read_bytes() if shard is None else shard)
    return folder


def _edit(change: Callable[[dict], Any]) -> dict:
    model = _model()
    change(model)
    return model


def _group(model: dict) -> dict:
    return model["weightsManifest"][0]


def _spec(model: dict, i: int = 0) -> dict:
    return _group(model)["weights"][i]


def test_model_json_empty_truncated_mutated(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    err = pristine_check(MODEL, out / "pristine.h5", tmp_path)
    data = (MODEL / "model.json").read_bytes()
    shard = (MODEL / SHARD).read_bytes()
    cases = []
    for size in truncation_sizes(len(data)):
        folder = _make(tmp_path / f"t{size}", raw=data[:size])
        cls = "model.json: empty" if size == 0 else "model.json: truncated"
        cases.append(Case(f"t{size}", cls, folder, out / f"t{size}.h5", names=(folder.name,)))
    rng = random.Random("model-json")
    for i in range(MUTATIONS):
        folder = _make(tmp_path / f"m{i}", raw=byte_mutations(data, rng))
        cases.append(Case(f"m{i}", "model.json: byte mutations", folder, out / f"m{i}.h5", may_convert=True,
                          names=(folder.name,)))
    for i in range(10):
        folder = _make(tmp_path / f"s{i}", shard=byte_mutations(shard, rng))
        cases.append(Case(f"s{i}", "weight shard: byte mutations (size changes must be refused)", folder,
                          out / f"s{i}.h5", may_convert=True, names=(folder.name,)))
    failures = run_and_judge(cases, tmp_path)
    problems = failures + ([f"pristine model does not convert: {err}"] if err else [])
    assert not problems, "\n".join(problems)


def test_model_json_hostile(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    secret = (MODEL / SHARD).read_bytes()[:-4] + b"LEAK"  # a file outside the model that would fit
    (tmp_path / "secret.bin").write_bytes(secret)
    shard = (MODEL / SHARD).read_bytes()
    nan = np.frombuffer(shard, "<f4").copy()
    nan[::3] = np.nan
    nan[1::3] = np.inf
    nan[2::7] = -np.inf
    models: dict[str, tuple[str, dict | bytes | None, bytes | None]] = {
        "path ../secret.bin": ("weight paths escaping the model folder",
                                _edit(lambda m: _group(m).__setitem__("paths", ["../secret.bin"])), None),
        "path sub/../../secret.bin": ("weight paths escaping the model folder",
                                       _edit(lambda m: _group(m).__setitem__("paths", ["x/../../secret.bin"])), None),
        "absolute path": ("weight paths escaping the model folder",
                          _edit(lambda m: _group(m).__setitem__("paths", [str(tmp_path / "secret.bin")])), None),
        "file:// URL": ("weight paths escaping the model folder",
                        _edit(lambda m: _group(m).__setitem__("paths", [f"file://{tmp_path}/secret.bin"])), None),
        "http URL": ("weight paths escaping the model folder",
                     _edit(lambda m: _group(m).__setitem__("paths", ["http://127.0.0.1:9/x.bin"])), None),
        "backslash ..\\": ("weight paths escaping the model folder",
                           _edit(lambda m: _group(m).__setitem__("paths", ["..\\secret.bin"])), None),
        "path not a string": ("weight paths escaping the model folder",
                              _edit(lambda m: _group(m).__setitem__("paths", [5])), None),
        "symlinked shard pointing outside": ("weight paths escaping the model folder",
                                             _edit(lambda m: _group(m).__setitem__("paths", ["link.bin"])), None),
        "shard one byte short": ("manifest sizes disagree with the files", None, shard[:-1]),
        "shard one byte long": ("manifest sizes disagree with the files", None, shard + b"\0"),
        "shard empty": ("manifest sizes disagree with the files", None, b""),
        "shard missing": ("manifest sizes disagree with the files",
                          _edit(lambda m: _group(m).__setitem__("paths", ["nope.bin"])), None),
        "a weight more than the shard": ("manifest sizes disagree with the files",
                                         _edit(lambda m: _group(m)["weights"].append(dict(_spec(m), name="x"))), None),
        "NaN and Inf weights": ("NaN/Inf weights (valid values: may convert)", None, nan.tobytes()),
        "shape [2**40, 2**40]": ("absurd shapes, dtypes and specs",
                                 _edit(lambda m: _spec(m).__setitem__("shape", [2**40, 2**40])), None),
        "shape 2**64 elements in 8 dims": ("absurd shapes, dtypes and specs",
                                           _edit(lambda m: _spec(m).__setitem__("shape", [256] * 8)), None),
        "shape negative": ("absurd shapes, dtypes and specs", _edit(lambda m: _spec(m).__setitem__("shape", [-16, -32])), None),
        "shape float": ("absurd shapes, dtypes and specs", _edit(lambda m: _spec(m).__setitem__("shape", [16.0, 32])), None),
        "shape a string": ("absurd shapes, dtypes and specs", _edit(lambda m: _spec(m).__setitem__("shape", "16,32")), None),
        "shape with a bool": ("absurd shapes, dtypes and specs", _edit(lambda m: _spec(m).__setitem__("shape", [True, 512])), None),
        "shape 1e308": ("absurd shapes, dtypes and specs", _edit(lambda m: _spec(m).__setitem__("shape", [1e308])), None),
        "dtype unknown": ("absurd shapes, dtypes and specs", _edit(lambda m: _spec(m).__setitem__("dtype", "float128")), None),
        "dtype missing": ("absurd shapes, dtypes and specs", _edit(lambda m: _spec(m).pop("dtype")), None),
        "dtype string": ("absurd shapes, dtypes and specs", _edit(lambda m: _spec(m).__setitem__("dtype", "string")), None),
        "quantization bogus": ("absurd shapes, dtypes and specs",
                               _edit(lambda m: _spec(m).__setitem__("quantization", {"dtype": "int3"})), None),
        "quantization without scale": ("absurd shapes, dtypes and specs",
                                       _edit(lambda m: _spec(m).__setitem__("quantization", {"dtype": "uint8"})), None),
        "name missing": ("absurd shapes, dtypes and specs", _edit(lambda m: _spec(m).pop("name")), None),
        "duplicate names": ("absurd shapes, dtypes and specs",
                            _edit(lambda m: _spec(m, 1).__setitem__("name", _spec(m)["name"])), None),
        "weightsManifest an object": ("malformed model.json structure",
                                      _edit(lambda m: m.__setitem__("weightsManifest", {"paths": []})), None),
        "group not an object": ("malformed model.json structure", _edit(lambda m: m.__setitem__("weightsManifest", [3])), None),
        "weights not a list": ("malformed model.json structure",
                               _edit(lambda m: _group(m).__setitem__("weights", "all")), None),
        "no modelTopology": ("malformed model.json structure", _edit(lambda m: m.pop("modelTopology")), None),
        "modelTopology null (weights only)": ("malformed model.json structure",
                                              _edit(lambda m: m.__setitem__("modelTopology", None)), None),
        "modelTopology a list": ("malformed model.json structure", _edit(lambda m: m.__setitem__("modelTopology", [])), None),
        "model_config without config": ("malformed model.json structure",
                                        _edit(lambda m: m["modelTopology"]["model_config"].pop("config")), None),
        "layers not a list": ("malformed model.json structure",
                              _edit(lambda m: m["modelTopology"]["model_config"]["config"].__setitem__("layers", 7)), None),
        "layer config null": ("malformed model.json structure",
                              _edit(lambda m: m["modelTopology"]["model_config"]["config"]["layers"][1].__setitem__("config", None)), None),
        "format graph-model": ("malformed model.json structure", _edit(lambda m: m.__setitem__("format", "graph-model")), None),
        "a JSON list": ("malformed model.json structure", b"[]", None),
        "not UTF-8": ("malformed model.json structure", b'{"modelTopology": "\xff\xfe"}', None),
        "100000 levels deep": ("malformed model.json structure", b"[" * 100000 + b"]" * 100000, None),
        "NaN literal in JSON": ("malformed model.json structure",
                                json.dumps(_model()).replace('"units": 32', '"units": NaN').encode(), None),
    }
    cases = []
    for i, (what, (cls, model, shard_bytes)) in enumerate(models.items()):
        folder = tmp_path / f"c{i}"
        if isinstance(model, bytes):
            _make(folder, raw=model, shard=shard_bytes)
        else:
            _make(folder, model=model, shard=shard_bytes)
        if what.startswith("symlinked"):
            os.symlink(tmp_path / "secret.bin", folder / "link.bin")
        may = what.startswith("NaN and Inf")
        cases.append(Case(f"c{i} {what}", f"TF.js model: {cls}", folder, out / f"c{i}.h5", names=(folder.name,),
                          may_convert=may, secret=b"LEAK", converted="converted (NaN/Inf are valid weight values)"))
        # The API and the CLI also take the model.json itself.
        if i % 5 == 0:
            cases.append(Case(f"c{i} {what} (model.json)", f"TF.js model: {cls}", folder / "model.json",
                              out / f"c{i}j.h5", names=(folder.name, "model.json"), may_convert=may, secret=b"LEAK",
                              converted="converted (NaN/Inf are valid weight values)"))
    failures = run_and_judge(cases, tmp_path)
    assert not failures, "\n".join(failures)
