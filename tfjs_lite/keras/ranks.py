"""The rank of each layer's input in a (tfjs-form) Keras model config, where the config tells it.

The pre-flight check needs it for options whose meaning depends on the rank: tfjs-layers 4.22
computes a ``BatchNormalization`` or ``Softmax`` over a non-last axis wrongly (or not at all),
and tf.keras 2 stores axes as positive indices (``axis: [3]`` is the last axis of an image, but
``axis: [1]`` of an image is its height).  Ranks flow from the ``InputLayer`` shapes through a
small table of layer rules; a layer whose rank cannot be known from its config alone (nested
models, ``Dot``, custom classes) yields None and stops the flow along that path.

The second half is the static *shape* of each layer's output (:func:`output_shape`), for the
Keras-config check before writing (:func:`layer_shape_problems`, called by
``keras/preflight.check_layer_shapes``): configs that load but cannot run.
"""

from __future__ import annotations

import math
from typing import Any, Mapping, Optional

from tfjs_lite.keras.layers import MASK_CARRIERS, MASK_SEQUENCE_LAYERS
from tfjs_lite.limits import MAX_STATIC_TENSOR_ELEMENTS, MAX_WINDOW_EXTENT

__all__ = ["LayerShapeError", "input_ranks", "layer_shape_problems", "masked_inputs", "output_shape"]

_RNN = frozenset({"LSTM", "GRU", "SimpleRNN", "RNN"})
_TO_RANK_2 = frozenset({"Flatten", "GlobalAveragePooling1D", "GlobalAveragePooling2D",
                        "GlobalMaxPooling1D", "GlobalMaxPooling2D", "GlobalAveragePooling3D",
                        "GlobalMaxPooling3D"})
_UNKNOWN = frozenset({"Dot", "Sequential", "Functional", "Model"})


def _config(layer: Mapping[str, Any]) -> Mapping[str, Any]:
    config = layer.get("config")
    return config if isinstance(config, Mapping) else {}


def _shape_rank(config: Mapping[str, Any]) -> Optional[int]:
    for key in ("batch_input_shape", "batch_shape"):
        shape = config.get(key)
        if isinstance(shape, (list, tuple)):
            return len(shape)
    return None


def output_rank(class_name: str, config: Mapping[str, Any], rank: Optional[int]) -> Optional[int]:
    """Rank of a layer's first output from the rank of its (first) input."""
    if class_name == "InputLayer":
        return _shape_rank(config)
    if class_name in _UNKNOWN or rank is None:
        return None
    if class_name in _TO_RANK_2:
        return rank if config.get("keepdims") else 2
    if class_name == "Reshape":
        target = config.get("target_shape")
        return len(target) + 1 if isinstance(target, (list, tuple)) else None
    if class_name == "RepeatVector":
        return 3
    if class_name == "Embedding":
        return rank + 1
    if class_name in _RNN:
        return 3 if config.get("return_sequences") else 2
    if class_name == "ConvLSTM2D":
        return 5 if config.get("return_sequences") else 4
    if class_name in ("Bidirectional", "TimeDistributed"):
        inner = config.get("layer")
        if not isinstance(inner, Mapping):
            return None
        if class_name == "Bidirectional":
            return output_rank(str(inner.get("class_name")), _config(inner), rank)
        inner_rank = output_rank(str(inner.get("class_name")), _config(inner), rank - 1)
        return None if inner_rank is None else inner_rank + 1
    return rank  # convolutions, pooling, normalisation, activations, merges, padding, ...


def _inbound_names(layer: Mapping[str, Any]) -> list[str]:
    nodes = layer.get("inbound_nodes")
    if not isinstance(nodes, list) or not nodes or not isinstance(nodes[0], list):
        return []
    return [str(t[0]) for t in nodes[0] if isinstance(t, (list, tuple)) and t]


