"""Benchmarks: conversion time and peak memory, against the floor and the official converter.

    python benchmarks/run.py [--with-official] [--models benchmarks/.models] [--only NAME ...]

Models come from ``benchmarks/make_models.py`` (run once in a TensorFlow environment; not
committed). For every model: our conversion (h5 → layers model, SavedModel → graph model, plain
and with each quantization), the floor (reading and writing the same weight bytes, floor.py), and
with ``--with-official`` ``tensorflowjs_converter`` 4.22 installed by this script into
``benchmarks/.venvs/official``. Also the install footprint of tfjs-lite in a fresh venv and its
start-up time. Each figure comes from one fresh process (wall time, peak RSS of that process).
Results go to ``benchmarks/results.json`` and, as a table, to stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List, Optional

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

from measure import Measurement, measure  # noqa: E402

OFFICIAL_VENV = HERE / ".venvs" / "official"
QUANTIZATIONS = ("", "float16", "uint8")


def _ours(python: str) -> List[str]:
    return [python, "-m", "tfjs_lite", "convert"]


def _official(venv: Path) -> List[str]:
    return [str(venv / "bin" / "tensorflowjs_converter")]


def install_official(venv: Path) -> Optional[Path]:
    """Install tensorflowjs 4.22 (+ the protobuf it needs to start) into its own venv."""
    exe = venv / "bin" / "tensorflowjs_converter"
    if exe.exists():
        return venv
    print(f"installing tensorflowjs==4.22.0 into {venv} (about 3 GB) ...", file=sys.stderr)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet"]
    ok = subprocess.run(pip + ["tensorflowjs==4.22.0"]).returncode == 0
    # Installed as-is it dies on a protobuf gencode/runtime mismatch before printing its version.
    ok = ok and subprocess.run(pip + ["protobuf==6.31.1"]).returncode == 0
    return venv if ok and exe.exists() else None


def discover_models(models_dir: Path, only: List[str]) -> List[Dict[str, str]]:
    cases = []
    for folder in sorted(p for p in models_dir.iterdir() if p.is_dir()):
        if only and folder.name not in only:
            continue
        h5 = folder / "model.h5"
        saved_model = folder / "saved_model"
        if h5.is_file():
            cases.append({"model": folder.name, "kind": "h5 → layers", "input": str(h5), "format": "keras"})
        if (saved_model / "saved_model.pb").is_file():
            cases.append(
                {"model": folder.name, "kind": "SavedModel → graph", "input": str(saved_model), "format": "tf_saved_model"}
            )
    return cases


def weight_bytes(path: Path) -> int:
    if path.is_dir():
        return sum(p.stat().st_size for p in (path / "variables").glob("variables.data-*"))
    import h5py

    total = 0
    with h5py.File(path, "r") as f:
        def visit(_name: str, obj: object) -> None:
            nonlocal total
            if isinstance(obj, h5py.Dataset):
                total += obj.size * obj.dtype.itemsize

        f.visititems(visit)
    return total


def _flags(case: Dict[str, str], quant: str) -> List[str]:
    flags = ["--input_format", case["format"]]
    if case["format"] == "tf_saved_model":
        flags += ["--output_format", "tfjs_graph_model"]
    if quant:
        flags.append(f"--quantize_{quant}")
    return flags


def _row(m: Measurement) -> Dict[str, object]:
    return {"seconds": round(m.seconds, 3), "peak_rss_mb": round(m.peak_rss_mb, 1), "ok": m.returncode == 0,
            "error": m.stderr.strip().splitlines()[-1] if m.returncode and m.stderr.strip() else None}


def _output_size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.glob("*.bin")) if folder.is_dir() else 0


def run_conversions(cases, official: Optional[Path], work: Path, python: str) -> List[Dict[str, object]]:
    rows = []
    for case in cases:
        source = Path(case["input"])
        floor_out = work / f"floor-{case['model']}"
        floor = measure([python, str(HERE / "floor.py"), str(source), str(floor_out)])
        shutil.rmtree(floor_out, ignore_errors=True)
        for quant in QUANTIZATIONS:
            label = f"{case['model']} {case['kind']}" + (f" {quant}" if quant else "")
            out = work / f"ours-{case['model']}-{case['format']}-{quant or 'none'}"
            ours = measure(_ours(python) + _flags(case, quant) + [str(source), str(out)])
            row: Dict[str, object] = {
                "case": label,
                "weights_mb": round(weight_bytes(source) / 1e6, 1),
                "floor": _row(floor),
                "ours": _row(ours),
                "ours_output_bytes": _output_size(out),
            }
            if official is not None:
                official_out = work / f"official-{case['model']}-{case['format']}-{quant or 'none'}"
                theirs = measure(_official(official) + _flags(case, quant) + [str(source), str(official_out)])
                row["official"] = _row(theirs)
                row["official_output_bytes"] = _output_size(official_out)
                shutil.rmtree(official_out, ignore_errors=True)
            shutil.rmtree(out, ignore_errors=True)
            rows.append(row)
            print(json.dumps(row), file=sys.stderr)
    return rows


def startup(python: str, official: Optional[Path]) -> Dict[str, object]:
    def median(cmd: List[str]) -> Dict[str, float]:
        runs = [measure(cmd) for _ in range(5)]
        return {"seconds": round(statistics.median(r.seconds for r in runs), 3),
                "peak_rss_mb": round(max(r.peak_rss_mb for r in runs), 1)}

    result: Dict[str, object] = {
        "tfjs-lite --version": median([python, "-m", "tfjs_lite", "--version"]),
        "import tfjs_lite": median([python, "-c", "import tfjs_lite"]),
    }
    if official is not None:
        result["tensorflowjs_converter --version"] = median(_official(official) + ["--version"])
    return result


def install_footprint(work: Path) -> Dict[str, object]:
    """Fresh venv, `pip install` of this project from the source tree, no pip cache."""
    venv = work / "footprint-venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    site = next((venv / "lib").glob("python*/site-packages"))
    before = _tree_size(site)
    started = time.perf_counter()
    subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "--no-cache-dir", str(ROOT)], check=True
    )
    seconds = time.perf_counter() - started
    ours = sum(_tree_size(p) for p in site.glob("tfjs_lite*"))
    return {
        "pip_install_seconds": round(seconds, 1),
        "installed_mb_total": round((_tree_size(site) - before) / 1e6, 1),
        "installed_mb_tfjs_lite_only": round(ours / 1e6, 2),
    }


def _tree_size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def print_table(results: Dict[str, object]) -> None:
    print(f"\nmachine: {results['machine']}\n")
    print("| case | weights MB | floor s / MB RSS | tfjs-lite s / MB RSS | × floor | official s / MB RSS | official ÷ ours |")
    print("|---|---|---|---|---|---|---|")
    for row in results["conversions"]:  # type: ignore[union-attr]
        f, o = row["floor"], row["ours"]
        cell = lambda m: f"{m['seconds']} / {m['peak_rss_mb']:.0f}" + ("" if m["ok"] else " FAILED")  # noqa: E731
        off = row.get("official")
        ratio = f"{off['seconds'] / o['seconds']:.0f}× time" if off and off["ok"] and o["ok"] else "—"
        print(f"| {row['case']} | {row['weights_mb']} | {cell(f)} | {cell(o)} | "
              f"{o['seconds'] / max(f['seconds'], 1e-9):.1f} | {cell(off) if off else '—'} | {ratio} |")
    print("\nstart-up:", json.dumps(results["startup"]))
    if "install" in results:
        print("install:", json.dumps(results["install"]))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", type=Path, default=HERE / ".models")
    parser.add_argument("--with-official", action="store_true")
    parser.add_argument("--official-venv", type=Path, default=OFFICIAL_VENV)
    parser.add_argument("--only", nargs="*", default=[])
    parser.add_argument("--skip-install", action="store_true", help="skip the fresh-venv install measurement")
    parser.add_argument("--python", default=sys.executable, help="the Python that has tfjs-lite installed")
    args = parser.parse_args()
    if not args.models.is_dir():
        print(f"no models in {args.models}: run fixtures' benchmarks/make_models.py in a TF environment first",
              file=sys.stderr)
        return 2
    official = install_official(args.official_venv) if args.with_official else None
    cases = discover_models(args.models, args.only)
    with tempfile.TemporaryDirectory(prefix="tfjs-lite-bench-") as tmp:
        work = Path(tmp)
        results: Dict[str, object] = {
            "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
                       f"{platform.platform()}",
            "conversions": run_conversions(cases, official, work, args.python),
            "startup": startup(args.python, official),
        }
        if not args.skip_install:
            results["install"] = install_footprint(work)
    (HERE / "results.json").write_text(json.dumps(results, indent=1) + "\n")
    print_table(results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
