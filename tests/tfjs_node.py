"""Python side of the real TensorFlow.js harness.

Every conversion the project makes is proven by loading it in the real TF.js runtime: npm
``@tensorflow/tfjs-core``/``-backend-cpu``/``-layers``/``-converter`` 4.22.0 on the CPU backend in Node
(no tfjs-node). ``tests/js/run_tfjs.js`` is a long-lived worker speaking newline-delimited JSON; this
module starts it once, sends requests and turns the answers into numpy arrays.

Typical use (the session fixture ``tfjs`` in ``tests/conftest.py`` yields one :class:`TfjsNode`)::

    outs = tfjs.predict_layers(model_dir, {"x": x})           # {output layer name: ndarray}
    outs = tfjs.execute_graph(model_dir, {"x": x}, ["probs"])  # {signature key / node name: ndarray}
    err = compare(outs, load_tensors("expected.json"), rtol=TOLERANCE["float32"])

Error metric (see :func:`compare`): per tensor ``max|a - e| / max(max|e|, 1e-6)``, i.e. the largest
absolute difference normalised by the magnitude of the expected tensor, not element by element (an
element-wise relative error explodes on values near zero, e.g. softmax tails or ReLU outputs).

Environment policy: a missing/old ``node`` or a failing ``npm ci`` raises :class:`TfjsHarnessError`;
the tests FAIL on it, they never skip (a machine without Node is a broken test environment).
"""

import base64
import collections
import json
import os
import queue
import shutil
import subprocess
import threading
import time
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parent.parent
JS_DIR = REPO_ROOT / "tests" / "js"
WORKER_JS = JS_DIR / "run_tfjs.js"
REFERENCE_DIR = REPO_ROOT / "fixtures" / "reference"

TFJS_VERSION = "4.22.0"
TFJS_PACKAGES = ("tfjs-core", "tfjs-backend-cpu", "tfjs-layers", "tfjs-converter")
MIN_NODE_MAJOR = 18

# Maximum normalised error (see compare()) accepted per weight encoding.
TOLERANCE = {
    "float32": 1e-5,  # unquantized
    # deep models with random weights (the zoo): their float32 outputs are ~1e-4 from the exact
    # result in TF itself (tests/float64_reference.py settles anything above this)
    "deep_float32": 1e-4,
    "float16": 1e-3,
    "uint16": 1e-3,
    "uint8": 2e-2,
}

NPM_TIMEOUT_S = 900
DEFAULT_TIMEOUT_S = 300.0
_TINY = 1e-6


class TfjsHarnessError(RuntimeError):
    """The harness itself is broken: no Node, npm install failed, worker died or timed out."""


class TfjsError(RuntimeError):
    """TF.js answered a request with an error (model failed to load or to run).

    ``message`` is TF.js's error text, ``stack`` its JS stack, ``response`` the raw response dict.
    """

    def __init__(self, message, stack="", response=None):
        super().__init__(message)
        self.message = message
        self.stack = stack
        self.response = response or {}


# ------------------------------------------------------------------------------------------------
# Environment


def find_node():
    """Path of a usable ``node`` (>= 18). Raises TfjsHarnessError otherwise."""
    node = shutil.which("node")
    if node is None:
        raise TfjsHarnessError(
            "`node` is not on PATH; the real TF.js tests need Node.js >= %d. "
            "Run scripts/install_node_deps.sh." % MIN_NODE_MAJOR
        )
    try:
        out = subprocess.run([node, "--version"], capture_output=True, text=True, timeout=60)
        major = int(out.stdout.strip().lstrip("v").split(".")[0])
    except Exception as exc:  # noqa: BLE001 - anything here means a broken node
        raise TfjsHarnessError("could not run `%s --version`: %s" % (node, exc)) from exc
    if major < MIN_NODE_MAJOR:
        raise TfjsHarnessError(
            "Node.js %s is too old (need >= %d); run scripts/install_node_deps.sh"
            % (out.stdout.strip(), MIN_NODE_MAJOR)
        )
    return node


def _installed_versions():
    found = {}
    for pkg in TFJS_PACKAGES:
        pj = JS_DIR / "node_modules" / "@tensorflow" / pkg / "package.json"
        try:
            found[pkg] = json.loads(pj.read_text())["version"]
        except (OSError, ValueError, KeyError):
            found[pkg] = None
    return found