def input_ranks(model_config: Mapping[str, Any]) -> dict[str, Optional[int]]:
    """``{layer name: rank of its first input or None}`` for the top-level layers of the model."""
    config = _config(model_config)
    layers = config.get("layers") if isinstance(config, Mapping) else None
    if not isinstance(layers, list):
        return {}
    sequential = model_config.get("class_name") == "Sequential"
    ranks: dict[str, Optional[int]] = {}
    out_ranks: dict[str, Optional[int]] = {}
    previous: Optional[int] = None
    for layer in layers:
        if not isinstance(layer, Mapping):
            continue
        class_name, layer_config = str(layer.get("class_name")), _config(layer)
        name = str(layer.get("name") or layer_config.get("name") or "")
        if class_name == "InputLayer" or (sequential and previous is None):
            rank = _shape_rank(layer_config)
        elif sequential:
            rank = previous
        else:
            inbound = _inbound_names(layer)
            rank = out_ranks.get(inbound[0]) if inbound else None
        ranks[name] = rank
        out = output_rank(class_name, layer_config, rank)
        out_ranks[name] = out
        previous = out
    return ranks


def masked_inputs(model_config: Mapping[str, Any]) -> set[str]:
    """Top-level layers whose input carries a Keras mask (padding steps of a sequence).

    Masks start at ``Embedding(mask_zero=True)`` and ``Masking``, pass through the layers of
    MASK_CARRIERS (a merge layer is masked when any input is) and through recurrent layers that
    return sequences, and end anywhere else, as in Keras. Nested models are not followed."""
    config = _config(model_config)
    layers = config.get("layers") if isinstance(config, Mapping) else None
    if not isinstance(layers, list):
        return set()
    sequential = model_config.get("class_name") == "Sequential"
    masked_out: dict[str, bool] = {}
    receiving: set[str] = set()
    previous = False
    for layer in layers:
        if not isinstance(layer, Mapping):
            continue
        class_name, layer_config = str(layer.get("class_name")), _config(layer)
        name = str(layer.get("name") or layer_config.get("name") or "")
        masked_in = previous if sequential else any(masked_out.get(n, False) for n in _inbound_names(layer))
        if masked_in:
            receiving.add(name)
        previous = masked_out[name] = _masks_output(class_name, layer_config, masked_in)
    return receiving


def _masks_output(class_name: str, config: Mapping[str, Any], masked_in: bool) -> bool:
    if class_name == "Embedding":
        return bool(config.get("mask_zero"))
    if class_name == "Masking":
        return True
    if class_name in MASK_SEQUENCE_LAYERS:
        inner = config.get("layer") if class_name == "Bidirectional" else None
        options = _config(inner) if isinstance(inner, Mapping) else config
        return masked_in and bool(options.get("return_sequences"))
    return masked_in and class_name in MASK_CARRIERS


# --- static shapes: a Keras-config-level check ---------------------------------------------------
# Ranks above tell what pre-flight options mean; shapes below catch configs that load but cannot
# run (a Reshape to another element count, an UpSampling by 2**20, a 2**40 pool window): the
# layers path writes a config, so nothing later would see the graph. Shapes flow from the
# InputLayer shapes like ranks do; ``None`` dims (the batch, dynamic sizes) are unknown and never
# trip a check, and a layer without a dimension rule passes its rank on with unknown dims.

Shape = tuple[Optional[int], ...]
_SAME_SHAPE = frozenset({
    "Activation", "ReLU", "LeakyReLU", "PReLU", "ELU", "ThresholdedReLU", "Softmax", "Dropout",
    "SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D", "GaussianNoise", "GaussianDropout",
    "AlphaDropout", "BatchNormalization", "LayerNormalization", "Masking", "Rescaling",
})
_WINDOWED = {"Conv1D": 1, "Conv2D": 2, "Conv3D": 3, "SeparableConv1D": 1, "SeparableConv2D": 2,
             "DepthwiseConv1D": 1, "DepthwiseConv2D": 2, "Conv1DTranspose": 1, "Conv2DTranspose": 2,
             "Conv3DTranspose": 3, "MaxPooling1D": 1, "MaxPooling2D": 2, "MaxPooling3D": 3,
             "AveragePooling1D": 1, "AveragePooling2D": 2, "AveragePooling3D": 3,
             "LocallyConnected1D": 1, "LocallyConnected2D": 2}
