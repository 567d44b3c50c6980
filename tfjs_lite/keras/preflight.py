"""Pre-flight check: will tfjs-layers 4.22 load and run this Keras model the way Keras does?

The official converter never asks; unsupported layers surface as errors in the browser. Here every
layer (nested models, wrapped layers and RNN cells included) is checked against the classes
tfjs-layers 4.22 registers when ``@tensorflow/tfjs-layers`` is imported (read from its
``dist/`` sources: ``serialization.registerClass`` calls reachable from ``index.js``; the ``nlp``
layers such as MultiHeadAttention are in the package but never registered) and against the
options it cannot honour. All problems are reported together in one :class:`UnsupportedLayerError`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterator, Mapping, Optional

from tfjs_lite.errors import ModelFormatError, UnsupportedLayerError
from tfjs_lite.keras import scaled_sum
from tfjs_lite.keras.keepdims import unresolved_keepdims
from tfjs_lite.keras.layers import MASK_AGREED_BY_TFJS_LAYERS, MODEL_CLASSES
from tfjs_lite.keras.normalization import translatable
from tfjs_lite.keras.ranks import input_ranks, layer_shape_problems, masked_inputs

__all__ = [
    "SUPPORTED_ACTIVATIONS",
    "SUPPORTED_CONSTRAINTS",
    "SUPPORTED_INITIALIZERS",
    "SUPPORTED_LAYERS",
    "LayerIssue",
    "check_layer_shapes",
    "check_model",
    "refusal",
    "unsupported_reason",
    "walk_layers",
]

# fmt: off
SUPPORTED_LAYERS = frozenset(
    [
        "Activation", "Add", "AlphaDropout", "Average", "AveragePooling1D", "AveragePooling2D",
        "AveragePooling3D", "BatchNormalization", "Bidirectional", "CategoryEncoding", "CenterCrop",
        "Concatenate", "Conv1D", "Conv2D", "Conv2DTranspose", "Conv3D", "Conv3DTranspose", "ConvLSTM2D",
        "Cropping2D", "Dense", "DepthwiseConv2D", "Dot", "Dropout", "ELU", "Embedding", "Flatten", "Functional",
        "GRU", "GaussianDropout", "GaussianNoise", "GlobalAveragePooling1D", "GlobalAveragePooling2D",
        "GlobalMaxPooling1D", "GlobalMaxPooling2D", "InputLayer", "LSTM", "LayerNormalization", "LeakyReLU",
        "Masking", "MaxPooling1D", "MaxPooling2D", "MaxPooling3D", "Maximum", "Minimum", "Model", "Multiply",
        "PReLU", "Permute", "RNN", "RandomWidth", "ReLU", "RepeatVector", "Rescaling", "Reshape", "Resizing",
        "SeparableConv2D", "Sequential", "SimpleRNN", "Softmax", "SpatialDropout1D", "ThresholdedReLU",
        "TimeDistributed", "UpSampling2D", "ZeroPadding2D",
    ]
)
SUPPORTED_CELLS = frozenset({"GRUCell", "LSTMCell", "SimpleRNNCell", "StackedRNNCells", "ConvLSTM2DCell"})
SUPPORTED_INITIALIZERS = frozenset(
    [
        "Zeros", "Ones", "Constant", "RandomUniform", "RandomNormal", "TruncatedNormal", "Identity",
        "VarianceScaling", "GlorotUniform", "GlorotNormal", "HeNormal", "HeUniform", "LeCunNormal",
        "LeCunUniform", "Orthogonal",
    ]
)
SUPPORTED_CONSTRAINTS = frozenset({"MaxNorm", "UnitNorm", "NonNeg", "MinMaxNorm"})
SUPPORTED_REGULARIZERS = frozenset({"L1L2"})
# Activation names as they appear in Keras configs (tfjs-layers camel-cases them on load).
SUPPORTED_ACTIVATIONS = frozenset(
    [
        "elu", "hard_sigmoid", "linear", "relu", "relu6", "selu", "sigmoid", "softmax", "softplus", "softsign",
        "tanh", "swish", "mish", "gelu", "log_softmax",
    ]
)
# fmt: on
_KNOWN_OBJECTS = {
    "initializer": SUPPORTED_INITIALIZERS,
    "regularizer": SUPPORTED_REGULARIZERS,
    "constraint": SUPPORTED_CONSTRAINTS,
}
_INPUT_DTYPES = frozenset({"float32", "int32", "bool", "string", "complex64"})
_GRAPH_HINT = (
    "pass force=True (CLI --force) to write the layers model anyway, or convert with "
    "--output_format tfjs_graph_model"
)


@dataclass(frozen=True)
class LayerIssue:
    """One reason tfjs-layers cannot load a layer: layer name, class name and the problem."""

    layer: str
    class_name: str
    problem: str

    def __str__(self) -> str:
        return f"{self.layer} ({self.class_name}): {self.problem}"


def refusal(issues: list[LayerIssue], *, graph: bool = False) -> UnsupportedLayerError:
    """The single error listing every issue; for layers output, with the two ways forward."""
    listed = "; ".join(str(issue) for issue in issues)
    count = "1 layer" if len({i.layer for i in issues}) == 1 else f"{len({i.layer for i in issues})} layers"
    if graph:
        return UnsupportedLayerError(f"cannot lower {count} to a TensorFlow.js graph model: {listed}")
    return UnsupportedLayerError(f"TensorFlow.js 4.22 (tfjs-layers) cannot load {count}: {listed}. {_GRAPH_HINT}")


def check_model(model_config: Mapping[str, Any], *, keras3: bool) -> list[LayerIssue]:
    """Every problem in a (translated, tfjs-form) model config, in layer order."""
    issues: list[LayerIssue] = []
    ranks = input_ranks(model_config)
    for name in unresolved_keepdims(dict(model_config)):
        issues.append(LayerIssue(name, "GlobalPooling", "option keepdims=True with a channel count the "
                                 "config does not tell (tfjs-layers 4.22 ignores keepdims)"))
    masked = masked_inputs(model_config)
    for name, class_name, config in walk_layers(model_config):
        issues.extend(_check_layer(name, class_name, config, keras3=keras3, rank=ranks.get(name)))
        if name in masked and class_name not in MASK_AGREED_BY_TFJS_LAYERS:
            issues.append(LayerIssue(name, class_name, "receives a sequence mask (Embedding mask_zero / Masking "
                                     "upstream), which tfjs-layers 4.22 does not handle as Keras does in this layer"))
    return issues


def check_layer_shapes(model_config: Mapping[str, Any]) -> None:
    """Refuse a config whose layers cannot run on the shapes they receive (a Reshape to another
    element count, an UpSampling by 2**20, a pool window larger than its input, an output of
    billions of elements: :func:`tfjs_lite.keras.ranks.layer_shape_problems`). Both output
    formats call it, and ``--force`` does not skip it: such a model fails in TF.js whatever it
    supports.

    Raises:
        ModelFormatError: naming every such layer.
    """
    problems = layer_shape_problems(model_config)
    if problems:
        listed = "; ".join(f"layer {name!r} ({class_name}): {problem}" for name, class_name, problem in problems)
        raise ModelFormatError(f"the model config cannot run: {listed}")


def walk_layers(model: Mapping[str, Any]) -> Iterator[tuple[str, str, Mapping[str, Any]]]:
    """(name, class name, config) of every layer of a model: nested models, wrapped layers and
    RNN cells included, in config order."""
    config = model.get("config")
    layers = config.get("layers") if isinstance(config, Mapping) else config
    for layer in layers or []:
        if not isinstance(layer, Mapping):
            continue
        yield from _walk_layer(layer)


def _walk_layer(layer: Mapping[str, Any]) -> Iterator[tuple[str, str, Mapping[str, Any]]]:
    class_name = str(layer.get("class_name"))
    config = layer.get("config")
    config = config if isinstance(config, Mapping) else {}
    name = str(layer.get("name") or config.get("name") or "?")
    yield name, class_name, config
    if class_name in MODEL_CLASSES:
        yield from walk_layers(layer)
    for key in ("layer", "backward_layer"):
        if isinstance(config.get(key), Mapping):
            yield from _walk_layer(config[key])
    cell = config.get("cell")
    cells = cell if isinstance(cell, list) else [cell]
    for item in cells:
        if isinstance(item, Mapping):
            yield from _walk_layer(item)
    cell_config = cell.get("config") if isinstance(cell, Mapping) else None
    if isinstance(cell, Mapping) and isinstance(cell_config, Mapping) and cell.get("class_name") == "StackedRNNCells":
        inner_cells = cell_config.get("cells")
        for inner in inner_cells if isinstance(inner_cells, list) else []:
            if isinstance(inner, Mapping):
                yield from _walk_layer(inner)


# Registered by tfjs-layers 4.22 but broken there (fixtures/layer_options, run in real TF.js).
_BROKEN_CLASSES = {
    "Resizing": "tfjs-layers 4.22's Resizing drops the batch dimension from its output shape and "
                "samples on the corner-aligned grid (Keras: half-pixel centres)",
    "CenterCrop": "tfjs-layers 4.22's CenterCrop reports a wrong output shape (the model then "
                  "rejects its own input)",
}


def unsupported_reason(class_name: str, *, graph: bool = False, config: Optional[Mapping[str, Any]] = None) -> str:
    """Why a layer class cannot be converted (to a layers model, or with ``graph`` to a graph model)."""
    if class_name in ("TFOpLambda", "SlicingOpLambda"):
        # tf.keras 2 records a TensorFlow function called on Keras tensors (x + y, tf.nn.relu(x))
        # as this layer, naming the function in config["function"]: no Python code, but no layer either.
        function = (config or {}).get("function")
        called = f"calls the TensorFlow function tf.{function}" if isinstance(function, str) else "calls a TensorFlow function"
        if graph:
            return f"{called}, which the graph-model lowering does not translate"
        return f"{called}, which tfjs-layers cannot run (convert with --output_format tfjs_graph_model)"
    if class_name == "Lambda":
        return "runs Python code, which TensorFlow.js cannot"
    if ">" in class_name:
        return "is a custom (registered) layer class, unknown to TensorFlow.js"
    if graph:
        return "is not a layer class the graph-model lowering knows"
    return "is not a layer class tfjs-layers 4.22 registers"


def _unsupported_class(class_name: str, config: Mapping[str, Any]) -> Optional[str]:
    if class_name in _BROKEN_CLASSES:
        return _BROKEN_CLASSES[class_name]
    if class_name in SUPPORTED_LAYERS or class_name in SUPPORTED_CELLS:
        return None
    return unsupported_reason(class_name, config=config)


def _check_layer(name: str, class_name: str, config: Mapping[str, Any], *, keras3: bool,
                 rank: Optional[int] = None) -> list[LayerIssue]:
    problems: list[str] = []
    if class_name == "Normalization" and translatable(config, rank):
        return []  # becomes a BatchNormalization (tfjs_lite/keras/normalization.py)
    if class_name in scaled_sum.CLASSES:  # becomes Rescaling + Add (tfjs_lite/keras/scaled_sum.py)
        reason = scaled_sum.untranslatable_reason(class_name, config)
        return [LayerIssue(name, class_name, reason)] if reason else []
    reason = _unsupported_class(class_name, config)
    if reason:
        return [LayerIssue(name, class_name, reason)]
    problems.extend(_check_options(class_name, config, keras3=keras3))
    problems.extend(_check_computed_differently(class_name, config, rank))
    problems.extend(_check_objects(config))
    return [LayerIssue(name, class_name, p) for p in problems]


def _check_options(class_name: str, config: Mapping[str, Any], *, keras3: bool) -> list[str]:
    out: list[str] = []
    if class_name in ("GRU", "GRUCell") and config.get("reset_after", False):
        out.append("option reset_after=True is not implemented in tfjs-layers (use reset_after=False)")
    if config.get("time_major"):
        out.append("option time_major=True is not supported")
    for key in ("activation", "recurrent_activation"):
        value = config.get(key)
        if isinstance(value, str) and value not in SUPPORTED_ACTIVATIONS:
            out.append(f"activation {value!r} is not in tfjs-layers 4.22")
        elif keras3 and value == "hard_sigmoid":
            out.append("Keras 3 hard_sigmoid (relu6(x+3)/6) differs from the tfjs-layers one (0.2x+0.5)")
        elif value is not None and not isinstance(value, str):
            out.append(f"{key} is a serialized function object, not a built-in activation name")
    if class_name == "ReLU" and (config.get("negative_slope") or config.get("threshold")):
        out.append("options negative_slope/threshold are not supported (only max_value)")
    if config.get("groups", 1) not in (1, None):
        out.append(f"option groups={config.get('groups')} is not supported")
    if config.get("padding") == "causal":
        out.append("padding='causal' is not supported")
    if class_name == "BatchNormalization" and config.get("renorm"):
        out.append("option renorm=True is not supported")
    if class_name == "LayerNormalization" and config.get("rms_scaling"):
        out.append("option rms_scaling=True is not supported")
    if config.get("lora_rank"):
        out.append("LoRA weights (lora_rank) are not supported")
    if config.get("quantization_config") is not None or str(config.get("dtype", "")).startswith(("int8", "int4")):
        out.append("quantized Keras layers are not supported")
    if class_name == "ELU" and config.get("alpha", 1.0) not in (1.0, None):
        out.append(f"option alpha={config.get('alpha')} is not supported (only 1.0)")
    if class_name == "ConvLSTM2D" and config.get("unroll"):
        out.append("option unroll=True is not supported for convolutional RNNs")
    if class_name == "SeparableConv1D":
        out.append("1-D separable convolution is not implemented in tfjs-layers")
    if class_name == "Bidirectional" and config.get("backward_layer") is not None:
        out.append("a separate backward_layer is ignored by tfjs-layers (it mirrors the forward layer)")
    dtype = config.get("dtype")
    if class_name == "InputLayer":
        if dtype is not None and not (isinstance(dtype, str) and dtype in _INPUT_DTYPES):
            out.append(f"input dtype {dtype!r} is not supported")
        if config.get("sparse") or config.get("ragged"):
            out.append("sparse or ragged inputs are not supported")
    elif isinstance(dtype, str) and dtype not in ("float32",):
        out.append(f"dtype policy {dtype!r} is not supported (tfjs-layers computes in float32)")
    elif dtype is not None and not isinstance(dtype, str):
        out.append("the dtype policy is not a plain dtype")
    return out


def _is_default(value: Any, default: int) -> bool:
    values = value if isinstance(value, (list, tuple)) else [value]
    return all(v in (default, None) for v in values)


def _last_axis_only(config: Mapping[str, Any], rank: Optional[int]) -> Optional[str]:
    """The axis option if it names an axis other than the last (when the input rank is known)."""
    axis = config.get("axis", -1)
    axes = axis if isinstance(axis, (list, tuple)) else [axis]
    if len(axes) != 1 or not isinstance(axes[0], int):
        return f"axis={axis!r}"
    if axes[0] == -1 or rank is None or axes[0] in (rank - 1, -1):
        return None
    return f"axis={axis!r} of a rank-{rank} input"


def _check_computed_differently(class_name: str, config: Mapping[str, Any], rank: Optional[int]) -> list[str]:
    """Options tfjs-layers 4.22 loads but computes differently from Keras, or fails on at run time.

    Each was found by running a one-layer model per option in real TF.js 4.22 against Keras
    (``fixtures/generate_layer_options.py``, ``tests/keras/test_layer_options.py``).
    """
    out: list[str] = []
    interpolation = config.get("interpolation", "nearest")
    if class_name == "UpSampling2D" and interpolation == "bilinear":
        out.append("option interpolation='bilinear' differs: tfjs-layers 4.22 resizes without "
                   "half-pixel centres (Keras uses them)")
    elif class_name == "UpSampling2D" and interpolation not in ("nearest", None):
        out.append(f"option interpolation={interpolation!r} is not implemented (only nearest, bilinear)")
    if class_name in ("Conv2DTranspose", "Conv3DTranspose"):
        if config.get("output_padding") is not None:
            out.append("option output_padding is ignored by tfjs-layers 4.22 (wrong output shape)")
        if not _is_default(config.get("dilation_rate", 1), 1):
            out.append(f"option dilation_rate={config.get('dilation_rate')} is ignored by tfjs-layers 4.22 "
                       "(wrong values)")
    if class_name == "DepthwiseConv2D" and not _is_default(config.get("dilation_rate", 1), 1):
        out.append(f"option dilation_rate={config.get('dilation_rate')} is ignored by tfjs-layers 4.22 "
                   "(wrong values)")
    # keepdims=True is translated (tfjs_lite/keras/keepdims.py), not refused.
    if class_name.startswith("Global") and "Pooling" in class_name:
        if class_name.endswith("1D") and config.get("data_format") == "channels_first":
            out.append("option data_format='channels_first' is ignored by tfjs-layers 4.22 for 1-D "
                       "global pooling (it pools the other axis)")
    if class_name in ("BatchNormalization", "Softmax"):
        axis = _last_axis_only(config, rank)
        if axis is not None:
            out.append(f"option {axis}: tfjs-layers 4.22 computes {class_name} correctly only over "
                       "the last axis")
    return out


def _check_objects(config: Mapping[str, Any]) -> list[str]:
    out: list[str] = []
    for key, value in config.items():
        if not isinstance(value, Mapping) or "class_name" not in value or key.endswith("activation"):
            continue
        class_name = str(value["class_name"])
        known = _KNOWN_OBJECTS.get(key.rsplit("_", 1)[-1])
        if known is not None and class_name not in known:
            out.append(f"{key} {class_name} is not in tfjs-layers 4.22")
        elif class_name.startswith("__") or class_name == "function":
            out.append(f"option {key} holds a serialized Python object ({class_name})")
    return out
