"""CRC-32C (Castagnoli) in pure numpy, and LevelDB/TF's CRC masking.

Large inputs are computed as many independent lanes at once and merged with GF(2) shift
operators: ~1 GB/s with numpy alone on large tensors (2-core EPYC); :func:`crc32c_many`
checksums many small buffers in one batch.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import cache

import numpy as np

_POLY = 0x82F63B78  # reflected Castagnoli polynomial
_MASK_DELTA = 0xA282EAD8
_U32 = 0xFFFFFFFF


def _byte_table() -> np.ndarray:
    table = np.arange(256, dtype=np.uint32)
    for _ in range(8):
        table = np.where(
            table & 1, (table >> np.uint32(1)) ^ np.uint32(_POLY), table >> np.uint32(1)
        )
    return table.astype(np.uint32)


_T0 = _byte_table()
_T0_LIST = _T0.tolist()
# Slicing-by-4 tables: _SLICE[k][b] = CRC state after byte b followed by k zero bytes, merged into
# two 65536-entry tables so one 32-bit word costs two gathers: state' = _LOW[x & 0xFFFF] ^
# _HIGH[x >> 16] with x = state ^ word.
_SLICE = [_T0]
for _ in range(3):
    _SLICE.append(_T0[_SLICE[-1] & np.uint32(0xFF)] ^ (_SLICE[-1] >> np.uint32(8)))
_HALF = np.arange(1 << 16, dtype=np.uint32)
_LOW = _SLICE[3][_HALF & 0xFF] ^ _SLICE[2][_HALF >> np.uint32(8)]
_HIGH = _SLICE[1][_HALF & 0xFF] ^ _SLICE[0][_HALF >> np.uint32(8)]
del _HALF

# A linear map on 32-bit CRC states, as its images of the 32 unit vectors ("columns").
_Columns = tuple


def _apply(columns: _Columns, value: int) -> int:
    out = 0
    bit = 0
    while value:
        if value & 1:
            out ^= columns[bit]
        value >>= 1
        bit += 1
    return out


def _compose(outer: _Columns, inner: _Columns) -> _Columns:
    return tuple(_apply(outer, column) for column in inner)


def _zero_byte_operator() -> _Columns:
    """State update for one zero byte: c -> T[c & 0xff] ^ (c >> 8)."""
    return tuple(_T0_LIST[(1 << i) & 0xFF] ^ ((1 << i) >> 8) for i in range(32))


@cache
def _zeros_power_of_two(k: int) -> _Columns:
    """Operator that feeds 2**k zero bytes."""
    if k == 0:
        return _zero_byte_operator()
    half = _zeros_power_of_two(k - 1)
    return _compose(half, half)


def _feed_zeros(state: int, count: int) -> int:
    """CRC state after ``count`` zero bytes (log-time via the power-of-two operators)."""
    k = 0
    while count:
        if count & 1:
            state = _apply(_zeros_power_of_two(k), state)
        count >>= 1
        k += 1
    return state


def _operator_tables(columns: _Columns) -> np.ndarray:
    """A linear map on CRC states as four 256-entry tables, to apply it to many states at once."""
    array = np.array(columns, dtype=np.uint32)
    bits = (np.arange(256)[:, None] >> np.arange(8)[None, :]) & 1  # (256, 8)
    tables = np.zeros((4, 256), dtype=np.uint32)
    for byte in range(4):
        selected = np.where(bits.astype(bool), array[byte * 8 : byte * 8 + 8][None, :], 0)
        tables[byte] = np.bitwise_xor.reduce(selected.astype(np.uint32), axis=1)
    return tables


def _apply_many(tables: np.ndarray, states: np.ndarray) -> np.ndarray:
    return (
        tables[0][states & 0xFF]
        ^ tables[1][(states >> np.uint32(8)) & 0xFF]
        ^ tables[2][(states >> np.uint32(16)) & 0xFF]
        ^ tables[3][states >> np.uint32(24)]
    )


@cache
def _vector_tables(k: int) -> np.ndarray:
    """The 2**k-zero-byte operator as four 256-entry tables."""
    return _operator_tables(_zeros_power_of_two(k))


def _shift_many(states: np.ndarray, k: int) -> np.ndarray:
    return _apply_many(_vector_tables(k), states)


def _raw_small(data: memoryview | bytes, state: int) -> int:
    table = _T0_LIST
    for byte in bytes(data):
        state = table[(state ^ byte) & 0xFF] ^ (state >> 8)
    return state


# Measured on numpy 2.4 (2 cores): 64-byte lanes, 16384 of them (1 MiB per pass) is the sweet
# spot; longer lanes or more of them lose to cache misses in the strided column gathers.
_LANE_WORDS = 16
_MAX_LANES = 1 << 14
_MIN_VECTOR = 4096  # below this the plain Python loop beats numpy set-up costs


def _raw_lanes(words: np.ndarray) -> np.ndarray:
    """Register values (initial state 0) of each row of ``words`` (lanes x words, uint32 LE)."""
    lanes = words.shape[0]
    state = np.zeros(lanes, dtype=np.uint32)
    # Preallocated outputs: ~15 % faster than fresh temporaries for every step.
    x = np.empty(lanes, dtype=np.uint32)
    low = np.empty(lanes, dtype=np.uint32)
    high = np.empty(lanes, dtype=np.uint32)
    # mode="clip" (indices are 16-bit, so it never clips): take's default mode="raise" buffers
    # ``out`` and costs ~40 % more per call.
    xor, take_low, take_high = np.bitwise_xor, _LOW.take, _HIGH.take
    for column in range(words.shape[1]):
        xor(state, words[:, column], out=x)
        np.bitwise_and(x, 0xFFFF, out=low)
        np.right_shift(x, 16, out=x)
        take_low(low, out=state, mode="clip")
        take_high(x, out=high, mode="clip")
        xor(state, high, out=state)
    return state


def _raw_vector(data: np.ndarray) -> tuple[int, int]:
    """Register value (from state 0) of the longest whole-lanes prefix of ``data``; its length."""
    lane_bytes = _LANE_WORDS * 4
    lanes = min(_MAX_LANES, len(data) // lane_bytes)
    used = lanes * lane_bytes
    states = _raw_lanes(np.frombuffer(data[:used], dtype="<u4").reshape(lanes, _LANE_WORDS))
    # Leading all-zero lanes leave a zero-initialized register at zero, so padding the front to a
    # power of two changes nothing and lets neighbours merge pairwise:
    # crc(A || B) = shift(crc(A), len(B)) ^ crc(B) when starting from 0.
    padded = 1 << (lanes - 1).bit_length()
    states = np.concatenate([np.zeros(padded - lanes, dtype=np.uint32), states])
    level = int(math.log2(lane_bytes))
    while states.size > 1:
        states = _shift_many(states[0::2], level) ^ states[1::2]
        level += 1
    return int(states[0]), used


# Inputs of 1 MiB or more use interleaved lanes instead: lane i holds words i, i + 16384,
# i + 2 * 16384, ... so each step reads one contiguous 64 KiB row (no strided gathers), and a step
# feeds a word followed by the zero bytes up to the lane's next word (tables from _row_tables).
# ~35 % faster than the contiguous lanes above (1.1 GB/s against 0.75 GB/s, 2 cores, numpy 2.4).
_ROW_WORDS = 1 << 14
_MIN_ROWS = 16
_MAX_ROWS = 256  # 16 MiB per pass


@cache
def _row_tables() -> tuple[np.ndarray, np.ndarray]:
    """``_LOW`` and ``_HIGH`` followed by the ``4 * (_ROW_WORDS - 1)`` zero bytes between the words
    of one interleaved lane."""
    gap = _operator_tables(tuple(_feed_zeros(1 << bit, 4 * (_ROW_WORDS - 1)) for bit in range(32)))
    return _apply_many(gap, _LOW), _apply_many(gap, _HIGH)


def _raw_rows(words: np.ndarray) -> int:
    """Register value (from state 0) of ``words`` (rows x _ROW_WORDS uint32 LE, in data order)."""
    gap_low, gap_high = _row_tables()
    state = np.zeros(_ROW_WORDS, dtype=np.uint32)
    x = np.empty(_ROW_WORDS, dtype=np.uint32)
    low = np.empty(_ROW_WORDS, dtype=np.uint32)
    high = np.empty(_ROW_WORDS, dtype=np.uint32)
    xor = np.bitwise_xor
    last = words.shape[0] - 1
    for row in range(words.shape[0]):
        # (take's mode="clip": see _raw_lanes.)
        # The last row is followed by no gap: lane i then ends 4 * (_ROW_WORDS - 1 - i) bytes
        # before the end, which the merge below accounts for.
        table_low, table_high = (gap_low, gap_high) if row < last else (_LOW, _HIGH)
        xor(state, words[row], out=x)
        np.bitwise_and(x, 0xFFFF, out=low)
        np.right_shift(x, 16, out=x)
        table_low.take(low, out=state, mode="clip")
        table_high.take(x, out=high, mode="clip")
        xor(state, high, out=state)
    level = 2  # neighbouring lanes end one 4-byte word apart
    while state.size > 1:
        state = _shift_many(state[0::2], level) ^ state[1::2]
        level += 1
    return int(state[0])


def crc32c(data: bytes | bytearray | memoryview | np.ndarray, value: int = 0) -> int:
    """CRC-32C of ``data`` (continuing from a previous ``value``, like ``crc32c.extend``).

    Large inputs are split into lanes whose CRCs are computed together (slicing-by-4 through two
    16-bit tables, vectorized over lanes) and then merged: interleaved 4-byte lanes in 1-16 MiB
    passes (:func:`_raw_rows`), then contiguous 64-byte lanes (:func:`_raw_vector`) for what is left.
    """
    view = np.frombuffer(data, dtype=np.uint8) if not isinstance(data, np.ndarray) else data
    view = view.reshape(-1).view(np.uint8)
    state = value ^ _U32
    position = 0
    row_bytes = 4 * _ROW_WORDS
    while len(view) - position >= _MIN_VECTOR:
        rows = min(_MAX_ROWS, (len(view) - position) // row_bytes)
        if rows >= _MIN_ROWS:
            used = rows * row_bytes
            chunk = np.frombuffer(view[position : position + used], dtype="<u4")
            raw = _raw_rows(chunk.reshape(rows, _ROW_WORDS))
        else:
            raw, used = _raw_vector(view[position:])
        # Register linearity: running from ``state`` = running from 0, xor ``state`` shifted.
        state = _feed_zeros(state, used) ^ raw
        position += used
    state = _raw_small(view[position:].tobytes(), state)
    return state ^ _U32


@cache
def _initial_state_after(count: int) -> int:
    return _feed_zeros(_U32, count)


def crc32c_many(buffers: Sequence[np.ndarray]) -> list[int]:
    """CRC-32C of each of many small uint8 buffers, computed together (a few KiB each at most).

    Each buffer is zero-padded at the front to a power of two of 64-byte lanes (leading zeros leave
    a register started at 0 unchanged); buffers padded alike are stacked, all their lanes run
    through :func:`_raw_lanes` at once and merge per buffer. Hundreds of small tensors (batch-norm
    vectors) cost about as much as one pass of the byte loop over a single one.
    """
    results = [0] * len(buffers)
    groups: dict[int, list[int]] = {}
    for index, buffer in enumerate(buffers):
        lanes = max(1, -(-len(buffer) // 64))
        groups.setdefault(1 << (lanes - 1).bit_length(), []).append(index)
    for lanes, members in groups.items():
        width = lanes * 64
        block = np.zeros((len(members), width), dtype=np.uint8)
        for row, index in enumerate(members):
            size = len(buffers[index])
            if size:
                block[row, width - size :] = buffers[index]
        states = _raw_lanes(block.view("<u4").reshape(len(members) * lanes, _LANE_WORDS))
        states = states.reshape(len(members), lanes)
        level = 6  # 64-byte lanes
        while states.shape[1] > 1:
            states = _shift_many(states[:, 0::2], level) ^ states[:, 1::2]
            level += 1
        for row, index in enumerate(members):
            raw = int(states[row, 0])
            results[index] = _initial_state_after(len(buffers[index])) ^ raw ^ _U32
    return results


def mask_crc(crc: int) -> int:
    """LevelDB/TF's masking, which keeps CRCs of data that embeds CRCs well distributed."""
    return ((((crc >> 15) | (crc << 17)) & _U32) + _MASK_DELTA) & _U32


def unmask_crc(masked: int) -> int:
    rotated = (masked - _MASK_DELTA) & _U32
    return ((rotated >> 17) | (rotated << 15)) & _U32
