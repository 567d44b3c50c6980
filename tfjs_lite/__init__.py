"""tfjs-lite: convert Keras and TensorFlow models to TensorFlow.js without TensorFlow."""

from __future__ import annotations

import logging

__version__ = "0.1.0"

# A library must not print through logging's last-resort handler: warnings reach users in
# ConversionResult.warnings (and on stderr from the CLI).
logging.getLogger("tfjs_lite").addHandler(logging.NullHandler())

# conversion.py imports only the standard library and light modules of ours; numpy, h5py and
# protobuf load when a pipeline runs, so `import tfjs_lite` stays fast.
from tfjs_lite.conversion import ConversionResult, convert  # noqa: E402

__all__ = ["ConversionResult", "__version__", "convert"]


def __dir__() -> list[str]:
    # dir(tfjs_lite) lists the public API, not the submodules an import happened to load.
    return sorted(__all__)
