"""Read a Keras 3 ``.keras`` zip without extracting it: ``config.json``, ``metadata.json`` and the
``model.weights.h5`` weights (docs/formats.md §8.3).

Nothing is written to disk and nothing in the archive is executed or unpickled. Keras writes the zip
uncompressed (ZIP_STORED), so h5py reads the weights straight from ``ZipFile.open``; a compressed
weights member is inflated into memory, up to :data:`MAX_IN_MEMORY_BYTES`. Member names that are
absolute or climb out with ``..`` make the archive invalid.

Zip bombs: sizes are checked from the central directory before anything is inflated. JSON members
may not exceed :data:`_MAX_JSON_BYTES`; a compressed member may not inflate more than
:data:`_MAX_RATIO` (JSON: :data:`_MAX_JSON_RATIO`) times its compressed size once above
:data:`_RATIO_FLOOR`, and compressed weights may not take more memory than ten times their
compressed size plus :data:`_INFLATE_SLACK`. So memory stays within 10× the archive size + ~100 MB.
"""

from __future__ import annotations

import io
import json
import os
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO, Any, Optional

import h5py

from tfjs_lite.errors import ConversionError, ModelFormatError
from tfjs_lite.keras.validate import validate_model_config
from tfjs_lite.readers.keras_h5 import open_h5
from tfjs_lite.safe_io import open_binary

__all__ = ["MAX_IN_MEMORY_BYTES", "KerasArchive", "open_keras_archive"]

MAX_IN_MEMORY_BYTES = 256 * 1024**2  # compressed weights are inflated in memory up to this size
_MAX_JSON_BYTES = 64 * 1024**2  # config.json / metadata.json (real ones are KBs to a few MB)
_RATIO_FLOOR = 4 * 1024**2  # below this, any compression ratio is harmless
_MAX_RATIO = 1000  # weights: more than this is a zip bomb, not data
_MAX_JSON_RATIO = 100  # JSON compresses ~5-20x; a config inflating 100x more is padding
_INFLATE_SLACK = 64 * 1024**2
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


def _check_ratio(info: zipfile.ZipInfo, limit: int, path: Path) -> None:
    """Refuse a compressed member that inflates more than ``limit`` times its size (a zip bomb)."""
    if info.compress_type == zipfile.ZIP_STORED or info.file_size <= _RATIO_FLOOR:
        return
    if info.file_size > limit * max(info.compress_size, 1):
        raise ModelFormatError(
            f"{info.filename} inflates {info.file_size} bytes from {info.compress_size}: more than "
            f"{limit}:1, refused as a likely zip bomb",
            path=path,
        )


def _read_json(archive: zipfile.ZipFile, member: str, path: Path) -> Any:
    try:
        info = archive.getinfo(member)
    except KeyError:
        raise ModelFormatError(f"the .keras archive has no {member}", path=path) from None
    if info.file_size > _MAX_JSON_BYTES:
        raise ModelFormatError(
            f"{member} is implausibly large ({info.file_size} bytes, the limit is {_MAX_JSON_BYTES})", path=path
        )
    _check_ratio(info, _MAX_JSON_RATIO, path)
    try:
        with archive.open(info) as f:
            data = f.read(_MAX_JSON_BYTES + 1)  # never more than the cap, whatever the header says
    except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError, RuntimeError, zlib.error) as e:
        raise ModelFormatError(f"cannot read {member} from the archive ({e})", path=path) from None
    if len(data) > _MAX_JSON_BYTES:
        raise ModelFormatError(f"{member} is implausibly large (over {_MAX_JSON_BYTES} bytes)", path=path)
    try:
        text = data.decode("utf-8")
        del data
        return json.loads(text)
    except ValueError as e:
        raise ModelFormatError(f"{member} is not valid JSON ({' '.join(str(e).split())[:200]})", path=path) from None
    except RecursionError:
        raise ModelFormatError(f"{member} is nested too deeply", path=path) from None


class _StoredMember(io.RawIOBase):
    """A stored (uncompressed) zip member read in place: ``readinto`` at any position is one
    ``os.pread`` on the archive's file. ``ZipFile.open`` would do, but in Python 3.11 its backward
    seek re-reads the member from its start, and h5py seeks back and forth for every dataset: a
    235 MB ResNet152 archive took 37 s to read that way."""

    def __init__(self, fd: int, start: int, size: int) -> None:
        super().__init__()
        self._fd, self._start, self._size, self._pos = fd, start, size, 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._size}[whence]
        if base + offset < 0:
            raise OSError(f"seek to {base + offset}, before the start of the member")
        self._pos = base + offset
        return self._pos

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        count = max(0, min(len(view), self._size - self._pos))
        data = os.pread(self._fd, count, self._start + self._pos) if count else b""
        view[: len(data)] = data
        self._pos += len(data)
        return len(data)


