"""ONNX reader: ``.onnx`` file -> graph IR of TF ops (see docs/onnx.md).

:func:`read_onnx` parses the model (:mod:`.model`, :mod:`.tensors`) and lowers every node with the
registry in :mod:`.lowering`; :mod:`.context` holds the state the lowerings share.
"""

from __future__ import annotations

from tfjs_lite.readers.onnx.reader import read_onnx

__all__ = ["read_onnx"]
