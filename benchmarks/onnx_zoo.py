"""The ONNX zoo: every torchvision architecture, both PyTorch exporters, converted and checked in TF.js.

    python benchmarks/onnx_zoo.py [--torch-python PATH] [--only NAME ...] [--keep] [--reuse]
                                  [--results benchmarks/.onnx_zoo/results.json] [--table docs/onnx_zoo.md]

For each architecture (``fixtures/generate_onnx_zoo.py --list``, smallest first), in chunks:

1. generate it with real PyTorch (``fixtures/generate_onnx_zoo.py``, run by ``--torch-python``):
   random weights, batch norms calibrated, ``torchscript.onnx`` (opset 17) and ``dynamo.onnx``
   (the dynamo exporter's default opset), and onnxruntime's outputs for each;
2. convert each file with ``python -m tfjs_lite convert`` (and the dynamo file of an image model
   once more with ``--nhwc_inputs --nhwc_outputs``);
3. run each output in real TF.js 4.22 (``tests/tfjs_node.py``) and compare with onnxruntime
   (normalised error, max |a - b| / max |b|); a mismatch is also run in our numpy reference
   executor, which tells a lowering bug (the executor misses too) from a TF.js-side one;
4. record per path: ok / refused (the converter's one-line message) / converter error / TF.js
   error / mismatch, or the exporter's own failure; then delete the generated files unless
   ``--keep``.

Results accumulate in ``--results`` (re-running replaces an architecture's entry); ``--table``
rewrites the table of ``docs/onnx_zoo.md`` from them.
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
sys.path[:0] = [str(HERE), str(ROOT / "tests"), str(ROOT)]

from float64_reference import verdict  # noqa: E402
from tfjs_node import TfjsError, TfjsHarnessError, TfjsNode, compare_stats, load_tensors  # noqa: E402
from zoo import add_runner_arguments, convert_cli, one_line, record_result, run_or_table, short, splice_table  # noqa: E402

OUT = HERE / ".onnx_zoo"
DEFAULT_TORCH_PYTHON = os.environ.get("TFJS_LITE_TORCH_PYTHON", str(ROOT / ".torchenv" / "bin" / "python"))
GENERATOR = ROOT / "fixtures" / "generate_onnx_zoo.py"
TOLERANCE = 1e-4
TFJS_TIMEOUT_S = 1800  # the pure-JS CPU backend runs a 224 px MaxViT batch for minutes on a busy machine
GENERATE_TIMEOUT_S = 3600
TABLE_START = "<!-- onnx zoo table start -->"
TABLE_END = "<!-- onnx zoo table end -->"
NHWC_FLAGS = ["--nhwc_inputs", "--nhwc_outputs"]
# (path key, exporter file, converter flags)
PATHS = (("torchscript", "torchscript", []), ("dynamo", "dynamo", []), ("dynamo_nhwc", "dynamo", NHWC_FLAGS))
STATUS_LABEL = {"refused": "refused", "converter_error": "**converter error**", "tfjs_error": "**TF.js error**",
                "export_error": "not exported", "mismatch": "**MISMATCH**"}


def architectures(torch_python: str) -> list[str]:
    cmd = [torch_python, str(GENERATOR), "--list", "--by-size"]
    return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.split()


def generate(torch_python: str, names: list[str], out: Path) -> None:
    subprocess.run([torch_python, str(GENERATOR), "--out", str(out), *names], check=False,
                   timeout=GENERATE_TIMEOUT_S, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _nhwc(arrays: dict, perm: tuple = (0, 2, 3, 1)) -> dict:
    return {k: v.transpose(perm) if v.ndim == 4 else v for k, v in arrays.items()}


def convert_and_check(node: TfjsNode, case_dir: Path, exporter: str, flags: list[str], work: Path,
                      torch_gap: float) -> dict:
    source = case_dir / f"{exporter}.onnx"
    out = work / (exporter + ("_nhwc" if flags else ""))
    result = convert_cli(flags, source, out)
    if "status" in result:
        return result
    inputs = load_tensors(case_dir / "inputs.json")
    expected = load_tensors(case_dir / f"expected_{exporter}.json")
    start = time.time()
    try:
        got = dict(node.run(out, "graph", _nhwc(inputs) if flags else inputs))
        got = _nhwc(got, (0, 3, 1, 2)) if flags else got  # compared in ONNX's NCHW
        stats = compare_stats(got, expected)
    except (TfjsError, AssertionError, TfjsHarnessError) as e:  # the harness: a timeout (worker restarts)
        result.update(status="tfjs_error", message=one_line(str(e)))
        return result
    error = max(s["rel"] for s in stats.values())
    result.update(status="ok" if error <= TOLERANCE else "mismatch", error=float(error),
                  tfjs_seconds=round(time.time() - start, 1))
    if result["status"] == "mismatch":
        result.update(_float64_arbiter(source, inputs, expected, got, torch_gap))
    return result


def _float64_arbiter(source: Path, inputs: dict, expected: dict, got: dict, torch_gap: float) -> dict:
    """Is onnxruntime itself that far from the exact result? tests/float64_reference.py decides
    (float64 and float32 runs of the model as read; TF.js counts as right when it is no farther from
    the exact result than float32 noise). ``torch_gap`` (PyTorch vs onnxruntime) is recorded
    beside it: the size of the noise between two float32 frameworks."""
    try:
        judged = verdict(source, inputs, expected, got, tolerance=0.0)
    except Exception as e:  # a diagnostic only: report what stopped it
        return {"executor_error": f"{type(e).__name__}: {str(e)[:200]}"}
    status = {"within_tf_float32_error": "within_float32_error"}.get(judged["status"], judged["status"])
    return {"status": status, "onnxruntime_vs_float64": judged["tf_vs_float64"],
            "tfjs_vs_float64": judged["tfjs_vs_float64"], "float32_vs_float64": judged["float32_vs_float64"],
            "torch_vs_onnxruntime": float(torch_gap)}


def check_case(node: TfjsNode, case_dir: Path, work: Path) -> dict:
    info = json.loads((case_dir / "case.json").read_text())
    entry: dict = {k: info.get(k) for k in ("params", "input_shape", "error", "output_max_abs")}
    for key, exporter, flags in PATHS:
        exported = info.get("exporters", {}).get(exporter)
        if exported is None or (flags and len(info["input_shape"]) != 4):
            continue
        if "error" in exported:
            entry[key] = {"status": "export_error", "message": exported["error"]}
            continue
        gap = exported["torch_vs_onnxruntime"] / max(info.get("output_max_abs") or 0.0, 1e-6)
        entry[key] = convert_and_check(node, case_dir, exporter, flags, work, gap)
        entry[key]["opset"] = exported["opset"]
    shutil.rmtree(work, ignore_errors=True)
    return entry


def run(args: argparse.Namespace) -> None:
    results_path = Path(args.results[0])
    names = args.only or architectures(args.torch_python)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with TfjsNode(timeout=TFJS_TIMEOUT_S) as node:
        for start in range(0, len(names), args.chunk):
            chunk = names[start:start + args.chunk]
            missing = [n for n in chunk if not (args.reuse and (out / n / "case.json").is_file())]
            if missing:
                t0 = time.time()
                generate(args.torch_python, missing, out)
                print(f"generated {missing} in {time.time() - t0:.0f} s", flush=True)
            for name in chunk:
                case_dir = out / name
                t0 = time.time()
                if not (case_dir / "case.json").is_file():
                    entry = {"error": "the generator wrote no case.json (crashed or timed out)"}
                else:
                    entry = check_case(node, case_dir, out / "_work" / name)
                entry.update(architecture=name, check_seconds=round(time.time() - t0, 1))
                record_result(results_path, name, entry)
                if not args.keep:
                    shutil.rmtree(case_dir, ignore_errors=True)
    if args.table:
        write_table(json.loads(results_path.read_text()), Path(args.table))


def _cell(r: dict | None) -> str:
    if r is None:
        return "–"
    if r["status"] == "ok":
        return f"{r['error']:.1e}"
    if "tfjs_vs_float64" in r:
        verdict = {"within_float32_error": "", "ill_conditioned": " (ill-conditioned, not judged)"}.get(
            r["status"], " **MISMATCH**")
        return (f"{r['error']:.1e}{verdict} (float64 reference: onnxruntime {r['onnxruntime_vs_float64']:.1e}, "
                f"TF.js {r['tfjs_vs_float64']:.1e}; PyTorch vs onnxruntime {r['torch_vs_onnxruntime']:.1e})")
    if r["status"] == "mismatch":
        note = f" ({r['executor_error'][:150]})" if "executor_error" in r else ""
        return f"{r['error']:.1e} **MISMATCH**{note}"
    return f"{STATUS_LABEL[r['status']]}: {short(r.get('message', ''))}"


def summary(results: dict) -> dict:
    counts: dict = {}
    for entry in results.values():
        for key, _, _ in PATHS:
            if key in entry:
                status = entry[key]["status"]
                counts.setdefault(key, {}).setdefault(status, 0)
                counts[key][status] += 1
    return counts


def write_table(results: dict, doc: Path) -> None:
    rows = ["| architecture | params | input | TorchScript exporter (opset 17) | dynamo exporter | "
            "dynamo, `--nhwc_inputs --nhwc_outputs` |", "|---|---:|---|---|---|---|"]
    for name in sorted(results):
        entry = results[name]
        if entry.get("error"):
            rows.append(f"| {name} | | | not generated: {entry['error'][:200]} | | |")
            continue
        shape = "×".join(str(d) for d in entry.get("input_shape") or [])
        rows.append(f"| {name} | {entry.get('params') or 0:,} | {shape} | " +
                    " | ".join(_cell(entry.get(key)) for key, _, _ in PATHS) + " |")
    counts = summary(results)
    lines = [f"* {key}: " + ", ".join(f"{n} {status}" for status, n in sorted(c.items())) for key, c in counts.items()]
    splice_table(doc, TABLE_START, TABLE_END, "\n".join([f"{len(results)} architectures.", "", *lines, "", *rows]))


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--torch-python", default=DEFAULT_TORCH_PYTHON, help="python of a torch + onnxruntime env")
    add_runner_arguments(p, OUT, 4)
    run_or_table(p.parse_args(argv), run, write_table)


if __name__ == "__main__":
    main(sys.argv[1:])
