"""``tfjs-lite verify``: run the source model and the converted graph model on the same inputs.

Both graphs run in the numpy reference executor (:mod:`tfjs_lite.executor`). The source is read as
the converter reads it (SavedModel / TF-Hub folder / frozen ``.pb``, same signature and tags); the
converted model is read back from its ``model.json`` and shards (:mod:`tfjs_lite.readers.tfjs_graph`),
so the comparison covers the optimizer's rewrites, the fused TF.js ops, the written topology and
the stored (possibly quantized) weights.

Error measures, per output (``e`` = source output, ``a`` = converted output):

* max abs error  ``max|a - e|``
* max rel error  ``max|a - e| / max(max|e|, 1e-6)`` (relative to the output's largest magnitude,
  so values near zero do not blow it up)

An output passes when ``max|a - e| <= atol + rtol * max(max|e|, 1e-6)``, i.e. ``max rel error <=
rtol`` when ``atol`` is 0 (the default). The default ``rtol`` is 1e-5; when the converted model
stores quantized weights it is loosened to 1e-3 (float16, uint16) or 2e-2 (uint8), and the output
says so. Shapes must match exactly; NaN must appear at the same places; strings must be equal.

Verification of layers models is not done here: the numpy executor runs TF graphs, not Keras
layers, so ``verify`` refuses them (and ``convert --verify`` reports them as not verified).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

__all__ = [
    "DEFAULT_RTOL",
    "QUANTIZED_RTOL",
    "OutputComparison",
    "VerifyResult",
    "compare_outputs",
    "default_tolerance",
    "load_source_graph",
    "main",
    "random_inputs",
    "read_inputs_json",
    "verify",
    "verify_conversion",
]

DEFAULT_RTOL = 1e-5
# Loosened defaults when weights are stored quantized (the largest applicable one wins).
QUANTIZED_RTOL = {"float16": 1e-3, "uint16": 1e-3, "uint8": 2e-2}
# Unknown (None / -1) dims of a signature input get this size for random inputs.
UNKNOWN_DIM = 2
_SCALE_FLOOR = 1e-6

_GRAPH_SOURCES = ("tf_saved_model", "tf_hub", "tf_frozen_model")
_LAYERS_FORMATS = ("keras", "keras_keras", "keras_saved_model", "tfjs_layers_model")
_NOT_GRAPH = (
    "verify compares graph models: the numpy reference executor runs TF graphs, not Keras layers; "
    "layers models are verified in TF.js by the test-suite"
)


# ----------------------------------------------------------------------------------- results


@dataclass
class OutputComparison:
    """How one output of the converted model compares with the source's."""

    key: str
    shape: tuple[int, ...]
    dtype: str
    max_abs: float
    max_rel: float
    ok: bool
    note: str = ""

    def line(self) -> str:
        """One human-readable line: name, shape, errors, verdict."""
        text = (
            f"{self.key}: shape {list(self.shape)} {self.dtype}  "
            f"max abs error {_fmt(self.max_abs)}  max rel error {_fmt(self.max_rel)}  "
            f"{'ok' if self.ok else 'FAIL'}"
        )
        return f"{text} ({self.note})" if self.note else text

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.key,
            "shape": list(self.shape),
            "dtype": self.dtype,
            "max_abs_error": _json_float(self.max_abs),
            "max_rel_error": _json_float(self.max_rel),
            "ok": self.ok,
            "note": self.note,
        }


@dataclass
class VerifyResult:
    """The outcome of :func:`verify`."""

    outputs: list[OutputComparison]
    rtol: float
    atol: float
    tolerance_note: str = ""
    input_note: str = ""
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.outputs)

    def summary(self) -> str:
        """The one-line verdict."""
        tol = f"rtol {_fmt(self.rtol)}, atol {_fmt(self.atol)}"
        if self.ok:
            return f"verify: ok: all {len(self.outputs)} outputs within {tol}"
        bad = [c for c in self.outputs if not c.ok]
        worst = max(bad, key=lambda c: (c.max_rel if not math.isnan(c.max_rel) else math.inf))
        detail = f"{worst.key} max rel error {_fmt(worst.max_rel)}"
        if worst.note:
            detail += f", {worst.note}"
        return f"verify: FAILED: {len(bad)} of {len(self.outputs)} outputs differ beyond {tol} (worst: {detail})"


