"""TF.js inference time of our models against the official converter's (a script, not a test).

    .venv/bin/python benchmarks/inference.py [--official PATH] [--runs 50] [--backends cpu wasm]
        [--only NAME ...] [--no-fixtures] [--no-models] [--no-keras] [--json OUT]

For every graph fixture (``fixtures/graph/<case>``), the Keras fixtures in ``KERAS_CASES`` and every
SavedModel benchmark model (``benchmarks/.models/<model>/saved_model``, when made by
``make_models.py``) it converts the model with tfjs-lite and takes the official converter's
output (``tensorflowjs_converter`` 4.22: default flags, else ``--control_flow_v2=True``; for the
graph fixtures the outputs committed in ``fixtures/official/<case>/<variant>``; Keras fixtures and
models are converted with ``--official`` into a temp dir). Each pair is timed by ``tfjs-lite bench
OURS --compare OFFICIAL --json`` on each backend (Node, real TF.js 4.22): both models on the same
inputs (the fixture's ``inputs.json``), one warm-up run, then ``--runs`` timed runs interleaved
(order reversed every other run), each reading every output back. The ratio is ours/official
median. Also reported: node counts (``fixtures/_model_stats``), kernel calls per inference
(``tf.profile``) and the max normalised error of our output against TF's ``expected.json``.

Prints a markdown table (and writes JSON with ``--json``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT / "fixtures"))

from _model_stats import graph_stats, weight_bytes

GRAPH = ROOT / "fixtures" / "graph"
KERAS = ROOT / "fixtures" / "keras"
OFFICIAL_FIXTURES = ROOT / "fixtures" / "official"
MODELS = HERE / ".models"
BENCH_MODELS = ("mlp", "cnn", "lstm", "transformer", "resnet50")
KERAS_CASES = ("mlp", "cnn", "multi_io", "rnn", "layers_zoo")
# Where `benchmarks/run.py --with-official` installs tensorflowjs 4.22 (override with --official).
OFFICIAL_DEFAULT = str(HERE / ".venvs" / "official" / "bin" / "tensorflowjs_converter")
VARIANTS = {"default": [], "control_flow_v2": ["--control_flow_v2=True"]}
QUIET = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="")
TFJS_LITE = [sys.executable, "-m", "tfjs_lite"]


def _flags(fmt, signature=None, output_node_names=None):
    flags = ["--input_format", fmt, "--output_format", "tfjs_graph_model"]
    if output_node_names:
        flags += ["--output_node_names", output_node_names]
    elif signature:
        flags += ["--signature_name", signature]
    return flags


def discover(include_fixtures, include_models, include_keras, only):
    cases = []
    if include_fixtures:
        for d in sorted(GRAPH.iterdir()):
            if not (d / "case.json").is_file():
                continue
            case = json.loads((d / "case.json").read_text())
            cases.append({
                "name": d.name, "group": "graph fixture", "source": d / case["path"],
                "flags": _flags(case["format"], case.get("signature"), case.get("output_node_names")),
                "inputs": d / "inputs.json", "expected": d / "expected.json",
                "official_dir": OFFICIAL_FIXTURES / d.name,
            })
    if include_keras:
        for name in KERAS_CASES:
            d = KERAS / name
            case = json.loads((d / "case.json").read_text())
            cases.append({
                "name": "keras_" + name, "group": "keras fixture", "source": d / case["file"],
                "flags": ["--input_format", "keras", "--output_format", "tfjs_layers_model"],
                "inputs": d / "inputs.json", "expected": d / "expected.json", "official_dir": None,
                "variants": ["default"],
            })
    if include_models:
        for name in BENCH_MODELS:
            d = MODELS / name
            if not (d / "saved_model" / "saved_model.pb").is_file():
                print("skipping %s: no %s (run benchmarks/make_models.py)" % (name, d / "saved_model"),
                      file=sys.stderr)
                continue
            inputs = d / "inputs_saved_model.json"
            expected = d / "expected_saved_model.json"
            if not inputs.is_file():
                inputs, expected = d / "inputs.json", d / "expected.json"
            case = json.loads((d / "case.json").read_text())
            cases.append({
                "name": name, "group": "model", "source": d / "saved_model",
                "flags": _flags("tf_saved_model", case.get("signature", "serving_default")),
                "inputs": inputs, "expected": expected, "official_dir": None,
            })
    if only:
        cases = [c for c in cases if c["name"] in only]
    return cases


def _run(cmd, env=None):
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    if proc.returncode != 0:
        tail = [ln for ln in (proc.stderr + proc.stdout).splitlines() if ln.strip()][-3:]
        return "exit %d: %s" % (proc.returncode, " | ".join(tail))
    return None


def convert_ours(case, out):
    return _run(TFJS_LITE + ["convert"] + case["flags"] + [str(case["source"]), str(out)])


def convert_official(exe, case, variant, out):
    if case["official_dir"] is not None:  # committed by fixtures/generate_official.py
        d = case["official_dir"] / variant
        summary = json.loads((d / "summary.json").read_text())
        if summary["conversion_failed"]:
            return d, summary["error"].splitlines()[-1]
        if not summary.get("weights_committed"):
            return d, "weights not committed in %s" % d
        return d, None
    err = _run([exe] + case["flags"] + VARIANTS[variant] + [str(case["source"]), str(out)], env=QUIET)
    return out, err


def check(model_dir, case):
    """``tfjs-lite verify --runtime tfjs`` against TF's outputs: (error text or None, max rel error)."""
    proc = subprocess.run(
        TFJS_LITE + ["verify", str(case["source"]), str(model_dir), "--runtime", "tfjs", "--json",
                     "--inputs", str(case["inputs"]), "--expected", str(case["expected"])],
        capture_output=True, text=True, check=False)
    try:
        report = json.loads(proc.stdout)
    except ValueError:
        return (proc.stderr.strip().splitlines() or ["exit %d" % proc.returncode])[-1][:160], None
    worst = max(float(o["max_rel_error"]) for o in report["outputs"])
    return (None if report["ok"] else "outputs differ from TF's (max rel error %.2g)" % worst), worst


