"""The floor: read every weight byte of a model and write the same bytes out, nothing else.

`python floor.py MODEL OUT_DIR` — MODEL is a Keras .h5 file (every dataset is read), a
SavedModel folder (every variables.data-* shard is read) or a .tflite / .onnx file (read whole). Output is written in 4 MiB files, as a
converter would shard it. No converter can be faster than this on the same machine.
"""

from __future__ import annotations

import sys
from pathlib import Path

CHUNK = 4 * 1024 * 1024


def _h5_chunks(path: Path):
    import h5py

    with h5py.File(path, "r") as f:
        datasets = []
        f.visititems(lambda name, obj: datasets.append(obj) if isinstance(obj, h5py.Dataset) else None)
        for dataset in datasets:
            if dataset.size:
                yield dataset[()].tobytes()


def _saved_model_chunks(path: Path):
    for shard in sorted((path / "variables").glob("variables.data-*")):
        with open(shard, "rb") as f:
            while block := f.read(CHUNK):
                yield block


def _file_chunks(path: Path):
    """A .tflite file: its constants are most of its bytes, so the whole file is read."""
    with open(path, "rb") as f:
        while block := f.read(CHUNK):
            yield block


def main() -> None:
    source, out = Path(sys.argv[1]), Path(sys.argv[2])
    out.mkdir(parents=True, exist_ok=True)
    if source.is_dir():
        chunks = _saved_model_chunks(source)
    elif source.suffix in (".tflite", ".onnx"):  # one file holding the weights: read it whole
        chunks = _file_chunks(source)
    else:
        chunks = _h5_chunks(source)
    buffer = bytearray()
    index = 0
    for chunk in chunks:
        buffer += chunk
        while len(buffer) >= CHUNK:
            (out / f"shard{index}.bin").write_bytes(buffer[:CHUNK])
            del buffer[:CHUNK]
            index += 1
    if buffer:
        (out / f"shard{index}.bin").write_bytes(buffer)


if __name__ == "__main__":
    main()
