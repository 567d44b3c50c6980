"""Check that converted weights are bit-exact copies of a SavedModel's checkpoint variables.

    python benchmarks/check_weights.py SAVED_MODEL_DIR CONVERTED_DIR

Streams both sides (16 MiB at a time, so it works for models of any size): every weight of the
converted ``model.json`` manifest is hashed (SHA-256) straight from the shard files, every
checkpoint tensor straight from the ``variables.data-*`` files at the offset its index entry
gives, and each weight must equal a checkpoint tensor of the same shape byte for byte. Weights
with no checkpoint counterpart (folded or computed constants) are listed, not failed. Only
float32/int32 unquantized weights are compared (those are stored unchanged).
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Dict, Iterator, List, Tuple

BLOCK = 16 * 1024 * 1024
_ITEMSIZE = {"float32": 4, "int32": 4, "bool": 1, "uint8": 1, "uint16": 2, "complex64": 8}


def _shard_stream(folder: Path, paths: List[str]) -> Iterator[bytes]:
    for name in paths:
        with open(folder / name, "rb") as f:
            while block := f.read(BLOCK):
                yield block


class _Reader:
    """Reads exact byte counts from a stream of blocks."""

    def __init__(self, blocks: Iterator[bytes]) -> None:
        self._blocks = blocks
        self._pending = memoryview(b"")

    def digest(self, count: int) -> str:
        h = hashlib.sha256()
        while count:
            if not len(self._pending):
                self._pending = memoryview(next(self._blocks))
            take = min(count, len(self._pending))
            h.update(self._pending[:take])
            self._pending = self._pending[take:]
            count -= take
        return h.hexdigest()


def checkpoint_digests(saved_model: Path) -> Dict[Tuple[Tuple[int, ...], str], str]:
    from tfjs_lite.readers.tensor_bundle import TensorBundle

    bundle = TensorBundle(saved_model / "variables" / "variables")
    found = {}
    for key in bundle.keys():
        entry = bundle.entry(key)
        if entry.dtype not in (1, 3):  # DT_FLOAT, DT_INT32
            continue
        shape = tuple(d.size for d in entry.shape.dim)
        h = hashlib.sha256()
        with open(bundle.shard_path(entry.shard_id), "rb") as f:
            f.seek(entry.offset)
            left = entry.size
            while left:
                block = f.read(min(BLOCK, left))
                if not block:
                    raise SystemExit(f"{key}: checkpoint data ends early")
                h.update(block)
                left -= len(block)
        found[(shape, h.hexdigest())] = key
    return found


def main() -> int:
    saved_model, converted = Path(sys.argv[1]), Path(sys.argv[2])
    model = json.loads((converted / "model.json").read_text())
    wanted = checkpoint_digests(saved_model)
    matched, unmatched, compared = 0, [], 0
    for group in model["weightsManifest"]:
        reader = _Reader(_shard_stream(converted, group["paths"]))
        for weight in group["weights"]:
            shape = tuple(weight["shape"])
            count = 1
            for d in shape:
                count *= d
            if "quantization" in weight:
                q = weight["quantization"]["dtype"]
                reader.digest(count * {"float16": 2, "uint8": 1, "uint16": 2}[q])
                continue
            if weight["dtype"] == "string":
                raise SystemExit("string weights are not supported by this check")
            digest = reader.digest(count * _ITEMSIZE[weight["dtype"]])
            if weight["dtype"] not in ("float32", "int32"):
                continue
            compared += 1
            key = wanted.get((shape, digest))
            if key is None:
                unmatched.append(weight["name"])
            else:
                matched += 1
                print(f"ok  {weight['name']} {list(shape)} == checkpoint {key} (sha256 {digest[:16]}...)")
    print(f"{matched} of {compared} weights equal a checkpoint tensor byte for byte; "
          f"{len(unmatched)} have no checkpoint counterpart: {unmatched[:10]}")
    return 0 if matched else 1


if __name__ == "__main__":
    sys.exit(main())