def ensure_node_modules(timeout=NPM_TIMEOUT_S):
    """Make sure tests/js/node_modules holds the pinned TF.js packages; run ``npm ci`` if not.

    Returns the node_modules path. Raises TfjsHarnessError when node/npm are missing or npm fails.
    Safe to call concurrently (pytest-xdist): installs are serialised with a lock file.
    """
    find_node()
    if all(v == TFJS_VERSION for v in _installed_versions().values()):
        return JS_DIR / "node_modules"
    npm = shutil.which("npm")
    if npm is None:
        raise TfjsHarnessError("`npm` is not on PATH; run scripts/install_node_deps.sh")
    import fcntl

    with open(JS_DIR / ".npm-install.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if all(v == TFJS_VERSION for v in _installed_versions().values()):
                return JS_DIR / "node_modules"
            try:
                proc = subprocess.run(
                    [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
                    cwd=str(JS_DIR), capture_output=True, text=True, timeout=timeout,
                )
            except subprocess.TimeoutExpired as exc:
                raise TfjsHarnessError("`npm ci` in %s timed out after %ss" % (JS_DIR, timeout)) from exc
            if proc.returncode != 0:
                raise TfjsHarnessError(
                    "`npm ci` in %s failed (exit %d):\n%s"
                    % (JS_DIR, proc.returncode, (proc.stdout + proc.stderr)[-4000:])
                )
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    versions = _installed_versions()
    if not all(v == TFJS_VERSION for v in versions.values()):
        raise TfjsHarnessError("after `npm ci`, installed TF.js packages are %r, want %s" % (versions, TFJS_VERSION))
    return JS_DIR / "node_modules"


# ------------------------------------------------------------------------------------------------
# Tensors <-> JSON

_JS_NUMERIC = {"float32": np.float32, "int32": np.int32, "bool": np.uint8, "complex64": np.float32}


def _json_number(v):
    if isinstance(v, str):
        return {"NaN": np.nan, "nan": np.nan, "Infinity": np.inf, "inf": np.inf,
                "-Infinity": -np.inf, "-inf": -np.inf}[v]
    return v


def tensor_from_json(spec):
    """``{"dtype", "shape", "data"|"b64"}`` -> ndarray (strings -> object array of str)."""
    dtype = spec.get("dtype", "float32")
    shape = tuple(spec["shape"])
    if dtype == "string":
        return np.array([str(s) for s in spec["data"]], dtype=object).reshape(shape)
    if "b64" in spec:
        raw = base64.b64decode(spec["b64"])
        if dtype not in _JS_NUMERIC:
            raise ValueError("base64 tensor with unsupported dtype %r" % dtype)
        arr = np.frombuffer(raw, dtype=np.dtype(_JS_NUMERIC[dtype]).newbyteorder("<")).copy()
        if dtype == "bool":
            arr = arr.astype(np.bool_)
        elif dtype == "complex64":
            arr = arr.view(np.complex64)
        return arr.reshape(shape)
    data = [_json_number(v) for v in spec["data"]]
    if dtype == "complex64" and len(data) == 2 * int(np.prod(shape, dtype=np.int64)):
        return np.asarray(data, dtype=np.float32).view(np.complex64).reshape(shape)
    np_dtype = np.bool_ if dtype == "bool" else np.dtype(dtype)
    return np.asarray(data, dtype=np_dtype).reshape(shape)


def _to_js_array(value):
    """Coerce a value to an ndarray of a dtype TF.js has (float32, int32, bool, string, complex64)."""
    if isinstance(value, dict):
        value = tensor_from_json(value)
    arr = np.asarray(value)
    kind = arr.dtype.kind
    if kind in "USO":
        flat = [v.decode("utf-8") if isinstance(v, bytes) else str(v) for v in arr.reshape(-1).tolist()]
        return np.array(flat, dtype=object).reshape(arr.shape), "string"
    if kind == "b":
        return arr, "bool"
    if kind == "f":
        return arr.astype(np.float32), "float32"
    if kind in "iu":
        if arr.size and (arr.min() < np.iinfo(np.int32).min or arr.max() > np.iinfo(np.int32).max):
            raise ValueError("integer input does not fit in int32 (TF.js has no int64)")
        return arr.astype(np.int32), "int32"
    if kind == "c":
        return arr.astype(np.complex64), "complex64"
    raise TypeError("cannot send dtype %s to TF.js" % arr.dtype)


def tensor_to_json(value, encoding="base64"):
    """ndarray (or nested list / tensor spec) -> request tensor. Numbers go as base64 by default
    (exact and fast, NaN/inf safe); ``encoding="json"`` sends a flat list instead."""
    arr, dtype = _to_js_array(value)
    spec = {"dtype": dtype, "shape": [int(d) for d in arr.shape]}
    if dtype == "string":
        spec["data"] = arr.reshape(-1).tolist()
    elif encoding == "base64":
        raw = arr.astype(np.uint8) if dtype == "bool" else arr
        spec["b64"] = base64.b64encode(np.ascontiguousarray(raw).astype(raw.dtype.newbyteorder("<")).tobytes()).decode()
    else:
        flat = arr.view(np.float32) if dtype == "complex64" else arr
        flat = flat.reshape(-1).tolist()
        if dtype == "float32" or dtype == "complex64":
            flat = [v if np.isfinite(v) else ("NaN" if v != v else ("Infinity" if v > 0 else "-Infinity")) for v in flat]
        spec["data"] = flat
    return spec


def load_tensors(path):
    """Read an inputs.json / expected.json (``{name: {"dtype","shape","data"}}``) -> ordered dict of arrays."""
    with open(path) as f:
        raw = json.load(f, object_pairs_hook=collections.OrderedDict)
    return collections.OrderedDict((k, tensor_from_json(v)) for k, v in raw.items())


# ------------------------------------------------------------------------------------------------
# Comparison


def _pair_stats(actual, expected, name):
    a = np.asarray(actual)
    e = np.asarray(expected)
    if tuple(a.shape) != tuple(e.shape):
        raise AssertionError("%s: shape %s != expected %s" % (name, a.shape, e.shape))
    if e.dtype.kind in "USOb" or a.dtype.kind in "USOb":
        if e.dtype.kind in "USO" or a.dtype.kind in "USO":
            same = [str(x) == str(y) for x, y in zip(a.reshape(-1).tolist(), e.reshape(-1).tolist())]
        else:
            same = (a.astype(bool) == e.astype(bool)).reshape(-1).tolist()
        bad = same.count(False)
        return (0.0 if not bad else np.inf), (0.0 if not bad else np.inf)
    if a.size == 0:
        return 0.0, 0.0
    # 1-d views: boolean-mask assignment below does not work on 0-d (scalar) outputs.
    a = a.astype(np.complex128 if "c" in (a.dtype.kind + e.dtype.kind) else np.float64).reshape(-1)
    e = e.astype(a.dtype).reshape(-1)
    both_nan = np.isnan(a) & np.isnan(e)
    same_inf = np.isinf(a) & np.isinf(e) & (a == e)
    with np.errstate(invalid="ignore", over="ignore"):
        diff = np.abs(a - e)
    diff[both_nan | same_inf] = 0.0
    diff[np.isnan(diff)] = np.inf  # NaN on one side only
    finite_e = np.abs(e[np.isfinite(e)])
    scale = max(float(finite_e.max()) if finite_e.size else 0.0, _TINY)
    max_abs = float(diff.max())
    return max_abs / scale, max_abs


def compare_stats(actual, expected):
    """Per-tensor ``{name: {"rel": normalised error, "abs": max abs error}}``.

    ``actual``/``expected`` are arrays or dicts of arrays (every expected key must be in actual).
    """
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            if len(expected) != 1:
                raise AssertionError("got one tensor, expected %s" % list(expected))
            actual = {next(iter(expected)): actual}
        missing = [k for k in expected if k not in actual]
        if missing:
            raise AssertionError("outputs %s missing from actual outputs %s" % (missing, list(actual)))
        stats = {}
        for k in expected:
            rel, ab = _pair_stats(actual[k], expected[k], k)
            stats[k] = {"rel": rel, "abs": ab}
        return stats
    rel, ab = _pair_stats(actual, expected, "tensor")
    return {"tensor": {"rel": rel, "abs": ab}}


def max_abs_error(actual, expected):
    """Largest ``|a - e|`` over all tensors (matching NaNs / same-sign infinities count as 0)."""
    return max(s["abs"] for s in compare_stats(actual, expected).values())


def compare(actual, expected, rtol=None):
    """Normalised error between TF.js outputs and expected values; asserts ``<= rtol`` if given.

    Definition, per tensor: ``max|a - e| / max(max|e|, 1e-6)`` over all elements (NaN matching NaN
    and equal infinities count as equal and are ignored in ``max|e|``; a one-sided NaN makes the
    error inf). Strings/bools: 0.0 if all equal else inf. Shapes must match exactly. For dicts the
    result is the max over the expected keys. Returns that float.
    """
    stats = compare_stats(actual, expected)
    worst = max(s["rel"] for s in stats.values()) if stats else 0.0
    if rtol is not None and not worst <= rtol:
        detail = ", ".join("%s: rel %.3g abs %.3g" % (k, s["rel"], s["abs"]) for k, s in stats.items())
        raise AssertionError("TF.js outputs differ from expected: max normalised error %.3g > %.3g (%s)"
                             % (worst, rtol, detail))
    return worst


# How far quantized outputs may stray, measured against how much the expected outputs change from
# one input to the next (see input_dependence_error). A model that ignores its input scores >= 0.5.
INPUT_DEPENDENCE_LIMIT = {"float16": 0.01, "uint16": 0.01, "uint8": 0.1}


def input_dependence_error(actual, expected):
    """``max|a - e|`` over how much ``e`` varies across the batch, worst tensor; for quantized outputs.

    Per tensor (axis 0 = batch, at least two inputs): ``max|a - e| / max_j (max_b e[b, j] -
    min_b e[b, j])``. An output that does not depend on the input (the same ``c`` for every batch
    row) is at least half the batch range away from ``e`` at the position where that range is
    largest, so it scores >= 0.5 however small the values are, unlike :func:`compare`, where a
    constant near a near-uniform softmax passes the uint8 tolerance.
    """
    if not isinstance(expected, dict):
        expected, actual = {"tensor": expected}, {"tensor": actual}
    worst = 0.0
    for key, e in expected.items():
        e = np.asarray(e, dtype=np.float64)
        a = np.asarray(actual[key], dtype=np.float64)
        if e.ndim == 0 or e.shape[0] < 2:
            raise AssertionError("%s: input_dependence_error needs a batch of at least two inputs" % key)
        if a.shape != e.shape:
            raise AssertionError("%s: shape %s != expected %s" % (key, a.shape, e.shape))
        rows = e.reshape(e.shape[0], -1)
        spread = float((rows.max(axis=0) - rows.min(axis=0)).max())
        if spread <= _TINY:
            raise AssertionError("%s: the expected output does not vary with the input; use a fixture "
                                 "whose outputs do" % key)
        worst = max(worst, float(np.abs(a - e).max()) / spread)
    return worst


def assert_quantized_close(actual, expected, dtype):
    """Both checks for a quantized model: :func:`compare` within ``TOLERANCE[dtype]`` and
    :func:`input_dependence_error` within ``INPUT_DEPENDENCE_LIMIT[dtype]``."""
    compare(actual, expected, rtol=TOLERANCE[dtype])
    err = input_dependence_error(actual, expected)
    if not err <= INPUT_DEPENDENCE_LIMIT[dtype]:
        raise AssertionError("%s outputs differ from expected by %.3g of how much they vary with the "
                             "input (limit %.3g)" % (dtype, err, INPUT_DEPENDENCE_LIMIT[dtype]))
    return err


# ------------------------------------------------------------------------------------------------
# The worker


class TfjsResult(dict):
    """Outputs as ``{name: ndarray}`` in TF.js's output order, plus timing attributes."""

    def __init__(self, outputs, order, response):
        super().__init__((n, outputs[n]) for n in order)
        self.order = list(order)
        self.load_ms = response.get("load_ms")
        self.run_ms = response.get("run_ms")
        self.first_run_ms = response.get("first_run_ms", self.run_ms)
        self.run_ms_all = response.get("run_ms_all")
        self.response = response


class TfjsNode:
    """One long-lived ``node tests/js/run_tfjs.js`` worker. Use as a context manager.

    Requests are serialised with a lock, so one instance can be shared across threads. If the worker
    dies or a request times out, the worker is killed and restarted on the next request.
    """

    def __init__(self, timeout=DEFAULT_TIMEOUT_S, install=True, stderr_lines=200):
        self.timeout = timeout
        self.install = install
        self.proc = None
        self.startup_s = None
        self.versions = None
        self._next_id = 0
        self._lock = threading.Lock()
        self._stdout_q = None
        self._stderr_tail = collections.deque(maxlen=stderr_lines)

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self):
        if self.proc is not None and self.proc.poll() is None:
            return self
        node = find_node()
        if self.install:
            ensure_node_modules()
        t0 = time.perf_counter()
        self.proc = subprocess.Popen(
            [node, str(WORKER_JS)], cwd=str(JS_DIR),
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True, encoding="utf-8", bufsize=1,
        )
        self._stdout_q = queue.Queue()
        threading.Thread(target=self._pump, args=(self.proc.stdout, self._stdout_q.put, True), daemon=True).start()
        threading.Thread(target=self._pump, args=(self.proc.stderr, self._stderr_tail.append, False), daemon=True).start()
        pong = self._roundtrip({"op": "ping"}, timeout=120)
        self.startup_s = time.perf_counter() - t0
        self.versions = pong.get("versions")
        bad = {k: v for k, v in (self.versions or {}).items() if k.startswith("tfjs") and v != TFJS_VERSION}
        if bad or pong.get("backend") != "cpu":
            self.close()
            raise TfjsHarnessError("worker runs %r on backend %r, want %s / cpu" % (self.versions, pong.get("backend"), TFJS_VERSION))
        return self

    @staticmethod
    def _pump(stream, sink, signal_eof):
        try:
            for line in stream:
                sink(line.rstrip("\n"))
        except (OSError, ValueError):
            pass
        if signal_eof:
            sink(None)

    def close(self):
        """Ask the worker to exit (kill it if it does not) and release its pipes."""
        proc = self.proc
        if proc is not None and proc.poll() is None:
            try:
                proc.stdin.write(json.dumps({"op": "exit", "id": "exit"}) + "\n")
                proc.stdin.flush()
                proc.stdin.close()
                proc.wait(timeout=10)
            except (OSError, ValueError, subprocess.TimeoutExpired):
                pass
        self._kill()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.close()

    @property
    def stderr_tail(self):
        return "\n".join(self._stderr_tail)

    # -- raw protocol ------------------------------------------------------------------------
    def _roundtrip(self, req, timeout=None):
        timeout = self.timeout if timeout is None else timeout
        self._next_id += 1
        req = dict(req, id=self._next_id)
        proc = self.proc
        try:
            proc.stdin.write(json.dumps(req) + "\n")
            proc.stdin.flush()
        except (OSError, ValueError) as exc:
            self._kill()
            raise TfjsHarnessError("TF.js worker is gone (%s); stderr:\n%s" % (exc, self.stderr_tail)) from exc
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self._stdout_q.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                self._kill()
                raise TfjsHarnessError("TF.js worker timed out after %ss on %s" % (timeout, _describe(req))) from None
            if line is None:
                code = proc.wait()
                self._kill()
                raise TfjsHarnessError("TF.js worker exited (code %s) during %s; stderr:\n%s"
                                       % (code, _describe(req), self.stderr_tail))
            try:
                resp = json.loads(line)
            except ValueError:
                self._kill()
                raise TfjsHarnessError("TF.js worker wrote non-JSON to stdout: %r" % line[:500]) from None
            if resp.get("id") == req["id"]:
                return resp
            # a response to an earlier, timed-out request cannot happen (we restart), but be safe

    def _kill(self):
        """Kill our worker (if still running), reap it and close its pipes."""
        proc, self.proc = self.proc, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
        for stream in (proc.stdin, proc.stdout, proc.stderr):
            try:
                stream.close()
            except (OSError, ValueError):
                pass

    def request(self, req, timeout=None):
        """Send one raw request dict, return the raw response dict (starts/restarts the worker)."""
        with self._lock:
            if self.proc is None or self.proc.poll() is not None:
                self._kill()
                self.start()
            return self._roundtrip(req, timeout)

    # -- high level --------------------------------------------------------------------------
    def ping(self):
        return self.request({"op": "ping"})

    def run(self, model_dir, kind, inputs, outputs=None, repeat=None, sync=False, timeout=None):
        """Load ``model_dir`` and run it once; returns a :class:`TfjsResult`. Raises TfjsError."""
        if isinstance(inputs, (str, os.PathLike)):
            inputs = load_tensors(inputs)
        if isinstance(inputs, dict):
            enc_inputs = {str(k): tensor_to_json(v) for k, v in inputs.items()}
        elif isinstance(inputs, (list, tuple)):
            enc_inputs = [tensor_to_json(v) for v in inputs]
        else:
            enc_inputs = [tensor_to_json(inputs)]
        req = {"op": "run", "model_dir": str(Path(model_dir).resolve()), "kind": kind,
               "inputs": enc_inputs, "encoding": "base64"}
        if outputs is not None:
            req["outputs"] = [outputs] if isinstance(outputs, str) else list(outputs)
        if repeat:
            req["repeat"] = int(repeat)
        if sync:
            req["sync"] = True
        resp = self.request(req, timeout)
        if not resp.get("ok"):
            raise TfjsError(resp.get("error", "unknown error"), resp.get("stack", ""), resp)
        outs = {k: tensor_from_json(v) for k, v in resp["outputs"].items()}
        return TfjsResult(outs, resp["output_order"], resp)

    def predict_layers(self, model_dir, inputs, outputs=None):
        """``tf.loadLayersModel`` + ``model.predict``. ``inputs``: ``{input layer name: array}`` (any
        order), a list in model input order, one array, or a path to an inputs.json. Returns
        ``{output layer name: ndarray}`` in ``model.outputs`` order."""
        return self.run(model_dir, "layers", inputs, outputs)

    def execute_graph(self, model_dir, inputs, outputs=None, sync=False):
        """``tf.loadGraphModel`` + ``model.executeAsync`` (``execute`` if ``sync``). ``inputs`` keyed
        by signature input names (or placeholder names when there is no signature), or a list in
        ``model.inputNodes`` order. ``outputs``: signature keys or node names; default all
        ``model.outputNodes``. Returns ``{name: ndarray}`` in requested/outputNodes order."""
        return self.run(model_dir, "graph", inputs, outputs, sync=sync)

    def model_info(self, model_dir, kind):
        """Input/output names as TF.js sees them. Layers: ``input_names``/``output_names`` (layer
        names), ``inputs``/``outputs`` (symbolic tensors), ``layers``, ``weights``. Graph:
        ``input_names``/``output_names`` (= inputNodes/outputNodes), ``inputs``/``outputs`` (nodes),
        ``signature`` keys, ``weights`` (Const names)."""
        resp = self.request({"op": "info", "model_dir": str(Path(model_dir).resolve()), "kind": kind})
        if not resp.get("ok"):
            raise TfjsError(resp.get("error", "unknown error"), resp.get("stack", ""), resp)
        return dict(resp["info"], load_ms=resp.get("load_ms"))

    def benchmark(self, model_dir, kind, inputs, repeat=20, outputs=None):
        """Timing dict: ``load_ms``, ``first_run_ms``, ``run_ms`` (median of ``repeat`` runs)."""
        r = self.run(model_dir, kind, inputs, outputs, repeat=max(2, int(repeat)))
        return {"load_ms": r.load_ms, "first_run_ms": r.first_run_ms, "run_ms": r.run_ms,
                "run_ms_all": r.run_ms_all}


def _describe(req):
    return "%s %s (%s)" % (req.get("op", "run"), req.get("kind", ""), req.get("model_dir", ""))


# ------------------------------------------------------------------------------------------------
# Module-level convenience (one shared worker, for scripts/benchmarks; tests use the fixture)

_default = None


def default_node():
    global _default
    if _default is None:
        import atexit

        _default = TfjsNode().start()
        atexit.register(_default.close)
    return _default


def predict_layers(model_dir, inputs, outputs=None):
    return default_node().predict_layers(model_dir, inputs, outputs)


def execute_graph(model_dir, inputs, outputs=None, sync=False):
    return default_node().execute_graph(model_dir, inputs, outputs, sync=sync)


def _main(argv=None):
    """``python tests/tfjs_node.py MODEL_DIR layers|graph INPUTS.json [EXPECTED.json] [--repeat N]``"""
    import argparse

    p = argparse.ArgumentParser(description="Run a TF.js model folder in the real TF.js 4.22 runtime.")
    p.add_argument("model_dir")
    p.add_argument("kind", choices=["layers", "graph"])
    p.add_argument("inputs", help="inputs.json ({name: {dtype, shape, data}})")
    p.add_argument("expected", nargs="?", help="expected.json to compare with")
    p.add_argument("--outputs", nargs="*", default=None)
    p.add_argument("--repeat", type=int, default=0, help="time this many inferences (median)")
    a = p.parse_args(argv)
    with TfjsNode() as node:
        r = node.run(a.model_dir, a.kind, a.inputs, a.outputs, repeat=a.repeat or None)
        print("node start %.0f ms, load %.1f ms, first run %.1f ms, run %.2f ms"
              % (node.startup_s * 1e3, r.load_ms, r.first_run_ms, r.run_ms))
        for name, arr in r.items():
            print("%s: %s %s" % (name, arr.dtype, list(arr.shape)))
        if a.expected:
            for name, s in compare_stats(r, load_tensors(a.expected)).items():
                print("%s: normalised error %.3g, max abs error %.3g" % (name, s["rel"], s["abs"]))


if __name__ == "__main__":
    _main()
