"""Keras 3 ``.keras`` zips: broken archives, unsafe member names, symlinks, pickles and zip bombs."""

from __future__ import annotations

import json
import pickle
import random
import zipfile
from pathlib import Path

import pytest

from corpus import (
    FIXTURES,
    MB,
    Case,
    account,
    byte_mutations,
    judge,
    pristine_check,
    run_and_judge,
    run_cases,
    symlink_member,
    truncation_sizes,
    write_zip,
    zip_bomb,
)

KERAS = FIXTURES / "keras" / "k3_functional_keras" / "model.keras"
MUTATIONS = 30


def _members() -> list[tuple[zipfile.ZipInfo, bytes]]:
    with zipfile.ZipFile(KERAS) as z:
        return [(info, z.read(info)) for info in z.infolist()]


def _with(extra: list, drop: tuple[str, ...] = (), replace: dict | None = None) -> list:
    replace = replace or {}
    out = []
    for info, data in _members():
        if info.filename in drop:
            continue
        out.append((info, replace.get(info.filename, data)))
    return out + extra


class _Marker:
    """Unpickling this creates the marker file (through ``open``): the proof a pickle was loaded."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self):  # noqa: ANN204
        return (open, (str(self.path), "w"))


def _npy_with_pickle(marker: Path) -> bytes:
    payload = pickle.dumps([_Marker(marker)], protocol=2)
    header = "{'descr': '|O', 'fortran_order': False, 'shape': (1,), }"
    header = header + " " * (63 - len(header) % 64) + "\n"
    return b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header.encode() + payload


def _dirs(tmp_path: Path) -> tuple[Path, Path]:
    (tmp_path / "in").mkdir()
    (tmp_path / "out").mkdir()
    return tmp_path / "in", tmp_path / "out"


@pytest.mark.parametrize("flags", [[], ["--output_format", "tfjs_graph_model"]], ids=["layers", "graph"])
def test_keras_zip_empty_truncated_mutated(tmp_path: Path, flags: list[str]) -> None:
    src, out = _dirs(tmp_path)
    err = pristine_check(KERAS, out / "pristine", tmp_path, flags)
    data = KERAS.read_bytes()
    cases = []
    for size in truncation_sizes(len(data)):
        p = src / f"trunc{size}.keras"
        p.write_bytes(data[:size])
        cases.append(Case(p.stem, ".keras: empty file" if size == 0 else ".keras: truncated zip", p, out / p.stem,
                          flags))
    rng = random.Random("keras-zip")
    for i in range(MUTATIONS):
        p = src / f"mut{i}.keras"
        p.write_bytes(byte_mutations(data, rng))
        cases.append(Case(p.stem, ".keras: bit flips / byte mutations", p, out / p.stem, flags, may_convert=True))
    failures = run_and_judge(cases, tmp_path)
    assert not failures + ([f"pristine fixture does not convert: {err}"] if err else []), "\n".join(failures)


def test_keras_zip_hostile_members(tmp_path: Path) -> None:
    src, out = _dirs(tmp_path)
    marker = tmp_path / "PICKLE_RAN"
    secret = tmp_path / "secret.txt"
    secret.write_text('{"class_name": "Sequential", "config": {"layers": []}}')
    config = json.loads(dict((i.filename, d) for i, d in _members())["config.json"])
    archives = {
        "member ../escape": (_with([("../evil.txt", b"x")]), "unsafe names"),
        "member ../../ deep escape": (_with([("a/../../evil.txt", b"x")]), "unsafe names"),
        "member absolute path": (_with([("/tmp/evil.txt", b"x")]), "unsafe names"),
        "member windows drive": (_with([("C:/evil.txt", b"x")]), "unsafe names"),
        "member backslash escape": (_with([("..\\evil.txt", b"x")]), "unsafe names"),
        "config.json a symlink to a file outside": (
            _with([(symlink_member("config.json", str(secret)), str(secret).encode())], drop=("config.json",)),
            "symlinks",
        ),
        "weights a symlink to ../secret": (
            _with([(symlink_member("model.weights.h5", "../secret.txt"), b"../secret.txt")],
                  drop=("model.weights.h5",)),
            "symlinks",
        ),
        "no config.json": (_with([], drop=("config.json",)), "missing/malformed members"),
        "config.json a list": (_with([], replace={"config.json": b"[1]"}), "missing/malformed members"),
        "config.json not UTF-8": (_with([], replace={"config.json": b"{\xff}"}), "missing/malformed members"),
        "config.json not JSON": (_with([], replace={"config.json": b"{oops"}), "missing/malformed members"),
        "config.json 100000 deep": (
            _with([], replace={"config.json": b"[" * 100000 + b"]" * 100000}), "missing/malformed members"),
        "config layers not a list": (
            _with([], replace={"config.json": json.dumps({**config, "config": {**config["config"], "layers": 3}}).encode()}),
            "missing/malformed members"),
        "metadata.json a list": (_with([], replace={"metadata.json": b"[]"}), "missing/malformed members"),
        "weights not HDF5": (_with([], replace={"model.weights.h5": b"not hdf5" * 100}), "missing/malformed members"),
        "weights empty": (_with([], replace={"model.weights.h5": b""}), "missing/malformed members"),
        "npz weights with a pickle": (
            _with([("model.weights.npz", b"")], drop=("model.weights.h5",)), "pickles (must never load)"),
        "weights.h5 holding a pickle": (
            _with([], replace={"model.weights.h5": _npy_with_pickle(marker)}), "pickles (must never load)"),
    }
    # A real npz with an object array whose unpickling creates the marker.
    npz = tmp_path / "w.npz"
    with zipfile.ZipFile(npz, "w") as z:
        z.writestr("arr_0.npy", _npy_with_pickle(marker))
    archives["npz weights with a pickle"] = (
        _with([("model.weights.npz", npz.read_bytes())], drop=("model.weights.h5",)), "pickles (must never load)")
    cases = []
    for i, (what, (members, cls)) in enumerate(archives.items()):
        p = write_zip(src / f"z{i}.keras", members)
        cases.append(Case(f"z{i} {what}", f".keras: {cls}", p, out / f"z{i}", marker=marker))
    dup = src / "dup.keras"
    with zipfile.ZipFile(dup, "w") as z:  # duplicate names: zipfile warns but writes both
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for info, data in _members():
                z.writestr(info.filename, data)
            z.writestr("config.json", b"{oops")
    cases.append(Case("duplicate config.json", ".keras: missing/malformed members", dup, out / "dup", may_convert=True))
    deflated = write_zip(src / "deflated.keras", _members(), zipfile.ZIP_DEFLATED)
    cases.append(Case("compressed weights", ".keras: missing/malformed members", deflated, out / "defl", may_convert=True))
    failures = run_and_judge(cases, tmp_path)
    assert not marker.exists()
    assert not list(tmp_path.rglob("evil.txt")) and not Path("/tmp/evil.txt").exists()
    assert not failures, "\n".join(failures)


def test_keras_zip_bombs(tmp_path: Path) -> None:
    src, out = _dirs(tmp_path)
    empty = src / "empty.keras"
    empty.write_bytes(b"")
    base = run_cases([Case("base", "base", empty, out / "base")], tmp_path)[1]
    members = _members()
    rest = [(i, d) for i, d in members if i.filename not in ("config.json",)]
    cases = [
        Case("bomb config.json", ".keras: zip bombs", zip_bomb(src / "b1.keras", "config.json", 250 * MB, rest),
             out / "b1"),
        Case("bomb weights", ".keras: zip bombs",
             zip_bomb(src / "b2.keras", "model.weights.h5", 300 * MB,
                      [(i, d) for i, d in members if i.filename != "model.weights.h5"]), out / "b2"),
    ]
    failures = []
    for case in cases:
        results, peak = run_cases([case], tmp_path, timeout=60)
        outcome, problems = judge(case, results[case.id])
        limit = base + 10 * case.input.stat().st_size + 100 * MB
        if peak > limit:
            problems.append(f"peak RSS {peak / MB:.0f} MB > {limit / MB:.0f} MB allowed "
                            f"(input {case.input.stat().st_size / MB:.1f} MB)")
            outcome = "BUG: unbounded memory"
        failures.extend(account(case, outcome, problems))
    assert not failures, "\n".join(failures)


def _weights_data_offset(data: bytes) -> tuple[int, int]:
    """(start, size) of model.weights.h5's bytes inside the archive ``data``."""
    with zipfile.ZipFile(KERAS) as z:
        info = z.getinfo("model.weights.h5")
    name_length = int.from_bytes(data[info.header_offset + 26:info.header_offset + 28], "little")
    extra_length = int.from_bytes(data[info.header_offset + 28:info.header_offset + 30], "little")
    return info.header_offset + 30 + name_length + extra_length, info.file_size


