"""What a conversion did: files written, bytes, warnings. Returned by the API, printed by the CLI."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import List

__all__ = ["ConversionResult", "Report"]

logger = logging.getLogger("tfjs_lite")


class Report:
    """Collects warnings while a conversion runs; readers and writers receive one."""

    def __init__(self) -> None:
        self.warnings: List[str] = []

    def warn(self, message: str) -> None:
        message = " ".join(str(message).split())
        if message not in self.warnings:
            self.warnings.append(message)
            logger.warning("%s", message)


@dataclass
class ConversionResult:
    """The outcome of :func:`tfjs_lite.convert`."""

    input_path: Path
    output_path: Path
    input_format: str
    output_format: str
    files: List[Path] = field(default_factory=list)
    warnings: List[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def total_bytes(self) -> int:
        return sum(p.stat().st_size for p in self.files if p.is_file())