BENCH_TIMEOUT_S = 3600  # ResNet-50 on the cpu backend of a loaded 2-core machine: ~30 s per run


def bench_pair(ours, official, case, backend, runs):
    """``tfjs-lite bench OURS --compare OFFICIAL`` on one backend: the parsed JSON, or an error text."""
    proc = subprocess.run(
        TFJS_LITE + ["bench", str(ours), "--compare", str(official), "--backend", backend, "--runs", str(runs),
                     "--inputs", str(case["inputs"]), "--json", "--timeout", str(BENCH_TIMEOUT_S)],
        capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        return (proc.stderr.strip().splitlines() or ["exit %d" % proc.returncode])[-1][:160]
    return json.loads(proc.stdout)


def describe(model_dir):
    model = json.loads((Path(model_dir) / "model.json").read_text())
    nodes = graph_stats(model_dir)["nodes"] if model.get("format") == "graph-model" else None
    return {"nodes": nodes, "weight_bytes": weight_bytes(model_dir)}


def bench_case(exe, case, tmp, runs, backends):
    row = {"name": case["name"], "group": case["group"], "backends": {}}
    ours_dir = tmp / case["name"] / "ours"
    err = convert_ours(case, ours_dir)
    if err:
        row["ours_error"] = err
        print("  ours: conversion failed: %s" % err, file=sys.stderr)
        return row
    row["ours"] = describe(ours_dir)
    row["ours"]["error"], row["ours"]["rel_error"] = check(ours_dir, case)
    candidates = []  # official variants that run in TF.js (cpu) and match TF, default flags first
    for variant in case.get("variants", VARIANTS):
        d, cerr = convert_official(exe, case, variant, tmp / case["name"] / ("official_" + variant))
        if not cerr:
            cerr, rel = check(d, case)
        if cerr:
            row.setdefault("official_errors", {})[variant] = cerr
            continue
        candidates.append(dict(describe(d), variant=variant, rel_error=rel, dir=str(d)))
    row["official"] = candidates[0] if candidates else None
    if not candidates or row["ours"]["error"]:
        return row
    # A/A: ours against a byte-identical copy of itself shows how far the ratio moves by noise alone.
    # (Fixtures only: for the big models it would double a run of several minutes.)
    if case["group"] != "model":
        copy_dir = tmp / case["name"] / "ours_copy"
        shutil.copytree(ours_dir, copy_dir)
        aa = bench_pair(ours_dir, copy_dir, case, backends[0], runs)
        row["aa_ratio"] = None if isinstance(aa, str) else aa["compare"]["speed_ratio"]
    for backend in backends:
        for official in candidates:  # a variant may fail on one backend only: then try the next
            result = bench_pair(ours_dir, official["dir"], case, backend, runs)
            if isinstance(result, str):
                row["backends"][backend] = {"error": result}
                if result.find("compare model:") >= 0:
                    row.setdefault("official_errors", {})["%s on %s" % (official["variant"], backend)] = result
                    continue
                break
            mine, theirs = result["models"]
            row["backends"][backend] = {
                "ours_ms": mine["stats"]["median"], "official_ms": theirs["stats"]["median"],
                "ratio": result["compare"]["speed_ratio"], "median_ratio": result["compare"]["median_ratio"],
                "variant": official["variant"],
                "official_nodes": official["nodes"],
                "ours_kernels": mine["profile"]["kernel_count"], "official_kernels": theirs["profile"]["kernel_count"],
                "max_abs_diff": max((d.get("max_abs", float("inf")) for d in result["compare"]["differences"]),
                                    default=0.0),
                "runs": mine["stats"]["count"],
            }
            break
    return row


def _fmt_ms(v):
    return "—" if v is None else ("%.3f" % v if v < 1 else "%.2f" % v if v < 100 else "%.0f" % v)


def table(rows, backends):
    head = "| model | " + " | ".join("%s ours ms | %s official ms | %s ours/official" % (b, b, b) for b in backends)
    head += " | %s A/A (ours/copy of ours) | kernels per run ours / official | nodes ours / official " % backends[0]
    head += "| ours max rel err vs TF | note |"
    out = [head, "|---|" + "---:|---:|---:|" * len(backends) + "---:|---:|---:|---:|---|"]
    for r in rows:
        o, f = r.get("ours") or {}, r.get("official") or {}
        note = []
        if r.get("ours_error"):
            note.append("ours failed: " + r["ours_error"][:80])
        if o.get("error"):
            note.append("ours TF.js: " + o["error"][:80])
        for v, e in (r.get("official_errors") or {}).items():
            note.append("official %s: %s" % (v, e.splitlines()[-1][:90]))
        cells, kernels = [], "—"
        for b in backends:
            t = r["backends"].get(b) or {}
            if "error" in t:
                note.append("%s: %s" % (b, t["error"][:80]))
            official_ms = _fmt_ms(t.get("official_ms"))
            if t.get("variant") and t["variant"] != "default":
                official_ms += " (%s)" % t["variant"]
            cells += [_fmt_ms(t.get("ours_ms")), official_ms, "—" if t.get("ratio") is None else "%.2f" % t["ratio"]]
            if "ours_kernels" in t and kernels == "—":
                kernels = "%d / %d" % (t["ours_kernels"], t["official_kernels"])
                f = dict(f, nodes=t["official_nodes"])
        nodes = "%s / %s" % (o.get("nodes") or "—", f.get("nodes") or "—") if o.get("nodes") else "—"
        aa = "—" if r.get("aa_ratio") is None else "%.2f" % r["aa_ratio"]
        out.append("| %s (%s) | %s | %s | %s | %s | %s | %s |" % (
            r["name"], r["group"], " | ".join(cells), aa, kernels, nodes,
            "—" if o.get("rel_error") is None else "%.1e" % o["rel_error"],
            "; ".join(note).replace("|", "/")))
    return "\n".join(out)


def machine():
    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    node_v = subprocess.run(["node", "--version"], capture_output=True, text=True, check=False).stdout.strip()
    return "%s, %d CPUs, %s, Python %s, Node %s" % (cpu, os.cpu_count() or 0, platform.platform(),
                                                   platform.python_version(), node_v)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--official", default=OFFICIAL_DEFAULT, help="tensorflowjs_converter executable")
    p.add_argument("--runs", type=int, default=50, help="timed runs per model and backend (after 1 warm-up)")
    p.add_argument("--model-runs", type=int, default=10,
                   help="timed runs for the benchmark models (ResNet-50 takes seconds per run on cpu)")
    p.add_argument("--backends", nargs="+", default=["cpu", "wasm"], choices=["cpu", "wasm"])
    p.add_argument("--only", nargs="*", default=[])
    p.add_argument("--no-fixtures", action="store_true")
    p.add_argument("--no-keras", action="store_true")
    p.add_argument("--no-models", action="store_true")
    p.add_argument("--json", help="also write the rows here")
    a = p.parse_args(argv)

    cases = discover(not a.no_fixtures, not a.no_models, not a.no_keras, a.only)
    rows = []
    with tempfile.TemporaryDirectory(prefix="tfjs_bench_") as tmp:
        for case in cases:
            print("%s ..." % case["name"], file=sys.stderr, flush=True)
            runs = a.model_runs if case["group"] == "model" else a.runs
            rows.append(bench_case(a.official, case, Path(tmp), runs, a.backends))
    print("machine: " + machine())
    print("command: " + " ".join(["python", "benchmarks/inference.py"] + (argv if argv is not None else sys.argv[1:])))
    print("TF.js 4.22.0 in Node via `tfjs-lite bench OURS --compare OFFICIAL`, backends %s; per model: 1 warm-up "
          "run, then %d timed runs (%d for the benchmark models) of each model interleaved; ms = medians, "
          "ratio = median of per-run ratios" % (", ".join(a.backends), a.runs, a.model_runs))
    print()
    print(table(rows, a.backends))
    if a.json:
        Path(a.json).write_text(json.dumps(rows, indent=2, default=str) + "\n")


if __name__ == "__main__":
    main()
