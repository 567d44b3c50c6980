"""Benchmarks: conversion time and peak memory, against the floor and the official converter.

    python benchmarks/run.py [--with-official [--official-venv DIR]] [--huge] [--only NAME ...]

Models come from ``benchmarks/make_models.py`` (run once in a TensorFlow environment; not
committed). For every model: our conversion (h5 → layers model, SavedModel → graph model, plain
and with each quantization), the floor (reading and writing the same weight bytes, floor.py), and
with ``--with-official`` ``tensorflowjs_converter`` 4.22 installed by this script into
``benchmarks/.venvs/official``. Also the install footprint of tfjs-lite in a fresh venv and its
start-up time. Each figure comes from one fresh process (wall time, peak RSS of that process).
Results go to ``benchmarks/results.json`` and, as a table, to stdout.

Every measured process runs with bytecode caching on (``PYTHONDONTWRITEBYTECODE`` is removed from
its environment) after one unmeasured warm-up conversion per model, so that neither side pays for
compiling its own sources or for a cold page cache: an installed package has its .pyc files.

Output quality per case: the weight bytes written (ours and official) and, for graph models, the
node count of ``model.json`` (``modelTopology.node``), for layers models the layer count.

``--huge`` adds the ``huge`` SavedModel (> 2.5 GB of variables; skipped otherwise): our plain
conversion only, then ``check_weights.py`` confirms its weights equal the checkpoint's bytes.
``--huge-official`` also tries the official converter on it (it cannot write a graph past
protobuf's 2 GB limit; what it does is recorded).
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
HUGE = "huge"
# Children run with .pyc caching on (see the module docstring).
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def run(command: List[str]) -> Measurement:
    return measure(command, env=ENV)


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


def discover_models(models_dir: Path, only: List[str], huge: bool = False) -> List[Dict[str, str]]:
    cases = []
    for folder in sorted(p for p in models_dir.iterdir() if p.is_dir()):
        if only and folder.name not in only:
            continue
        if folder.name == HUGE and not huge:
            continue
        h5 = folder / "model.h5"
        saved_model = folder / "saved_model"
        if h5.is_file():
            cases.append({"model": folder.name, "kind": "h5 → layers", "input": str(h5), "format": "keras"})
        if (saved_model / "saved_model.pb").is_file():
            cases.append(
                {"model": folder.name, "kind": "SavedModel → graph", "input": str(saved_model), "format": "tf_saved_model"}
            )
    for path in sorted(models_dir.glob("*.tflite")):  # made by fixtures/generate_tflite.py --benchmark
        if not only or path.stem in only or path.name in only:
            cases.append({"model": path.stem, "kind": "TFLite → graph", "input": str(path), "format": "tflite"})
    return cases


def weight_bytes(path: Path) -> int:
    if path.suffix == ".tflite":
        return path.stat().st_size
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
    # The quantize flags take an optional value (nargs="?"), so they go first: right before the
    # model path the official converter would swallow the path as the list of weights to quantize.
    flags = [f"--quantize_{quant}"] if quant else []
    flags += ["--input_format", case["format"]]
    if case["format"] == "tf_saved_model":
        flags += ["--output_format", "tfjs_graph_model"]
    return flags


def _row(m: Measurement) -> Dict[str, object]:
    return {"seconds": round(m.seconds, 3), "cpu_seconds": round(m.cpu_seconds, 3),
            "peak_rss_mb": round(m.peak_rss_mb, 1), "ok": m.returncode == 0,
            "error": m.stderr.strip().splitlines()[-1] if m.returncode and m.stderr.strip() else None}


def _output_size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.glob("*.bin")) if folder.is_dir() else 0


def _node_count(folder: Path) -> Optional[int]:
    """Graph models: nodes in model.json; layers models: layers (nested models counted flat)."""
    try:
        model = json.loads((folder / "model.json").read_text())
    except (OSError, ValueError):
        return None
    topology = model.get("modelTopology") or {}
    if "node" in topology:
        return len(topology["node"])

    def layers(config: object) -> int:
        if isinstance(config, dict):
            inner = config.get("layers")
            if isinstance(inner, list):
                return sum(1 + layers(layer.get("config")) for layer in inner if isinstance(layer, dict))
            return sum(layers(v) for v in config.values() if isinstance(v, (dict, list)))
        if isinstance(config, list):
            return sum(layers(v) for v in config)
        return 0

    return layers(topology.get("model_config", topology))


def _warm(source: Path) -> None:
    """Read the model's files once so that the first measured process does not pay a cold cache."""
    files = [source] if source.is_file() else [p for p in source.rglob("*") if p.is_file()]
    for path in files:
        with open(path, "rb") as f:
            while f.read(16 * 1024 * 1024):
                pass


