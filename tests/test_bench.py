"""``tfjs-lite bench`` and ``verify --runtime tfjs`` run for real: TF.js 4.22 in Node (cpu, wasm) and in
headless Chromium (cpu, wasm, webgl), plus the ``--serve`` page opened in Chromium.

Figures are checked for sanity (positive, warm-up excluded, N runs counted), never for speed. The
``--serve`` screenshot is kept in tests/artifacts/ (git-ignored).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tfjs_lite.cli import main as cli_main
from tfjs_lite.tools.bench import parse_shape_overrides
from tfjs_lite.tools.bench_browser import BenchServer, Chromium, find_chromium
from tfjs_lite.tools.bench_runtime import ensure_node_modules

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"
ARTIFACTS = ROOT / "tests" / "artifacts"
RUNS = 6


def _convert(source: Path, out: Path, *flags: str) -> Path:
    assert cli_main(["convert", *flags, str(source), str(out)]) == 0
    return out


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """Our conversions of a graph fixture (cnn), one with control flow, and a Keras fixture (mlp)."""
    base = tmp_path_factory.mktemp("bench_models")
    return {
        "cnn": _convert(FIXTURES / "graph" / "cnn" / "saved_model", base / "cnn"),
        "control_flow": _convert(FIXTURES / "graph" / "control_flow" / "saved_model", base / "control_flow"),
        "mlp": _convert(FIXTURES / "keras" / "mlp" / "model.h5", base / "mlp"),
        "multi_io": _convert(FIXTURES / "keras" / "multi_io" / "model.h5", base / "multi_io"),
    }


def _bench_json(capsys, *args: str) -> dict:
    capsys.readouterr()
    assert cli_main(["bench", *args, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def _check_sane(result: dict, runs: int, warmup: int, backend: str) -> None:
    assert result["backend"] == backend
    assert result["tfjs_version"] == "4.22.0"
    assert result["runs"] == runs and result["warmup"] == warmup
    assert result["leaked_tensors"] == 0
    for model in result["models"]:
        times = model["times_ms"]
        assert len(times) == runs == model["stats"]["count"]  # warm-up runs are not in the list
        assert all(t > 0 for t in times)
        assert model["load_ms"] > 0 and model["first_ms"] > 0
        s = model["stats"]
        assert s["min"] <= s["median"] <= s["max"] and s["min"] <= s["mean"] <= s["max"]
        assert s["min"] == min(times) and s["max"] == max(times) and s["std"] >= 0
        assert model["weights_bytes"] > 0
        profile = model["profile"]
        assert profile["peak_bytes"] >= model["weights_bytes"]
        assert profile["kernels"] and all(k["count"] >= 1 for k in profile["kernels"])
        assert not any(k["name"].endswith("__op") for k in profile["kernels"])
        assert model["outputs"] and all(o["shape"] for o in model["outputs"])


# ------------------------------------------------------------------------------------ Node


@pytest.mark.parametrize("backend", ["cpu", "wasm"])
@pytest.mark.parametrize("name,kind", [("cnn", "graph"), ("mlp", "layers")])
def test_node_bench_figures(models, capsys, backend, name, kind):
    result = _bench_json(capsys, str(models[name]), "--backend", backend, "--runs", str(RUNS), "--warmup", "2")
    _check_sane(result, RUNS, 2, backend)
    model = result["models"][0]
    assert model["kind"] == kind
    assert model["execution"] == ("execute" if kind == "graph" else "predict")
    assert model["inputs"][0]["shape"][0] == 1  # unknown batch dim -> 1, and the report says so
    assert any("batch dimension set to 1" in note for note in result["notes"])
    if kind == "graph":
        assert any(k["name"] == "FusedConv2D" for k in model["profile"]["kernels"])


def test_node_bench_text_report_and_control_flow(models, capsys):
    capsys.readouterr()
    assert cli_main(["bench", str(models["control_flow"]), "--runs", "3"]) == 0
    out = capsys.readouterr().out
    assert "executeAsync" in out  # While loops need executeAsync; the fallback picks it
    assert "timed runs" in out and "leaked tensors after all runs: 0" in out
    assert "kernels taking the most time" in out


def test_warmup_zero_counts_the_first_run(models, capsys):
    result = _bench_json(capsys, str(models["mlp"]), "--runs", "4", "--warmup", "0")
    model = result["models"][0]
    assert len(model["times_ms"]) == 4 and result["warmup"] == 0


def test_compare_with_the_official_output(models, capsys):
    official = FIXTURES / "official" / "cnn" / "default"
    result = _bench_json(capsys, str(models["cnn"]), "--compare", str(official), "--runs", str(RUNS),
                         "--inputs", str(FIXTURES / "graph" / "cnn" / "inputs.json"))
    _check_sane(result, RUNS, 1, "cpu")
    assert [m["inputs"][0]["shape"] for m in result["models"]] == [[2, 16, 16, 3]] * 2
    compare = result["compare"]
    medians = [m["stats"]["median"] for m in result["models"]]
    assert compare["median_ratio"] == pytest.approx(medians[0] / medians[1])
    a, b = (m["times_ms"] for m in result["models"])
    paired = sorted(x / y for x, y in zip(a, b))
    assert compare["speed_ratio"] == pytest.approx((paired[RUNS // 2 - 1] + paired[RUNS // 2]) / 2)
    (diff,) = compare["differences"]
    assert diff["name"] == "probs" and diff["max_rel"] < 1e-5


def test_inputs_file_and_multi_input_layers(models, capsys):
    result = _bench_json(capsys, str(models["multi_io"]), "--runs", "2",
                         "--inputs", str(FIXTURES / "keras" / "multi_io" / "inputs.json"))
    model = result["models"][0]
    assert {i["name"]: i["shape"] for i in model["inputs"]} == {"a": [2, 8], "b": [2, 4]}
    assert len(model["outputs"]) == 2


def _dynamic_copy(src: Path, dst: Path) -> Path:
    """The cnn model with its image height and width made dynamic (as a fully convolutional model)."""
    shutil.copytree(src, dst)
    model = json.loads((dst / "model.json").read_text())
    for node in model["modelTopology"]["node"]:
        if node["op"] == "Placeholder":
            node["attr"]["shape"]["shape"]["dim"][1:3] = [{"size": "-1"}, {"size": "-1"}]
    model["signature"]["inputs"]["image"]["tensorShape"]["dim"][1:3] = [{"size": "-1"}, {"size": "-1"}]
    (dst / "model.json").write_text(json.dumps(model))
    return dst


def test_dynamic_dims_need_a_shape(models, tmp_path, capsys):
    dynamic = _dynamic_copy(models["cnn"], tmp_path / "dynamic")
    capsys.readouterr()
    assert cli_main(["bench", str(dynamic), "--runs", "2"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "input image has dynamic dims [?,?,?,3]" in err and "--input image=N,N,N,3" in err
    result = _bench_json(capsys, str(dynamic), "--runs", "2", "--input", "image=1,16,16,3")
    assert result["models"][0]["inputs"][0]["shape"] == [1, 16, 16, 3]
    assert cli_main(["bench", str(dynamic), "--input", "image=1,16,16,4"]) == 2
    assert "does not fit the model's input" in capsys.readouterr().err
    assert cli_main(["bench", str(dynamic), "--input", "nope=1,2"]) == 2
    assert "not model inputs" in capsys.readouterr().err


@pytest.mark.parametrize(
    "args,message",
    [
        (["--backend", "webgl"], "runs only in a browser"),
        (["--runs", "0"], "--runs must be at least 1"),
        (["--input", "image=a,b"], "expected NAME=D0,D1"),
    ],
)
def test_bad_options_are_one_line_errors(models, capsys, args, message):
    capsys.readouterr()
    assert cli_main(["bench", str(models["cnn"]), *args]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1


def test_parse_shape_overrides():
    assert parse_shape_overrides(["x=1,224,224,3", "a:0=2x3", "s="]) == {"x": [1, 224, 224, 3], "a:0": [2, 3], "s": []}


def test_no_node_is_a_one_line_error(models, tmp_path):
    env = dict(os.environ, PATH=str(tmp_path))
    done = subprocess.run([sys.executable, "-m", "tfjs_lite", "bench", str(models["cnn"])],
                          capture_output=True, text=True, env=env, cwd=ROOT)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "Node.js" in done.stderr and "install" in done.stderr


def test_node_modules_folder_lacking_packages(models, tmp_path, capsys):
    capsys.readouterr()
    assert cli_main(["bench", str(models["cnn"]), "--node-modules", str(tmp_path)]) == 2
    assert "lacks @tensorflow/tfjs-backend-cpu" in capsys.readouterr().err


# ------------------------------------------------------------------------------------ verify --runtime tfjs


@pytest.mark.parametrize("backend", ["cpu", "wasm"])
def test_verify_graph_in_tfjs(models, capsys, backend):
    capsys.readouterr()
    source = FIXTURES / "graph" / "cnn" / "saved_model"
    assert cli_main(["verify", str(source), str(models["cnn"]), "--runtime", "tfjs", "--backend", backend, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] and report["outputs"][0]["name"] == "probs"
    assert 0 < report["outputs"][0]["max_abs_error"] < 1e-6  # float32 TF.js vs the numpy executor
    assert any("TensorFlow.js 4.22.0" in n for n in report["notes"])
    # Same comparison, tolerance far below float32 rounding: exit 2 with the verdict.
    assert cli_main(["verify", str(source), str(models["cnn"]), "--runtime", "tfjs", "--rtol", "1e-12"]) == 2
    assert "FAILED" in capsys.readouterr().err


def test_verify_frozen_source_in_tfjs(tmp_path, capsys):
    """A frozen .pb without --output_node_names is read up to the converted model's outputs."""
    fixture = FIXTURES / "graph" / "frozen"
    converted = _convert(fixture / "model.pb", tmp_path / "frozen", "--input_format", "tf_frozen_model",
                         "--output_node_names", "Identity")
    capsys.readouterr()
    assert cli_main(["verify", str(fixture / "model.pb"), str(converted), "--runtime", "tfjs", "--backend", "wasm",
                     "--inputs", str(fixture / "inputs.json")]) == 0
    out = capsys.readouterr().out
    assert "Identity: shape [" in out and "wasm backend" in out