def _fmt(x: float) -> str:
    if isinstance(x, float) and (math.isinf(x) or math.isnan(x)):
        return str(x)
    return f"{x:.3g}"


def _json_float(x: float) -> Any:
    return None if math.isnan(x) else (str(x) if math.isinf(x) else x)


# ----------------------------------------------------------------------------------- tolerance


def default_tolerance(quantized: Sequence[str]) -> tuple[float, str]:
    """Default ``rtol`` for a converted model whose weights use these quantized dtypes.

    Returns:
        ``(rtol, note)``; the note is empty for unquantized models.
    """
    loosest = [(QUANTIZED_RTOL[q], q) for q in quantized if q in QUANTIZED_RTOL]
    if not loosest:
        return DEFAULT_RTOL, ""
    rtol, dtype = max(loosest)
    return rtol, (
        f"weights are stored quantized ({', '.join(quantized)}), so the default tolerance is "
        f"rtol {_fmt(rtol)} instead of {_fmt(DEFAULT_RTOL)} ({dtype} rounding); give --rtol to change it"
    )


# ----------------------------------------------------------------------------------- comparison


def _compare_one(key: str, actual: Any, expected: Any, rtol: float, atol: float) -> OutputComparison:
    import numpy as np

    a, e = np.asarray(actual), np.asarray(expected)
    dtype = str(e.dtype) if e.dtype.kind != "O" else "string"
    notes = []
    if a.dtype != e.dtype and not (a.dtype.kind == "O" and e.dtype.kind == "O"):
        notes.append(f"dtype {a.dtype} in the converted model, {e.dtype} in the source")
    if a.shape != e.shape:
        notes.insert(0, f"shape {list(a.shape)} in the converted model, {list(e.shape)} in the source")
        return OutputComparison(key, tuple(e.shape), dtype, math.inf, math.inf, False, "; ".join(notes))
    strings = [x.dtype.kind in "OSU" for x in (a, e)]
    if any(strings):
        equal = all(strings) and bool(np.array_equal(_as_bytes(a), _as_bytes(e)))
        if not equal:
            notes.append("strings differ" if all(strings) else "string vs numeric output")
        err = 0.0 if equal else math.inf
        return OutputComparison(key, tuple(e.shape), dtype, err, err, equal, "; ".join(notes))
    work = np.complex128 if "c" in (a.dtype.kind, e.dtype.kind) else np.float64
    af, ef = a.astype(work), e.astype(work)
    same = (af == ef) | (np.isnan(af) & np.isnan(ef))  # inf == inf, NaN where NaN
    diff = np.where(same, 0.0, np.abs(af - ef))
    diff = np.where(np.isnan(diff), math.inf, diff)  # NaN on one side only
    max_abs = float(diff.max()) if diff.size else 0.0
    finite = np.abs(ef[np.isfinite(ef)])
    scale = max(float(finite.max()) if finite.size else 0.0, _SCALE_FLOOR)
    max_rel = max_abs / scale
    ok = max_abs <= atol + rtol * scale
    if a.dtype.kind != e.dtype.kind and {a.dtype.kind, e.dtype.kind} != {"i", "u"}:
        ok = False  # e.g. float in one, int in the other: the graph changed meaning
    return OutputComparison(key, tuple(e.shape), dtype, max_abs, max_rel, ok, "; ".join(notes))


def _as_bytes(array: Any) -> Any:
    import numpy as np

    flat = [x.encode("utf-8") if isinstance(x, str) else bytes(x) for x in array.reshape(-1)]
    out = np.empty(len(flat), dtype=object)
    out[:] = flat
    return out.reshape(array.shape)


def compare_outputs(
    actual: Mapping[str, Any], expected: Mapping[str, Any], *, rtol: float, atol: float = 0.0
) -> list[OutputComparison]:
    """Compare every expected output (in order) with the converted model's output of that key."""
    return [_compare_one(key, actual[key], value, rtol, atol) for key, value in expected.items()]


# ----------------------------------------------------------------------------------- inputs