_RESAMPLED = {"UpSampling1D": 1, "UpSampling2D": 2, "UpSampling3D": 3, "ZeroPadding1D": 1,
              "ZeroPadding2D": 2, "ZeroPadding3D": 3, "Cropping1D": 1, "Cropping2D": 2, "Cropping3D": 3}


class LayerShapeError(ValueError):
    """The layer config cannot run (the message says why)."""


def _int_tuple(value: Any, rank: int) -> Optional[tuple[int, ...]]:
    if value is None:
        return None
    items = [value] * rank if isinstance(value, int) and not isinstance(value, bool) else value
    if not isinstance(items, (list, tuple)) or len(items) != rank:
        return None
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in items):
        return None
    return tuple(items)


def _window_values(config: Mapping[str, Any], rank: int, key: str) -> Optional[tuple[int, ...]]:
    # keras/validate.py has refused values outside 1..limits.MAX_WINDOW_EXTENT already.
    values = _int_tuple(config.get(key), rank)
    return values if values is not None and min(values, default=1) >= 1 else None


def _pairs(value: Any, rank: int, what: str) -> Optional[list[tuple[int, int]]]:
    if isinstance(value, int) and not isinstance(value, bool):
        pairs = [(value, value)] * rank
    elif isinstance(value, (list, tuple)) and rank == 1 and len(value) == 2 and all(isinstance(v, int) for v in value):
        pairs = [(int(value[0]), int(value[1]))]
    elif isinstance(value, (list, tuple)) and len(value) == rank:
        pairs = []
        for item in value:
            if isinstance(item, int) and not isinstance(item, bool):
                pairs.append((item, item))
            elif isinstance(item, (list, tuple)) and len(item) == 2 and all(isinstance(v, int) for v in item):
                pairs.append((int(item[0]), int(item[1])))
            else:
                return None
    else:
        return None
    if any(a < 0 or b < 0 for a, b in pairs):
        raise LayerShapeError(f"{what} {[list(p) for p in pairs]} has a negative entry")
    return pairs


def _spatial_axes(config: Mapping[str, Any], rank: int) -> list[int]:
    first = config.get("data_format") == "channels_first"
    return list(range(2, 2 + rank)) if first else list(range(1, 1 + rank))


