"""The TFLite zoo: every zoo architecture through TF's TFLiteConverter in four modes, checked in TF.js.

    python benchmarks/tflite_zoo.py [--tf-python PATH] [--only NAME ...] [--modes M ...] [--keep]
                                    [--reuse] [--results benchmarks/.tflite_zoo/results.json]
                                    [--table docs/tflite_zoo.md] [--table-only]

For each architecture of the Keras zoo (``fixtures/generate_zoo.py --list``), one at a time:

1. generate it with real TF (``fixtures/generate_tflite_zoo.py``, run by ``--tf-python``): the
   Keras zoo's model (random weights, calibrated batch norms) converted by
   ``tf.lite.TFLiteConverter`` as float32, float16, dynamic-range and full-integer int8, with
   ``tf.lite.Interpreter``'s outputs on the zoo's recorded images;
2. convert each ``model.tflite`` with ``python -m tfjs_lite convert``;
3. load the graph model in real TF.js 4.22 (``tests/tfjs_node.py``) and compare with the
   interpreter within the tolerance of ``tests/tflite_tolerance.py`` (1e-4 for float models, one
   output quantization step for int8, 1/254 per hybrid layer for dynamic range);
4. record per mode the error and tolerance, or the converter's refusal (its one-line message), or
   the TF.js error; on a mismatch also the numpy reference executor's error on the lowered graph
   (does the lowering or TF.js differ?); then delete the generated models unless ``--keep``.

Results accumulate in ``--results`` (git-ignored; re-running an architecture replaces its
entry); ``--table`` rewrites the results table of ``docs/tflite_zoo.md`` from them.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:0] = [str(HERE), str(ROOT / "tests")]

from float64_reference import verdict  # noqa: E402
from tfjs_node import TfjsError, TfjsNode, compare_stats, load_tensors  # noqa: E402
from tflite_tolerance import operator_errors, tolerance  # noqa: E402
from zoo import (  # noqa: E402
    CONVERT_TIMEOUT_S,
    GENERATE_TIMEOUT_S,
    TABLE_END,
    TABLE_START,
    add_runner_arguments,
    merged_results,
    one_line,
    record_result,
    splice_table,
)

OUT = HERE / ".tflite_zoo"
DEFAULT_TF_PYTHON = os.environ.get("TFJS_LITE_TF_PYTHON", str(ROOT / ".tfenv" / "bin" / "python"))
GENERATOR = ROOT / "fixtures" / "generate_tflite_zoo.py"
MODES = ("float32", "float16", "dynamic_range", "int8")
EXTRA_MODES = ("uint8_io", "int16x8")  # full integer with uint8 inputs/outputs, 16x8: on request


def architectures(tf_python: str) -> list[str]:
    return subprocess.run([tf_python, str(GENERATOR), "--list"], check=True, capture_output=True,
                          text=True).stdout.split()


def generate(tf_python: str, name: str, out: Path, modes: list[str], keras3: bool) -> float:
    start = time.time()
    flags = ["--keras3"] if keras3 else []
    subprocess.run([tf_python, str(GENERATOR), name, *flags, "--out", str(out), "--modes", *modes], check=False,
                   timeout=GENERATE_TIMEOUT_S, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return round(time.time() - start, 1)


def convert_and_check(node: TfjsNode, case_dir: Path, work: Path) -> dict:
    info = json.loads((case_dir / "case.json").read_text())
    if info.get("error"):
        return {"status": "tflite_converter_error", "message": info["error"]}
    result: dict = {"tflite_bytes": info["tflite_bytes"], "tflite_convert_seconds": info["convert_seconds"]}
    shutil.rmtree(work, ignore_errors=True)
    start = time.time()
    proc = subprocess.run([sys.executable, "-m", "tfjs_lite", "convert", str(case_dir / "model.tflite"), str(work)],
                          capture_output=True, text=True, timeout=CONVERT_TIMEOUT_S, cwd=ROOT)
    result["convert_seconds"] = round(time.time() - start, 1)
    if proc.returncode != 0:
        result.update(status="refused" if proc.returncode == 2 else "converter_error",
                      message=one_line(proc.stderr))
        return result
    inputs, expected = load_tensors(case_dir / "inputs.json"), load_tensors(case_dir / "expected.json")
    rtol = tolerance(case_dir, expected)
    start = time.time()
    try:
        got = node.run(work, "graph", inputs)
        stats = compare_stats(dict(got), expected)
    except (TfjsError, AssertionError) as e:
        result.update(status="tfjs_error", message=one_line(str(e)))
        return result
    result["tfjs_seconds"] = round(time.time() - start, 1)
    error = max(s["rel"] for s in stats.values())
    result.update(status="ok" if error <= rtol else "mismatch", error=float(error), tolerance=float(rtol))
    if result["status"] == "mismatch":
        result.update(_arbiter(case_dir, inputs, expected, dict(got)))
    if (case_dir / "intermediates.npz").is_file():
        result["per_operator"] = _per_operator(case_dir)
        if result["status"] == "mismatch" and not result["per_operator"]["failing"]:
            # every lowering matches its operator: the end-to-end difference is the interpreter's
            # rounding, amplified by the model
            result["status"] = "ok_per_operator"
        elif result["status"] == "ok" and result["per_operator"]["failing"]:
            result["status"] = "operator_mismatch"  # within tolerance end to end, yet a lowering is off
    return result


def _per_operator(case_dir: Path) -> dict:
    """tests/tflite_tolerance.py's operator-by-operator check, summarised: the operators over
    their allowance, and the worst ratio error / allowed of each opcode (with its operator)."""
    import numpy as np

    with np.load(case_dir / "intermediates.npz") as recorded:
        rows = operator_errors(case_dir, dict(recorded))
    worst: dict = {}
    for row in rows:
        ratio = row["error"] / row["allowed"]
        if row["opcode"] not in worst or ratio > worst[row["opcode"]][0]:
            worst[row["opcode"]] = (ratio, row["operator"])
    failing = sorted({f"{r['operator']} {r['opcode']}" for r in rows if r["error"] > r["allowed"]})
    return {"operators": len(rows), "failing": failing, "worst_ratio": max((w[0] for w in worst.values()), default=0.0),
            "by_opcode": {k: [round(float(e), 4), i] for k, (e, i) in sorted(worst.items())}}


def _arbiter(case_dir: Path, inputs: dict, expected: dict, got: dict) -> dict:
    """For a float model, the float64 arbiter of tests/float64_reference.py on the lowered graph
    (is the interpreter itself that far from the exact result?). For a quantized one, the numpy reference
    executor's error: as large as TF.js's, the difference is the lowering or the interpreter's
    rounding, not TF.js."""
    from tfjs_lite.optimizer import optimize

    from tfjs_lite import executor
    from tfjs_lite.readers.tflite import load_tflite_graph

    if json.loads((case_dir / "case.json").read_text())["kind"] in ("float32", "float16"):
        return verdict(case_dir / "model.tflite", inputs, expected, got, tolerance=0.0)
    graph = load_tflite_graph(case_dir / "model.tflite")
    optimize(graph)
    reference = executor.run(graph, inputs)
    stats = compare_stats({k: reference[k] for k in expected}, expected)
    return {"executor_error": float(max(s["rel"] for s in stats.values()))}


def run(args: argparse.Namespace) -> None:
    results_path = Path(args.results[0])
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    names = args.only or architectures(args.tf_python)
    with TfjsNode() as node:
        for name in names:
            key = ("k3_" if args.keras3 else "") + name
            arch_dir = out / key
            entry: dict = {"architecture": name, "keras": "keras 3" if args.keras3 else "tf_keras"}
            if not (args.reuse and (arch_dir / "case.json").is_file()):
                entry["generate_seconds"] = generate(args.tf_python, name, out, args.modes, args.keras3)
            if not (arch_dir / "case.json").is_file():
                entry["generate_error"] = "the generator wrote no case.json (crashed or timed out)"
            else:
                info = json.loads((arch_dir / "case.json").read_text())
                entry.update({k: info.get(k) for k in ("params", "input_size", "error")})
                for mode in args.modes:
                    if (arch_dir / mode / "case.json").is_file():
                        entry[mode] = convert_and_check(node, arch_dir / mode, out / "_work" / key / mode)
                    elif not info.get("error"):
                        entry[mode] = {"status": "tflite_converter_error",
                                       "message": "the TFLite converter crashed the process (no case.json)"}
                shutil.rmtree(out / "_work" / key, ignore_errors=True)
            record_result(results_path, key, entry)
            if not args.keep:
                shutil.rmtree(arch_dir, ignore_errors=True)
    if args.table:
        write_table(json.loads(results_path.read_text()), Path(args.table))


def _cell(r: dict | None) -> str:
    if r is None:
        return "–"
    status = r["status"]
    if status in ("ok", "mismatch"):
        if status == "ok":
            return f"{r['error']:.1e} ≤ {r['tolerance']:.1e}"
        failing = r.get("per_operator", {}).get("failing", [])
        where = f"; operators over: {', '.join(failing[:4])}" if failing else ""
        return f"**{r['error']:.1e} > {r['tolerance']:.1e}** (numpy executor {r['executor_error']:.1e}{where})"
    if status == "operator_mismatch":
        return (f"{r['error']:.1e} ≤ {r['tolerance']:.1e} but **operators over their rounding**: "
                + ", ".join(r["per_operator"]["failing"][:4]))
    if status == "ok_per_operator":
        return (f"{r['error']:.1e} > {r['tolerance']:.1e}, every operator within its rounding "
                f"(worst {r['per_operator']['worst_ratio']:.2f} of it)")
    if status == "within_tf_float32_error":
        return (f"{r['error']:.1e} (the interpreter is {r['tf_vs_float64']:.1e} from the float64 reference, "
                f"TF.js {r['tfjs_vs_float64']:.1e})")
    label = {"refused": "refused", "converter_error": "**converter error**", "tfjs_error": "**TF.js error**",
             "tflite_converter_error": "TFLite converter fails"}[status]
    message = r.get("message", "").replace("|", "/").replace("tfjs-lite: error: ", "")
    message = message.split(": ", 1)[-1] if message.startswith("/") else message
    return f"{label}: {message[:200]}"


def write_table(results: dict, doc: Path) -> None:
    modes = [*MODES, *(m for m in EXTRA_MODES if any(m in r for r in results.values()))]
    rows = ["| architecture | params | input | s (TF / tfjs-lite) | " + " | ".join(modes) + " |",
            "|---|---:|---:|---:|" + "---|" * len(modes)]
    for name in sorted(results):
        r = results[name]
        if r.get("error") or r.get("generate_error"):
            rows.append(f"| {name} | | | | not generated: {(r.get('error') or r['generate_error'])[:200]} |"
                        + " |" * (len(modes) - 1))
            continue
        converts = [r[m]["convert_seconds"] for m in modes if "convert_seconds" in r.get(m, {})]
        seconds = f"{r.get('generate_seconds', '?')} / {max(converts, default=0):.1f}"
        rows.append(f"| {name} | {r.get('params') or 0:,} | {r.get('input_size', '')} | {seconds} | "
                    + " | ".join(_cell(r.get(mode)) for mode in modes) + " |")
    splice_table(doc, TABLE_START, TABLE_END, "\n".join(rows))


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--tf-python", default=DEFAULT_TF_PYTHON, help="python of a TF 2.19 + tf_keras env")
    p.add_argument("--keras3", action="store_true", help="build the architectures with Keras 3 (rows k3_<name>)")
    p.add_argument("--modes", nargs="+", default=list(MODES), choices=[*MODES, *EXTRA_MODES])
    add_runner_arguments(p, OUT, 1)
    a = p.parse_args(argv)
    if a.table_only:
        write_table(merged_results(a.results, by_field=True), Path(a.table))
        return
    run(a)


if __name__ == "__main__":
    main(sys.argv[1:])