_CRC_CHUNK = 4 * 1024**2
_READ_BUFFER = 64 * 1024  # h5py's metadata reads are small and scattered; datasets are read whole
# the fixed part of a zip local file header: signature, ..., name length at 26, extra length at 28
_LOCAL_HEADER = 30
_LOCAL_SIGNATURE = b"PK\x03\x04"


def _stored_member(info: zipfile.ZipInfo, handle: Any, path: Path) -> Optional[IO[bytes]]:
    """The stored member ``info`` as a seekable stream over the archive file, or None when the
    archive is not a plain file (then ``ZipFile.open`` serves)."""
    try:
        fd = handle.fileno()
    except (AttributeError, OSError, io.UnsupportedOperation):
        return None
    header = os.pread(fd, _LOCAL_HEADER, info.header_offset)
    if len(header) != _LOCAL_HEADER or header[:4] != _LOCAL_SIGNATURE:
        raise ModelFormatError(f"the local header of {info.filename} is damaged", path=path)
    name_length = int.from_bytes(header[26:28], "little")
    extra_length = int.from_bytes(header[28:30], "little")
    start = info.header_offset + _LOCAL_HEADER + name_length + extra_length
    if start + info.file_size > os.fstat(fd).st_size:
        raise ModelFormatError(f"{info.filename} runs past the end of the archive", path=path)
    # the zip's CRC-32 catches damage HDF5 itself would not see (in dataset bytes); one sequential
    # pass, as ZipFile.open would have checked it
    crc, done = 0, 0
    while done < info.file_size:
        chunk = os.pread(fd, min(_CRC_CHUNK, info.file_size - done), start + done)
        if not chunk:
            break
        crc, done = zlib.crc32(chunk, crc), done + len(chunk)
    if crc != info.CRC:
        raise ModelFormatError(f"{info.filename} fails its CRC-32 check: the archive is damaged",
                               path=path)
    return io.BufferedReader(_StoredMember(fd, start, info.file_size), buffer_size=_READ_BUFFER)


def _weights_stream(archive: zipfile.ZipFile, path: Path, handle: Any) -> IO[bytes]:
    info = archive.getinfo(WEIGHTS_H5)
    try:
        if info.compress_type == zipfile.ZIP_STORED:
            return _stored_member(info, handle, path) or archive.open(info)
        if info.file_size > MAX_IN_MEMORY_BYTES:
            raise ModelFormatError(
                f"{WEIGHTS_H5} is compressed and larger than {MAX_IN_MEMORY_BYTES} bytes; "
                "re-save the model with Keras (which stores it uncompressed)",
                path=path,
            )
        _check_ratio(info, _MAX_RATIO, path)
        if info.file_size > 10 * info.compress_size + _INFLATE_SLACK:
            raise ModelFormatError(
                f"{WEIGHTS_H5} inflates {info.file_size} bytes from {info.compress_size}, more than 10:1 "
                "(refused as a likely zip bomb); re-save the model with Keras (which stores it uncompressed)",
                path=path,
            )
        with archive.open(info) as f:
            data = f.read(info.file_size + 1)
        if len(data) != info.file_size:
            raise ModelFormatError(
                f"{WEIGHTS_H5} inflates to {len(data)} bytes where the archive says {info.file_size}", path=path
            )
        return io.BytesIO(data)
    except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError, RuntimeError, zlib.error) as e:
        raise ModelFormatError(f"cannot read {WEIGHTS_H5} from the archive ({e})", path=path) from None


@contextmanager
def open_keras_archive(path: Path) -> Iterator[KerasArchive]:
    """Open ``path`` as a ``.keras`` archive for as long as the ``with`` block runs."""
    with ExitStack() as stack:
        try:
            handle = stack.enter_context(open_binary(path, what=".keras archive"))
            archive = stack.enter_context(zipfile.ZipFile(handle))
        except (zipfile.BadZipFile, OSError, EOFError) as e:
            raise ModelFormatError(f"not a readable .keras zip archive ({e})", path=path) from None
        _check_member_names(archive, path)
        config = _read_json(archive, CONFIG, path)
        if not isinstance(config, dict) or "class_name" not in config:
            raise ModelFormatError(f"{CONFIG} is not a Keras model config (no class_name)", path=path)
        try:
            validate_model_config(config, keras3=True)
        except ConversionError as e:
            raise type(e)(f"{CONFIG}: {e}", path=path) from None
        names = set(archive.namelist())
        metadata = _read_json(archive, METADATA, path) if METADATA in names else {}
        if not isinstance(metadata, dict):
            raise ModelFormatError(f"{METADATA} is not a JSON object", path=path)
        weights = None
        if WEIGHTS_H5 in names:
            stream = stack.enter_context(_weights_stream(archive, path, handle))
            weights = stack.enter_context(open_h5(stream, path))
        elif WEIGHTS_NPZ in names:
            raise ModelFormatError(
                f"weights stored as {WEIGHTS_NPZ} are not supported (it needs unpickling); "
                "re-save with the default h5 weights format",
                path=path,
            )
        yield KerasArchive(path=path, config=config, metadata=metadata, weights=weights)