def test_verify_control_flow_in_tfjs(models, capsys):
    source = FIXTURES / "graph" / "control_flow" / "saved_model"
    assert cli_main(["verify", str(source), str(models["control_flow"]), "--runtime", "tfjs"]) == 0
    assert "verify: ok" in capsys.readouterr().out


def test_verify_layers_in_tfjs_with_expected(models, capsys):
    fixture = FIXTURES / "keras" / "multi_io"
    args = ["verify", str(fixture / "model.h5"), str(models["multi_io"]), "--runtime", "tfjs",
            "--inputs", str(fixture / "inputs.json")]
    capsys.readouterr()
    assert cli_main(args + ["--expected", str(fixture / "expected.json")]) == 0
    out = capsys.readouterr().out
    assert "head1" in out and "head2" in out and "layers model" in out
    # Without --expected the reference executor runs the Keras source lowered to TF ops (as
    # convert --output_format tfjs_graph_model lowers it) and the layers model runs in TF.js.
    assert cli_main(args) == 0
    assert "head1" in capsys.readouterr().out


def test_verify_expected_without_inputs(models, capsys):
    fixture = FIXTURES / "keras" / "mlp"
    capsys.readouterr()
    assert cli_main(["verify", str(fixture / "model.h5"), str(models["mlp"]), "--runtime", "tfjs",
                     "--expected", str(fixture / "expected.json")]) == 2
    assert "--expected needs the --inputs" in capsys.readouterr().err


