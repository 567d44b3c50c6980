"""Lower ``SpaceToDepth`` (absent from TF.js 4.22; it has only the inverse ``DepthToSpace``).

Used by YOLO-style "reorg" layers and space-to-depth stems. Before => after, NHWC input of static
``H, W, C`` and block ``b``: ``y = SpaceToDepth(x)`` =>
``y = Reshape(Transpose(Reshape(x, [-1, H/b, b, W/b, b, C]), [0, 1, 3, 2, 4, 5]),
[-1, H/b, W/b, b·b·C])`` (the last Reshape keeps the name ``y``).

Algebra: TF puts pixel ``(i, j)`` of each ``b × b`` tile at channels ``(i·b + j)·C`` to
``(i·b + j)·C + C``; splitting both spatial axes into (tile, offset), moving the offsets next to the
channels and merging them is that order. Pure data movement: exact for every dtype.

Does NOT fire for ``NCHW``/``NCHW_VECT_C`` or when ``H``, ``W`` or ``C`` is not statically known.
"""

from __future__ import annotations

import numpy as np
from tfjs_lite.optimizer._util import add_derived_const, add_derived_op, static_shape
from tfjs_lite.optimizer.pass_base import Pass

from tfjs_lite.ir import DType, Graph

__all__ = ["LowerSpaceToDepth"]

_INT32 = DType("DT_INT32")


class LowerSpaceToDepth(Pass):
    """SpaceToDepth (NHWC, static spatial sizes) => Reshape/Transpose/Reshape."""

    name = "lower_space_to_depth"

    def run(self, graph: Graph) -> bool:
        """Lower every eligible SpaceToDepth; True iff any was lowered."""
        changed = False
        for node in graph.nodes_by_op("SpaceToDepth"):
            attrs = graph.attrs(node)
            fmt = attrs.get("data_format", "NHWC")
            fmt = fmt.decode() if isinstance(fmt, bytes) else str(fmt)
            (x,) = graph.inputs_of(node)
            shape = static_shape(graph, x)
            b = int(attrs.get("block_size", 0))
            if fmt != "NHWC" or shape is None or len(shape) != 4 or b < 2:
                continue
            _, h, w, c = shape
            if h is None or w is None or c is None:
                continue
            if h % b or w % b:  # TF rejects such inputs; leave them to fail like TF
                continue
            t = attrs.get("T", DType("DT_FLOAT"))
            tiles_shape = add_derived_const(graph, node, "tiles_shape", np.asarray([-1, h // b, b, w // b, b, c], np.int32))
            tiles = add_derived_op(graph, node, "tiles", "Reshape", [x, tiles_shape], {"T": t, "Tshape": _INT32})
            perm = add_derived_const(graph, node, "perm", np.asarray([0, 1, 3, 2, 4, 5], np.int32))
            moved = add_derived_op(graph, node, "offsets_last", "Transpose", [tiles, perm], {"T": t, "Tperm": _INT32})
            out_shape = add_derived_const(graph, node, "out_shape", np.asarray([-1, h // b, w // b, b * b * c], np.int32))
            graph.set_op(node, "Reshape")
            graph.set_inputs(node, [moved, out_shape])
            attrs.clear()
            attrs.update({"T": t, "Tshape": _INT32})
            changed = True
        return changed
