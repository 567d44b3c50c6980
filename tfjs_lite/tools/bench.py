"""``tfjs-lite bench``: load a converted model in the real TensorFlow.js 4.22 runtime and time it.

What is measured (the same in Node and in a browser: ``js/bench_core.js``): load time, the first
inference on its own, warm-up runs that are discarded, then N timed runs, each including reading
every output back; memory and leaked tensors; the kernels that take the most time (``tf.profile``).
``--compare`` runs a second model on the same inputs, interleaved. See docs/bench.md.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Optional, Sequence

from tfjs_lite.tools.args import Parser

__all__ = ["encode_inputs", "main", "model_entry", "parse_shape_overrides", "run_bench"]

NODE_BACKENDS = ("cpu", "wasm")
BROWSER_BACKENDS = ("cpu", "wasm", "webgl", "webgpu")


def _progress_line(text: str) -> None:
    sys.stderr.write(f"tfjs-lite: {text}\n")


def model_entry(path: str, label: str) -> dict[str, Any]:
    """``{label, kind, dir}`` for a TF.js model folder or its ``model.json``."""
    from tfjs_lite.detect import tfjs_model_format
    from tfjs_lite.errors import UsageError
    from tfjs_lite.readers.tfjs_weights import check_weight_files, find_model_json, read_model_json

    model_json = find_model_json(Path(path))
    if model_json.name != "model.json":
        raise UsageError(f"{model_json}: give the folder of a TF.js model (its model.json and shards)")
    fmt = tfjs_model_format(model_json)
    if fmt not in (None, "graph-model", "layers-model"):
        raise UsageError(f"{model_json} is a TF.js {fmt}, not a graph or layers model")
    # Node reads the shards itself: the same checks as the readers first (regular files inside the
    # folder, declared sizes the files hold), so a FIFO or a lying manifest is one line, not a hang.
    manifest = read_model_json(model_json).get("weightsManifest", [])
    check_weight_files(manifest, model_json.parent)
    kind = "graph" if fmt == "graph-model" else "layers"
    return {"label": label, "kind": kind, "dir": str(model_json.parent.resolve())}


def parse_shape_overrides(items: Sequence[str]) -> dict[str, list[int]]:
    """``--input NAME=1,224,224,3`` (``x`` also separates dims) -> ``{NAME: [1, 224, 224, 3]}``."""
    from tfjs_lite.errors import UsageError

    shapes: dict[str, list[int]] = {}
    for item in items:
        name, sep, dims = item.rpartition("=")
        try:
            shape = [int(d) for d in dims.replace("x", ",").split(",") if d.strip()] if dims.strip() else []
        except ValueError:
            shape = None
        if not sep or not name or shape is None or any(d < 0 for d in shape):
            raise UsageError(f"--input {item!r}: expected NAME=D0,D1,... with non-negative integer dims")
        shapes[name] = shape
    return shapes


def encode_inputs(feeds: dict[str, Any]) -> dict[str, Any]:
    """Arrays -> the JSON tensors ``bench_core.js`` reads (float32/int32/bool as base64, strings as text)."""
    import base64

    import numpy as np

    from tfjs_lite.errors import UsageError

    encoded = {}
    for name, value in feeds.items():
        array = np.asarray(value)
        if array.dtype.kind in "OUS":
            data = [v.decode("utf-8") if isinstance(v, bytes) else str(v) for v in array.reshape(-1).tolist()]
            encoded[name] = {"dtype": "string", "shape": list(array.shape), "data": data}
            continue
        if array.dtype.kind == "b":
            dtype, raw = "bool", array.astype(np.uint8)
        elif array.dtype.kind == "f":
            dtype, raw = "float32", array.astype("<f4")
        elif array.dtype.kind in "iu":
            if array.size and (array.min() < -(2**31) or array.max() >= 2**31):
                raise UsageError(f"input {name}: integer values do not fit TF.js's int32")
            dtype, raw = "int32", array.astype("<i4")
        else:
            raise UsageError(f"input {name}: dtype {array.dtype} cannot be fed to TF.js")
        encoded[name] = {"dtype": dtype, "shape": list(array.shape),
                         "b64": base64.b64encode(np.ascontiguousarray(raw).tobytes()).decode("ascii")}
    return encoded


def run_bench(request: dict[str, Any], *, browser: bool = False, chromium: Optional[str] = None,
              node_modules: Optional[str] = None, timeout: float = 600.0) -> dict[str, Any]:
    """Run a bench request in Node or headless Chromium; returns the result dict."""
    from tfjs_lite.tools.bench_runtime import ensure_node_modules, run_node_bench

    if browser:
        from tfjs_lite.tools.bench_browser import run_in_browser

        modules = ensure_node_modules(node_modules)
        return run_in_browser(request, modules, chromium=chromium, timeout=timeout,
                              progress=_progress_line)
    return run_node_bench(request, node_modules=node_modules, timeout=timeout)


def _parser() -> Parser:
    p = Parser(
        "bench",
        description=(
            "Load a TF.js graph or layers model in the real TensorFlow.js 4.22 runtime (Node, or headless "
            "Chromium with --browser) and report load time, first inference, timed runs, memory, "
            "leaked tensors and the slowest kernels. See docs/bench.md."
        ),
    )
    p.add_argument("model", help="TF.js model folder (or its model.json)")
    p.add_argument("--backend", choices=BROWSER_BACKENDS, default=None,
                   help="cpu or wasm in Node; cpu, wasm, webgl or webgpu with --browser (default cpu; webgl in a browser)")
    p.add_argument("--browser", action="store_true", help="run in a headless Chromium instead of Node")
    p.add_argument("--chromium", metavar="PATH", help="Chromium/Chrome executable (default: found on the PATH)")
    p.add_argument("--serve", action="store_true", help="serve a bench page and the model on localhost for a person to open")
    p.add_argument("--port", type=int, default=8000, help="port for --serve (default 8000; 0 = any free port)")
    p.add_argument("--runs", type=int, default=50, help="timed runs (default 50)")
    p.add_argument("--warmup", type=int, default=1,
                   help="runs discarded before timing, counting the first inference (default 1)")
    p.add_argument("--input", action="append", default=[], metavar="NAME=SHAPE",
                   help="shape for an input with dynamic dims, e.g. x=1,224,224,3 (repeatable)")
    p.add_argument("--inputs", metavar="FILE", help="input values as JSON {name: {dtype, shape, data}}")
    p.add_argument("--seed", type=int, default=0, help="seed for random inputs (default 0)")
    p.add_argument("--compare", metavar="OTHER_MODEL", help="also run this model on the same inputs, interleaved")
    p.add_argument("--no-profile", dest="profile", action="store_false", help="skip the tf.profile kernel run")
    p.add_argument("--node-modules", metavar="DIR",
                   help="node_modules with the TF.js 4.22.0 packages (default: $TFJS_LITE_NODE_MODULES or a cache)")
    p.add_argument("--timeout", type=float, default=600.0, help="give up after this many seconds (default 600)")
    p.add_argument("--json", action="store_true", help="print the figures as JSON")
    p.add_argument("--debug", action="store_true", help="show tracebacks")
    return p


def build_request(args: Any) -> dict[str, Any]:
    from tfjs_lite.errors import UsageError
    from tfjs_lite.tools.verify_inputs import read_inputs_json

    if args.runs < 1:
        raise UsageError(f"--runs must be at least 1, got {args.runs}")
    if args.warmup < 0:
        raise UsageError(f"--warmup must be 0 or more, got {args.warmup}")
    backend = args.backend or ("webgl" if args.browser or args.serve else "cpu")
    if not (args.browser or args.serve) and backend not in NODE_BACKENDS:
        raise UsageError(f"backend {backend} runs only in a browser: add --browser (Node has {', '.join(NODE_BACKENDS)})")
    models = [model_entry(args.model, "model")]
    if args.compare:
        models[0]["label"] = "model"
        models.append(model_entry(args.compare, "compare"))
    return {
        "backend": backend,
        "runs": args.runs,
        "warmup": args.warmup,
        "seed": args.seed,
        "profile": args.profile,
        "models": models,
        "inputs": encode_inputs(read_inputs_json(Path(args.inputs))) if args.inputs else None,
        "shapes": parse_shape_overrides(args.input),
    }


def serve(request: dict[str, Any], args: Any) -> int:
    """``--serve``: the page for a person's own browser, until Ctrl-C."""
    import threading

    from tfjs_lite.errors import UsageError
    from tfjs_lite.tools.bench_browser import BenchServer, page_config
    from tfjs_lite.tools.bench_runtime import ensure_node_modules

    modules = ensure_node_modules(args.node_modules)
    dirs = [Path(m["dir"]) for m in request["models"]]
    config = page_config(request, [m["dir"] for m in request["models"]])
    try:
        server = BenchServer(modules, dirs, config, port=args.port)
    except OSError as e:
        raise UsageError(f"cannot listen on 127.0.0.1:{args.port}: {e.strerror or e}") from None
    with server:
        print(f"tfjs-lite bench: serving {server.url} (open it in a browser; Ctrl-C stops)", flush=True)
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            pass
    return 0


def main(argv: Sequence[str]) -> int:
    """``tfjs-lite bench MODEL [...]``; returns the exit status."""
    from tfjs_lite.tools.bench_report import print_report

    args = _parser().parse_args(list(argv))
    request = build_request(args)
    if args.serve:
        return serve(request, args)
    result = run_bench(request, browser=args.browser, chromium=args.chromium,
                       node_modules=args.node_modules, timeout=args.timeout)
    for spec, model in zip(request["models"], result["models"]):
        model["path"] = spec["dir"]
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print_report(result, sys.stdout)
    return 0