# ------------------------------------------------------------------------------------ browser


@pytest.mark.parametrize("backend", ["cpu", "wasm", "webgl"])
def test_browser_bench(models, capsys, backend):
    result = _bench_json(capsys, str(models["cnn"]), "--browser", "--backend", backend, "--runs", str(RUNS))
    _check_sane(result, RUNS, 1, backend)
    assert "Chrome" in result["runtime"]["browser"]


def test_browser_bench_layers_compare(models, capsys):
    result = _bench_json(capsys, str(models["mlp"]), "--browser", "--backend", "cpu", "--runs", "3",
                         "--compare", str(models["mlp"]))
    _check_sane(result, 3, 1, "cpu")
    assert result["compare"]["differences"][0]["max_abs"] == 0  # the same model twice


def test_server_serves_only_its_files(models):
    config = {"settings": {}, "request": {"models": []}}
    with BenchServer(ensure_node_modules(), [models["cnn"]], config) as server:
        def status(path):
            try:
                return urllib.request.urlopen(server.url + path, timeout=10).status
            except urllib.error.HTTPError as e:
                return e.code

        assert status("models/0/model.json") == 200
        assert status("tfjs/tf-core.min.js") == 200
        assert status("tfjs/tfjs-backend-wasm.wasm") == 200
        assert status("models/0/../../../../etc/passwd") == 404
        assert status("models/0/%2e%2e/%2e%2e/etc/passwd") == 404
        assert status("models/1/model.json") == 404
        assert status("tfjs/package.json") == 404