def read_inputs_json(path: Path) -> dict[str, Any]:
    """Read ``{name: {"dtype", "shape", "data"}}`` (the fixtures' ``inputs.json`` format).

    ``dtype`` is a numpy name or ``"string"`` (data: UTF-8 strings); ``data`` is flat, row-major.

    Raises:
        UsageError: Unreadable file or malformed entries.
    """
    import numpy as np

    from tfjs_lite.errors import UsageError

    path = Path(path)
    try:
        spec = json.loads(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise UsageError(f"--inputs: cannot read {path}: {e.strerror or e}") from None
    except ValueError as e:
        raise UsageError(f"--inputs: {path} is not valid JSON: {e}") from None
    if not isinstance(spec, dict):
        raise UsageError(f"--inputs: {path} must hold an object {{name: {{dtype, shape, data}}}}")
    feeds: dict[str, Any] = {}
    for name, entry in spec.items():
        if not isinstance(entry, dict) or not {"dtype", "shape", "data"} <= set(entry):
            raise UsageError(f"--inputs: entry {name!r} needs dtype, shape and data")
        try:
            shape = tuple(int(d) for d in entry["shape"])
            data = entry["data"]
            if entry["dtype"] == "string":
                values = [s.encode("utf-8") if isinstance(s, str) else bytes(s) for s in data]
                array = np.empty(len(values), dtype=object)
                array[:] = values
            else:
                array = np.asarray(data, dtype=np.dtype(entry["dtype"]))
            feeds[name] = array.reshape(shape)
        except (TypeError, ValueError) as e:
            raise UsageError(f"--inputs: entry {name!r} is malformed: {e}") from None
    return feeds


def _input_type(graph: Any, key: str) -> tuple[str | None, tuple[int | None, ...] | None]:
    sig = graph.meta.get("signature", {}).get("inputs", {}).get(key, {})
    dtype, shape = sig.get("dtype"), sig.get("shape")
    ref = graph.inputs[key]
    attrs = graph.attrs(ref.node)
    dtype = dtype or attrs.get("dtype") or attrs.get("T")
    if shape is None:
        shape = attrs.get("shape")
    types = graph.out_types(ref.node)
    if types and ref.port < len(types):
        dtype = dtype or types[ref.port].dtype
        shape = shape if shape is not None else types[ref.port].shape
    return (str(dtype) if dtype else None), shape


def random_inputs(graph: Any, seed: int = 0, *, unknown_dim: int = UNKNOWN_DIM) -> dict[str, Any]:
    """Seeded random values for every input of ``graph`` (a source graph).

    Floats ~ N(0, 1); integers uniform in [0, 5) (small, so they are valid indices and counts);
    bools fair coins; strings short lowercase words. Unknown dims become ``unknown_dim``.

    Raises:
        UnsupportedModelError: An input whose dtype or rank is unknown, or a resource input
            (hash tables), which cannot be fed.
    """
    import numpy as np

    from tfjs_lite.errors import UnsupportedModelError
    from tfjs_lite.ir.attrs import NUMPY_DTYPES

    rng = np.random.default_rng(seed)
    feeds: dict[str, Any] = {}
    for key in graph.inputs:
        dtype, shape = _input_type(graph, key)
        if dtype == "DT_RESOURCE":
            raise UnsupportedModelError(
                f"input {key!r} is a resource (a hash table filled by the initializer graph); "
                "the numpy executor cannot run table ops, so this model cannot be verified here"
            )
        if dtype not in NUMPY_DTYPES:
            raise UnsupportedModelError(f"input {key!r} has dtype {dtype}; cannot make random values (give --inputs)")
        if shape is None:
            raise UnsupportedModelError(f"input {key!r} has an unknown rank; cannot make random values (give --inputs)")
        dims = tuple(unknown_dim if d is None or d < 0 else int(d) for d in shape)
        np_dtype = NUMPY_DTYPES[dtype]
        if np_dtype.kind in "fc":
            feeds[key] = rng.standard_normal(dims).astype(np_dtype)
        elif np_dtype.kind in "iu":
            feeds[key] = rng.integers(0, 5, size=dims).astype(np_dtype)
        elif np_dtype.kind == "b":
            feeds[key] = rng.random(dims) < 0.5
        else:
            words = [b"a", b"b c", b"hello", b"world", b""]
            picks = rng.integers(0, len(words), size=dims)
            array = np.empty(dims, dtype=object)
            array.reshape(-1)[:] = [words[i] for i in picks.reshape(-1)] if array.size else []
            feeds[key] = array
    return feeds


# ----------------------------------------------------------------------------------- models


def load_source_graph(
    path: Path,
    *,
    input_format: str | None = None,
    signature_name: str | None = None,
    saved_model_tags: str = "serve",
    output_node_names: str | None = None,
) -> tuple[Any, str]:
    """Read the source model as the graph-model converter reads it.

    Returns:
        ``(graph, input_format)``.

    Raises:
        UsageError: A Keras / layers source, or a frozen model without output node names.
    """
    from tfjs_lite.detect import detect_input_format
    from tfjs_lite.errors import UsageError
    from tfjs_lite.readers.saved_model import load_frozen_graph, load_saved_model

    path = Path(path)
    fmt = input_format or detect_input_format(path)
    if fmt in _LAYERS_FORMATS:
        raise UsageError(f"the source {path} is a {fmt} model; {_NOT_GRAPH}")
    if fmt not in _GRAPH_SOURCES:
        raise UsageError(f"cannot verify a {fmt} source; give a SavedModel, TF-Hub folder or frozen .pb")
    if fmt == "tf_frozen_model":
        if not output_node_names:
            raise UsageError('a tf_frozen_model source needs --output_node_names (as for "convert")')
        return load_frozen_graph(path, output_node_names), fmt
    default = "default" if fmt == "tf_hub" else "serving_default"
    if fmt == "tf_hub" and not (path / "saved_model.pb").is_file() and not (path / "saved_model.pbtxt").is_file():
        raise UsageError(f"{path}: TF-Hub modules in the TF1 hub format (tfhub_module.pb only) cannot be verified")
    graph = load_saved_model(path, tags=saved_model_tags, signature_name=signature_name, default_signature=default)
    return graph, fmt


def _load_converted(path: Path) -> Any:
    from tfjs_lite.errors import ModelFormatError, UsageError
    from tfjs_lite.readers.tfjs_graph import find_model_json, read_graph_model

    model_json = find_model_json(Path(path))
    try:
        fmt = json.loads(model_json.read_text(encoding="utf-8")).get("format")
    except (OSError, ValueError, AttributeError) as e:
        raise ModelFormatError(f"not a readable model.json ({e})", path=model_json) from None
    if fmt != "graph-model":
        raise UsageError(f"{model_json} is a TF.js {fmt or 'layers-model'}; {_NOT_GRAPH}")
    return read_graph_model(model_json)


def _match_keys(source: Mapping[str, Any], converted: Mapping[str, Any], what: str) -> dict[str, str]:
    """Source signature key -> converted signature key (same key, else the same tensor name)."""
    from tfjs_lite.errors import UsageError

    by_node: dict[str, str] = {}
    for key, ref in converted.items():
        by_node.setdefault(ref.node, key)
        by_node.setdefault(str(ref), key)
    mapping = {}
    for key, ref in source.items():
        if key in converted:
            mapping[key] = key
        elif ref.node in by_node or str(ref) in by_node:
            mapping[key] = by_node.get(str(ref), by_node.get(ref.node, key))
        else:
            raise UsageError(
                f"the converted model has no {what} matching the source's {key!r} "
                f"(it has {', '.join(map(repr, converted)) or 'none'}); were they converted with the same signature?"
            )
    return mapping


def _run(graph: Any, feeds: Mapping[str, Any], which: str) -> dict[str, Any]:
    from tfjs_lite import executor
    from tfjs_lite.errors import ConversionError, UnsupportedModelError
    from tfjs_lite.kernels import KernelError

    try:
        return executor.run(graph, feeds)
    except (ConversionError, KernelError) as e:
        raise UnsupportedModelError(f"cannot run the {which} model in the numpy reference executor: {e}") from None


def verify(
    source: Path,
    converted: Path,
    *,
    inputs: Mapping[str, Any] | None = None,
    seed: int = 0,
    rtol: float | None = None,
    atol: float | None = None,
    input_format: str | None = None,
    signature_name: str | None = None,
    saved_model_tags: str = "serve",
    output_node_names: str | None = None,
) -> VerifyResult:
    """Run the source model and the converted graph model on the same inputs and compare.

    Args:
        source: SavedModel / TF-Hub folder or frozen ``.pb``.
        converted: The TF.js graph model folder or its ``model.json``.
        inputs: Feeds keyed by the source's signature keys; None = seeded random values.
        seed: Seed for random inputs.
        rtol: Relative tolerance; None = :func:`default_tolerance` of the converted weights.
        atol: Absolute tolerance (default 0).
        input_format, signature_name, saved_model_tags, output_node_names: As for ``convert``;
            a frozen source without ``output_node_names`` uses the converted model's outputs.

    Returns:
        The per-output comparisons and the tolerance used.

    Raises:
        UsageError: A layers model on either side, or inputs that do not match the signature.
        UnsupportedModelError: A model the numpy executor cannot run (missing kernel, hash tables).
        ModelFormatError: Unreadable models.
    """
    from tfjs_lite.errors import UsageError

    model = _load_converted(Path(converted))
    if output_node_names is None and (input_format == "tf_frozen_model" or Path(source).suffix == ".pb"):
        output_node_names = ",".join(model.graph.outputs) or None
    graph, _ = load_source_graph(
        Path(source),
        input_format=input_format,
        signature_name=signature_name,
        saved_model_tags=saved_model_tags,
        output_node_names=output_node_names,
    )
    default_rtol, tol_note = default_tolerance(model.quantization_dtypes)
    if rtol is None:
        rtol = default_rtol
    else:
        tol_note = ""
    atol = 0.0 if atol is None else atol
    if inputs is None:
        feeds = random_inputs(graph, seed)
        input_note = f"random inputs (seed {seed}, unknown dims = {UNKNOWN_DIM})"
    else:
        unknown = [k for k in inputs if k not in graph.inputs]
        missing = [k for k in graph.inputs if k not in inputs]
        if unknown or missing:
            parts = []
            if unknown:
                parts.append(f"unknown {', '.join(map(repr, unknown))}")
            if missing:
                parts.append(f"missing {', '.join(map(repr, missing))}")
            raise UsageError(
                f"--inputs does not match the source signature ({'; '.join(parts)}); "
                f"the inputs are {', '.join(map(repr, graph.inputs)) or 'none'}"
            )
        feeds = dict(inputs)
        input_note = "given inputs"
    in_map = _match_keys(graph.inputs, model.graph.inputs, "input")
    out_map = _match_keys(graph.outputs, model.graph.outputs, "output")
    expected = _run(graph, feeds, "source")
    actual_raw = _run(model.graph, {in_map[k]: v for k, v in feeds.items()}, "converted")
    actual = {key: actual_raw[out_map[key]] for key in expected}
    comparisons = compare_outputs(actual, expected, rtol=rtol, atol=atol)
    notes = []
    extra = [k for k in model.graph.outputs if k not in out_map.values()]
    if extra:
        notes.append(f"the converted model has outputs the source signature lacks: {', '.join(extra)}")
    return VerifyResult(comparisons, rtol, atol, tol_note, input_note, notes)


def _print_result(result: VerifyResult, out: TextIO) -> None:
    if result.tolerance_note:
        out.write(f"note: {result.tolerance_note}\n")
    out.writelines(f"note: {note}\n" for note in result.notes)
    out.writelines(comparison.line() + "\n" for comparison in result.outputs)


# ----------------------------------------------------------------------------------- CLI


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        sys.stderr.write(f"tfjs-lite: error: {message} (see tfjs-lite verify --help)\n")
        raise SystemExit(2)


def _parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="tfjs-lite verify",
        description=(
            "Run the source model and the converted TF.js graph model on the same inputs in the numpy "
            "reference executor and compare every output. Exit 0 if all are within tolerance, else 2."
        ),
    )
    p.add_argument("source", help="SavedModel or TF-Hub folder, or frozen .pb")
    p.add_argument("converted", help="TF.js graph model folder or its model.json")
    p.add_argument("--inputs", help="JSON {name: {dtype, shape, data}}; default: seeded random inputs")
    p.add_argument("--seed", type=int, default=0, help="seed for random inputs (default 0)")
    p.add_argument("--rtol", type=float, help=f"relative tolerance (default {DEFAULT_RTOL:g}; looser for quantized weights)")
    p.add_argument("--atol", type=float, help="absolute tolerance (default 0)")
    p.add_argument("--input_format", choices=_GRAPH_SOURCES, help="source format (detected when omitted)")
    p.add_argument("--signature_name", help="SavedModel signature (default serving_default; tf_hub: default)")
    p.add_argument("--saved_model_tags", default="serve", help="comma-separated MetaGraph tags (default serve)")
    p.add_argument("--output_node_names", help="frozen model outputs (default: the converted model's outputs)")
    p.add_argument("--json", action="store_true", help="print the comparison as JSON")
    p.add_argument("--debug", action="store_true", help="show tracebacks")
    return p