def _windowed(class_name: str, config: Mapping[str, Any], shape: Shape) -> Shape:
    rank = _WINDOWED[class_name]
    pooling = "Pooling" in class_name
    kernel = _window_values(config, rank, "pool_size" if pooling else "kernel_size")
    strides = _window_values(config, rank, "strides") or (kernel if pooling else None) or (1,) * rank
    dilation = _window_values(config, rank, "dilation_rate") or (1,) * rank
    if len(shape) != rank + 2:
        return (None,) * len(shape)
    padding = config.get("padding", "valid")
    transposed = class_name.endswith("Transpose")
    out = list(shape)
    axes = _spatial_axes(config, rank)
    for i, axis in enumerate(axes):
        size = shape[axis]
        span = None if kernel is None else (kernel[i] - 1) * dilation[i] + 1
        if span is not None and span > MAX_WINDOW_EXTENT:
            raise LayerShapeError(f"the dilated kernel spans {span} positions (over {MAX_WINDOW_EXTENT})")
        if span is None or size is None or (transposed and config.get("output_padding") is not None):
            out[axis] = None
            continue
        if transposed:
            out[axis] = size * strides[i] + (max(span - strides[i], 0) if padding == "valid" else 0)
            continue
        length = size if padding in ("same", "causal") else size - span + 1
        if length < 1 and size > 0:
            raise LayerShapeError(f"a window spanning {span} positions does not fit in a dimension of {size} "
                                  f"(padding={padding!r})")
        out[axis] = -(-length // strides[i])
    channel_axis = 1 if config.get("data_format") == "channels_first" else len(shape) - 1
    filters = config.get("filters")
    if isinstance(filters, int) and not isinstance(filters, bool):
        out[channel_axis] = filters
    elif class_name.startswith("Depthwise"):
        multiplier = config.get("depth_multiplier", 1)
        channels = shape[channel_axis]
        out[channel_axis] = channels * multiplier if channels is not None and isinstance(multiplier, int) else None
    return tuple(out)


def _resampled(class_name: str, config: Mapping[str, Any], shape: Shape) -> Shape:
    rank = _RESAMPLED[class_name]
    if len(shape) != rank + 2:
        return (None,) * len(shape)
    axes = _spatial_axes(config, rank)
    out = list(shape)
    if class_name.startswith("UpSampling"):
        size = _window_values({"size": 2, **config}, rank, "size")
        for i, axis in enumerate(axes):
            out[axis] = None if size is None or shape[axis] is None else shape[axis] * size[i]  # type: ignore[operator]
        return tuple(out)
    key = "padding" if class_name.startswith("ZeroPadding") else "cropping"
    pairs = _pairs(config.get(key, 1), rank, key)
    sign = 1 if key == "padding" else -1
    for i, axis in enumerate(axes):
        if pairs is None or shape[axis] is None:
            out[axis] = None
            continue
        out[axis] = shape[axis] + sign * (pairs[i][0] + pairs[i][1])  # type: ignore[operator]
        if out[axis] < 0:  # type: ignore[operator]
            raise LayerShapeError(f"cropping {[list(p) for p in pairs]} removes more than the dimension of "
                                  f"{shape[axis]}")
    return tuple(out)


def _reshape(config: Mapping[str, Any], shape: Shape) -> Optional[Shape]:
    target = config.get("target_shape")
    if not isinstance(target, (list, tuple)) or not all(isinstance(d, int) and not isinstance(d, bool)
                                                        for d in target):
        return None
    if any(d < -1 for d in target) or list(target).count(-1) > 1:
        raise LayerShapeError(f"target_shape {list(target)} has sizes below -1 or more than one -1")
    inner = shape[1:]
    total = None if None in inner else math.prod(d for d in inner if d is not None)
    rest = math.prod(d for d in target if d != -1)
    if -1 not in target:
        if total is not None and total != rest:
            raise LayerShapeError(f"target_shape {list(target)} holds {rest} elements but the input "
                                  f"{list(inner)} holds {total}")
        return (shape[0], *target)
    if total is None:
        return (shape[0], *(None if d == -1 else d for d in target))
    if rest == 0 or total % rest:
        raise LayerShapeError(f"the input {list(inner)} ({total} elements) cannot be reshaped to {list(target)}")
    return (shape[0], *(total // rest if d == -1 else d for d in target))


def _positive(config: Mapping[str, Any], key: str) -> Optional[int]:
    value = config.get(key)
    if not isinstance(value, int) or isinstance(value, bool):
        return None
    if value < 1:
        raise LayerShapeError(f"{key}={value} is not positive")
    return value


def output_shape(class_name: str, config: Mapping[str, Any], shape: Optional[Shape]) -> Optional[Shape]:
    """Static shape of a layer's first output from its (first) input's, where the config tells it;
    unknown dims are None. Raises LayerShapeError when the config cannot run on that input."""
    rank = output_rank(class_name, config, None if shape is None else len(shape))
    if class_name == "InputLayer":
        for key in ("batch_input_shape", "batch_shape"):
            declared = config.get(key)
            if isinstance(declared, (list, tuple)):
                return tuple(d if isinstance(d, int) and not isinstance(d, bool) and d >= 0 else None
                             for d in declared)
        return None
    if shape is None or rank is None:
        return None
    out: Optional[Shape] = None
    if class_name in _SAME_SHAPE:
        out = shape
    elif class_name in _WINDOWED:
        out = _windowed(class_name, config, shape)
    elif class_name in _RESAMPLED:
        out = _resampled(class_name, config, shape)
    elif class_name == "Reshape":
        out = _reshape(config, shape)
    elif class_name == "Flatten" and len(shape) >= 2:
        out = (shape[0], None if None in shape[1:] else math.prod(d for d in shape[1:] if d is not None))
    elif class_name == "Dense":
        units = _positive(config, "units")
        out = (*shape[:-1], units) if shape else None
    elif class_name == "RepeatVector" and len(shape) == 2:
        out = (shape[0], _positive(config, "n"), shape[1])
    elif class_name == "Embedding":
        out = (*shape, _positive(config, "output_dim"))
    elif class_name == "Permute":
        dims = config.get("dims")
        if isinstance(dims, (list, tuple)) and sorted(dims) != list(range(1, len(shape))):
            raise LayerShapeError(f"dims {list(dims)} is not a permutation of the input's axes 1..{len(shape) - 1}")
        if isinstance(dims, (list, tuple)):
            out = (shape[0], *(shape[d] for d in dims))
    return out if out is not None and len(out) == rank else (None,) * rank


def _first_inbound(layer: Mapping[str, Any]) -> Optional[tuple[str, int]]:
    nodes = layer.get("inbound_nodes")
    if not isinstance(nodes, list) or not nodes or not isinstance(nodes[0], list) or not nodes[0]:
        return None
    first = nodes[0][0]
    if not isinstance(first, (list, tuple)) or len(first) < 3 or first[1] != 0 or first[2] != 0:
        return None  # another call of a shared layer, or another output: its shape is not tracked
    return str(first[0]), 0


def layer_shape_problems(model_config: Mapping[str, Any], input_shape: Optional[Shape] = None,
                         prefix: str = "") -> list[tuple[str, str, str]]:
    """``(layer name, class name, problem)`` for every layer whose config cannot run on the static
    shape it receives: a shape contradiction, a window/size attribute out of range, or an output
    statically over ``limits.MAX_STATIC_TENSOR_ELEMENTS`` (unknown dims count as 1). Nested models
    are checked too (a nested Sequential without its own input shape gets its caller's input);
    their layers are named ``outer/inner``."""
    config = _config(model_config)
    layers = config.get("layers") if isinstance(config, Mapping) else None
    if not isinstance(layers, list):
        return []
    sequential = model_config.get("class_name") == "Sequential"
    outputs: dict[str, Optional[Shape]] = {}
    previous: Optional[Shape] = None
    problems: list[tuple[str, str, str]] = []
    for index, layer in enumerate(layers):
        if not isinstance(layer, Mapping):
            continue
        class_name, layer_config = str(layer.get("class_name")), _config(layer)
        name = str(layer.get("name") or layer_config.get("name") or "")
        if sequential and index == 0:
            shape = output_shape("InputLayer", layer_config, None) or input_shape  # its batch_input_shape
        elif sequential:
            shape = previous
        else:
            inbound = _first_inbound(layer)
            shape = outputs.get(inbound[0]) if inbound else None
        if class_name in ("Sequential", "Functional", "Model"):
            problems.extend(layer_shape_problems(layer, shape, f"{prefix}{name}/"))
        try:
            out = output_shape(class_name, layer_config, shape)
        except LayerShapeError as e:
            problems.append((prefix + name, class_name, str(e)))
            out = None
        if out is not None and _known_elements(out) > MAX_STATIC_TENSOR_ELEMENTS:
            problems.append((prefix + name, class_name, f"its output has the static shape {_fmt(out)}, at least "
                             f"{_known_elements(out)} elements (over the {MAX_STATIC_TENSOR_ELEMENTS} a "
                             "TF.js tensor may hold)"))
            out = None
        outputs[name] = out
        previous = out
    return problems


def _known_elements(shape: Shape) -> int:
    return math.prod(1 if d is None else d for d in shape)


def _fmt(shape: Shape) -> str:
    return "[" + ", ".join("?" if d is None else str(d) for d in shape) + "]"
