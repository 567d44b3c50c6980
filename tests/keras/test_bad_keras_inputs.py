"""Broken Keras inputs fail with one ModelFormatError line naming the file and the problem."""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path

import h5py
import numpy as np
import pytest

from tfjs_lite.conversion import convert
from tfjs_lite.errors import ConversionError, ModelFormatError

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "keras"
MLP = FIXTURES / "mlp" / "model.h5"
K3_SEQ = FIXTURES / "k3_sequential_keras" / "model.keras"


def _fails(path: Path, tmp_path: Path, *fragments: str, error: type = ModelFormatError) -> str:
    with pytest.raises(error) as caught:
        convert(path, tmp_path / "out", input_format="keras_keras" if path.suffix == ".keras" else "keras")
    message = str(caught.value)
    assert "\n" not in message and str(path) in message, message
    for fragment in fragments:
        assert fragment in message, message
    assert not (tmp_path / "out").exists()
    return message


def _copy(src: Path, tmp_path: Path, name: str = "model.h5") -> Path:
    dst = tmp_path / name
    shutil.copyfile(src, dst)
    return dst


def test_not_hdf5(tmp_path):
    bad = tmp_path / "model.h5"
    bad.write_text("this is not a model")
    _fails(bad, tmp_path, "HDF5")


def test_truncated_hdf5(tmp_path):
    bad = tmp_path / "model.h5"
    bad.write_bytes(MLP.read_bytes()[:3000])
    _fails(bad, tmp_path)


def test_no_model_config(tmp_path):
    bad = tmp_path / "model.h5"
    with h5py.File(bad, "w") as f:
        f.create_group("something")
    _fails(bad, tmp_path, "no model_config")


def test_malformed_config_json(tmp_path):
    bad = _copy(MLP, tmp_path)
    with h5py.File(bad, "r+") as f:
        f.attrs["model_config"] = '{"class_name": "Sequential", "config": {'
    _fails(bad, tmp_path, "model_config", "JSON")


def test_kernel_contradicts_units(tmp_path):
    bad = _copy(MLP, tmp_path)
    with h5py.File(bad, "r+") as f:
        group = f["model_weights/dense/dense"]
        del group["kernel:0"]
        group["kernel:0"] = np.zeros((16, 31), np.float32)
    _fails(bad, tmp_path, "'dense'", "units=32")


def test_conv_kernel_contradicts_filters(tmp_path):
    bad = _copy(FIXTURES / "cnn" / "model.h5", tmp_path)
    with h5py.File(bad, "r+") as f:
        group = f["model_weights/conv2"]
        shape = group["conv2/kernel:0"].shape
        del group["conv2/kernel:0"]
        group["conv2/kernel:0"] = np.zeros(shape[:-1] + (shape[-1] + 1,), np.float32)
    _fails(bad, tmp_path, "'conv2'", "filters=")


def test_missing_weights(tmp_path):
    bad = _copy(MLP, tmp_path)
    with h5py.File(bad, "r+") as f:
        f["model_weights/dense_1"].attrs["weight_names"] = np.array([], dtype=np.float64)
    _fails(bad, tmp_path, "'dense_1'", "0 stored weights")


def test_weight_names_point_nowhere(tmp_path):
    bad = _copy(MLP, tmp_path)
    with h5py.File(bad, "r+") as f:
        del f["model_weights/dense/dense/bias:0"]
    _fails(bad, tmp_path, "dense/bias:0")


def test_unknown_dtype(tmp_path):
    bad = _copy(MLP, tmp_path)
    with h5py.File(bad, "r+") as f:
        group = f["model_weights/dense_1/dense_1"]
        del group["bias:0"]
        group["bias:0"] = np.zeros((8,), dtype=[("a", "<i4"), ("b", "<f4")])
    with pytest.raises(ConversionError) as caught:
        convert(bad, tmp_path / "out")
    assert "\n" not in str(caught.value) and "dense_1/bias" in str(caught.value)


def _rezip(tmp_path: Path, edit) -> Path:
    members = {}
    with zipfile.ZipFile(K3_SEQ) as z:
        for name in z.namelist():
            members[name] = z.read(name)
    edit(members)
    out = tmp_path / "model.keras"
    with zipfile.ZipFile(out, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    return out


def test_keras_archive_unsafe_member(tmp_path):
    bad = _rezip(tmp_path, lambda m: m.update({"../evil.txt": b"x"}))
    _fails(bad, tmp_path, "unsafe member")


def test_keras_archive_without_config(tmp_path):
    bad = _rezip(tmp_path, lambda m: m.pop("config.json"))
    _fails(bad, tmp_path, "config.json")


def test_keras_archive_malformed_config(tmp_path):
    bad = _rezip(tmp_path, lambda m: m.update({"config.json": b"{nope"}))
    _fails(bad, tmp_path, "config.json", "JSON")


def test_keras_archive_missing_weight(tmp_path):
    def drop_a_layer(members):
        config = json.loads(members["config.json"])
        extra = json.loads(json.dumps(config["config"]["layers"][-1]))
        extra["config"]["name"] = "extra"
        config["config"]["layers"].append(extra)  # a Dense the weights file knows nothing about
        members["config.json"] = json.dumps(config).encode()

    bad = _rezip(tmp_path, drop_a_layer)
    _fails(bad, tmp_path, "'extra'")


def test_keras_archive_truncated(tmp_path):
    bad = tmp_path / "model.keras"
    bad.write_bytes(K3_SEQ.read_bytes()[:-400])
    with pytest.raises(ConversionError) as caught:
        convert(bad, tmp_path / "out", input_format="keras_keras")
    assert "\n" not in str(caught.value)


def test_compressed_keras_archive_still_converts(tmp_path):
    out = tmp_path / "model.keras"
    with zipfile.ZipFile(K3_SEQ) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for name in src.namelist():
            dst.writestr(name, src.read(name))
    convert(out, tmp_path / "out")
    assert (tmp_path / "out" / "model.json").is_file()
    assert not (tmp_path / "config.json").exists()  # nothing extracted next to the input
