"""ONNX (PyTorch) models: conversion time, peak RSS, transposes left, and TF.js 4.22 vs onnxruntime.

The models are made by `fixtures/generate_onnx.py --big` (torchvision ResNet-18, MobileNetV3-Small,
EfficientNet-B0 and Ultralytics YOLOv8n with random weights, into the git-ignored
`benchmarks/.models/onnx/`), together with onnxruntime's outputs. Usage, from the repository root:

    .torchenv/bin/python fixtures/generate_onnx.py --big
    .venv/bin/python benchmarks/onnx_models.py [names...]

Each conversion is one fresh `python -m tfjs_lite convert` process measured by measure.py (after one
unmeasured warm-up run); the output is then run in real TF.js 4.22 (tests/tfjs_node.py) and compared
with the recorded onnxruntime outputs (normalised error, as in the tests).
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:0] = [str(HERE), str(ROOT / "tests"), str(ROOT)]

from measure import measure  # noqa: E402
from tfjs_node import TfjsNode, compare_stats, load_tensors  # noqa: E402

MODELS = HERE / ".models" / "onnx"


def _weights_mb(model: Path) -> float:
    return sum(p.stat().st_size for p in model.parent.iterdir() if p.suffix in (".onnx", ".data", ".bin")) / 1e6


def run(names: list[str]) -> list[dict]:
    rows = []
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with TfjsNode() as node, tempfile.TemporaryDirectory() as tmp:
        for folder in sorted(MODELS.iterdir()):
            if names and folder.name not in names or not (folder / "model.onnx").is_file():
                continue
            out = Path(tmp) / folder.name
            command = [sys.executable, "-m", "tfjs_lite", "convert", str(folder / "model.onnx"), str(out), "--force"]
            measure(command, env=env)  # warm-up (page cache, .pyc)
            m = measure(command, env=env)
            if m.returncode != 0:
                rows.append({"case": folder.name, "error": m.stderr.strip()[-300:]})
                continue
            model = json.loads((out / "model.json").read_text())
            ops = [n["op"] for n in model["modelTopology"]["node"]]
            inputs, expected = load_tensors(folder / "inputs.json"), load_tensors(folder / "expected.json")
            got = node.execute_graph(str(out), dict(inputs), list(expected))
            stats = compare_stats(got, expected)
            case = json.loads((folder / "case.json").read_text())
            source_transposes = case["ops"].count("Transpose") if "Transpose" in case["ops"] else 0
            rows.append({"case": folder.name, "weights_mb": round(_weights_mb(folder / "model.onnx"), 1),
                         "seconds": round(m.seconds, 2), "cpu_seconds": round(m.cpu_seconds, 2),
                         "peak_rss_mb": round(m.peak_rss_mb, 1), "nodes": len(ops),
                         "transposes": ops.count("Transpose"), "source_has_transpose": bool(source_transposes),
                         "max_normalised_error": max(s["rel"] for s in stats.values()),
                         "opset": case["opset"], "exporter": case["exporter"]})
            print(json.dumps(rows[-1]), flush=True)
    return rows


def table(rows: list[dict]) -> str:
    lines = ["| model | exporter, opset | weights MB | convert s (CPU s) | peak RSS MB | RSS ÷ weights | nodes | "
             "Transpose left | TF.js vs onnxruntime |", "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['case']} | error: {r['error']} |||||||")
            continue
        lines.append(f"| {r['case']} | {r['exporter']}, {r['opset']} | {r['weights_mb']} | {r['seconds']} "
                     f"({r['cpu_seconds']}) | {r['peak_rss_mb']} | {r['peak_rss_mb'] / r['weights_mb']:.1f} | "
                     f"{r['nodes']} | {r['transposes']} | {r['max_normalised_error']:.1e} |")
    return "\n".join(lines)


if __name__ == "__main__":
    print(table(run(sys.argv[1:])))
