"""The CLI surface: tensorflowjs_converter's flags, our better defaults, exit codes, one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tfjs_lite import cli
from tfjs_lite.errors import UsageError
from tfjs_lite.options import ConvertOptions, Quantization, parse_metadata

ROOT = Path(__file__).resolve().parents[1]
MLP_H5 = ROOT / "fixtures" / "keras" / "mlp" / "model.h5"


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tfjs_lite", *args], capture_output=True, text=True, timeout=120
    )


def test_version_is_fast_and_exits_zero() -> None:
    cli_main = [sys.executable, "-m", "tfjs_lite", "--version"]
    started = time.perf_counter()
    done = subprocess.run(cli_main, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    assert done.returncode == 0
    assert done.stdout.startswith("tfjs-lite ")
    # Target 0.3 s; a loaded CI machine gets slack, but importing numpy or TF would blow past it.
    assert elapsed < 1.5


def test_version_does_not_import_heavy_modules() -> None:
    code = (
        "import sys, tfjs_lite.cli as c; c.main(['--version']); "
        "print(sorted(m for m in ('numpy','h5py','google.protobuf','networkx') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "[]"


@pytest.mark.parametrize(
    ("text", "expected"), [("False", False), ("false", False), ("0", False), ("", False), ("True", True), ("1", True)]
)
def test_bool_flags_mean_what_they_say(text: str, expected: bool) -> None:
    assert cli._parse_bool(text) is expected


def test_bool_flag_rejects_garbage() -> None:
    done = run_cli("convert", "--strip_debug_ops=maybe", str(MLP_H5), "out")
    assert done.returncode == 2
    assert "expected true or false" in done.stderr
    assert "Traceback" not in done.stderr


def test_missing_input_is_one_line_exit_2(tmp_path: Path) -> None:
    done = run_cli("convert", str(tmp_path / "nope.h5"), str(tmp_path / "out"))
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1
    assert "no such file" in done.stderr
    assert not (tmp_path / "out").exists()


def test_missing_output_argument() -> None:
    done = run_cli("convert", str(MLP_H5))
    assert done.returncode == 2
    assert "missing output_path" in done.stderr


def test_unsupported_pair_says_not_supported_yet(tmp_path: Path) -> None:
    done = run_cli("convert", "--output_format", "keras", str(MLP_H5), str(tmp_path / "out.h5"))
    assert done.returncode == 2
    assert "not supported yet" in done.stderr and "supported pairs" in done.stderr
    assert not (tmp_path / "out.h5").exists()


def test_output_format_offers_only_what_is_written(tmp_path: Path) -> None:
    done = run_cli("convert", "--output_format", "keras_saved_model", str(MLP_H5), str(tmp_path / "out"))
    assert done.returncode == 2
    assert "invalid choice" in done.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("flag", ["--nhwc_inputs", "--nhwc_outputs"])
def test_nhwc_flags_need_a_graph_model_output(tmp_path: Path, flag: str) -> None:
    done = run_cli("convert", flag, str(MLP_H5), str(tmp_path / "out"))
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "tfjs_graph_model" in done.stderr
    assert not (tmp_path / "out").exists()


def test_not_hdf5_file(tmp_path: Path) -> None:
    bogus = tmp_path / "model.h5"
    bogus.write_text("not a model")
    done = run_cli("convert", str(bogus), str(tmp_path / "out"))
    assert done.returncode == 2
    assert str(bogus) in done.stderr
    assert "Traceback" not in done.stderr


def test_bool_flags_before_positionals_work_bare_or_with_a_value() -> None:
    parser = cli._convert_parser()
    completed, _ = cli._complete_bool_flags(
        ["--control_flow_v2", "in", "out", "--strip_debug_ops", "False", "--skip_op_check"])
    args = parser.parse_args(completed)
    assert (args.input_path, args.output_path) == ("in", "out")
    assert args.control_flow_v2 is True and args.strip_debug_ops is False and args.skip_op_check is True


def test_quantize_flag_does_not_swallow_input_path(tmp_path: Path) -> None:
    parser = cli._convert_parser()
    args = parser.parse_args(["--quantize_uint8", str(MLP_H5), str(tmp_path / "out")])
    cli._fix_swallowed_positionals(args)
    assert args.quantize_uint8 is True
    assert args.input_path == str(MLP_H5)
    assert args.output_path == str(tmp_path / "out")


def test_quantize_patterns_are_split_on_commas() -> None:
    q = Quantization(uint8="dense/*,conv*", float16=True)
    assert q.uint8 == ("dense/*", "conv*")
    assert q.selectors() == [("float16", True), ("uint8", ("dense/*", "conv*"))]


def test_two_fallthrough_quantizations_are_refused() -> None:
    with pytest.raises(UsageError, match="more than one quantization"):
        Quantization(uint8=True, uint16=True)


def test_shard_size_must_be_positive() -> None:
    with pytest.raises(UsageError):
        ConvertOptions(weight_shard_size_bytes=0)


def test_metadata_parsing_keeps_windows_style_paths(tmp_path: Path) -> None:
    meta = tmp_path / "meta.json"
    meta.write_text(json.dumps({"author": "me"}))
    assert parse_metadata(f"info:{meta}") == {"info": {"author": "me"}}
    with pytest.raises(UsageError, match="not valid JSON"):
        bad = tmp_path / "bad.json"
        bad.write_text("{")
        parse_metadata(f"info:{bad}")


def test_output_into_input_folder_is_refused(tmp_path: Path) -> None:
    model = tmp_path / "model.h5"
    model.write_bytes(MLP_H5.read_bytes())
    done = run_cli("convert", str(model), str(tmp_path))
    assert done.returncode == 2
    assert "input model's own folder" in done.stderr


def test_output_onto_existing_file_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "taken"
    target.write_text("keep me")
    done = run_cli("convert", str(MLP_H5), str(target))
    assert done.returncode == 2
    assert target.read_text() == "keep me"


def test_paths_with_spaces(tmp_path: Path) -> None:
    folder = tmp_path / "my models"
    folder.mkdir()
    model = folder / "an mlp.h5"
    model.write_bytes(MLP_H5.read_bytes())
    out = tmp_path / "web model"
    done = run_cli("convert", str(model), str(out))
    assert done.returncode == 0, done.stderr
    assert (out / "model.json").is_file()


def test_bare_form_without_subcommand_converts(tmp_path: Path) -> None:
    done = run_cli("--input_format", "keras", str(MLP_H5), str(tmp_path / "out"))
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "out" / "model.json").is_file()


def test_internal_errors_exit_1_without_traceback(monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    def boom(*_a: object, **_k: object) -> None:
        raise RuntimeError("kaboom")

    monkeypatch.setattr(cli, "_run_subcommand", boom)
    assert cli.main(["convert", "a", "b"]) == 1
    err = capsys.readouterr().err
    assert "internal error" in err and "kaboom" in err and "Traceback" not in err


# --- what a newcomer meets ----------------------------------------------------------------------


def test_success_prints_one_summary_line_and_quiet_silences_it(tmp_path: Path) -> None:
    done = run_cli("convert", str(MLP_H5), str(tmp_path / "a"))
    assert done.returncode == 0 and done.stdout == ""
    (line,) = done.stderr.splitlines()
    files = sorted(p for p in (tmp_path / "a").iterdir())
    size = sum(p.stat().st_size for p in files)
    assert line.startswith(f"tfjs-lite: keras -> tfjs_layers_model: {len(files)} files, {size:,} bytes in ")
    assert line.endswith(" s)")
    quiet = run_cli("convert", "--quiet", str(MLP_H5), str(tmp_path / "b"))
    assert quiet.returncode == 0 and quiet.stderr == "" and quiet.stdout == ""


@pytest.mark.parametrize(("word", "hint"), [("frobnicate", None), ("inpsect", "inspect"), ("covnert", "convert")])
def test_unknown_command_lists_commands_and_suggests(word: str, hint: str | None, capsys, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert cli.main([word, "model.h5"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"unknown command {word!r}" in err
    assert "commands: convert, verify, inspect" in err
    assert (f"did you mean {hint!r}?" in err) if hint else ("did you mean" not in err)


def test_an_existing_bare_path_is_still_converted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "mlp").write_bytes(MLP_H5.read_bytes())
    assert cli.main(["--input_format", "keras", "mlp", "out"]) == 0
    assert cli.main(["mlp", "out2"]) == 0 and (tmp_path / "out2" / "model.json").is_file()


def test_bool_flag_with_a_word_and_two_paths_is_a_bool_error(capsys) -> None:
    assert cli.main(["convert", "--strip_debug_ops", "maybe", str(MLP_H5), "out"]) == 2
    err = capsys.readouterr().err
    assert "--strip_debug_ops takes BOOL (true or false), got 'maybe'" in err
    assert "unrecognized" not in err


def test_hyphenated_flags_are_aliases(tmp_path: Path) -> None:
    done = run_cli("convert", "--output-format", "tfjs_layers_model", "--weight-shard-size-bytes=1024",
                   str(MLP_H5), str(tmp_path / "o"))
    assert done.returncode == 0, done.stderr
    shards = sorted(p.name for p in (tmp_path / "o").glob("*.bin"))
    assert len(shards) > 1  # the shard size took effect
    args = cli._convert_parser().parse_args(["--skip-pass", "cse", "--strip-debug-ops", "false", "a", "b"])
    assert args.skip_pass == ["cse"] and args.strip_debug_ops is False and args.input_path == "a"


def test_frozen_graph_without_output_names_suggests_them(tmp_path: Path, capsys) -> None:
    frozen = ROOT / "fixtures" / "graph" / "frozen" / "model.pb"
    assert cli.main(["convert", str(frozen), str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "--output_node_names flag is required" in err and "--output_node_names=Identity" in err
    # The suggestion is what inspect finds, and converting with it works.
    from tfjs_lite.tools.inspect_model import inspect_path

    assert "Identity" in json.dumps(inspect_path(frozen))
    assert cli.main(["convert", "--quiet", "--output_node_names=Identity", str(frozen), str(tmp_path / "o")]) == 0


def test_convert_help_has_examples_pairs_and_pass_names(capsys) -> None:
    from tfjs_lite.conversion import PIPELINES
    from tfjs_lite.optimizer import PASS_NAMES

    with pytest.raises(SystemExit):
        cli._convert_parser().parse_args(["--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "examples:" in text and "tfjs-lite convert model.h5 web_model/" in text
    for source, target in PIPELINES:
        assert source in text and target in text
    for name in PASS_NAMES:
        assert name in text


def test_output_format_offers_only_formats_a_pipeline_writes() -> None:
    from tfjs_lite.conversion import PIPELINES

    action = next(a for a in cli._convert_parser()._actions if a.dest == "output_format")
    assert sorted(action.choices) == sorted({t for _, t in PIPELINES})
    assert "keras_saved_model" not in action.choices


def test_dir_of_the_package_is_its_public_api() -> None:
    code = "import tfjs_lite, tfjs_lite.cli, tfjs_lite.options; print(dir(tfjs_lite))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "['ConversionResult', '__version__', 'convert']"


def test_progress_line_only_on_a_terminal(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    # A slow conversion in a script or CI log must still fail with exactly one line on stderr.
    from tfjs_lite import cli

    for tty in (False, True):
        monkeypatch.setattr(cli.sys.stderr, "isatty", lambda tty=tty: tty, raising=False)
        assert cli._progress_wanted(quiet=False) is tty
        assert cli._progress_wanted(quiet=True) is False
        with cli._Progress("converting x ...", delay=0.0, enabled=cli._progress_wanted(quiet=False)) as progress:
            time.sleep(0.2)
        assert progress.shown is tty
        assert ("converting x" in capsys.readouterr().err) is tty


def test_flags_may_follow_the_input_path(tmp_path: Path) -> None:
    # "tfjs-lite convert model.h5 --output_format tfjs_graph_model out/" as people type it.
    out = tmp_path / "out"
    done = run_cli("convert", str(MLP_H5), "--output_format", "tfjs_graph_model", "--quiet", str(out))
    assert done.returncode == 0, done.stderr
    assert json.loads((out / "model.json").read_text())["format"] == "graph-model"
