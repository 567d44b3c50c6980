"""The Keras layer table: every fact about Keras layer classes that tfjs-lite relies on, in one place.

* :data:`MODEL_CLASSES`, :data:`WRAPPER_CLASSES` — classes that hold other layers;
* :data:`LEGACY_CLASS_NAMES` — old (or registered) class names and the class they mean
  (``BatchNormalizationV1``, ``Custom>CustomScaleLayer``);
* :data:`RNN_CELLS` / :data:`CELL_GATES` — the cell an RNN layer builds, the name tf.keras 2 gives
  it, and how many gates the cell stacks in its kernels;
* :func:`own_weights` — which variables a layer creates, in Keras order. Keras (2 and 3) stores a
  layer's variables trainable first, then non-trainable, in creation order; tfjs-layers names them
  the same way (``kernel``, ``bias``, ``gamma``, ...);
* :data:`WEIGHTLESS` — classes known to own no variable (for the weight-count check);
* :data:`SUBLAYERS` — layers whose variables live in named sub-layers (MultiHeadAttention);
* :func:`check_shape` — cheap shape checks of a weight against the layer config;
* :func:`to_snake_case` — Keras's class-name → object-path naming;
* small accessors of layer configs (:func:`layer_name`, :func:`model_layers`, ...).

Adding a layer with weights: one entry in :func:`own_weights` (and, if the config fixes a
shape, one in :func:`check_shape`). The graph lowering (:mod:`tfjs_lite.keras.lowering`) reads
the weights through the same table.
"""

from __future__ import annotations

import copy
import re
from typing import Any, Callable, Mapping, Optional, Sequence

from tfjs_lite.errors import ModelFormatError

__all__ = [
    "CELL_GATES",
    "LEGACY_CLASS_NAMES",
    "MASK_CARRIERS",
    "MASK_AGREED_BY_TFJS_LAYERS",
    "MASK_SEQUENCE_LAYERS",
    "MASK_SOURCES",
    "MODEL_CLASSES",
    "RNN_CELLS",
    "SUBLAYERS",
    "WEIGHTLESS",
    "WRAPPER_CLASSES",
    "canonical_class",
    "cell_of",
    "check_shape",
    "replace_layers",
    "expected_weight_count",
    "inner_layer",
    "is_model_class",
    "layer_config",
    "layer_name",
    "model_layers",
    "own_weights",
    "to_snake_case",
]

MODEL_CLASSES = ("Sequential", "Functional", "Model")
WRAPPER_CLASSES = ("Bidirectional", "TimeDistributed")
# Class names older Keras versions wrote, and the class they are today (tfjs-layers and Keras 3
# know only the new name).
LEGACY_CLASS_NAMES = {
    # the registered name tf_keras writes for keras.applications' own InceptionResNetV2 layer
    "Custom>CustomScaleLayer": "CustomScaleLayer",
    "BatchNormalizationV1": "BatchNormalization",
    "BatchNormalizationV2": "BatchNormalization",
    "UnifiedGRU": "GRU",
    "UnifiedLSTM": "LSTM",
}
# RNN layer class → the cell class it builds and the cell name tf.keras 2 gives it.
RNN_CELLS = {
    "LSTM": ("LSTMCell", "lstm_cell"),
    "GRU": ("GRUCell", "gru_cell"),
    "SimpleRNN": ("SimpleRNNCell", "simple_rnn_cell"),
    "ConvLSTM2D": ("ConvLSTM2DCell", "conv_lstm2d_cell"),
}
# Cell class → number of gate blocks concatenated along the last axis of its kernels.
CELL_GATES = {"LSTMCell": 4, "GRUCell": 3, "SimpleRNNCell": 1, "ConvLSTM2DCell": 4}
CONV_RANK = {"Conv1D": 1, "Conv2D": 2, "Conv3D": 3, "Conv1DTranspose": 1, "Conv2DTranspose": 2, "Conv3DTranspose": 3}
_SEPARABLE = ("SeparableConv1D", "SeparableConv2D")
_DEPTHWISE = ("DepthwiseConv1D", "DepthwiseConv2D")

