"""Keras → TF.js graph model: tfjs-lite against the official converter (a script, not a test).

    .venv/bin/python benchmarks/keras_graph.py [--official PATH] [--no-official] [--no-inference]
        [--repeat 10] [--rounds 4] [--only NAME ...] [--json OUT]

Cases: every Keras fixture with recorded outputs (``fixtures/keras``, ``fixtures/keras_graph``,
``fixtures/keras_saved_model``) and the benchmark models ``benchmarks/.models/resnet50_h5`` and
``mobilenet_v2`` (``benchmarks/make_models.py``). For each it converts with
``tfjs-lite convert --output_format tfjs_graph_model`` (wall s, CPU s and peak RSS of a fresh
process, ``measure.py``) and with ``tensorflowjs_converter --input_format keras
--output_format tfjs_graph_model``, counts the nodes of both outputs (main graph + function
bodies) and, unless ``--no-inference``, times both graph models and our layers model of the same
Keras model in real TF.js 4.22 (``tests/tfjs_node.py``: median ``run_ms`` over ``rounds × repeat``
runs, the models alternating round by round) and checks their outputs against Keras's. Prints a
markdown table.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "fixtures"))
sys.path.insert(0, str(HERE))

from _model_stats import graph_stats  # noqa: E402
from measure import measure  # noqa: E402
from tfjs_node import TfjsError, TfjsNode, compare, load_tensors  # noqa: E402

OFFICIAL_DEFAULT = str(Path(__file__).resolve().parent / ".venvs" / "official" / "bin" / "tensorflowjs_converter")
QUIET = {"TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": "", "PATH": "/usr/bin:/bin"}


def discover(only):
    cases = []
    for group in ("keras", "keras_graph", "keras_saved_model"):
        for d in sorted((ROOT / "fixtures" / group).glob("*/case.json")):
            info = json.loads(d.read_text())
            if info.get("expect") == "refuse" and not d.parent.name.startswith(("refuse_gru", "refuse_mha")):
                continue
            source = d.parent / (info.get("file") or info.get("dir"))
            if "weights" in source.name or not (d.parent / "expected.json").is_file():
                continue
            fmt = "keras_saved_model" if group == "keras_saved_model" else (
                "keras_keras" if source.suffix == ".keras" else "keras")
            cases.append({"name": f"{group}/{d.parent.name}", "source": source, "format": fmt,
                          "dir": d.parent})
    for name in ("resnet50_h5", "mobilenet_v2"):
        d = HERE / ".models" / name
        if (d / "model.h5").is_file():
            cases.append({"name": name, "source": d / "model.h5", "format": "keras", "dir": d})
    return [c for c in cases if not only or c["name"] in only or c["name"].split("/")[-1] in only]


def convert_ours(case, out, output_format="tfjs_graph_model"):
    cmd = [sys.executable, "-m", "tfjs_lite", "convert", "--input_format", case["format"],
           "--output_format", output_format, str(case["source"]), str(out)]
    return measure(cmd)


def convert_official(exe, case, out):
    cmd = [exe, "--input_format", case["format"], "--output_format", "tfjs_graph_model",
           str(case["source"]), str(out)]
    return measure(cmd, env=QUIET)


def _timings(node, models, inputs, expected, repeat, rounds):
    """Median ``run_ms`` per model over ``rounds`` rounds of ``repeat`` runs, the models taken in
    turn and in reversed order every other round (warm-up and drift hit all alike), and each
    model's error against Keras's outputs."""
    runs, errors = {name: [] for name in models}, {}
    for name, (model_dir, kind) in models.items():
        try:
            errors[name] = compare(node.run(model_dir, kind, inputs), expected)
        except TfjsError as e:
            errors[name] = str(e).splitlines()[0][:80]
    usable = [name for name in models if not isinstance(errors[name], str)]
    for round_index in range(rounds):
        for name in usable if round_index % 2 == 0 else usable[::-1]:
            runs[name].extend(node.benchmark(*models[name], inputs, repeat=repeat)["run_ms_all"])
    return {name: statistics.median(v) if v else None for name, v in runs.items()}, errors


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--official", default=OFFICIAL_DEFAULT)
    ap.add_argument("--no-official", action="store_true")
    ap.add_argument("--no-inference", action="store_true")
    ap.add_argument("--repeat", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--only", nargs="*")
    ap.add_argument("--json")
    args = ap.parse_args(argv)
    rows = []
    node = None if args.no_inference else TfjsNode().__enter__()
    try:
        for case in discover(args.only):
            with tempfile.TemporaryDirectory() as tmp:
                tmp = Path(tmp)
                row = {"name": case["name"]}
                ours = convert_ours(case, tmp / "ours")
                row["ours_s"], row["ours_cpu_s"], row["ours_mb"] = ours.seconds, ours.cpu_seconds, ours.peak_rss_mb
                row["ours_nodes"] = graph_stats(tmp / "ours")["nodes"] if ours.returncode == 0 else None
                if not args.no_official:
                    official = convert_official(args.official, case, tmp / "official")
                    row["official_s"], row["official_mb"] = official.seconds, official.peak_rss_mb
                    ok = official.returncode == 0 and (tmp / "official" / "model.json").is_file()
                    row["official_nodes"] = graph_stats(tmp / "official")["nodes"] if ok else None
                if node is not None:
                    models = {"ours": (tmp / "ours", "graph")}
                    if row.get("official_nodes") is not None:
                        models["official"] = (tmp / "official", "graph")
                    if convert_ours(case, tmp / "layers", "tfjs_layers_model").returncode == 0:
                        models["layers"] = (tmp / "layers", "layers")
                    times, errors = _timings(node, models, load_tensors(case["dir"] / "inputs.json"),
                                             load_tensors(case["dir"] / "expected.json"), args.repeat, args.rounds)
                    for name in models:
                        row[f"{name}_ms"], row[f"{name}_err"] = times[name], errors[name]
                rows.append(row)
                print(json.dumps(row), file=sys.stderr)
    finally:
        if node is not None:
            node.__exit__(None, None, None)
    print(table(rows))
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))


def _fmt(value, spec="{:.2f}"):
    if value is None:
        return "–"
    return spec.format(value) if isinstance(value, (int, float)) else str(value)


def table(rows):
    lines = ["| case | ours s (CPU s) / MB | official s / MB | nodes ours / official | TF.js ms: ours graph / official graph / our layers |",
             "|---|---|---|---|---|"]
    for r in rows:
        lines.append(
            f"| {r['name']} | {_fmt(r['ours_s'])} ({_fmt(r['ours_cpu_s'])}) / {_fmt(r['ours_mb'], '{:.0f}')} "
            f"| {_fmt(r.get('official_s'))} / {_fmt(r.get('official_mb'), '{:.0f}')} "
            f"| {_fmt(r['ours_nodes'], '{}')} / {_fmt(r.get('official_nodes'), '{}')} "
            f"| {_fmt(r.get('ours_ms'))} / {_fmt(r.get('official_ms'))} / {_fmt(r.get('layers_ms'))} |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