def test_weights_read_in_place_are_the_stored_bytes(tmp_path: Path) -> None:
    """The in-place reader of the stored weights member returns what ZipFile.open does, at any
    position and after backward seeks (h5py's access pattern)."""
    from tfjs_lite.readers.keras_archive import _stored_member

    with zipfile.ZipFile(KERAS) as z, KERAS.open("rb") as handle:
        info = z.getinfo("model.weights.h5")
        reference = z.read(info)
        stream = _stored_member(info, handle, KERAS)
        assert stream is not None
        rng = random.Random(5)
        for _ in range(200):
            start = rng.randrange(len(reference) + 10)
            count = rng.randrange(1, 100_000)
            stream.seek(start)
            assert stream.read(count) == reference[start:start + count]
        stream.seek(-7, 2)
        assert stream.read() == reference[-7:] and stream.tell() == len(reference)


def test_damaged_weight_bytes_fail_the_zip_checksum(tmp_path: Path) -> None:
    """A flipped byte in the middle of the weights (dataset bytes HDF5 cannot check) is refused by
    the member's CRC-32 on both paths, one line, nothing written."""
    data = bytearray(KERAS.read_bytes())
    start, size = _weights_data_offset(bytes(data))
    data[start + size // 2] ^= 0x5A
    source = tmp_path / "damaged.keras"
    source.write_bytes(bytes(data))
    from tfjs_lite.conversion import convert
    from tfjs_lite.errors import ModelFormatError

    formats = ("tfjs_layers_model", "tfjs_graph_model")
    cases = [Case(fmt, ".keras: damaged weight bytes", source, tmp_path / fmt, ["--output_format", fmt])
             for fmt in formats]
    failures = run_and_judge(cases, tmp_path)
    assert not failures, "\n".join(failures)
    for fmt in formats:
        with pytest.raises(ModelFormatError, match="CRC-32") as info:
            convert(source, tmp_path / (fmt + "_api"), output_format=fmt)
        assert "\n" not in str(info.value) and not (tmp_path / (fmt + "_api")).exists()


def test_hdf5_errors_from_corrupt_metadata_are_input_errors(tmp_path: Path) -> None:
    """h5py raises RuntimeError/KeyError/... from wherever a reader touches a corrupt heap or
    B-tree; whichever reader it was, the user gets a one-line input error (exit 2)."""
    import h5py

    source = FIXTURES / "keras" / "mlp" / "model.h5"
    data = bytearray(source.read_bytes())
    with h5py.File(source) as f:
        assert "model_weights" in f
    heaps = [i for i in range(len(data) - 4) if data[i:i + 4] == b"HEAP"]
    assert heaps  # HDF5 local heaps carry this signature
    cases = []
    for n, position in enumerate(heaps):
        damaged = bytearray(data)
        damaged[position:position + 4] = b"XXXX"
        p = tmp_path / f"heap{n}.h5"
        p.write_bytes(bytes(damaged))
        # a heap the conversion never reads leaves the model valid
        cases.append(Case(p.stem, ".h5: damaged local heap signature", p, tmp_path / "out" / p.stem, [],
                          may_convert=True))
    failures = run_and_judge(cases, tmp_path)
    assert not failures, "\n".join(failures)
    from tfjs_lite.conversion import convert
    from tfjs_lite.errors import ModelFormatError

    refused = 0
    for case in cases:
        try:
            convert(case.input, tmp_path / "api" / case.id)
        except ModelFormatError as e:
            assert "\n" not in str(e)
            refused += 1
    assert refused  # the heaps of the groups the reader walks are read


def test_hdf5_errors_inside_a_well_formed_archive_are_input_errors(tmp_path: Path) -> None:
    """A .keras whose weights pass the CRC (rebuilt archive) but whose HDF5 heaps are damaged: the
    h5py errors from the .keras reader's group walks are input errors too, never internal ones."""
    weights = dict((info.filename, data) for info, data in _members())["model.weights.h5"]
    heaps = [i for i in range(len(weights) - 4) if weights[i:i + 4] == b"HEAP"]
    assert heaps
    cases = []
    for n, position in enumerate(heaps):
        damaged = weights[:position] + b"XXXX" + weights[position + 4:]
        p = write_zip(tmp_path / f"heap{n}.keras", _with([], replace={"model.weights.h5": damaged}))
        for flags in ([], ["--output_format", "tfjs_graph_model"]):
            name = p.stem + ("_graph" if flags else "")
            cases.append(Case(name, ".keras: damaged HDF5 heap, valid CRC", p, tmp_path / "out" / name, flags,
                              may_convert=True))
    failures = run_and_judge(cases, tmp_path)
    assert not failures, "\n".join(failures)