def run_conversions(cases, official: Optional[Path], work: Path, python: str,
                    huge_official: bool = False) -> List[Dict[str, object]]:
    rows = []
    for case in cases:
        source = Path(case["input"])
        is_huge = case["model"] == HUGE
        _warm(source)
        warm_out = work / "warm-up"
        run(_ours(python) + _flags(case, "") + [str(source), str(warm_out)])  # also writes .pyc files
        shutil.rmtree(warm_out, ignore_errors=True)
        floor_out = work / f"floor-{case['model']}"
        floor = run([python, str(HERE / "floor.py"), str(source), str(floor_out)])
        shutil.rmtree(floor_out, ignore_errors=True)
        for quant in ("",) if is_huge else QUANTIZATIONS:
            label = f"{case['model']} {case['kind']}" + (f" {quant}" if quant else "")
            out = work / f"ours-{case['model']}-{case['format']}-{quant or 'none'}"
            ours = run(_ours(python) + _flags(case, quant) + [str(source), str(out)])
            row: Dict[str, object] = {
                "case": label,
                "weights_mb": round(weight_bytes(source) / 1e6, 1),
                "floor": _row(floor),
                "ours": _row(ours),
                "ours_output_bytes": _output_size(out),
                "ours_nodes": _node_count(out),
            }
            if is_huge and ours.returncode == 0:
                check = subprocess.run([python, str(HERE / "check_weights.py"), str(source), str(out)],
                                       capture_output=True, text=True, env=ENV)
                row["bit_exact_check"] = (check.stdout.strip().splitlines() or ["(no output)"])[-1]
                row["bit_exact_ok"] = check.returncode == 0
            # The official converter has no TFLite input.
            if official is not None and (not is_huge or huge_official) and case["format"] != "tflite":
                official_out = work / f"official-{case['model']}-{case['format']}-{quant or 'none'}"
                theirs = run(_official(official) + _flags(case, quant) + [str(source), str(official_out)])
                row["official"] = _row(theirs)
                row["official_output_bytes"] = _output_size(official_out)
                row["official_nodes"] = _node_count(official_out)
                shutil.rmtree(official_out, ignore_errors=True)
            shutil.rmtree(out, ignore_errors=True)
            rows.append(row)
            print(json.dumps(row), file=sys.stderr)
    return rows


def startup(python: str, official: Optional[Path]) -> Dict[str, object]:
    def median(cmd: List[str]) -> Dict[str, float]:
        run(cmd)  # warm-up (.pyc files, page cache)
        runs = [run(cmd) for _ in range(5)]
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
    print("wall s (CPU s) / peak RSS MB; × floor compares wall times\n")
    print("| case | weights MB | floor | tfjs-lite | × floor | official "
          "| official ÷ ours (time) | output MB ours / official | nodes ours / official |")
    print("|---|---|---|---|---|---|---|---|---|")
    for row in results["conversions"]:  # type: ignore[union-attr]
        f, o = row["floor"], row["ours"]
        cell = lambda m: (f"{m['seconds']:.2f} ({m.get('cpu_seconds', 0):.2f}) / {m['peak_rss_mb']:.0f}"  # noqa: E731
                          + ("" if m["ok"] else " FAILED"))
        off = row.get("official")
        ratio = f"{off['seconds'] / o['seconds']:.1f}×" if off and off["ok"] and o["ok"] else "—"
        size = f"{row['ours_output_bytes'] / 1e6:.1f}"
        nodes = f"{row.get('ours_nodes')}"
        if off:
            size += f" / {row['official_output_bytes'] / 1e6:.1f}" if off["ok"] else " / —"
            nodes += f" / {row.get('official_nodes')}" if off["ok"] else " / —"
        print(f"| {row['case']} | {row['weights_mb']} | {cell(f)} | {cell(o)} | "
              f"{o['seconds'] / max(f['seconds'], 1e-9):.1f} | {cell(off) if off else '—'} | {ratio} "
              f"| {size} | {nodes} |")
    for row in results["conversions"]:  # type: ignore[union-attr]
        if "bit_exact_check" in row:
            print(f"\n{row['case']}: {row['bit_exact_check']}")
        off = row.get("official")
        if off and not off["ok"]:
            print(f"\n{row['case']}: official converter failed: {off['error']}")
    print("\nstart-up:", json.dumps(results["startup"]))
    if "install" in results:
        print("install:", json.dumps(results["install"]))


def _machine() -> str:
    cpu, memory = platform.processor() or platform.machine(), ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                memory = f", {int(line.split()[1]) / 1024 / 1024:.0f} GB RAM"
                break
    except OSError:
        pass
    load = f", load average {os.getloadavg()[0]:.1f} at start" if hasattr(os, "getloadavg") else ""
    return (f"{cpu}, {os.cpu_count()} cores{memory}, Python {platform.python_version()}, "
            f"{platform.platform()}{load}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", type=Path, default=HERE / ".models")
    parser.add_argument("--with-official", action="store_true")
    parser.add_argument("--official-venv", type=Path, default=OFFICIAL_VENV)
    parser.add_argument("--only", nargs="*", default=[])
    parser.add_argument("--results", type=Path, default=HERE / "results.json", help="where the JSON goes")
    parser.add_argument("--huge", action="store_true", help="also convert the > 2.5 GB SavedModel (ours only)")
    parser.add_argument("--huge-official", action="store_true",
                        help="with --huge and --with-official, also try the official converter on it")
    parser.add_argument("--skip-install", action="store_true", help="skip the fresh-venv install measurement")
    parser.add_argument("--python", default=sys.executable, help="the Python that has tfjs-lite installed")
    parser.add_argument("--table", type=Path, metavar="RESULTS_JSON", help="only print the table of a results file")
    args = parser.parse_args()
    if args.table:
        print_table(json.loads(args.table.read_text()))
        return 0
    if not args.models.is_dir():
        print(f"no models in {args.models}: run fixtures' benchmarks/make_models.py in a TF environment first",
              file=sys.stderr)
        return 2
    official = install_official(args.official_venv) if args.with_official else None
    cases = discover_models(args.models, args.only, huge=args.huge)
    with tempfile.TemporaryDirectory(prefix="tfjs-lite-bench-") as tmp:
        work = Path(tmp)
        results: Dict[str, object] = {
            "machine": _machine(),
            "conversions": run_conversions(cases, official, work, args.python, args.huge_official),
            "startup": startup(args.python, official),
        }
        if not args.skip_install:
            results["install"] = install_footprint(work)
    args.results.write_text(json.dumps(results, indent=1) + "\n")
    print_table(results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
