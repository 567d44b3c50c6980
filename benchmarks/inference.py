"""TF.js inference time of our graph models against the official converter's (a script, not a test).

    /work/venv/bin/python benchmarks/inference.py [--official PATH] [--repeat 20] [--rounds 4]
        [--budget-s 20] [--only NAME ...] [--no-fixtures] [--no-models] [--json OUT]

For every graph fixture (``fixtures/graph/<case>``) and every SavedModel benchmark model
(``benchmarks/.models/<model>/saved_model``: resnet50, transformer, lstm, cnn, mlp) it converts
the model with tfjs-lite (``python -m tfjs_lite convert``) and with ``tensorflowjs_converter``
4.22 — default flags and ``--control_flow_v2=True``; for the graph fixtures the official outputs
already committed in ``fixtures/official/<case>/<variant>`` are used — into a temp dir, then runs
each in real TF.js 4.22 (Node, CPU backend, ``tests/tfjs_node.py``). For each model it reports the
median ``run_ms`` over ``rounds × repeat`` timed runs (ours and the official alternate round by
round, in reversed order every other round; slow models get fewer runs per round, ``--budget-s``),
the weight bytes, the node count (main graph + function bodies, ``fixtures/_model_stats``) and the
max normalised error against TF's expected outputs. The "official" column is the faster of
the official variants that run and match (the one most favourable to the official converter).

Prints a markdown table (and writes JSON with ``--json``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "fixtures"))

from _model_stats import graph_stats, weight_bytes
from tfjs_node import TfjsError, TfjsNode, compare_stats, load_tensors

GRAPH = ROOT / "fixtures" / "graph"
OFFICIAL_FIXTURES = ROOT / "fixtures" / "official"
MODELS = HERE / ".models"
BENCH_MODELS = ("mlp", "cnn", "lstm", "transformer", "resnet50")
OFFICIAL_DEFAULT = "/work/official/bin/tensorflowjs_converter"
VARIANTS = {"default": [], "control_flow_v2": ["--control_flow_v2=True"]}
QUIET = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="")


def _flags(fmt, signature=None, output_node_names=None):
    flags = ["--input_format", fmt, "--output_format", "tfjs_graph_model"]
    if output_node_names:
        flags += ["--output_node_names", output_node_names]
    elif signature:
        flags += ["--signature_name", signature]
    return flags


def discover(include_fixtures, include_models, only):
    cases = []
    if include_fixtures:
        for d in sorted(GRAPH.iterdir()):
            if not (d / "case.json").is_file():
                continue
            case = json.loads((d / "case.json").read_text())
            cases.append({
                "name": d.name, "group": "fixture", "source": d / case["path"],
                "flags": _flags(case["format"], case.get("signature"), case.get("output_node_names")),
                "inputs": d / "inputs.json", "expected": d / "expected.json",
                "official_dir": OFFICIAL_FIXTURES / d.name,
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
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    secs = time.perf_counter() - t0
    if proc.returncode != 0:
        tail = [ln for ln in (proc.stderr + proc.stdout).splitlines() if ln.strip()][-3:]
        return "exit %d: %s" % (proc.returncode, " | ".join(tail)), secs
    return None, secs


def convert_ours(case, out):
    cmd = [sys.executable, "-m", "tfjs_lite", "convert"] + case["flags"] + [str(case["source"]), str(out)]
    return _run(cmd)


def convert_official(exe, case, variant, out):
    if case["official_dir"] is not None:  # committed by fixtures/generate_official.py
        d = case["official_dir"] / variant
        summary = json.loads((d / "summary.json").read_text())
        if summary["conversion_failed"]:
            return d, summary["error"].splitlines()[-1]
        if not summary.get("weights_committed"):
            return d, "weights not committed in %s" % d
        return d, None
    err, _ = _run([exe] + case["flags"] + VARIANTS[variant] + [str(case["source"]), str(out)], env=QUIET)
    return out, err


def check(node, model_dir, case):
    """Run once: (error text or None, max normalised error)."""
    inputs = load_tensors(case["inputs"])
    expected = load_tensors(case["expected"])
    try:
        got = node.execute_graph(str(model_dir), inputs)
    except TfjsError as exc:
        return str(exc).splitlines()[0][:160], None
    import numpy as np

    try:
        stats = compare_stats({k: np.atleast_1d(v) for k, v in got.items()},
                              {k: np.atleast_1d(v) for k, v in expected.items()})
    except AssertionError as exc:
        return str(exc)[:160], None
    return None, max(s["rel"] for s in stats.values())


def describe(model_dir):
    return {"nodes": graph_stats(model_dir)["nodes"], "weight_bytes": weight_bytes(model_dir)}


def bench_case(node, exe, case, tmp, repeat, rounds, budget_s=None):
    row = {"name": case["name"], "group": case["group"]}
    ours_dir = tmp / case["name"] / "ours"
    err, secs = convert_ours(case, ours_dir)
    row["ours_convert_s"] = round(secs, 2)
    if err:
        row["ours_error"] = err
        print("  ours: conversion failed: %s" % err, file=sys.stderr)
        return row
    row["ours"] = describe(ours_dir)
    run_err, rel = check(node, ours_dir, case)
    row["ours"].update(error=run_err, rel_error=rel)

    candidates = {}
    for variant in VARIANTS:
        d, cerr = convert_official(exe, case, variant, tmp / case["name"] / ("official_" + variant))
        if cerr:
            row.setdefault("official_errors", {})[variant] = cerr
            continue
        info = describe(d)
        info["model_json"] = json.loads((d / "model.json").read_text())["modelTopology"]
        if any(c["model_json"] == info["model_json"] for c in candidates.values()):
            continue  # the flag changed nothing: time it once
        run_err, rel = check(node, d, case)
        info.update(error=run_err, rel_error=rel, dir=d, variant=variant)
        if run_err:
            row.setdefault("official_errors", {})[variant] = "TF.js: " + run_err
        candidates[variant] = info

    runnable = {v: c for v, c in candidates.items() if not c["error"]}
    timed = {"ours": ours_dir} if not row["ours"]["error"] else {}
    timed.update({"official_" + v: c["dir"] for v, c in runnable.items()})
    times = {k: [] for k in timed}
    inputs = load_tensors(case["inputs"])
    for i in range(rounds):  # alternate the order: the first model timed in a round is often slower
        for key, d in (list(timed.items()) if i % 2 == 0 else list(timed.items())[::-1]):
            n = repeat
            if budget_s and times[key]:  # after the first round: fit the budget
                n = max(3, min(repeat, int(budget_s * 1000 / statistics.median(times[key]))))
            elif budget_s:
                first = node.run(str(d), "graph", inputs).run_ms  # one untimed probe
                n = max(3, min(repeat, int(budget_s * 1000 / max(first, 1e-3))))
            r = node.benchmark(str(d), "graph", inputs, repeat=n)
            times[key] += r["run_ms_all"]
    row["timed_runs"] = {k: len(v) for k, v in times.items()}
    for key in timed:
        ms = statistics.median(times[key])
        if key == "ours":
            row["ours"]["run_ms"] = ms
        else:
            runnable[key[len("official_"):]]["run_ms"] = ms
    row["official_variants"] = {v: {k: c.get(k) for k in ("nodes", "weight_bytes", "run_ms", "rel_error")}
                                for v, c in candidates.items()}
    if runnable:
        best = min(runnable.values(), key=lambda c: c["run_ms"])
        row["official"] = {k: best.get(k) for k in ("variant", "nodes", "weight_bytes", "run_ms", "rel_error")}
    return row


def _fmt_ms(v):
    return "—" if v is None else ("%.3f" % v if v < 1 else "%.2f" % v if v < 100 else "%.0f" % v)


def _ratio(a, b):
    return "—" if not a or not b else "%.2f" % (a / b)


def table(rows):
    out = [("| model | ours ms | official ms (variant) | time ours/official | ours nodes | official nodes "
            "| ours weight bytes | official weight bytes | ours max rel err | note |"),
           "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for r in rows:
        o, f = r.get("ours") or {}, r.get("official") or {}
        note = []
        if r.get("ours_error"):
            note.append("ours failed: " + r["ours_error"][:80])
        if o.get("error"):
            note.append("ours TF.js: " + o["error"][:80])
        for v, e in (r.get("official_errors") or {}).items():
            note.append("official %s: %s" % (v, e.splitlines()[-1][:90]))
        name = r["name"] + (" (fixture)" if r["group"] == "fixture" else "")
        out.append("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
            name, _fmt_ms(o.get("run_ms")),
            "%s (%s)" % (_fmt_ms(f.get("run_ms")), f.get("variant")) if f else "—",
            _ratio(o.get("run_ms"), f.get("run_ms")),
            o.get("nodes", "—"), f.get("nodes", "—"), o.get("weight_bytes", "—"), f.get("weight_bytes", "—"),
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
    p.add_argument("--repeat", type=int, default=20, help="timed runs per round (median reported)")
    p.add_argument("--rounds", type=int, default=4, help="alternating rounds (ours, official, ...)")
    p.add_argument("--budget-s", type=float, default=20.0,
                   help="cap on timed seconds per model, converter and round: slow models get fewer "
                        "runs (at least 3) than --repeat")
    p.add_argument("--only", nargs="*", default=[])
    p.add_argument("--no-fixtures", action="store_true")
    p.add_argument("--no-models", action="store_true")
    p.add_argument("--json", help="also write the rows here")
    a = p.parse_args(argv)

    cases = discover(not a.no_fixtures, not a.no_models, a.only)
    rows = []
    with TfjsNode(timeout=1800) as node, tempfile.TemporaryDirectory(prefix="tfjs_bench_") as tmp:
        for case in cases:
            print("%s ..." % case["name"], file=sys.stderr, flush=True)
            rows.append(bench_case(node, a.official, case, Path(tmp), a.repeat, a.rounds, a.budget_s))
    print("machine: " + machine())
    print("command: " + " ".join(["python", "benchmarks/inference.py"] + (argv if argv is not None else sys.argv[1:])))
    print("TF.js 4.22.0, CPU backend; per model and converter: median of %d alternating rounds × up to %d "
          "timed runs (fewer for slow models: about %g s per round, at least 3), each round after one "
          "warm-up run" % (a.rounds, a.repeat, a.budget_s))
    print()
    print(table(rows))
    if a.json:
        Path(a.json).write_text(json.dumps(rows, indent=2, default=str) + "\n")


if __name__ == "__main__":
    main()
