"""``tfjs-lite verify --runtime tfjs``: run the converted model in the real TensorFlow.js 4.22 runtime.

The expected outputs come from the numpy reference executor running the *source* graph (SavedModel,
TF-Hub folder, frozen ``.pb``) on the same inputs, or from ``--expected FILE`` (any source,
including Keras models, which the executor does not run). The converted model — graph or layers —
runs in Node (``cpu`` or ``wasm`` backend) through the same JavaScript as ``tfjs-lite bench``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping, Optional

__all__ = ["verify_in_tfjs"]


def _output_keys(model_dir: Path, kind: str) -> dict[str, str]:
    """TF.js output name -> the key the source uses (graph models: the signature's output keys)."""
    if kind != "graph":
        return {}
    model = json.loads((model_dir / "model.json").read_text(encoding="utf-8"))
    outputs = ((model.get("signature") or {}).get("outputs")) or {}
    return {str(info.get("name", "")).split(":")[0]: key for key, info in outputs.items()}


def _quantization(model_dir: Path) -> list[str]:
    from tfjs_lite.readers.tfjs_graph import weight_quantization

    model = json.loads((model_dir / "model.json").read_text(encoding="utf-8"))
    specs = [w for group in model.get("weightsManifest") or [] for w in group.get("weights", [])]
    return weight_quantization(specs)


def _decode(outputs: Mapping[str, Any]) -> dict[str, Any]:
    import base64

    import numpy as np

    arrays = {}
    for name, spec in outputs.items():
        if spec["dtype"] == "string":
            array = np.empty(len(spec["data"]), dtype=object)
            array[:] = [s.encode("utf-8") for s in spec["data"]]
        else:
            dtype = {"float32": "<f4", "int32": "<i4", "bool": "u1"}[spec["dtype"]]
            array = np.frombuffer(base64.b64decode(spec["b64"]), dtype=dtype)
            if spec["dtype"] == "bool":
                array = array.astype(bool)
        arrays[name] = array.reshape(spec["shape"])
    return arrays


def _expected_from_source(source: Path, inputs: Optional[Mapping[str, Any]], seed: int,
                          source_flags: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any], str]:
    """Run the source graph in the reference executor: ``(feeds, expected outputs, input note)``."""
    from tfjs_lite import executor
    from tfjs_lite.errors import ConversionError, UnsupportedModelError, UsageError
    from tfjs_lite.kernels import KernelError
    from tfjs_lite.tools.source import load_source_graph
    from tfjs_lite.tools.verify_inputs import UNKNOWN_DIM, check_feeds, random_inputs

    try:
        graph, _ = load_source_graph(source, **source_flags)
    except UsageError as e:
        raise UsageError(f"{e}; with --runtime tfjs, give the expected outputs with --expected FILE") from None
    if inputs is None:
        feeds = random_inputs(graph, seed)
        note = f"random inputs (seed {seed}, unknown dims = {UNKNOWN_DIM})"
    else:
        check_feeds(graph, inputs)
        feeds, note = dict(inputs), "given inputs"
    try:
        expected = executor.run(graph, feeds)
    except (ConversionError, KernelError) as e:
        raise UnsupportedModelError(
            f"cannot run the source model in the numpy reference executor: {e} (give --expected FILE)"
        ) from None
    return feeds, expected, note


def verify_in_tfjs(
    source: Path,
    converted: Path,
    *,
    inputs: Optional[Mapping[str, Any]] = None,
    expected: Optional[Mapping[str, Any]] = None,
    seed: int = 0,
    rtol: Optional[float] = None,
    atol: Optional[float] = None,
    backend: str = "cpu",
    node_modules: Optional[str] = None,
    source_flags: Optional[Mapping[str, Any]] = None,
) -> Any:
    """Compare the converted model run in TF.js with the source's (or the given) outputs.

    Returns:
        A :class:`tfjs_lite.tools.verify_report.VerifyResult`.

    Raises:
        UsageError: No Node, ``--expected`` without ``--inputs``, a Keras source without
            ``--expected``, output names that match nothing.
        UnsupportedModelError: TF.js or the reference executor cannot run a model.
    """
    from tfjs_lite.errors import UsageError
    from tfjs_lite.tools.bench import encode_inputs, model_entry
    from tfjs_lite.tools.bench_runtime import TFJS_VERSION, run_node_bench
    from tfjs_lite.tools.verify_report import VerifyResult, compare_outputs, default_tolerance

    entry = model_entry(str(converted), "converted")
    model_dir = Path(entry["dir"])
    if expected is not None:
        if inputs is None:
            raise UsageError("--expected needs the --inputs the expected outputs were computed from")
        feeds, note = dict(inputs), "given inputs and --expected outputs"
    else:
        flags = dict(source_flags or {})
        frozen = flags.get("input_format") == "tf_frozen_model" or Path(source).suffix == ".pb"
        if frozen and not flags.get("output_node_names") and entry["kind"] == "graph":
            # As the numpy verify does: a frozen source is read up to the converted model's outputs.
            flags["output_node_names"] = ",".join(sorted(set(_output_keys(model_dir, "graph")))) or None
        feeds, expected, note = _expected_from_source(Path(source), inputs, seed, flags)
    request = {
        "backend": backend, "runs": 0, "warmup": 1, "seed": seed, "profile": False,
        "return_outputs": True, "models": [entry], "inputs": encode_inputs(feeds), "shapes": {},
    }
    result = run_node_bench(request, node_modules=node_modules)
    outputs = _decode(result["outputs"])
    renames = _output_keys(model_dir, entry["kind"])
    actual = {renames.get(name, name): value for name, value in outputs.items()}
    missing = [k for k in expected if k not in actual]
    if missing:
        raise UsageError(
            f"TF.js outputs {', '.join(map(repr, actual))} do not include the expected "
            f"{', '.join(map(repr, missing))}"
        )
    default_rtol, tol_note = default_tolerance(_quantization(model_dir))
    rtol = default_rtol if rtol is None else rtol
    comparisons = compare_outputs(actual, expected, rtol=rtol, atol=0.0 if atol is None else atol)
    notes = [f"converted model run in TensorFlow.js {TFJS_VERSION} ({entry['kind']} model, {backend} backend, Node)"]
    return VerifyResult(comparisons, rtol, 0.0 if atol is None else atol, tol_note if rtol == default_rtol else "",
                        note, notes)