def test_serve_page_in_chromium(models):
    """The --serve page as a person would use it: open, set runs, click Run, read the figures."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "tfjs_lite", "bench", str(models["cnn"]), "--serve", "--port", "0",
         "--compare", str(FIXTURES / "official" / "cnn" / "default")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
    )
    try:
        line = proc.stdout.readline()
        assert "serving http://127.0.0.1:" in line, proc.stderr.read() if proc.poll() is not None else line
        url = line.split("serving ", 1)[1].split()[0]
        with Chromium(find_chromium()) as browser:
            browser.open(url, "window.tfjsLitePage && document.getElementById('status').dataset.state === 'ready'")
            browser.evaluate("document.getElementById('backend').value = 'wasm'; "
                             "document.getElementById('runs').value = '7'; "
                             "document.getElementById('warmup').value = '2'; "
                             "document.getElementById('run').click()")
            deadline = time.monotonic() + 120
            while browser.evaluate("document.getElementById('status').dataset.state") != "done":
                assert time.monotonic() < deadline, browser.evaluate("document.getElementById('error').textContent")
                time.sleep(0.2)
            figures = browser.evaluate(
                "Array.from(document.querySelectorAll('[data-figure]')).map(e => [e.dataset.figure, e.dataset.model, e.textContent])")
            series = browser.evaluate(
                "Array.from(document.querySelectorAll('#chart-svg polyline')).map(e => Number(e.dataset.points))")
            summary = browser.evaluate("document.getElementById('summary').dataset.backend + ' ' + "
                                       "document.getElementById('summary').dataset.leaked")
            kernels = browser.evaluate("document.querySelectorAll('#kernels tr').length")
            ARTIFACTS.mkdir(exist_ok=True)
            browser.screenshot(ARTIFACTS / "bench_serve.png")
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        proc.stdout.close()
        proc.stderr.close()
    by_key = {(key, model): text for key, model, text in figures}
    for model in ("0", "1"):
        assert by_key[("runs", model)] == "7" and by_key[("warmup", model)] == "2"
        for key in ("load", "first", "mean", "median", "min", "max"):
            assert float(by_key[(key, model)]) > 0, key
    assert series == [7, 7]
    assert summary == "wasm 0"
    assert kernels > 2
    assert (ARTIFACTS / "bench_serve.png").stat().st_size > 10_000


def test_webgpu_missing_is_reported(models, capsys):
    """Chromium without a GPU offers no WebGPU adapter: a one-line error, not a hang."""
    capsys.readouterr()
    code = cli_main(["bench", str(models["mlp"]), "--browser", "--backend", "webgpu", "--runs", "2", "--json"])
    captured = capsys.readouterr()
    if code == 0:  # a browser that does offer WebGPU: then the figures must be sane
        _check_sane(json.loads(captured.out), 2, 1, "webgpu")
    else:
        assert code == 2 and "webgpu is not offered by this browser" in captured.err


def test_bench_page_config_does_not_leak_paths_outside_models(models):
    from tfjs_lite.tools.bench_browser import page_config

    request = {"backend": "cpu", "runs": 3, "warmup": 1, "models": [{"label": "m", "kind": "graph", "dir": "/x"}]}
    config = page_config(request, ["/x"])
    assert config["request"]["models"][0]["url"] == "models/0/model.json"
    assert config["settings"] == {"backend": "cpu", "runs": 3, "warmup": 1}


def test_hash_table_handles_are_not_inputs(tmp_path, capsys):
    """TF.js fills a hash table's resource placeholder from the model initializer; bench must not ask for it."""
    fixture = FIXTURES / "graph" / "hash_table"
    model = _convert(fixture / "saved_model", tmp_path / "hash_table")
    result = _bench_json(capsys, str(model), "--runs", "2", "--inputs", str(fixture / "inputs.json"))
    assert sorted(i["name"] for i in result["models"][0]["inputs"]) == ["weights", "words"]
    _check_sane(result, 2, 1, "cpu")
    assert result["kept_by_first_inference"] > 0  # the table's keys and values, filled on first use


def test_compare_names_the_model_that_fails(models, capsys, tmp_path):
    """The official converter's v1 control-flow rnn fails on wasm (_FusedMatMul with a rank-3 bias); ours runs."""
    fixture = FIXTURES / "graph" / "rnn"
    ours = _convert(fixture / "saved_model", tmp_path / "rnn")
    capsys.readouterr()
    code = cli_main(["bench", str(ours), "--compare", str(FIXTURES / "official" / "rnn" / "default"),
                     "--backend", "wasm", "--runs", "2", "--inputs", str(fixture / "inputs.json")])
    err = capsys.readouterr().err
    assert code == 2 and "compare model: _FusedMatMul only supports rank-1 bias" in err
    result = _bench_json(capsys, str(ours), "--backend", "wasm", "--runs", "2", "--inputs", str(fixture / "inputs.json"))
    _check_sane(result, 2, 1, "wasm")
