"""Read a Keras 3 ``.keras`` zip without extracting it: ``config.json``, ``metadata.json`` and the
``model.weights.h5`` weights (docs/tf_formats.md §4.3).

Nothing is written to disk and nothing in the archive is executed or unpickled. Keras writes the zip
uncompressed (ZIP_STORED), so h5py reads the weights straight from ``ZipFile.open``; a compressed
member is read into memory, up to :data:`MAX_IN_MEMORY_BYTES`. Member names that are absolute or
climb out with ``..`` make the archive invalid.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO, Any, Optional

import h5py

from tfjs_lite.errors import ModelFormatError
from tfjs_lite.readers.keras_h5 import open_h5

__all__ = ["MAX_IN_MEMORY_BYTES", "KerasArchive", "open_keras_archive"]

MAX_IN_MEMORY_BYTES = 2 * 1024**3  # compressed weights are inflated in memory up to this size
_MAX_JSON_BYTES = 256 * 1024**2
CONFIG = "config.json"
METADATA = "metadata.json"
WEIGHTS_H5 = "model.weights.h5"
WEIGHTS_NPZ = "model.weights.npz"


@dataclass
class KerasArchive:
    """The parts of an open ``.keras`` file. ``weights`` is None for a model saved without weights."""

    path: Path
    config: dict[str, Any]
    metadata: dict[str, Any]
    weights: Optional[h5py.File]

    @property
    def keras_version(self) -> Optional[str]:
        version = self.metadata.get("keras_version")
        return str(version) if version is not None else None


def _check_member_names(archive: zipfile.ZipFile, path: Path) -> None:
    for name in archive.namelist():
        pure = PurePosixPath(name.replace("\\", "/"))
        if pure.is_absolute() or ".." in pure.parts or (pure.parts and ":" in pure.parts[0]):
            raise ModelFormatError(f"the archive has an unsafe member name {name!r}", path=path)


def _read_json(archive: zipfile.ZipFile, member: str, path: Path) -> Any:
    try:
        info = archive.getinfo(member)
    except KeyError:
        raise ModelFormatError(f"the .keras archive has no {member}", path=path) from None
    if info.file_size > _MAX_JSON_BYTES:
        raise ModelFormatError(f"{member} is implausibly large ({info.file_size} bytes)", path=path)
    try:
        data = archive.read(info)
    except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError, RuntimeError) as e:
        raise ModelFormatError(f"cannot read {member} from the archive ({e})", path=path) from None
    try:
        return json.loads(data.decode("utf-8"))
    except ValueError as e:
        raise ModelFormatError(f"{member} is not valid JSON ({e})", path=path) from None


def _weights_stream(archive: zipfile.ZipFile, path: Path) -> IO[bytes]:
    info = archive.getinfo(WEIGHTS_H5)
    try:
        if info.compress_type == zipfile.ZIP_STORED:
            return archive.open(info)
        if info.file_size > MAX_IN_MEMORY_BYTES:
            raise ModelFormatError(
                f"{WEIGHTS_H5} is compressed and larger than {MAX_IN_MEMORY_BYTES} bytes; "
                "re-save the model with Keras (which stores it uncompressed)",
                path=path,
            )
        return io.BytesIO(archive.read(info))
    except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError, RuntimeError) as e:
        raise ModelFormatError(f"cannot read {WEIGHTS_H5} from the archive ({e})", path=path) from None


@contextmanager
def open_keras_archive(path: Path) -> Iterator[KerasArchive]:
    """Open ``path`` as a ``.keras`` archive for as long as the ``with`` block runs."""
    with ExitStack() as stack:
        try:
            archive = stack.enter_context(zipfile.ZipFile(path))
        except (zipfile.BadZipFile, OSError, EOFError) as e:
            raise ModelFormatError(f"not a readable .keras zip archive ({e})", path=path) from None
        _check_member_names(archive, path)
        config = _read_json(archive, CONFIG, path)
        if not isinstance(config, dict) or "class_name" not in config:
            raise ModelFormatError(f"{CONFIG} is not a Keras model config (no class_name)", path=path)
        names = set(archive.namelist())
        metadata = _read_json(archive, METADATA, path) if METADATA in names else {}
        if not isinstance(metadata, dict):
            raise ModelFormatError(f"{METADATA} is not a JSON object", path=path)
        weights = None
        if WEIGHTS_H5 in names:
            stream = stack.enter_context(_weights_stream(archive, path))
            weights = stack.enter_context(open_h5(stream, path))
        elif WEIGHTS_NPZ in names:
            raise ModelFormatError(
                f"weights stored as {WEIGHTS_NPZ} are not supported (it needs unpickling); "
                "re-save with the default h5 weights format",
                path=path,
            )
        yield KerasArchive(path=path, config=config, metadata=metadata, weights=weights)
