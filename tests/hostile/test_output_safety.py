"""Output safety end to end: atomic replacement, refusing to write into the input or onto a file,
never deleting (or writing through symlinks to) files the converter did not write."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from corpus import FIXTURES, record
from tfjs_lite import cli

H5 = FIXTURES / "keras" / "mlp" / "model.h5"
SAVED = FIXTURES / "graph" / "cnn" / "saved_model"
LAYERS = FIXTURES / "reference" / "mlp" / "tensorflowjs_4.22" / "h5_to_layers"
CLS = "output safety (refusals, atomic replace, foreign files, symlinks)"


def _snapshot(folder: Path) -> dict[str, tuple[bytes, int]]:
    return {
        str(p.relative_to(folder)): (p.read_bytes() if p.is_file() and not p.is_symlink() else b"<dir/link>", p.lstat().st_mtime_ns)
        for p in sorted(folder.rglob("*"))
    }


def _run(capsys: pytest.CaptureFixture, *argv: str) -> tuple[int, str]:
    rc = cli.main(["convert", *map(str, argv)])
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return rc, err


def _refused(capsys, what: str, *argv: str, expect: str) -> None:  # noqa: ANN001
    rc, err = _run(capsys, *argv)
    record(CLS, "refused (exit 2, one line)" if rc == 2 else f"BUG: exit {rc}")
    assert rc == 2, f"{what}: {err}"
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("tfjs-lite: error:"), err
    assert expect in lines[0], lines[0]


def test_refuses_the_inputs_own_folder(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    model = tmp_path / "m" / "model.h5"
    model.parent.mkdir()
    shutil.copyfile(H5, model)
    saved = tmp_path / "sm"
    shutil.copytree(SAVED, saved)
    link = tmp_path / "link"
    link.symlink_to(saved)
    before = _snapshot(tmp_path)
    _refused(capsys, "h5 into its folder", model, model.parent, expect="input model's own folder")
    _refused(capsys, "h5 onto itself", model, model, expect="output path is the input path")
    _refused(capsys, "SavedModel into itself", saved, saved, expect="output path is the input path")
    _refused(capsys, "SavedModel into a subfolder", saved, saved / "tfjs", expect="inside the input model's folder")
    _refused(capsys, "SavedModel into variables/", saved, saved / "variables", expect="inside the input model's folder")
    _refused(capsys, "via a symlink", saved, link, expect="input")
    assert _snapshot(tmp_path) == before


def test_new_readers_refuse_their_input_and_its_files(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """ONNX (with external data), TFLite and Keras -> graph model: onto the input, into its folder
    (directly, via '..' or via a symlink), onto the external data file."""
    import test_onnx_hostile as onnx_cases

    onnx = onnx_cases._externalise(onnx_cases._model(), tmp_path / "onnx", "w.bin")
    tflite = tmp_path / "t" / "model.tflite"
    tflite.parent.mkdir()
    shutil.copyfile(FIXTURES / "tflite" / "cnn_float32" / "model.tflite", tflite)
    h5 = tmp_path / "k" / "model.h5"
    h5.parent.mkdir()
    shutil.copyfile(H5, h5)
    (tmp_path / "onnx_link").symlink_to(onnx.parent)
    before = _snapshot(tmp_path)
    graph = ("--output_format", "tfjs_graph_model")
    _refused(capsys, "onnx onto itself", onnx, onnx, expect="output path is the input path")
    _refused(capsys, "onnx into its folder via ..", onnx, onnx.parent / ".." / "onnx", expect="input model's own folder")
    _refused(capsys, "onnx into its folder via a symlink", onnx, tmp_path / "onnx_link", expect="input model's own folder")
    _refused(capsys, "onnx onto its external data", onnx, onnx.parent / "w.bin", expect="existing file")
    _refused(capsys, "tflite onto itself", tflite, tflite, expect="output path is the input path")
    _refused(capsys, "tflite into its folder", tflite, tflite.parent, expect="input model's own folder")
    _refused(capsys, "keras -> graph onto itself", h5, h5, *graph, expect="output path is the input path")
    _refused(capsys, "keras -> graph into its folder", h5, h5.parent, *graph, expect="input model's own folder")
    assert _snapshot(tmp_path) == before


def test_refuses_an_existing_file_or_folder_of_the_wrong_kind(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    existing = tmp_path / "out.txt"
    existing.write_text("mine")
    _refused(capsys, "folder output onto a file", H5, existing, expect="existing file")
    assert existing.read_text() == "mine"
    folder = tmp_path / "already"
    folder.mkdir()
    (folder / "keep").write_text("keep")
    _refused(capsys, "file output onto a folder", LAYERS, folder, "--output_format", "keras",
             expect="existing folder")
    assert (folder / "keep").read_text() == "keep"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["already", "out.txt"]


def test_existing_output_with_foreign_files_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    (out / "model.json").write_text("stale")
    before = _snapshot(tmp_path)
    _refused(capsys, "folder with foreign files", H5, out, expect="does not write")
    assert _snapshot(tmp_path) == before


def test_existing_model_folder_is_replaced_whole(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "model.json").write_text("stale")
    for i in range(2, 6):
        (out / f"group1-shard{i}of5.bin").write_bytes(b"stale shard")
    outside = tmp_path / "outside.bin"
    outside.write_bytes(b"precious")
    (out / "group1-shard1of5.bin").symlink_to(outside)  # a symlink the converter must drop, not write through
    rc, err = _run(capsys, H5, out)
    record(CLS, "converted into an earlier model's folder: replaced whole" if rc == 0 else f"BUG: exit {rc}")
    assert rc == 0, err
    assert (out / "model.json").read_text() != "stale"
    assert sorted(p.name for p in out.iterdir()) == ["group1-shard1of1.bin", "model.json"]  # no stale shards
    assert outside.read_bytes() == b"precious"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "outside.bin"]


def test_failed_conversion_leaves_everything_as_it_was(tmp_path: Path, capsys: pytest.CaptureFixture,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    import tfjs_lite.pipelines.keras_to_layers as pipeline

    out = tmp_path / "out"
    out.mkdir()
    (out / "model.json").write_text("previous model")
    before = _snapshot(tmp_path)
    real = pipeline.write_layers_model

    def write_then_fail(staging, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        real(staging, *args, **kwargs)
        assert any(Path(staging).iterdir())  # files were written into the staging folder ...
        from tfjs_lite.errors import ModelFormatError

        raise ModelFormatError("injected failure after writing")  # ... and the conversion fails

    monkeypatch.setattr(pipeline, "write_layers_model", write_then_fail)
    rc, err = _run(capsys, H5, out)
    assert rc == 2 and "injected failure" in err and str(H5) in err
    rc, err = _run(capsys, H5, tmp_path / "new")
    assert rc == 2
    record(CLS, "failure after writing: nothing changed")
    assert _snapshot(tmp_path) == before  # no new folder, no staging folder, old model untouched


def test_new_output_appears_in_one_rename(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture) -> None:
    renames = []
    real = os.rename

    def spy(src, dst, *a, **k):  # noqa: ANN001, ANN002, ANN003, ANN202
        renames.append((Path(src), Path(dst)))
        return real(src, dst, *a, **k)

    monkeypatch.setattr(os, "rename", spy)
    rc, err = _run(capsys, H5, tmp_path / "deep" / "out")
    assert rc == 0, err
    assert renames == [(renames[0][0], tmp_path / "deep" / "out")]
    assert renames[0][0].parent == tmp_path / "deep" and renames[0][0].name.startswith(".tfjs-lite-")
    record(CLS, "new folder committed by one rename")


def test_debug_shows_the_traceback_only_when_asked(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    bad = tmp_path / "bad.h5"
    bad.write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 100)
    rc, err = _run(capsys, bad, tmp_path / "o")
    assert rc == 2 and len(err.strip().splitlines()) == 1
    with pytest.raises(Exception) as info:
        cli.main(["convert", str(bad), str(tmp_path / "o"), "--debug"])
    assert "bad.h5" in str(info.value)
    assert not (tmp_path / "o").exists()
    record(CLS, "--debug raises; default prints one line")


def test_the_sandbox_sees_reads_outside_the_input(tmp_path: Path) -> None:
    """The audit-hook sandbox of runner.py must flag a file read outside the input and output:
    ``--metadata`` names a JSON file elsewhere, which the sandbox does not know about."""
    from corpus import Case, run_cases

    meta = tmp_path / "elsewhere" / "meta.json"
    meta.parent.mkdir()
    meta.write_text("{}")
    (tmp_path / "out").mkdir()
    case = Case("meta", "sandbox self-test", H5, tmp_path / "out" / "o", ["--metadata", f"k:{meta}"])
    result = run_cases([case], tmp_path)[0]["meta"]
    assert result["rc"] == 0, result
    assert any(str(meta) in v for v in result["violations"]), result["violations"]
    shutil.rmtree(tmp_path / "out" / "o")
    record("sandbox self-test (a read outside the input is seen)", "detected")
