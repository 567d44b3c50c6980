"""Refine a merging Reshape so that a transpose can pass it (group norm in an NCHW graph).

PyTorch exports ``GroupNorm`` as ``Reshape([N,C,H,W] -> [N,G,C/G*H*W])``, moments over the last
axis, ``Reshape`` back.  The merged axis mixes C with H and W, which are not adjacent in NHWC,
so a transpose cannot move through the first Reshape.  But every op between the two Reshapes
treats the merged axis as a whole (element-wise ops, keep-dims reductions over it), so the
region can use the finest common refinement ``[N,G,C/G,H,W]`` instead: reductions over the
merged axis reduce over its parts, size-1 broadcasts get one 1 per part.  That Reshape only
splits dims, so the transpose then moves through it and through the whole region.

``refine_merged_reshape(graph, n)`` does that rewrite when every node reached from ``n`` before
the next Reshapes qualifies; the region's recorded shapes must all be known.
"""

from __future__ import annotations

import numpy as np
from tfjs_lite.optimizer._layout import (
    BINARY_ELEMENTWISE,
    REDUCTIONS,
    UNARY_ELEMENTWISE,
    const_ints,
    has_control_edges,
    shape_of,
)
from tfjs_lite.optimizer._util import const_value, is_output_node, static_shape

from tfjs_lite.ir import Graph, TensorRef, TensorType
from tfjs_lite.lazy_tensor import is_lazy

__all__ = ["refine_merged_reshape"]

# TF.js kernels (transpose, reductions) are safe up to this rank on every backend.
MAX_RANK = 6
# Regions larger than this are not explored.
MAX_REGION = 64


def finest_refinement(a: tuple[int, ...], b: tuple[int, ...]) -> list[int] | None:
    """The coarsest shape that both ``a`` and ``b`` are merges of, or None (e.g. ``[2,3]``/``[3,2]``)."""
    if not a or not b or min(a) < 1 or min(b) < 1 or int(np.prod(a)) != int(np.prod(b)):
        return None
    cuts = sorted(set(np.cumprod(a).tolist()) | set(np.cumprod(b).tolist()))
    dims, previous = [], 1
    for cut in cuts:
        if cut % previous:
            return None
        dims.append(cut // previous)
        previous = cut
    return dims


def _parts(coarse: list[int], fine: list[int]) -> list[list[int]] | None:
    """For each dim of ``coarse``, the consecutive dims of ``fine`` it merges (None if none)."""
    parts, j = [], 0
    for size in coarse:
        group, product = [j], fine[j] if j < len(fine) else 0
        j += 1
        while product < size and j < len(fine):
            group.append(j)
            product *= fine[j]
            j += 1
        if product != size:
            return None
        parts.append(group)
    return parts if j == len(fine) else None


def _refined_shape(shape: tuple[int | None, ...], coarse: list[int], parts: list[list[int]],
                   fine: list[int]) -> list[int] | None:
    """A region tensor's shape under the refinement: each merged dim is full or 1."""
    if len(shape) > len(coarse) or None in shape:
        return None
    shape = (1,) * (len(coarse) - len(shape)) + tuple(shape)
    out: list[int] = []
    for size, whole, group in zip(shape, coarse, parts):
        if size == whole:
            out.extend(fine[k] for k in group)
        elif size == 1:
            out.extend(1 for _ in group)
        else:
            return None
    return out


def refine_merged_reshape(graph: Graph, n: str) -> bool:
    """Rewrite the region after Reshape ``n`` to the finest refinement; True iff rewritten."""
    inputs = graph.inputs_of(n)
    source, target = shape_of(graph, inputs[0]), const_ints(graph, inputs[1])
    out_shape = static_shape(graph, TensorRef(n, 0))
    if source is None or None in source or target is None or out_shape is None or None in out_shape:
        return False
    coarse = [int(d) for d in out_shape]  # type: ignore[arg-type]
    fine = finest_refinement(tuple(source), tuple(coarse))  # type: ignore[arg-type]
    if fine is None or len(fine) > MAX_RANK or fine == coarse:
        return False
    parts = _parts(coarse, fine)
    if parts is None:
        return False
    region = _region(graph, n, coarse, parts, fine)
    if region is None:
        return False
    _rewrite(graph, n, region, coarse, parts, fine)
    return True


def _region(graph: Graph, n: str, coarse: list[int], parts: list[list[int]],
            fine: list[int]) -> list[str] | None:
    """The nodes from ``n`` up to (not including) the next Reshapes, in topological order."""
    seen, stack = {n}, [n]
    while stack:
        node = stack.pop()
        if is_output_node(graph, node) or has_control_edges(graph, node):
            return None
        for dst in graph.node_consumers(node):
            if dst in seen or graph.op(dst) == "Reshape" and graph.inputs_of(dst)[0].node == node:
                continue
            if not _qualifies(graph, dst, coarse, parts, fine):
                return None
            seen.add(dst)
            stack.append(dst)
            if len(seen) > MAX_REGION:
                return None
    members = seen - {n}
    # Every data input of a member is a member, n, or a Const that broadcasts along the parts.
    for node in members:
        data = graph.inputs_of(node)[:1] if graph.op(node) in REDUCTIONS else graph.inputs_of(node)
        for ref in data:
            if ref.node in seen:
                continue
            value = const_value(graph, ref)
            if value is None or is_lazy(value) or _refined_shape(value.shape, coarse, parts, fine) is None:
                return None
    return [m for m in graph.topo_order() if m in members]


def _qualifies(graph: Graph, node: str, coarse: list[int], parts: list[list[int]],
               fine: list[int]) -> bool:
    op = graph.op(node)
    shape = static_shape(graph, TensorRef(node, 0))
    if shape is None or len(shape) != len(coarse) or _refined_shape(shape, coarse, parts, fine) is None:
        return False
    if op in UNARY_ELEMENTWISE or op in BINARY_ELEMENTWISE:
        return True
    if op in REDUCTIONS and graph.attrs(node).get("keep_dims"):
        return const_ints(graph, graph.inputs_of(node)[1]) is not None
    return False


def _rewrite(graph: Graph, n: str, region: list[str], coarse: list[int], parts: list[list[int]],
             fine: list[int]) -> None:
    shape_ref = graph.inputs_of(n)[1]
    old_shape = const_value(graph, shape_ref)
    graph.set_input(n, 1, graph.add_const(np.asarray(fine, old_shape.dtype),  # type: ignore[union-attr]
                                          name=graph.unique_name(f"{n}/refined_shape")))
    _retype(graph, n, fine)
    for node in region:
        for slot, ref in enumerate(graph.inputs_of(node)):
            value = const_value(graph, ref)
            if value is None:
                continue
            if graph.op(node) in REDUCTIONS and slot == 1:
                rank = len(coarse)
                axes = sorted(k for a in (int(v) % rank for v in value.reshape(-1)) for k in parts[a])
                new = np.asarray(axes, value.dtype)
            elif value.ndim:
                new = value.reshape(_refined_shape(value.shape, coarse, parts, fine))
            else:
                continue
            graph.set_input(node, slot, graph.add_const(new, name=graph.unique_name(f"{ref.node}/refined")))
        _retype(graph, node, _refined_shape(static_shape(graph, TensorRef(node, 0)), coarse, parts, fine))  # type: ignore[arg-type]


def _retype(graph: Graph, node: str, shape: list[int] | None) -> None:
    types = graph.out_types(node)
    if types and shape is not None:
        graph.set_out_types(node, [TensorType(types[0].dtype, tuple(shape))])
