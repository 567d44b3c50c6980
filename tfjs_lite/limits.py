"""Every budget tfjs-lite holds hostile input to, in one place.

A model file of a few bytes can describe gigabytes: a constant whose one stored value is repeated
to a huge shape, a constant-foldable ``Fill``/``Tile``/``Range``, functions that call each other
twice at every level. Each limit below is checked by arithmetic on shapes, counts and sizes
*before* anything is allocated, and its refusal is a one-line ModelFormatError /
UnsupportedModelError. The numbers are far above what real models need (see docs/design.md,
"Limits").
"""

from __future__ import annotations

__all__ = [
    "MAX_DECODED_BYTES",
    "MAX_EXECUTOR_ELEMENTS",
    "MAX_FOLD_TOTAL_BYTES",
    "MAX_INLINED_NODES",
    "INLINE_GROWTH",
    "MAX_SHAPE_DERIVED_ELEMENTS",
    "MAX_SMALL_FILE_BYTES",
    "MAX_SPLAT_BYTES",
    "MAX_STATIC_TENSOR_ELEMENTS",
    "MAX_UNROLLED_STEPS",
    "MAX_WINDOW_ELEMENTS",
    "MAX_WINDOW_EXTENT",
    "PROTOBUF_LIMIT",
]

# A TensorProto never decodes to more than this (raw ``tensor_content`` is as large in the file).
MAX_DECODED_BYTES = 1 << 31

# A "splat" constant stores fewer values than its shape holds (TF repeats the last one). Its size
# costs nothing in the file, so it is capped far below MAX_DECODED_BYTES: real splats are zeros or
# ones of weight-like sizes. Strings count 8 bytes (one pointer) per element.
MAX_SPLAT_BYTES = 64 * 1024**2

# Constant folding never computes a result predicted larger than the node's constant inputs
# (folding must not bloat the model), and the results of one optimize() call add up to at most
# max(this, 2 x the constant bytes the graph holds).
MAX_FOLD_TOTAL_BYTES = 64 * 1024**2

# The reference executor (``verify``, tests) refuses a node whose predicted output exceeds this.
MAX_EXECUTOR_ELEMENTS = 1 << 28

# Inlining PartitionedCall bodies may yield at most max(MAX_INLINED_NODES, INLINE_GROWTH x the
# nodes stored in the file); counted before inlining, from the call tree.
MAX_INLINED_NODES = 200_000
INLINE_GROWTH = 16

# Recurrent layers lowered by unrolling (Keras -> graph model, TFLite LSTMs) add ~15 nodes a time
# step; longer sequences make graphs TF.js loads too slowly, and a declared input shape could ask
# for billions of steps.
MAX_UNROLLED_STEPS = 2048

# Constants a lowering builds from declared shapes rather than from stored weights (a causal
# attention mask is seq x seq): a shape in a tiny config must not allocate gigabytes.
MAX_SHAPE_DERIVED_ELEMENTS = 1 << 24

# Protobuf cannot parse messages of 2 GiB or more.
PROTOBUF_LIMIT = 2**31

# JSON documents and other small metadata files read whole (model.json, configs).
MAX_SMALL_FILE_BYTES = 256 * 1024**2

# A model written for TF.js may declare no tensor larger than this (8 GiB of float32, past what a
# JS typed array or a WebGL texture holds), counting unknown dimensions (a dynamic batch) as 1:
# a few bytes of graph (a Tile by 2**31, a Reshape to [2**20, 2**20], an UpSampling by 2**20)
# would otherwise be written and only fail, or exhaust memory, when TF.js runs it. Checked on
# static shapes before writing (``tfjs_lite/shape_check.py``, ``keras/shapes.py``).
MAX_STATIC_TENSOR_ELEMENTS = 1 << 31

# Window attributes (kernel/pool sizes, strides, dilations, block sizes): each at most this, and a
# pooling window of at most MAX_WINDOW_ELEMENTS positions. TF.js's WebGL backend unrolls a window
# into its shader and its CPU kernels loop over it per output; real models use windows of a few
# to a few hundred positions (global pooling of a 7x7 or 224x224 map at most).
MAX_WINDOW_EXTENT = 1 << 16
MAX_WINDOW_ELEMENTS = 1 << 24
