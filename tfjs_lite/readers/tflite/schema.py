"""The parts of the TFLite schema (``schema.fbs``, version 3) the reader uses: field slots, enums,
builtin operator codes and the options table each operator reads.

Slot *i* of a table is the *i*-th field in declaration order (a union takes two slots: its type
byte, then the table offset). Fields are only ever appended to the schema, so these numbers hold
for every file version. See docs/tflite.md.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "ACTIVATIONS",
    "BUILTIN_NAMES",
    "BUILTIN_CODES",
    "MODEL", "SUBGRAPH", "TENSOR", "BUFFER", "OPERATOR", "OPERATOR_CODE", "QUANTIZATION",
    "SIGNATURE_DEF", "TENSOR_MAP", "OP_OPTIONS", "OPTIONS_TABLES", "TENSOR_TYPES",
]

# ----------------------------------------------------------------------------- table slots
MODEL = {"version": 0, "operator_codes": 1, "subgraphs": 2, "description": 3, "buffers": 4,
         "signature_defs": 7}
SUBGRAPH = {"tensors": 0, "inputs": 1, "outputs": 2, "operators": 3, "name": 4}
TENSOR = {"shape": 0, "type": 1, "buffer": 2, "name": 3, "quantization": 4, "is_variable": 5,
          "sparsity": 6, "shape_signature": 7, "external_buffer": 10}
BUFFER = {"data": 0, "offset": 1, "size": 2}
OPERATOR = {"opcode_index": 0, "inputs": 1, "outputs": 2, "builtin_options_type": 3, "builtin_options": 4,
            "custom_options": 5, "intermediates": 8}
OPERATOR_CODE = {"deprecated_builtin_code": 0, "custom_code": 1, "version": 2, "builtin_code": 3}
QUANTIZATION = {"min": 0, "max": 1, "scale": 2, "zero_point": 3, "details_type": 4, "details": 5,
                "quantized_dimension": 6}
SIGNATURE_DEF = {"inputs": 0, "outputs": 1, "signature_key": 2, "subgraph_index": 4}
TENSOR_MAP = {"name": 0, "tensor_index": 1}

# ----------------------------------------------------------------------------- enums
# TensorType -> (name, numpy dtype string or None when there is no plain numpy form).
TENSOR_TYPES: dict[int, tuple[str, str | None]] = {
    0: ("FLOAT32", "<f4"), 1: ("FLOAT16", "<f2"), 2: ("INT32", "<i4"), 3: ("UINT8", "u1"),
    4: ("INT64", "<i8"), 5: ("STRING", None), 6: ("BOOL", "?"), 7: ("INT16", "<i2"),
    8: ("COMPLEX64", "<c8"), 9: ("INT8", "i1"), 10: ("FLOAT64", "<f8"), 11: ("COMPLEX128", "<c16"),
    12: ("UINT64", "<u8"), 13: ("RESOURCE", None), 14: ("VARIANT", None), 15: ("UINT32", "<u4"),
    16: ("UINT16", "<u2"), 17: ("INT4", None), 18: ("BFLOAT16", None),
}

# ActivationFunctionType
ACTIVATIONS = {0: "NONE", 1: "RELU", 2: "RELU_N1_TO_1", 3: "RELU6", 4: "TANH", 5: "SIGN_BIT"}

# BuiltinOperator enum (value = position). Codes >= 127 live only in OperatorCode.builtin_code.
BUILTIN_NAMES: tuple[str, ...] = (
    "ADD", "AVERAGE_POOL_2D", "CONCATENATION", "CONV_2D", "DEPTHWISE_CONV_2D", "DEPTH_TO_SPACE",
    "DEQUANTIZE", "EMBEDDING_LOOKUP", "FLOOR", "FULLY_CONNECTED", "HASHTABLE_LOOKUP", "L2_NORMALIZATION",
    "L2_POOL_2D", "LOCAL_RESPONSE_NORMALIZATION", "LOGISTIC", "LSH_PROJECTION", "LSTM", "MAX_POOL_2D",
    "MUL", "RELU", "RELU_N1_TO_1", "RELU6", "RESHAPE", "RESIZE_BILINEAR", "RNN", "SOFTMAX",
    "SPACE_TO_DEPTH", "SVDF", "TANH", "CONCAT_EMBEDDINGS", "SKIP_GRAM", "CALL", "CUSTOM",
    "EMBEDDING_LOOKUP_SPARSE", "PAD", "UNIDIRECTIONAL_SEQUENCE_RNN", "GATHER", "BATCH_TO_SPACE_ND",
    "SPACE_TO_BATCH_ND", "TRANSPOSE", "MEAN", "SUB", "DIV", "SQUEEZE", "UNIDIRECTIONAL_SEQUENCE_LSTM",
    "STRIDED_SLICE", "BIDIRECTIONAL_SEQUENCE_RNN", "EXP", "TOPK_V2", "SPLIT", "LOG_SOFTMAX", "DELEGATE",
    "BIDIRECTIONAL_SEQUENCE_LSTM", "CAST", "PRELU", "MAXIMUM", "ARG_MAX", "MINIMUM", "LESS", "NEG",
    "PADV2", "GREATER", "GREATER_EQUAL", "LESS_EQUAL", "SELECT", "SLICE", "SIN", "TRANSPOSE_CONV",
    "SPARSE_TO_DENSE", "TILE", "EXPAND_DIMS", "EQUAL", "NOT_EQUAL", "LOG", "SUM", "SQRT", "RSQRT",
    "SHAPE", "POW", "ARG_MIN", "FAKE_QUANT", "REDUCE_PROD", "REDUCE_MAX", "PACK", "LOGICAL_OR",
    "ONE_HOT", "LOGICAL_AND", "LOGICAL_NOT", "UNPACK", "REDUCE_MIN", "FLOOR_DIV", "REDUCE_ANY",
    "SQUARE", "ZEROS_LIKE", "FILL", "FLOOR_MOD", "RANGE", "RESIZE_NEAREST_NEIGHBOR", "LEAKY_RELU",
    "SQUARED_DIFFERENCE", "MIRROR_PAD", "ABS", "SPLIT_V", "UNIQUE", "CEIL", "REVERSE_V2", "ADD_N",
    "GATHER_ND", "COS", "WHERE", "RANK", "ELU", "REVERSE_SEQUENCE", "MATRIX_DIAG", "QUANTIZE",
    "MATRIX_SET_DIAG", "ROUND", "HARD_SWISH", "IF", "WHILE", "NON_MAX_SUPPRESSION_V4",
    "NON_MAX_SUPPRESSION_V5", "SCATTER_ND", "SELECT_V2", "DENSIFY", "SEGMENT_SUM", "BATCH_MATMUL",
    "PLACEHOLDER_FOR_GREATER_OP_CODES", "CUMSUM", "CALL_ONCE", "BROADCAST_TO", "RFFT2D", "CONV_3D",
    "IMAG", "REAL", "COMPLEX_ABS", "HASHTABLE", "HASHTABLE_FIND", "HASHTABLE_IMPORT", "HASHTABLE_SIZE",
    "REDUCE_ALL", "CONV_3D_TRANSPOSE", "VAR_HANDLE", "READ_VARIABLE", "ASSIGN_VARIABLE", "BROADCAST_ARGS",
    "RANDOM_STANDARD_NORMAL", "BUCKETIZE", "RANDOM_UNIFORM", "MULTINOMIAL", "GELU",
    "DYNAMIC_UPDATE_SLICE", "RELU_0_TO_1",
)
BUILTIN_CODES = {name: code for code, name in enumerate(BUILTIN_NAMES)}
BUILTIN_NAMES_EXTRA = {158: "SIGN"}


def builtin_name(code: int) -> str:
    """The operator's enum name (``builtin operator 999`` for codes this table does not know)."""
    if 0 <= code < len(BUILTIN_NAMES):
        return BUILTIN_NAMES[code]
    return BUILTIN_NAMES_EXTRA.get(code, f"builtin operator {code}")


