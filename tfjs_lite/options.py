"""Conversion options, shared by the CLI and the Python API.

Everything a conversion needs travels in one frozen :class:`ConvertOptions`, so readers and writers
take one object instead of twenty keyword arguments.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Mapping, Optional, Tuple, Union

if TYPE_CHECKING:
    import os

from tfjs_lite.errors import UsageError
from tfjs_lite.formats import INPUT_FORMATS, OUTPUT_FORMATS

__all__ = [
    "DEFAULT_SHARD_SIZE_BYTES",
    "INPUT_FORMATS",
    "OUTPUT_FORMATS",
    "ConvertOptions",
    "Quantization",
    "parse_metadata",
]

# "Max file size for caching for all major browsers", as the official converter puts it.
DEFAULT_SHARD_SIZE_BYTES = 4 * 1024 * 1024

# A quantization selector: None (off), True (every weight not matched elsewhere) or glob patterns.
QuantizeSelector = Union[None, bool, Tuple[str, ...]]


@dataclass(frozen=True)
class Quantization:
    """Which weights get which quantized dtype, as the official ``--quantize_*`` flags select them.

    Each field is None (off), True (the fallthrough: every weight no pattern matched) or a tuple
    of shell-style glob patterns on weight names.
    """

    float16: QuantizeSelector = None
    uint8: QuantizeSelector = None
    uint16: QuantizeSelector = None

    def __post_init__(self) -> None:
        for dtype in ("float16", "uint8", "uint16"):
            object.__setattr__(self, dtype, _normalize_selector(dtype, getattr(self, dtype)))
        fallthroughs = [d for d, s in self.selectors() if s is True]
        if len(fallthroughs) > 1:
            raise UsageError(
                "more than one quantization applies to every weight "
                f"({', '.join('--quantize_' + d for d in fallthroughs)}); give patterns to all but one"
            )

    def selectors(self) -> list[tuple[str, QuantizeSelector]]:
        """The active selectors in the official converter's order: float16, uint8, uint16."""
        return [(d, s) for d in ("float16", "uint8", "uint16") if (s := getattr(self, d)) is not None]

    @property
    def active(self) -> bool:
        return bool(self.selectors())


def _normalize_selector(dtype: str, value: Any) -> QuantizeSelector:
    if value is None or value is False:
        return None
    if value is True:
        return True
    if isinstance(value, str):
        patterns = tuple(p for p in value.split(",") if p)
    else:
        try:
            patterns = tuple(str(p) for p in value)
        except TypeError:
            raise UsageError(f"quantize_{dtype} must be True, a pattern string or a list of patterns") from None
    if not patterns:
        raise UsageError(f"--quantize_{dtype} was given an empty pattern list")
    return patterns


@dataclass(frozen=True)
class ConvertOptions:
    """All options of a conversion; names follow ``tensorflowjs_converter`` 4.22's flags."""

    input_format: Optional[str] = None  # None: detected from the input path
    output_format: Optional[str] = None  # None: inferred from the input format
    quantization: Quantization = field(default_factory=Quantization)
    weight_shard_size_bytes: int = DEFAULT_SHARD_SIZE_BYTES
    split_weights_by_layer: bool = False
    metadata: Mapping[str, Any] = field(default_factory=dict)
    signature_name: Optional[str] = None
    saved_model_tags: str = "serve"
    output_node_names: Optional[str] = None
    strip_debug_ops: bool = True
    # TF.js runs functional control flow; lowering to v1 frames makes models it cannot execute.
    control_flow_v2: bool = True
    skip_op_check: bool = False
    use_structured_outputs_names: bool = False
    force: bool = False  # write a layers model even when the pre-flight check refuses layers
    skip_passes: Tuple[str, ...] = ()
    debug: bool = False
    # Graphs from an NCHW source (ONNX): declare the 4-D inputs/outputs NHWC instead, so no
    # transpose is left at the model's boundary (the signature shapes change accordingly).
    nhwc_inputs: bool = False
    nhwc_outputs: bool = False

    def __post_init__(self) -> None:
        if self.input_format is not None and self.input_format not in INPUT_FORMATS:
            raise UsageError(f"unknown input format {self.input_format!r}; choose one of {', '.join(INPUT_FORMATS)}")
        if self.output_format is not None and self.output_format not in OUTPUT_FORMATS:
            raise UsageError(
                f"unknown output format {self.output_format!r}; choose one of {', '.join(OUTPUT_FORMATS)}"
            )
        if isinstance(self.weight_shard_size_bytes, bool) or not isinstance(self.weight_shard_size_bytes, int):
            raise UsageError("weight_shard_size_bytes must be a positive integer")
        if self.weight_shard_size_bytes <= 0:
            raise UsageError(f"weight_shard_size_bytes must be a positive integer, got {self.weight_shard_size_bytes}")

    def replace(self, **changes: Any) -> ConvertOptions:
        return dataclasses.replace(self, **changes)


def parse_metadata(spec: str) -> dict[str, Any]:
    """Parse ``key:path.json[,key2:path2.json]`` into ``{key: parsed JSON}``.

    Only the first ``:`` separates key from path, so Windows drive letters keep working.
    """
    result: dict[str, Any] = {}
    for item in spec.split(","):
        if not item:
            continue
        key, sep, path = item.partition(":")
        if not sep or not key or not path:
            raise UsageError(f"--metadata expects key:path.json, got {item!r}")
        from tfjs_lite.errors import ConversionError
        from tfjs_lite.limits import MAX_SMALL_FILE_BYTES
        from tfjs_lite.safe_io import read_text

        try:
            result[key] = json.loads(read_text(path, limit=MAX_SMALL_FILE_BYTES, what="metadata file"))
        except ConversionError as e:
            raise UsageError(f"--metadata {key}: {e}") from None
        except (ValueError, RecursionError) as e:
            raise UsageError(f"--metadata {key}: {path} is not valid JSON: {e}") from None
    return result


def metadata_from_paths(mapping: Mapping[str, Union[str, "os.PathLike[str]"]]) -> dict[str, Any]:
    """The API form of ``--metadata``: ``{key: path}`` → ``{key: parsed JSON}``."""
    return parse_metadata(",".join(f"{k}:{v}" for k, v in mapping.items()))
