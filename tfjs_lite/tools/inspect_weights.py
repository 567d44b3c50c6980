"""Weight tallies (count and bytes per dtype) shared by the graph and layers reports of ``inspect``."""

from __future__ import annotations

from typing import Any

__all__ = ["add_weight", "weights_summary"]


def add_weight(by_dtype: dict[str, dict[str, int]], dtype: str, nbytes: int) -> None:
    entry = by_dtype.setdefault(dtype, {"count": 0, "bytes": 0})
    entry["count"] += 1
    entry["bytes"] += nbytes


def weights_summary(by_dtype: dict[str, dict[str, int]]) -> dict[str, Any]:
    return {
        "count": sum(v["count"] for v in by_dtype.values()),
        "bytes": sum(v["bytes"] for v in by_dtype.values()),
        "by_dtype": dict(sorted(by_dtype.items())),
    }