# fmt: off
# Classes that own no variable.
WEIGHTLESS = frozenset({
    "InputLayer", "Dropout", "Flatten", "Reshape", "Permute", "Activation", "ReLU", "LeakyReLU",
    "ELU", "Softmax", "MaxPooling1D", "MaxPooling2D", "MaxPooling3D", "AveragePooling1D",
    "AveragePooling2D", "AveragePooling3D", "GlobalAveragePooling1D", "GlobalAveragePooling2D",
    "GlobalAveragePooling3D", "GlobalMaxPooling1D", "GlobalMaxPooling2D", "GlobalMaxPooling3D",
    "Concatenate", "Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum", "Dot",
    "ZeroPadding1D", "ZeroPadding2D", "ZeroPadding3D", "UpSampling1D", "UpSampling2D", "UpSampling3D",
    "Cropping1D", "Cropping2D", "Cropping3D", "RepeatVector", "Masking", "GaussianNoise",
    "GaussianDropout", "AlphaDropout", "SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D",
    "ThresholdedReLU", "Identity", "Rescaling", "CenterCrop", "Resizing", "UnitNormalization",
    "ActivityRegularization", "CustomScaleLayer",
})
# Layers that pass the mask of their input on (Keras: ``supports_masking`` without changing the
# time axis). Masked tensors reaching any other layer lose their mask, as in Keras; the layers that
# use it (RNNs, GlobalAveragePooling1D) read it themselves and say what they return.
MASK_CARRIERS = frozenset({
    "Dense", "Activation", "Dropout", "AlphaDropout", "GaussianDropout", "GaussianNoise", "SpatialDropout1D",
    "ActivityRegularization", "Identity", "BatchNormalization", "LayerNormalization", "TimeDistributed",
    "ReLU", "LeakyReLU", "PReLU", "ELU", "ThresholdedReLU", "Softmax", "Rescaling",
    "Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum", "Concatenate",
})
# Layers that make a mask of their input's padding steps (Keras's ``compute_mask``).
MASK_SOURCES = frozenset({"Embedding", "Masking"})
# Recurrent layers and wrappers: they pass the mask on when they return sequences.
MASK_SEQUENCE_LAYERS = frozenset({"LSTM", "GRU", "SimpleRNN", "RNN", "ConvLSTM2D", "Bidirectional"})
# The layers in which tfjs-layers 4.22 treats a Keras sequence mask as Keras does, each checked in
# TF.js against Keras (fixtures keras/masked_sequences, probes of the session that added this).
# Elsewhere it does not: GlobalAveragePooling1D ignores the mask (it averages the padding steps),
# Add/Average of masked inputs fail at run time, and Conv1D, MaxPooling1D and Reshape pass the
# mask on where Keras drops it, so a later RNN skips steps Keras computes (errors of 0.3 to 1.2);
# Rescaling drops it where Keras passes it on (0.13).
MASK_AGREED_BY_TFJS_LAYERS = frozenset({
    "Embedding", "Masking", "Dense", "Dropout", "SpatialDropout1D", "GaussianNoise", "GaussianDropout",
    "AlphaDropout", "Activation", "ReLU", "PReLU", "LeakyReLU", "ELU", "ThresholdedReLU",
    "BatchNormalization", "LayerNormalization", "TimeDistributed", "LSTM", "GRU", "SimpleRNN",
    "Bidirectional", "Concatenate", "GlobalMaxPooling1D", "Flatten",
})
# Layers whose variables belong to Dense-like sub-layers (kernel, and bias when ``use_bias``):
# (the segment tf.keras 2 weight names use, the attribute a Keras 3 archive stores it under).
SUBLAYERS = {
    "MultiHeadAttention": (
        ("query", "query_dense"), ("key", "key_dense"), ("value", "value_dense"),
        ("attention_output", "output_dense"),
    ),
}
# fmt: on


def to_snake_case(name: str) -> str:
    """Keras's ``naming.to_snake_case`` (``Conv2DTranspose`` → ``conv2d_transpose``, ``PReLU`` → ``p_re_lu``)."""
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


def canonical_class(class_name: str) -> str:
    """The current name of a (possibly legacy) class name."""
    return LEGACY_CLASS_NAMES.get(class_name, class_name)


def is_model_class(layer: Mapping[str, Any]) -> bool:
    """Whether the layer config is itself a model (Sequential / Functional / Model)."""
    return layer.get("class_name") in MODEL_CLASSES