# ----------------------------------------------------------------------------- options tables
# Field kinds: "b" bool, "i8" byte/enum, "i32", "u32", "f32", "[i32]" vector of int.
# table name -> (BuiltinOptions union index, ((field, slot, kind, default), ...)).
OPTIONS_TABLES: dict[str, tuple[int, tuple[tuple[str, int, str, Any], ...]]] = {
    "Conv2DOptions": (1, (("padding", 0, "i8", 0), ("stride_w", 1, "i32", 0), ("stride_h", 2, "i32", 0),
                          ("fused_activation_function", 3, "i8", 0), ("dilation_w_factor", 4, "i32", 1),
                          ("dilation_h_factor", 5, "i32", 1))),
    "DepthwiseConv2DOptions": (2, (("padding", 0, "i8", 0), ("stride_w", 1, "i32", 0), ("stride_h", 2, "i32", 0),
                                   ("depth_multiplier", 3, "i32", 0), ("fused_activation_function", 4, "i8", 0),
                                   ("dilation_w_factor", 5, "i32", 1), ("dilation_h_factor", 6, "i32", 1))),
    "Pool2DOptions": (5, (("padding", 0, "i8", 0), ("stride_w", 1, "i32", 0), ("stride_h", 2, "i32", 0),
                          ("filter_width", 3, "i32", 0), ("filter_height", 4, "i32", 0),
                          ("fused_activation_function", 5, "i8", 0))),
    "FullyConnectedOptions": (8, (("fused_activation_function", 0, "i8", 0), ("weights_format", 1, "i8", 0),
                                  ("keep_num_dims", 2, "b", False))),
    "SoftmaxOptions": (9, (("beta", 0, "f32", 0.0),)),
    "ConcatenationOptions": (10, (("axis", 0, "i32", 0), ("fused_activation_function", 1, "i8", 0))),
    "AddOptions": (11, (("fused_activation_function", 0, "i8", 0),)),
    "L2NormOptions": (12, (("fused_activation_function", 0, "i8", 0),)),
    "LocalResponseNormalizationOptions": (13, (("radius", 0, "i32", 0), ("bias", 1, "f32", 0.0),
                                               ("alpha", 2, "f32", 0.0), ("beta", 3, "f32", 0.0))),
    "ResizeBilinearOptions": (15, (("align_corners", 2, "b", False), ("half_pixel_centers", 3, "b", False))),
    "ReshapeOptions": (17, (("new_shape", 0, "[i32]", None),)),
    "SpaceToDepthOptions": (19, (("block_size", 0, "i32", 0),)),
    "MulOptions": (21, (("fused_activation_function", 0, "i8", 0),)),
    "GatherOptions": (23, (("axis", 0, "i32", 0), ("batch_dims", 1, "i32", 0))),
    "ReducerOptions": (27, (("keep_dims", 0, "b", False),)),
    "SubOptions": (28, (("fused_activation_function", 0, "i8", 0),)),
    "DivOptions": (29, (("fused_activation_function", 0, "i8", 0),)),
    "SqueezeOptions": (30, (("squeeze_dims", 0, "[i32]", None),)),
    "StridedSliceOptions": (32, (("begin_mask", 0, "i32", 0), ("end_mask", 1, "i32", 0),
                                 ("ellipsis_mask", 2, "i32", 0), ("new_axis_mask", 3, "i32", 0),
                                 ("shrink_axis_mask", 4, "i32", 0), ("offset", 5, "b", False))),
    "SplitOptions": (35, (("num_splits", 0, "i32", 0),)),
    "CastOptions": (37, (("in_data_type", 0, "i8", 0), ("out_data_type", 1, "i8", 0))),
    "ArgMaxOptions": (40, (("output_type", 0, "i8", 2),)),
    "TransposeConvOptions": (49, (("padding", 0, "i8", 0), ("stride_w", 1, "i32", 0), ("stride_h", 2, "i32", 0),
                                  ("fused_activation_function", 3, "i8", 0))),
    "ShapeOptions": (55, (("out_type", 0, "i8", 2),)),
    "ArgMinOptions": (57, (("output_type", 0, "i8", 2),)),
    "PackOptions": (59, (("values_count", 0, "i32", 0), ("axis", 1, "i32", 0))),
    "UnpackOptions": (64, (("num", 0, "i32", 0), ("axis", 1, "i32", 0))),
    "UnidirectionalSequenceLSTMOptions": (71, (("fused_activation_function", 0, "i8", 0),
                                               ("cell_clip", 1, "f32", 0.0), ("proj_clip", 2, "f32", 0.0),
                                               ("time_major", 3, "b", False),
                                               ("asymmetric_quantize_inputs", 4, "b", False),
                                               ("diagonal_recurrent_tensors", 5, "b", False))),
    "ResizeNearestNeighborOptions": (74, (("align_corners", 0, "b", False), ("half_pixel_centers", 1, "b", False))),
    "LeakyReluOptions": (75, (("alpha", 0, "f32", 0.0),)),
    "MirrorPadOptions": (77, (("mode", 0, "i8", 0),)),
    "SplitVOptions": (79, (("num_splits", 0, "i32", 0),)),
    "IfOptions": (92, (("then_subgraph_index", 0, "i32", 0), ("else_subgraph_index", 1, "i32", 0))),
    "WhileOptions": (93, (("cond_subgraph_index", 0, "i32", 0), ("body_subgraph_index", 1, "i32", 0))),
    "DepthToSpaceOptions": (94, (("block_size", 0, "i32", 0),)),
    "BatchMatMulOptions": (101, (("adj_x", 0, "b", False), ("adj_y", 1, "b", False))),
    "CumsumOptions": (102, (("exclusive", 0, "b", False), ("reverse", 1, "b", False))),
    "GeluOptions": (116, (("approximate", 0, "b", False),)),
}

