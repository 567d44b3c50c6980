"""The text report of ``tfjs-lite bench``: figures per model side by side, then the slowest kernels."""

from __future__ import annotations

from typing import Any, Mapping, TextIO

__all__ = ["format_ms", "print_report"]

TOP_KERNELS = 10


def format_ms(value: Any) -> str:
    if value is None:
        return "—"
    return f"{value:.3f}" if value < 1 else f"{value:.2f}" if value < 100 else f"{value:.0f}"


def _bytes(value: Any) -> str:
    return "—" if value is None else f"{value:,} B"


def _rows(result: Mapping[str, Any]) -> list[tuple[str, list[str]]]:
    models = result["models"]

    def stat(key: str) -> list[str]:
        return [format_ms(m["stats"][key]) if m["stats"] else "—" for m in models]

    return [
        ("kind", [f"{m['kind']} model" for m in models]),
        ("execution", [m["execution"] for m in models]),
        ("load (ms)", [format_ms(m["load_ms"]) for m in models]),
        ("first inference (ms)", [format_ms(m["first_ms"]) for m in models]),
        ("warm-up runs discarded", [str(result["warmup"]) for _ in models]),
        ("timed runs", [str(m["stats"]["count"] if m["stats"] else 0) for m in models]),
        ("mean (ms)", stat("mean")),
        ("median (ms)", stat("median")),
        ("min (ms)", stat("min")),
        ("max (ms)", stat("max")),
        ("std (ms)", stat("std")),
        ("weights in memory", [_bytes(m["weights_bytes"]) for m in models]),
        ("peak memory (1 run)", [_bytes(m["profile"]["peak_bytes"]) if m["profile"] else "—" for m in models]),
        ("new tensors (1 run)", [str(m["profile"]["new_tensors"]) if m["profile"] else "—" for m in models]),
    ]


def print_report(result: Mapping[str, Any], out: TextIO) -> None:
    runtime = ", ".join(f"{k} {v}" for k, v in result.get("runtime", {}).items())
    out.write(f"TensorFlow.js {result['tfjs_version']}, backend {result['backend']} ({runtime})\n")
    for m in result["models"]:
        inputs = ", ".join(f"{i['name']} {i['dtype']} [{','.join(map(str, i['shape']))}]" for i in m["inputs"])
        out.write(f"{m['label']}: {m.get('path', '')}\n  inputs: {inputs}\n")
        out.write(f"  outputs ({len(m['outputs'])}, all read back in every timed run): "
                  f"{', '.join(o['name'] for o in m['outputs'])}\n")
    for note in result.get("notes", []):
        out.write(f"note: {note}\n")
    rows = _rows(result)
    width = max(len(label) for label, _ in rows)
    cols = [max(len(m["label"]), *(len(r[1][i]) for r in rows)) for i, m in enumerate(result["models"])]
    out.write(" " * width + "  " + "  ".join(m["label"].rjust(w) for m, w in zip(result["models"], cols)) + "\n")
    for label, values in rows:
        out.write(label.ljust(width) + "  " + "  ".join(v.rjust(w) for v, w in zip(values, cols)) + "\n")
    leaked = result["leaked_tensors"]
    out.write(f"leaked tensors after all runs: {leaked}" + ("  (WARNING: tensors are not released)" if leaked else "") + "\n")
    kept = result.get("kept_by_first_inference")
    if kept:
        out.write(f"tensors kept by the first inference (model state such as hash tables): {kept}\n")
    compare = result.get("compare")
    if compare:
        first, second = result["models"][0]["label"], result["models"][1]["label"]
        ratio, of_medians = compare["speed_ratio"], compare["median_ratio"]
        out.write(f"speed ratio {first}/{second}: {'—' if ratio is None else f'{ratio:.3f}'} (median of per-run ratios; "
                  f"ratio of medians {'—' if of_medians is None else f'{of_medians:.3f}'})\n")
        for d in compare["differences"]:
            if "error" in d:
                out.write(f"  output {d['name']}: {d['error']}\n")
            else:
                out.write(f"  output {d['name']}: largest difference {d['max_abs']:.3g} (relative {d['max_rel']:.3g})\n")
    for m in result["models"]:
        profile = m["profile"]
        if not profile:
            continue
        total = sum(k["ms"] for k in profile["kernels"]) or 1.0
        out.write(f"kernels taking the most time ({m['label']}, one profiled run, {profile['kernel_count']} kernel calls):\n")
        for k in profile["kernels"][:TOP_KERNELS]:
            timing = f"{k['ms']:9.3f} ms {100 * k['ms'] / total:5.1f}%" if profile["kernel_times"] else "   (no kernel timer)"
            out.write(f"  {k['name']:<28} {k['count']:4d}x {timing}\n")
