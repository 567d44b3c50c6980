"""The rank of each layer's input in a (tfjs-form) Keras model config, where the config tells it.

The pre-flight check needs it for options whose meaning depends on the rank: tfjs-layers 4.22
computes a ``BatchNormalization`` or ``Softmax`` over a non-last axis wrongly (or not at all),
and tf.keras 2 stores axes as positive indices (``axis: [3]`` is the last axis of an image, but
``axis: [1]`` of an image is its height).  Ranks flow from the ``InputLayer`` shapes through a
small table of layer rules; a layer whose rank cannot be known from its config alone (nested
models, ``Dot``, custom classes) yields None and stops the flow along that path.
"""

from __future__ import annotations

from typing import Any, Mapping, Optional

__all__ = ["input_ranks"]

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