def main(argv: Sequence[str]) -> int:
    """``tfjs-lite verify SOURCE CONVERTED [...]``; returns the exit status."""
    from tfjs_lite.errors import UsageError

    args = _parser().parse_args(list(argv))
    for name in ("rtol", "atol"):
        value = getattr(args, name)
        if value is not None and not (value >= 0 and math.isfinite(value)):
            raise UsageError(f"--{name} must be a non-negative number, got {value}")
    inputs = read_inputs_json(Path(args.inputs)) if args.inputs else None
    result = verify(
        Path(args.source),
        Path(args.converted),
        inputs=inputs,
        seed=args.seed,
        rtol=args.rtol,
        atol=args.atol,
        input_format=args.input_format,
        signature_name=args.signature_name,
        saved_model_tags=args.saved_model_tags,
        output_node_names=args.output_node_names,
    )
    if args.json:
        print(json.dumps({
            "ok": result.ok,
            "summary": result.summary(),
            "rtol": result.rtol,
            "atol": result.atol,
            "inputs": result.input_note,
            "notes": ([result.tolerance_note] if result.tolerance_note else []) + result.notes,
            "outputs": [c.as_dict() for c in result.outputs],
        }, indent=2))
        return 0 if result.ok else 2
    out = sys.stdout
    out.write(f"verify: {args.source} vs {args.converted} on {result.input_note}\n")
    _print_result(result, out)
    if result.ok:
        out.write(result.summary() + "\n")
        return 0
    sys.stderr.write(f"tfjs-lite: error: {result.summary()}\n")
    return 2


