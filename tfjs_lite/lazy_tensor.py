"""File-backed tensors that are read only when, and as far as, someone needs their bytes.

A checkpoint variable of hundreds of MB must not be loaded (nor memory-mapped and touched: touched
file-backed pages count in the process's RSS) just to carry it from the reader to the weight
shards. :class:`FileTensor` records where the bytes live (``path``, ``offset``, ``dtype``,
``shape``) and

* answers ``shape``/``dtype``/``size``/``nbytes``/``ndim`` without any I/O, so graph passes that
  only need types never touch the data;
* streams its values in bounded slices (:meth:`FileTensor.iter_chunks`, used by
  :func:`tfjs_lite.writers.weights.write_weights`), reading with plain ``readinto`` into a fresh
  buffer per slice, and checks the stored crc32c over the whole stream at its end;
* still behaves as an array where a caller really needs one (``np.asarray(t)``): it then reads
  and verifies everything, which costs the tensor's size in memory.

The IR keeps such objects as ``Const`` values as they are (they are immutable); passes that look
at values (CSE, constant folding, arithmetic simplification) leave lazy constants alone.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from tfjs_lite.errors import ModelFormatError

__all__ = ["FileTensor", "LazyTensor", "is_lazy"]


class LazyTensor:
    """Base class of values that stand for an array without holding it."""

    shape: tuple[int, ...]
    dtype: np.dtype

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        return math.prod(self.shape)

    @property
    def nbytes(self) -> int:
        return self.size * self.dtype.itemsize

    @property
    def itemsize(self) -> int:
        return int(self.dtype.itemsize)

    def __len__(self) -> int:
        if not self.shape:
            raise TypeError("len() of a 0-d tensor")
        return self.shape[0]

    def iter_chunks(self, max_bytes: int) -> Iterator[np.ndarray]:  # pragma: no cover - abstract
        """Flat C-order slices of at most about ``max_bytes`` each."""
        raise NotImplementedError

    def materialize(self) -> np.ndarray:
        """The whole value as a read-only array (costs its full size in memory)."""
        flat = np.empty(self.size, dtype=self.dtype)
        position = 0
        for chunk in self.iter_chunks(64 * 1024 * 1024):
            flat[position : position + chunk.size] = chunk
            position += chunk.size
        array = flat.reshape(self.shape)
        array.setflags(write=False)
        return array

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        array = self.materialize()
        return array if dtype is None else array.astype(dtype)

    def __getitem__(self, index: Any) -> np.ndarray:
        return self.materialize()[index]

    def tobytes(self) -> bytes:
        return self.materialize().tobytes()

    def astype(self, dtype: Any, copy: bool = True) -> np.ndarray:
        return self.materialize().astype(dtype)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.dtype.name}{list(self.shape)}>"


class FileTensor(LazyTensor):
    """Raw little-endian C-order bytes ``[offset, offset + nbytes)`` of ``path``.

    Args:
        path: The data file.
        offset: Where the tensor's bytes start.
        dtype: Numpy dtype of the stored elements (little-endian, fixed size).
        shape: The tensor's shape.
        check: Optional ``(update, finish)`` pair: ``update(state, chunk_bytes) -> state`` is fed
            every byte in order (starting from ``state=0``) and ``finish(state, where)`` raises
            when the complete stream is wrong (a checksum mismatch).
        where: Names the tensor in errors.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        offset: int,
        dtype: Any,
        shape: tuple[int, ...],
        *,
        check: tuple[Callable[[int, np.ndarray], int], Callable[[int, str], None]] | None = None,
        where: str = "",
    ) -> None:
        self.path = os.fspath(path)
        self.offset = int(offset)
        self.dtype = np.dtype(dtype)
        self.shape = tuple(int(d) for d in shape)
        self._check = check
        self._where = where or f"{self.path}@{self.offset}"

    def iter_chunks(self, max_bytes: int) -> Iterator[np.ndarray]:
        itemsize = max(1, self.dtype.itemsize)
        step = max(1, max_bytes // itemsize) * itemsize
        remaining = self.nbytes
        state = 0
        try:
            handle = open(self.path, "rb")  # noqa: SIM115 closed below
        except OSError as e:
            raise ModelFormatError(f"{self._where}: cannot read {self.path} ({e.strerror})") from e
        with handle:
            handle.seek(self.offset)
            while remaining:
                take = min(step, remaining)
                buffer = np.empty(take, dtype=np.uint8)
                got = handle.readinto(memoryview(buffer))  # type: ignore[arg-type]  # ndarray is a buffer
                if got != take:
                    raise ModelFormatError(f"{self._where}: {self.path} ends early (truncated?)")
                if self._check is not None:
                    state = self._check[0](state, buffer)
                remaining -= take
                chunk = buffer.view(self.dtype)
                chunk.setflags(write=False)
                yield chunk
        if self._check is not None:
            self._check[1](state, self._where)


def is_lazy(value: Any) -> bool:
    """True for a :class:`LazyTensor` (a constant whose bytes have not been read)."""
    return isinstance(value, LazyTensor)