# Operator name -> the options table its kernel reads (ops absent here read none).
OP_OPTIONS = {
    "CONV_2D": "Conv2DOptions", "DEPTHWISE_CONV_2D": "DepthwiseConv2DOptions",
    "AVERAGE_POOL_2D": "Pool2DOptions", "MAX_POOL_2D": "Pool2DOptions", "L2_POOL_2D": "Pool2DOptions",
    "FULLY_CONNECTED": "FullyConnectedOptions", "SOFTMAX": "SoftmaxOptions",
    "CONCATENATION": "ConcatenationOptions", "ADD": "AddOptions", "L2_NORMALIZATION": "L2NormOptions",
    "RESIZE_BILINEAR": "ResizeBilinearOptions", "RESHAPE": "ReshapeOptions",
    "SPACE_TO_DEPTH": "SpaceToDepthOptions", "MUL": "MulOptions", "GATHER": "GatherOptions",
    "MEAN": "ReducerOptions", "SUM": "ReducerOptions", "REDUCE_PROD": "ReducerOptions",
    "REDUCE_MAX": "ReducerOptions", "REDUCE_MIN": "ReducerOptions", "REDUCE_ANY": "ReducerOptions",
    "REDUCE_ALL": "ReducerOptions", "SUB": "SubOptions", "DIV": "DivOptions", "SQUEEZE": "SqueezeOptions",
    "STRIDED_SLICE": "StridedSliceOptions", "SPLIT": "SplitOptions", "CAST": "CastOptions",
    "ARG_MAX": "ArgMaxOptions", "ARG_MIN": "ArgMinOptions", "TRANSPOSE_CONV": "TransposeConvOptions",
    "SHAPE": "ShapeOptions", "PACK": "PackOptions", "UNPACK": "UnpackOptions",
    "UNIDIRECTIONAL_SEQUENCE_LSTM": "UnidirectionalSequenceLSTMOptions",
    "RESIZE_NEAREST_NEIGHBOR": "ResizeNearestNeighborOptions", "LEAKY_RELU": "LeakyReluOptions",
    "MIRROR_PAD": "MirrorPadOptions", "SPLIT_V": "SplitVOptions", "IF": "IfOptions", "WHILE": "WhileOptions",
    "DEPTH_TO_SPACE": "DepthToSpaceOptions", "BATCH_MATMUL": "BatchMatMulOptions",
    "CUMSUM": "CumsumOptions", "GELU": "GeluOptions",
    "LOCAL_RESPONSE_NORMALIZATION": "LocalResponseNormalizationOptions",
}
OPTIONS_BY_UNION = {index: name for name, (index, _) in OPTIONS_TABLES.items()}
