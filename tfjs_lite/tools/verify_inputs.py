"""The inputs ``verify`` feeds both models: read from ``--inputs`` JSON, or seeded random values."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = ["UNKNOWN_DIM", "check_feeds", "random_inputs", "read_inputs_json"]

# Unknown (None / -1) dims of a signature input get this size for random inputs.
UNKNOWN_DIM = 2


def read_inputs_json(path: Path) -> dict[str, Any]:
    """Read ``{name: {"dtype", "shape", "data"}}`` (the fixtures' ``inputs.json`` format).

    ``dtype`` is a numpy name or ``"string"`` (data: UTF-8 strings); ``data`` is flat, row-major.

    Raises:
        UsageError: Unreadable file or malformed entries.
    """
    import numpy as np

    from tfjs_lite.errors import ConversionError, UsageError
    from tfjs_lite.limits import MAX_SMALL_FILE_BYTES
    from tfjs_lite.safe_io import read_text

    path = Path(path)
    try:
        spec = json.loads(read_text(path, limit=MAX_SMALL_FILE_BYTES, what="--inputs file"))
    except ConversionError as e:
        raise UsageError(f"--inputs: {e}") from None
    except (ValueError, RecursionError) as e:
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

    from tfjs_lite.dtypes import NUMPY_DTYPES
    from tfjs_lite.errors import UnsupportedModelError

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


def check_feeds(graph: Any, inputs: Mapping[str, Any]) -> None:
    """Raise UsageError unless ``inputs`` has exactly the keys of ``graph.inputs``."""
    from tfjs_lite.errors import UsageError

    unknown = [k for k in inputs if k not in graph.inputs]
    missing = [k for k in graph.inputs if k not in inputs]
    if not unknown and not missing:
        return
    parts = []
    if unknown:
        parts.append(f"unknown {', '.join(map(repr, unknown))}")
    if missing:
        parts.append(f"missing {', '.join(map(repr, missing))}")
    raise UsageError(
        f"--inputs does not match the source signature ({'; '.join(parts)}); "
        f"the inputs are {', '.join(map(repr, graph.inputs)) or 'none'}"
    )
