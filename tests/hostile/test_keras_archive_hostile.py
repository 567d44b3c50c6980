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