def model_layers(model_config: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The layer configs of ``model.layers`` in order (Sequential drops its InputLayer)."""
    config = model_config.get("config")
    if isinstance(config, list):  # Keras < 2.2 Sequential: the config is the layer list
        layers = config
    elif isinstance(config, Mapping):
        layers = config.get("layers") or []
    else:
        layers = []
    if not isinstance(layers, list) or not all(isinstance(x, dict) for x in layers):
        raise ModelFormatError("the model config's 'layers' is not a list of layer configs")
    if model_config.get("class_name") == "Sequential":
        layers = [x for x in layers if x.get("class_name") != "InputLayer"]
    return layers


def replace_layers(model_config: Mapping[str, Any],
                   replace: Callable[[dict[str, Any], dict[str, Any]], list[dict[str, Any]]]) -> dict[str, Any]:
    """A copy of a (tfjs-form) model config in which every layer, nested models' layers included,
    is replaced by ``replace(layer, enclosing model)`` (a list: the layer itself, or what stands in
    for it). Nested models are rewritten before ``replace`` sees them."""
    model = copy.deepcopy(dict(model_config))
    _replace_in(model, replace)
    return model


def _replace_in(model: dict[str, Any], replace: Callable[[dict[str, Any], dict[str, Any]], list[dict[str, Any]]]) -> None:
    config = model.get("config")
    layers = config.get("layers") if isinstance(config, dict) else None
    if not isinstance(config, dict) or not isinstance(layers, list):
        return
    out: list[Any] = []
    for layer in layers:
        if not isinstance(layer, dict):
            out.append(layer)
            continue
        if layer.get("class_name") in MODEL_CLASSES:
            _replace_in(layer, replace)
        out.extend(replace(layer, model))
    config["layers"] = out


def layer_name(layer: Mapping[str, Any]) -> str:
    """The layer's name (top-level ``name`` or ``config.name``); ModelFormatError when it has none."""
    name = layer.get("name")
    if not isinstance(name, str):
        cfg = layer.get("config")
        name = cfg.get("name") if isinstance(cfg, Mapping) else None
    if not isinstance(name, str) or not name:
        raise ModelFormatError(f"a {layer.get('class_name', '?')} layer in the model config has no name")
    return name


def layer_config(layer: Mapping[str, Any]) -> dict[str, Any]:
    """The layer's ``config`` dict; an empty one when it has none (or something else there)."""
    config = layer.get("config")
    return config if isinstance(config, dict) else {}


def inner_layer(layer: Mapping[str, Any]) -> Optional[dict[str, Any]]:
    """The layer a wrapper (Bidirectional, TimeDistributed) wraps, if any."""
    cfg = layer.get("config")
    inner = cfg.get("layer") if isinstance(cfg, Mapping) else None
    return inner if isinstance(inner, dict) else None


def _flag(config: Mapping[str, Any], key: str, default: bool = True) -> bool:
    value = config.get(key, default)
    return default if value is None else bool(value)


def own_weights(class_name: str, config: Mapping[str, Any]) -> list[str]:
    """The names of the variables ``class_name`` creates itself (not its sub-layers), in order.

    A class missing here is treated as weightless; callers compare that with what the file holds.
    """
    class_name = canonical_class(class_name)
    bias = ["bias"] if _flag(config, "use_bias") else []
    if class_name in ("Dense", "EinsumDense") or class_name in CONV_RANK:
        return ["kernel", *bias]
    if class_name in _DEPTHWISE:
        return ["depthwise_kernel", *bias]
    if class_name in _SEPARABLE:
        return ["depthwise_kernel", "pointwise_kernel", *bias]
    if class_name == "BatchNormalization":
        gamma = ["gamma"] if _flag(config, "scale") else []
        beta = ["beta"] if _flag(config, "center") else []
        return [*gamma, *beta, "moving_mean", "moving_variance"]
    if class_name in ("LayerNormalization", "GroupNormalization"):
        return (["gamma"] if _flag(config, "scale") else []) + (["beta"] if _flag(config, "center") else [])
    if class_name == "Embedding":
        return ["embeddings"]
    if class_name == "PReLU":
        return ["alpha"]
    if class_name == "LayerScale":  # keras.applications ConvNeXt: inputs * gamma, gamma of shape [projection_dim]
        return ["gamma"]
    if class_name in CELL_GATES:
        return ["kernel", "recurrent_kernel", *bias]
    if class_name == "Normalization" and config.get("mean") is None:  # adapted: the statistics are variables
        return ["mean", "variance", "count"]
    if class_name in SUBLAYERS:
        return [f"{segment}/{leaf}" for segment, _ in SUBLAYERS[class_name] for leaf in ["kernel", *bias]]
    if class_name == "Attention":
        return (["scale"] if _flag(config, "use_scale", False) else []) + (
            ["concat_score_weight"] if config.get("score_mode") == "concat" else [])
    if class_name == "AdditiveAttention":
        return ["scale"] if _flag(config, "use_scale") else []
    return []


def cell_of(class_name: str, config: Mapping[str, Any]) -> Optional[tuple[str, dict[str, Any], str]]:
    """For an RNN layer: (cell class, cell config, tf.keras 2 cell name); None for other layers."""
    if class_name in RNN_CELLS:
        cell_class, cell_name = RNN_CELLS[class_name]
        return cell_class, dict(config), cell_name
    if class_name == "RNN":
        cell = config.get("cell")
        if isinstance(cell, Mapping) and isinstance(cell.get("config"), Mapping):
            cell_config = dict(cell["config"])
            return str(cell.get("class_name")), cell_config, str(cell_config.get("name") or "cell")
    return None


def expected_weight_count(layer: Mapping[str, Any]) -> Optional[int]:
    """How many weights a layer of a known class has (nested wrappers included), or None when unknown."""
    class_name = layer.get("class_name")
    config = layer.get("config") or {}
    if not isinstance(class_name, str) or not isinstance(config, Mapping):
        return None
    class_name = canonical_class(class_name)
    if class_name == "Bidirectional":
        inner = inner_layer(layer)
        count = expected_weight_count(inner) if inner else None
        return None if count is None else 2 * count
    cell = cell_of(class_name, config)
    if cell is not None:
        return len(own_weights(cell[0], cell[1])) if cell[0] in CELL_GATES else None
    weights = own_weights(class_name, config)
    if weights or class_name in WEIGHTLESS:
        return len(weights)
    return None


def _as_tuple(value: Any, rank: int) -> Optional[tuple[int, ...]]:
    if isinstance(value, int):
        return (value,) * rank
    if isinstance(value, (list, tuple)) and all(isinstance(v, int) for v in value):
        return tuple(value)
    return None



def check_shape(class_name: str, config: Mapping[str, Any], weight: str, shape: Sequence[int]) -> Optional[str]:
    """Why ``shape`` cannot be weight ``weight`` of this layer, or None if it is plausible."""
    shape = tuple(shape)
    units = config.get("units")
    if class_name == "Dense" and isinstance(units, int):
        if weight == "kernel" and (len(shape) != 2 or shape[1] != units):
            return f"kernel has shape {list(shape)} but units={units} needs [input_dim, {units}]"
        if weight == "bias" and shape != (units,):
            return f"bias has shape {list(shape)} but units={units} needs [{units}]"
    filters = config.get("filters")
    if class_name in CONV_RANK and isinstance(filters, int):
        rank = CONV_RANK[class_name]
        size = _as_tuple(config.get("kernel_size"), rank)
        out_axis = -2 if class_name.endswith("Transpose") else -1
        bad_kernel = len(shape) != rank + 2 or shape[out_axis] != filters or (size and shape[:rank] != size)
        if weight == "kernel" and bad_kernel:
            return f"kernel has shape {list(shape)}, which contradicts kernel_size={list(size or [])} filters={filters}"
        if weight == "bias" and shape != (filters,):
            return f"bias has shape {list(shape)} but filters={filters} needs [{filters}]"
    if class_name == "Embedding" and weight == "embeddings":
        want = (config.get("input_dim"), config.get("output_dim"))
        if all(isinstance(v, int) for v in want) and shape != want:
            return f"embeddings have shape {list(shape)} but the config says [{want[0]}, {want[1]}]"
    if class_name in CELL_GATES and isinstance(units, int):
        width = CELL_GATES[class_name] * units
        if weight == "recurrent_kernel" and class_name != "ConvLSTM2DCell" and shape != (units, width):
            return f"recurrent_kernel has shape {list(shape)} but units={units} needs [{units}, {width}]"
        if weight == "kernel" and (not shape or shape[-1] != width):
            return f"kernel has shape {list(shape)} but units={units} needs a last dimension of {width}"
        if weight == "bias" and shape not in ((width,), (2, width)):
            return f"bias has shape {list(shape)} but units={units} needs [{width}]"
    if class_name in ("BatchNormalization", "LayerNormalization") and len(shape) != 1 and weight != "":
        axis = config.get("axis")
        if isinstance(axis, int) or (isinstance(axis, list) and len(axis) == 1):
            return f"{weight} has shape {list(shape)} but a single normalization axis needs a 1-D weight"
    return None
