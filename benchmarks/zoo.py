"""The model zoo: every keras.applications architecture, converted on every path, checked in TF.js.

    python benchmarks/zoo.py [--tf-python PATH] [--keras3] [--only NAME ...] [--keep] [--reuse]
                             [--results benchmarks/.zoo/results.json] [--table docs/zoo.md]

For each architecture (``fixtures/generate_zoo.py --list``), in chunks:

1. generate it with real TF (``fixtures/generate_zoo.py``, run by ``--tf-python``): random
   weights under a fixed seed, batch norms conditioned and calibrated, ``model.h5`` +
   ``saved_model/`` and TF's outputs (Keras 3 twins with ``--keras3``: ``model.keras`` +
   ``model.h5`` + ``saved_model/`` from ``model.export``);
2. convert every path of ``TF_KERAS_PATHS`` (h5 → layers, h5 → graph, SavedModel → graph) or
   ``KERAS3_PATHS`` (.keras and h5 → layers and → graph, SavedModel → graph) with
   ``python -m tfjs_lite convert``;
3. load each output in real TF.js 4.22 (``tests/tfjs_node.py``) and compare with TF's outputs
   (normalised error: max |a - b| / max(1, max |b|));
4. record per path: the error, or the converter's refusal (its one-line message), or the TF.js
   error; then delete the generated model unless ``--keep``.

Results accumulate in ``--results`` (one entry per architecture and path, re-running replaces
entries); ``--table`` rewrites the results table of ``docs/zoo.md`` from them.  A conversion
counts as proven when the error is ≤ 1e-4, or when TF.js is no farther from the exact (float64)
result than twice TF's own distance (``tests/float64_reference.py``: the random-weight model is
too sensitive to float32 rounding for a closer comparison with TF to mean anything).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT / "tests"))

from float64_reference import judge, verdict  # noqa: E402
from tfjs_node import TOLERANCE as TOLERANCES  # noqa: E402
from tfjs_node import TfjsError, TfjsNode, compare_stats, load_tensors  # noqa: E402

OUT = HERE / ".zoo"
# The TF 2.19 + tf_keras environment of fixtures/README.md (a venv at .tfenv), or $TFJS_LITE_TF_PYTHON.
DEFAULT_TF_PYTHON = os.environ.get("TFJS_LITE_TF_PYTHON", str(ROOT / ".tfenv" / "bin" / "python"))
TOLERANCE = TOLERANCES["deep_float32"]
CONVERT_TIMEOUT_S = 1800
GENERATE_TIMEOUT_S = 3600
TABLE_START = "<!-- zoo table start -->"
TABLE_END = "<!-- zoo table end -->"
# (path key, source file in the case folder, converter flags, TF.js kind, inputs, expected)
TF_KERAS_PATHS = (
    ("h5_layers", "model.h5", ["--input_format", "keras"], "layers", "inputs.json", "expected.json"),
    ("saved_model_graph", "saved_model", ["--input_format", "tf_saved_model"], "graph",
     "inputs_graph.json", "expected_graph.json"),
    ("h5_graph", "model.h5", ["--input_format", "keras", "--output_format", "tfjs_graph_model"], "graph",
     "inputs.json", "expected.json"),
)
KERAS3_PATHS = (
    ("keras_layers", "model.keras", ["--input_format", "keras_keras"], "layers", "inputs.json", "expected.json"),
    ("h5_layers", "model.h5", ["--input_format", "keras"], "layers", "inputs.json", "expected.json"),
    ("keras_graph", "model.keras", ["--input_format", "keras_keras", "--output_format", "tfjs_graph_model"],
     "graph", "inputs.json", "expected.json"),
    ("h5_graph", "model.h5", ["--input_format", "keras", "--output_format", "tfjs_graph_model"], "graph",
     "inputs.json", "expected.json"),
    ("saved_model_graph", "saved_model", ["--input_format", "tf_saved_model"], "graph",
     "inputs_graph.json", "expected_graph.json"),
)


def architectures(tf_python: str, keras3: bool) -> list[str]:
    cmd = [tf_python, str(ROOT / "fixtures" / "generate_zoo.py"), "--list"] + (["--keras3"] if keras3 else [])
    return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.split()


def generate(tf_python: str, names: list[str], out: Path, keras3: bool) -> None:
    cmd = [tf_python, str(ROOT / "fixtures" / "generate_zoo.py"), "--out", str(out), *names]
    subprocess.run(cmd + (["--keras3"] if keras3 else []), check=False, timeout=GENERATE_TIMEOUT_S,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def one_line(text: str) -> str:
    lines = [ln for ln in text.strip().splitlines() if ln.strip()]
    return lines[-1][:4000] if lines else ""


def convert_cli(flags: list[str], source: Path, out: Path) -> dict:
    """``python -m tfjs_lite convert``: ``{"convert_seconds"}``, plus ``status``/``message`` when it
    refused (exit 2) or failed otherwise."""
    shutil.rmtree(out, ignore_errors=True)
    start = time.time()
    proc = subprocess.run([sys.executable, "-m", "tfjs_lite", "convert", *flags, str(source), str(out)],
                          capture_output=True, text=True, timeout=CONVERT_TIMEOUT_S, cwd=ROOT)
    result: dict = {"convert_seconds": round(time.time() - start, 1)}
    if proc.returncode != 0:
        result.update(status="refused" if proc.returncode == 2 else "converter_error",
                      message=one_line(proc.stderr))
    return result


def convert_and_check(node: TfjsNode, case_dir: Path, path_spec: tuple, work: Path) -> dict:
    key, source, flags, kind, inputs, expected = path_spec
    out = work / key
    result = convert_cli(flags, case_dir / source, out)
    if "status" in result:
        return result
    feeds, want = load_tensors(case_dir / inputs), load_tensors(case_dir / expected)
    try:
        got = dict(node.run(out, kind, feeds))
        error = max(s["rel"] for s in compare_stats(got, want).values())  # also: names and shapes agree
    except (TfjsError, AssertionError) as e:
        result.update(status="tfjs_error", message=one_line(str(e)))
        return result
    try:
        result.update(verdict(case_dir / source, feeds, want, got, TOLERANCE))
    except Exception as e:  # the float64 reference itself failed: the TF.js mismatch stands unexplained
        result.update(status="mismatch", error=float(error), arbiter_error=one_line(f"{type(e).__name__}: {e}"))
    return result


def run(args: argparse.Namespace) -> None:
    results_path = Path(args.results[0])
    names = args.only or architectures(args.tf_python, args.keras3)
    paths = KERAS3_PATHS if args.keras3 else TF_KERAS_PATHS
    prefix = "k3_" if args.keras3 else ""
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with TfjsNode() as node:
        for start in range(0, len(names), args.chunk):
            chunk = names[start:start + args.chunk]
            missing = [n for n in chunk if not (args.reuse and (out / (prefix + n) / "case.json").is_file())]
            if missing:
                generate(args.tf_python, missing, out, args.keras3)
            for name in chunk:
                case_dir = out / (prefix + name)
                info_path = case_dir / "case.json"
                entry: dict = {"architecture": name, "keras": "keras 3" if args.keras3 else "tf_keras"}
                if not info_path.is_file():
                    entry["generate_error"] = "the generator wrote no case.json (crashed or timed out)"
                else:
                    info = json.loads(info_path.read_text())
                    entry.update({k: info.get(k) for k in ("params", "input_size", "error")})
                    if not info.get("error"):
                        work = out / "_work" / (prefix + name)
                        for spec in paths:
                            entry[spec[0]] = convert_and_check(node, case_dir, spec, work)
                        shutil.rmtree(work, ignore_errors=True)
                record_result(results_path, prefix + name, entry)
                if not args.keep:
                    shutil.rmtree(case_dir, ignore_errors=True)
    if args.table:
        write_table(json.loads(results_path.read_text()), Path(args.table))


def record_result(results_path: Path, key: str, entry: dict) -> None:
    """Print ``entry`` and store it under ``key`` in the results file. The file is re-read
    before writing: several runs (tf_keras, --keras3) may share it."""
    print(json.dumps(entry), flush=True)
    results = json.loads(results_path.read_text()) if results_path.is_file() else {}
    results[key] = entry
    results_path.parent.mkdir(parents=True, exist_ok=True)
    results_path.write_text(json.dumps(results, indent=1, sort_keys=True))


def _outcome(r: dict) -> str:
    """The result's status by today's rule (stored distances re-judged)."""
    if "tf_vs_float64" in r:
        return judge(r["tf_vs_float64"], r["tfjs_vs_float64"], r.get("float32_vs_float64"), TOLERANCE)
    return str(r["status"])


def _cell(r: dict | None) -> str:
    if r is None:
        return "–"
    if "tf_vs_float64" in r:  # judged against the exact result: by today's rule, from the stored distances
        label = {"within_tf_float32_error": "within float32 error", "mismatch": "**MISMATCH**",
                 "ill_conditioned": "ill-conditioned, not judged"}[_outcome(r)]
        return f"{r['error']:.1e} ({label}: {_distances(r)})"
    if r["status"] in ("ok", "mismatch"):
        mark = "" if r["status"] == "ok" else " **MISMATCH**"
        return f"{r['error']:.1e}{mark}"
    label = {"refused": "refused", "converter_error": "**converter error**",
             "tfjs_error": "**TF.js error**"}[r["status"]]
    return f"{label}: {short(r.get('message', ''))}"


def _distances(r: dict) -> str:
    """How far TF, TF.js and (where measured) a float32 run of the reference executor are from the
    exact result."""
    text = f"from exact: TF {r['tf_vs_float64']:.1e}, TF.js {r['tfjs_vs_float64']:.1e}"
    return text + (f", float32 reference {r['float32_vs_float64']:.1e}" if "float32_vs_float64" in r else "")


def short(message: str) -> str:
    """The refusal without the path and the way-out sentence; for many layers, the distinct reasons."""
    message = message.replace("|", "/").replace("tfjs-lite: error: ", "")
    message = message.split(": ", 1)[-1] if message.startswith("/") else message
    message = message.split(". convert a SavedModel")[0]
    head, sep, issues = message.partition(" layers: ")
    if sep:  # "cannot load 13 layers: a (X): why; b (Y): why; ..." -> the distinct (class: why)
        reasons = []
        for issue in issues.split("; "):
            layer, _, why = issue.partition(" (")
            reason = re.sub(r"=\d+", "=…", "(" + why)  # groups=16 and groups=32: one reason
            if reason not in reasons:
                reasons.append(reason)
        # a reason cut short by the stored message's length limit is a prefix of a full one
        reasons = [r for r in reasons if not any(o != r and o.startswith(r) for o in reasons)]
        message = f"{head.split()[-1]} layers: " + "; ".join(reasons)
    return message[:300] + ("…" if len(message) > 300 else "")


# (column title, "tfk" or "k3", path key): every path of TF_KERAS_PATHS and KERAS3_PATHS
COLUMNS = (("tf_keras h5 → layers", "tfk", "h5_layers"), ("tf_keras h5 → graph", "tfk", "h5_graph"),
           ("tf_keras SavedModel → graph", "tfk", "saved_model_graph"),
           ("Keras 3 .keras → layers", "k3", "keras_layers"), ("Keras 3 h5 → layers", "k3", "h5_layers"),
           ("Keras 3 .keras → graph", "k3", "keras_graph"), ("Keras 3 h5 → graph", "k3", "h5_graph"),
           ("Keras 3 export SavedModel → graph", "k3", "saved_model_graph"))


def outcome_counts(results: dict) -> dict[str, int]:
    """How many (architecture, path) results have each outcome."""
    counts: dict[str, int] = {}
    for name, entry in results.items():
        flavour = "k3" if name.startswith("k3_") else "tfk"
        for _, column_flavour, key in COLUMNS:
            if column_flavour == flavour and isinstance(entry.get(key), dict):
                counts[_outcome(entry[key])] = counts.get(_outcome(entry[key]), 0) + 1
    return counts


def write_table(results: dict, doc: Path) -> None:
    counts = outcome_counts(results)
    labels = {"ok": "matches TF within 1e-4", "refused": "refused before writing (layer, option, way out)",
              "within_tf_float32_error": "within float32 error (judged against the exact result)",
              "ill_conditioned": "ill-conditioned, not judged", "mismatch": "**MISMATCH**",
              "converter_error": "**converter error**", "tfjs_error": "**TF.js error**"}
    summary = ["| outcome | results |", "|---|---:|"] + [f"| {labels.get(k, k)} | {v} |" for k, v in sorted(counts.items())]
    rows = ["| architecture | params | input | " + " | ".join(c[0] for c in COLUMNS) + " |",
            "|---|---:|---:|" + "---|" * len(COLUMNS)]
    names = sorted({k[3:] if k.startswith("k3_") else k for k in results})
    for name in names:
        flavours = {"tfk": results.get(name, {}), "k3": results.get("k3_" + name, {})}
        base = flavours["tfk"] or flavours["k3"]
        if base.get("error") or base.get("generate_error"):
            why = short(base.get("error") or base.get("generate_error"))
            rows.append(f"| {name} | | | not generated: {why} |" + " |" * (len(COLUMNS) - 1))
            continue
        cells = [_cell(flavours[flavour].get(key)) if flavours[flavour] else "–" for _, flavour, key in COLUMNS]
        rows.append(f"| {name} | {base.get('params', ''):,} | {base.get('input_size', '')} | " + " | ".join(cells) + " |")
    splice_table(doc, TABLE_START, TABLE_END, "\n".join(summary + [""] + rows))


def add_runner_arguments(p: argparse.ArgumentParser, out: Path, chunk: int) -> None:
    """The options every zoo runner has (which models, where, results/table, reuse)."""
    p.add_argument("--only", nargs="*", help="architectures (default: all)")
    p.add_argument("--out", default=str(out))
    p.add_argument("--results", nargs="+", default=[str(out / "results.json")],
                   help="results file (several are merged for --table-only)")
    p.add_argument("--table", help="rewrite the results table in this markdown file")
    p.add_argument("--chunk", type=int, default=chunk, help="architectures generated per framework process")
    p.add_argument("--keep", action="store_true", help="keep the generated models")
    p.add_argument("--reuse", action="store_true", help="use models already generated in --out")
    p.add_argument("--table-only", action="store_true", help="only rewrite --table from --results")


def run_or_table(a: argparse.Namespace, run_fn, table_fn) -> None:
    """``--table-only``: merge the results files into the table; else run the zoo."""
    if a.table_only:
        table_fn(merged_results(a.results), Path(a.table))
        return
    run_fn(a)


def splice_table(doc: Path, start: str, end: str, body: str) -> None:
    """Replace what lies between the ``start`` and ``end`` markers of ``doc`` (created if missing)."""
    text = doc.read_text() if doc.is_file() else f"{start}\n{end}\n"
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
    doc.write_text(head + start + "\n" + body + "\n" + end + tail)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--tf-python", default=DEFAULT_TF_PYTHON, help="python of a TF 2.19 + tf_keras env")
    p.add_argument("--keras3", action="store_true", help="the Keras 3 twins")
    add_runner_arguments(p, OUT, 6)
    run_or_table(p.parse_args(argv), run, write_table)


def merged_results(paths: list[str], by_field: bool = False) -> dict:
    """The results of several files; a later file's entry replaces an earlier one, or with
    ``by_field`` only the fields it has (runs of different modes of one architecture)."""
    merged: dict = {}
    for path in paths:
        for key, entry in json.loads(Path(path).read_text()).items():
            merged[key] = {**merged.get(key, {}), **entry} if by_field else entry
    return merged


if __name__ == "__main__":
    main(sys.argv[1:])
