"""tfjs-lite: convert Keras and TensorFlow models to TensorFlow.js without TensorFlow."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["__version__", "convert"]

if TYPE_CHECKING:
    from tfjs_lite.convert import ConversionResult


def convert(input_path: Any, output_path: Any, **options: Any) -> ConversionResult:
    """Convert a model; see :func:`tfjs_lite.convert.convert` for the options."""
    # Imported here so that `import tfjs_lite` and `tfjs-lite --version` stay fast.
    from tfjs_lite.convert import convert as _convert

    return _convert(input_path, output_path, **options)
