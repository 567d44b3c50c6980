"""The human-readable form of the ``inspect`` report."""

from __future__ import annotations

from typing import Any

__all__ = ["render_text"]


def _fmt_shape(shape: list[int | None] | None) -> str:
    if shape is None:
        return "<unknown rank>"
    return "[" + ", ".join("?" if d is None else str(d) for d in shape) + "]"


def _fmt_weights(weights: dict[str, Any], indent: str = "  ") -> list[str]:
    lines = [f"weights: {weights['count']} tensors, {weights['bytes']:,} bytes"]
    for dtype, entry in weights["by_dtype"].items():
        lines.append(f"{indent}{dtype}: {entry['count']} tensors, {entry['bytes']:,} bytes")
    return lines


def _fmt_table(rows: list[tuple[str, str]], indent: str = "  ") -> list[str]:
    width = max((len(a) for a, _ in rows), default=0)
    return [f"{indent}{a.ljust(width)}  {b}" for a, b in rows]


def render_text(report: dict[str, Any]) -> str:
    """The human-readable form of :func:`tfjs_lite.tools.inspect_model.inspect_path`'s report."""
    lines = [f"model: {report['path']} ({report['format']}"
             + (f", signature {report['signature']}" if report.get("signature") else "") + ")"]
    lines.extend(f"note: {n}" for n in report.get("notes", []))
    lines.extend(_graph_lines(report) if report["kind"] == "graph" else _layers_lines(report))
    return "\n".join(lines)


def _graph_lines(report: dict[str, Any]) -> list[str]:
    lines = []
    for which in ("inputs", "outputs"):
        lines.append(f"{which}:")
        rows = [(t["name"], f"{t['dtype']} {_fmt_shape(t['shape'])}  ({t['tensor']})") for t in report[which]]
        lines.extend(_fmt_table(rows) if rows else ["  (none)"])
    lines.append(f"ops: {report['nodes']} nodes, {len(report['ops'])} op types")
    lines.extend(_fmt_table([(op, str(n)) for op, n in report["ops"].items()]))
    if report["functions"]:
        lines.append(f"functions: {len(report['functions'])}")
        lines.extend(_fmt_table([(name, f"{f['nodes']} nodes") for name, f in report["functions"].items()]))
    lines.extend(_fmt_weights(report["weights"]))
    lines.extend(_optimizer_lines(report["optimizer"]))
    unsupported = report["unsupported_ops"]
    when = "after optimization" if report["unsupported_checked_after_optimization"] else "as read"
    if unsupported:
        lines.append(f"ops TF.js 4.22 does not support ({when}):")
        rows = [(op, ", ".join(nodes[:3]) + (f" and {len(nodes) - 3} more" if len(nodes) > 3 else ""))
                for op, nodes in unsupported.items()]
        lines.extend(_fmt_table(rows))
    else:
        lines.append(f"all ops are supported by TF.js 4.22 ({when})")
    return lines


def _optimizer_lines(opt: dict[str, Any]) -> list[str]:
    if not opt["available"] or opt.get("error"):
        return [f"optimizer: not run ({opt.get('error')})" if not opt["available"]
                else f"optimizer: FAILED (a tfjs-lite bug): {opt['error']}"]
    if not opt["changes"]:
        return [f"optimizer would change nothing ({opt['nodes_before']} nodes)"]
    lines = [f"optimizer would change: {opt['nodes_before']} -> {opt['nodes_after']} nodes"]
    rows = [(op, f"{c['before']} -> {c['after']} ({c['after'] - c['before']:+d})") for op, c in opt["changes"].items()]
    lines.extend(_fmt_table(rows))
    after = opt["weights_after"]
    lines.append(f"  weights after: {after['count']} tensors, {after['bytes']:,} bytes (before any quantization)")
    return lines


def _layers_lines(report: dict[str, Any]) -> list[str]:
    lines = []
    if report.get("keras_version"):
        lines.append(f"keras version: {report['keras_version']}")
    if report.get("model_class"):
        lines.append(f"model class: {report['model_class']}")
    lines.append(f"layers: {_count_layers(report['layers'])}")
    lines.extend(_layer_lines(report["layers"], "  "))
    weights = report["weights"]
    lines.extend(_fmt_weights(weights))
    lines.extend(_fmt_table([(w["name"], f"{w['dtype']} {_fmt_shape(w['shape'])}") for w in weights["tensors"]],
                            "    "))
    refused = report.get("refused_layers")
    if refused:
        lines.append("layers tfjs-layers 4.22 would refuse:")
        lines.extend(f"  {r}" for r in refused)
    elif refused is not None:
        lines.append("all layers load in tfjs-layers 4.22")
    if report.get("graph_refused"):
        lines.append(f"graph model: {report['graph_refused']}")
    elif report.get("graph_lowering"):
        lines.append("graph model lowering (TF ops per layer, before the optimizer folds and fuses them):")
        rows = [(row["layer"], _op_summary(row["ops"])) for row in report["graph_lowering"]]
        lines.extend(_fmt_table(rows, "  "))
    return lines


def _op_summary(ops: list[str]) -> str:
    """``Conv2D, BiasAdd, Relu`` with repeats counted (``MatMul x7``), in first-use order."""
    counts: dict[str, int] = {}
    for op in ops:
        counts[op] = counts.get(op, 0) + 1
    return ", ".join(op if n == 1 else f"{op} x{n}" for op, n in counts.items()) or "(identity)"


def _count_layers(layers: list[dict[str, Any]]) -> int:
    return sum(1 + _count_layers(layer.get("layers", [])) for layer in layers)


def _layer_lines(layers: list[dict[str, Any]], indent: str) -> list[str]:
    rows = []
    width = max((len(layer["name"]) for layer in layers), default=0)
    for layer in layers:
        rows.append(f"{indent}{layer['name'].ljust(width)}  {layer['class_name']}")
        if layer.get("layers"):
            rows.extend(_layer_lines(layer["layers"], indent + "  "))
    return rows