def verify_conversion(result: Any, options: Any) -> int:
    """``convert --verify``: compare the model just written with its source on random inputs.

    Graph models from SavedModel / TF-Hub / frozen sources are compared as ``tfjs-lite verify``
    does (seed 0, default tolerance); the exit status is 0 if every output is within tolerance,
    else 2. Layers models are *not verified* here: that is said explicitly and 0 is returned,
    because the conversion itself succeeded.
    """
    from tfjs_lite.errors import UnsupportedModelError

    out = sys.stdout
    if result.output_format != "tfjs_graph_model" or result.input_format not in _GRAPH_SOURCES:
        out.write(
            f"verify: not verified: {result.output_format} output from {result.input_format} input; "
            "tfjs-lite's numpy executor runs TF graph models only, and layers models are verified "
            "in TF.js by the test-suite\n"
        )
        return 0
    try:
        outcome = verify(
            Path(result.input_path),
            Path(result.output_path),
            seed=0,
            input_format=result.input_format,
            signature_name=options.signature_name,
            saved_model_tags=options.saved_model_tags,
            output_node_names=options.output_node_names,
        )
    except UnsupportedModelError as e:
        out.write(f"verify: not verified: {e}\n")
        return 0
    out.write(f"verify: {result.input_path} vs {result.output_path} on {outcome.input_note}\n")
    _print_result(outcome, out)
    if outcome.ok:
        out.write(outcome.summary() + "\n")
        return 0
    sys.stderr.write(f"tfjs-lite: error: {outcome.summary()}\n")
    return 2
