"""``tfjs-lite verify``: run the source model and the converted graph model on the same inputs.

Both graphs run in the numpy reference executor (:mod:`tfjs_lite.executor`), unless the outputs the
source's own framework computed are given (``--expected``: TF's, onnxruntime's, recorded by the
user; the package never imports a framework to compute them). The source is read as
the converter reads it (SavedModel / TF-Hub folder / frozen ``.pb``, same signature and tags:
:mod:`tfjs_lite.tools.source`); the converted model is read back from its ``model.json`` and shards
(:mod:`tfjs_lite.readers.tfjs_graph`), so the comparison covers the optimizer's rewrites, the fused
TF.js ops, the written topology and the stored (possibly quantized) weights.

Error measures and the pass rule are in :mod:`tfjs_lite.tools.verify_report`: an output passes
when ``max rel error <= rtol`` when ``atol`` is 0 (the default). The default ``rtol`` is 1e-5; when
the converted model stores quantized weights it is loosened to 1e-3 (float16, uint16) or 2e-2
(uint8), and the output says so. Inputs are seeded random values or ``--inputs`` JSON
(:mod:`tfjs_lite.tools.verify_inputs`).

Keras-family sources (``.h5``, ``.keras``, Keras SavedModel, TF.js layers model) are lowered to TF
ops as the graph-model conversion lowers them, so their graph-model outputs are verified too.
Verification of *layers model outputs* is not done here: the numpy executor runs TF graphs, not
Keras layers (``convert --verify`` reports them as not verified).
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from tfjs_lite.tools.args import Parser, add_source_flags, source_options
from tfjs_lite.tools.source import NOT_GRAPH, VERIFY_SOURCES, load_source_graph
from tfjs_lite.tools.verify_inputs import (
    UNKNOWN_DIM,
    check_feeds,
    random_inputs,
    read_inputs_json,
)
from tfjs_lite.tools.verify_report import (
    DEFAULT_RTOL,
    OutputComparison,
    VerifyResult,
    compare_outputs,
    default_tolerance,
    print_result,
    result_json,
)

__all__ = ["main", "verify", "verify_conversion"]


# ----------------------------------------------------------------------------------- models


def _load_converted(path: Path) -> Any:
    from tfjs_lite.detect import tfjs_model_format
    from tfjs_lite.errors import UsageError
    from tfjs_lite.readers.tfjs_graph import find_model_json, read_graph_model

    model_json = find_model_json(Path(path))
    fmt = tfjs_model_format(model_json)
    if fmt != "graph-model":
        raise UsageError(f"{model_json} is a TF.js {fmt or 'layers-model'}; {NOT_GRAPH}")
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


def _compare(
    graph: Any, model: Any, feeds: Mapping[str, Any], rtol: float, atol: float,
    expected: Mapping[str, Any] | None = None,
) -> tuple[list[OutputComparison], list[str]]:
    """Run both graphs on ``feeds`` (the source only when ``expected`` is not given); returns the
    comparisons and notes on extra converted outputs."""
    in_map = _match_keys(graph.inputs, model.graph.inputs, "input")
    out_map = _match_keys(graph.outputs, model.graph.outputs, "output")
    if expected is None:
        expected = _run(graph, feeds, "source")
    actual_raw = _run(model.graph, {in_map[k]: v for k, v in feeds.items()}, "converted")
    actual = {key: actual_raw[out_map[key]] for key in expected}
    notes = []
    extra = [k for k in model.graph.outputs if k not in out_map.values()]
    if extra:
        notes.append(f"the converted model has outputs the source signature lacks: {', '.join(extra)}")
    return compare_outputs(actual, expected, rtol=rtol, atol=atol), notes


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
    expected: Mapping[str, Any] | None = None,
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
        expected: The source framework's own outputs for ``inputs`` (keyed by the signature's
            output names); the converted model is compared with them instead of with the numpy
            executor's run of the source.

    Returns:
        The per-output comparisons and the tolerance used.

    Raises:
        UsageError: A layers model on either side, or inputs that do not match the signature.
        UnsupportedModelError: A model the numpy executor cannot run (missing kernel, hash tables).
        ModelFormatError: Unreadable models.
    """
    model = _load_converted(Path(converted))
    if output_node_names is None and (input_format == "tf_frozen_model" or Path(source).suffix == ".pb"):
        output_node_names = ",".join(model.graph.outputs) or None
    graph, source_format = load_source_graph(
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
        check_feeds(graph, inputs)
        feeds = dict(inputs)
        input_note = "given inputs"
    if expected is not None and inputs is None:
        from tfjs_lite.errors import UsageError

        raise UsageError("expected outputs need the inputs they were computed from (--inputs)")
    comparisons, notes = _compare(graph, model, feeds, rtol, atol, expected)
    return VerifyResult(comparisons, rtol, atol, tol_note, input_note, _reference_notes(source_format, expected) + notes)


# Sources read through a lowering of another framework's ops: the numpy executor runs our lowering,
# so without the framework's own outputs the lowering itself is not checked.
_LOWERED_SOURCES = frozenset({"onnx", "tflite"})


def _reference_notes(source_format: str, expected: Mapping[str, Any] | None) -> list[str]:
    if expected is not None:
        return ["reference: the given expected outputs"]
    if source_format in _LOWERED_SOURCES:
        return [f"reference: tfjs-lite's numpy executor on the lowered {source_format} graph, which checks the "
                "optimizer, writer and weights but not the lowering; pass --expected FILE with the outputs "
                f"the {source_format} runtime computed for --inputs to check that too"]
    return []


# ----------------------------------------------------------------------------------- CLI


def _parser() -> Parser:
    p = Parser(
        "verify",
        description=(
            "Run the source model and the converted TF.js graph model on the same inputs in the numpy "
            "reference executor and compare every output. Exit 0 if all are within tolerance, else 2."
        ),
    )
    p.add_argument("source", help="SavedModel or TF-Hub folder, frozen .pb, .onnx, Keras .h5/.keras or layers model")
    p.add_argument("converted", help="TF.js graph model folder or its model.json")
    p.add_argument("--inputs", help="JSON {name: {dtype, shape, data}}; default: seeded random inputs")
    p.add_argument("--seed", type=int, default=0, help="seed for random inputs (default 0)")
    p.add_argument("--rtol", type=float, help=f"relative tolerance (default {DEFAULT_RTOL:g}; looser for quantized weights)")
    p.add_argument("--atol", type=float, help="absolute tolerance (default 0)")
    add_source_flags(
        p,
        formats=VERIFY_SOURCES,
        format_help="source format (detected when omitted)",
        output_node_names_help="frozen model outputs (default: the converted model's outputs)",
    )
    p.add_argument("--runtime", choices=("numpy", "tfjs"), default="numpy",
                   help="where the converted model runs: the numpy reference executor (default) or real "
                        "TensorFlow.js 4.22 in Node (graph and layers models)")
    p.add_argument("--expected", help="the source framework's outputs for --inputs as JSON (same format), "
                                      "compared instead of running the source")
    p.add_argument("--backend", choices=("cpu", "wasm"), default="cpu", help="--runtime tfjs: TF.js backend (default cpu)")
    p.add_argument("--node-modules", help="--runtime tfjs: node_modules with the TF.js 4.22.0 packages")
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
    common: dict[str, Any] = {
        "inputs": inputs,
        "expected": read_inputs_json(Path(args.expected)) if args.expected else None,
        "seed": args.seed,
        "rtol": args.rtol,
        "atol": args.atol,
    }
    if args.runtime == "tfjs":
        from tfjs_lite.tools.verify_tfjs import verify_in_tfjs

        result = verify_in_tfjs(Path(args.source), Path(args.converted), **common, backend=args.backend,
                                node_modules=args.node_modules, source_flags=source_options(args))
    else:
        result = verify(Path(args.source), Path(args.converted), **common, **source_options(args))
    if args.json:
        print(json.dumps(result_json(result), indent=2))
        return 0 if result.ok else 2
    return print_result(result, args.source, args.converted)


def verify_conversion(result: Any, options: Any) -> int:
    """``convert --verify``: compare the model just written with its source on random inputs.

    Graph models from SavedModel / TF-Hub / frozen sources are compared as ``tfjs-lite verify``
    does (seed 0, default tolerance); the exit status is 0 if every output is within tolerance,
    else 2. Layers models are *not verified* here: that is said explicitly and 0 is returned,
    because the conversion itself succeeded.
    """
    from tfjs_lite.errors import UnsupportedModelError

    out = sys.stdout
    if result.output_format != "tfjs_graph_model" or result.input_format not in VERIFY_SOURCES:
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
    return print_result(outcome, result.input_path, result.output_path, out)
