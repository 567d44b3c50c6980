"""Make a Keras 2 style model config loadable by both tf_keras and Keras 3 (shared by the Keras writers).

* Keys tf_keras 2.x writes that Keras 3 refuses, and keys Keras 3 writes that tf_keras refuses,
  are dropped where their value is the default the other side assumes anyway.
* Nested models built on an Input: tf_keras (and tfjs-layers) number their calls from 1 (node 0 is
  the model's own graph), Keras 3 from 0. :func:`nested_node_offsets` tells the two apart,
  :func:`shift_refs` renumbers. A nested Sequential's InputLayer moves aside in the HDF5 config
  (:mod:`tfjs_lite.keras.nested_h5`): then neither Keras builds it before the outer model calls
  it and both number that call 0; the weights (an InputLayer has none) stay where they are.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from tfjs_lite.keras.layers import is_model_class, layer_config, layer_name
from tfjs_lite.keras.nested_h5 import INPUT_LAYER_KEY, node_refs

__all__ = ["drop_refused_keys", "keras3_compatible_config", "nested_node_offsets", "shift_refs"]


# Keys tf_keras 2.x writes that Keras 3 refuses ("Unrecognized keyword arguments"), with the
# condition under which dropping them changes nothing for tf_keras (None: always).
_KERAS3_REFUSED_KEYS: dict[str, list[tuple[str, Any]]] = {
    "DepthwiseConv1D": [("groups", 1)],
    "DepthwiseConv2D": [("groups", 1)],
    "SeparableConv1D": [
        ("groups", 1),
        ("kernel_initializer", None),
        ("kernel_regularizer", None),
        ("kernel_constraint", None),
    ],
    "SeparableConv2D": [
        ("groups", 1),
        ("kernel_initializer", None),
        ("kernel_regularizer", None),
        ("kernel_constraint", None),
    ],
    "Conv1DTranspose": [("groups", 1)],
    "Conv2DTranspose": [("groups", 1)],
    "Conv3DTranspose": [("groups", 1)],
    "LSTM": [("time_major", False)],
    "GRU": [("time_major", False)],
    "SimpleRNN": [("time_major", False)],
}


# Keys Keras 3 writes that tf_keras 2.x refuses, dropped when they hold Keras' default (which
# is what tf_keras does anyway), for any class.
_TF_KERAS_REFUSED_KEYS: dict[str, Any] = {
    "quantization_config": None,
    "lora_rank": None,
    "lora_alpha": None,
    "input_axes": None,
    "output_axes": None,
    "rms_scaling": False,
    "optional": False,
}

# Keys Keras 3 writes that tf_keras 2.x refuses on these classes only ("Keyword argument not
# understood"; its LSTM, GRU and the cells do take a ``seed``), dropped whatever their value: the
# seed only draws the dropout masks of training, which tf_keras draws from its global seed, so
# inference is the same.
_TF_KERAS_REFUSED_CLASS_KEYS: dict[str, tuple[str, ...]] = {
    "ConvLSTM2D": ("seed",),
    "SimpleRNN": ("seed",),
}


def _class_configs(obj: Any) -> Iterator[tuple[str, dict[str, Any]]]:
    """``(class_name, config)`` of every ``{"class_name", "config"}`` object in ``obj``, outside in.

    The caller may delete keys of each ``config`` before the walk descends into it.
    """
    if isinstance(obj, list):
        for item in obj:
            yield from _class_configs(item)
        return
    if not isinstance(obj, dict):
        return
    cfg = obj.get("config")
    if isinstance(obj.get("class_name"), str) and isinstance(cfg, dict):
        yield obj["class_name"], cfg
    for value in obj.values():
        yield from _class_configs(value)


def drop_refused_keys(obj: Any) -> None:
    """Drop, in place, the keys of :data:`_KERAS3_REFUSED_KEYS` that hold tf_keras' default."""
    for class_name, cfg in _class_configs(obj):
        for key, when in _KERAS3_REFUSED_KEYS.get(class_name, []):
            if key in cfg and (when is None or cfg[key] == when or cfg[key] is None):
                del cfg[key]


def _drop_keras3_only_keys(obj: Any) -> None:
    """Drop, in place, the keys of :data:`_TF_KERAS_REFUSED_KEYS` that hold Keras' default and
    those of :data:`_TF_KERAS_REFUSED_CLASS_KEYS`."""
    for class_name, cfg in _class_configs(obj):
        for key, default in _TF_KERAS_REFUSED_KEYS.items():
            if key in cfg and cfg[key] == default and (default is not None or cfg[key] is None):
                del cfg[key]
        for key in _TF_KERAS_REFUSED_CLASS_KEYS.get(class_name, ()):
            cfg.pop(key, None)


def keras3_compatible_config(
    model_config: dict[str, Any],
) -> tuple[dict[str, Any], list[str]]:
    """A copy of a Keras 2 model config that Keras 3's legacy loader accepts as well as tf_keras.

    * drops keys Keras 3 refuses where tf_keras' default is the same value
      (``groups=1`` of depthwise/separable convolutions, ``time_major=False`` of RNNs, the unused
      ``kernel_*`` of SeparableConv);
    * nested models built on an Input: tf_keras (and tfjs-layers) number the calls of such a model
      from 1 (node 0 is its own graph), Keras 3 from 0. A nested Sequential is written without its
      InputLayer and renumbered from 0, which both read alike; a nested Functional is reported
      (Keras 3's legacy loader cannot wire it; the ``.keras`` writer renumbers it instead);
    * drops Keras 3 keys tf_keras refuses when they hold the default (``quantization_config``,
      initializers' ``input_axes``/``output_axes`` …) and the ``seed`` of ConvLSTM2D/SimpleRNN,
      for topologies that came from Keras 3.

    Returns:
        The new config and a list of what could not be made compatible (empty when all is well).
    """
    config = json.loads(json.dumps(model_config))
    problems: list[str] = []
    drop_refused_keys(config)
    _drop_keras3_only_keys(config)
    _unbuild_nested_sequentials(config)
    _nested_model_problems(config, problems)
    return config, problems


def _unbuild_nested_sequentials(model_config: dict[str, Any]) -> None:
    """In place: nested Sequential models numbered from 1 lose what builds them on load (their
    InputLayer, ``build_input_shape``, a first layer's ``batch_input_shape``) and their calls are
    renumbered from 0, which tf_keras 2.x and Keras 3 both read the same way."""
    cfg = model_config.get("config")
    if not is_model_class(model_config) or not isinstance(cfg, dict):
        return
    layers = cfg.get("layers") or []
    for layer in layers:
        _unbuild_nested_sequentials(layer)
    if model_config.get("class_name") == "Sequential":
        return
    shifted = set()
    for name, offset in nested_node_offsets(model_config).items():
        nested = next(layer for layer in layers if layer_name(layer) == name)
        inner = nested.get("config")
        if not offset or nested.get("class_name") != "Sequential" or not isinstance(inner, dict):
            continue
        sublayers = inner.get("layers") or []
        if not sublayers or sublayers[0].get("class_name") != "InputLayer":
            continue
        inner[INPUT_LAYER_KEY] = sublayers.pop(0)  # for TF.js: see tfjs_lite.keras.nested_h5
        inner.pop("build_input_shape", None)
        shifted.add(name)
    shift_refs(layers, cfg, shifted)


def nested_node_offsets(model_config: dict[str, Any]) -> dict[str, int]:
    """For each nested model of a Functional config: 1 if its node indices start at 1, else 0.

    tf_keras does not serialize the first node of a nested model built with an Input (its own
    graph), so the outer calls are numbered from 1; Keras 3 and models saved otherwise number
    from 0. A reference to node ``len(inbound_nodes)`` or beyond tells the two apart.
    """
    cfg = layer_config(model_config)
    layers = cfg.get("layers") or []
    refs = [r for layer in layers for r in node_refs(layer.get("inbound_nodes"))]
    refs += list(node_refs(cfg.get("output_layers")))
    offsets: dict[str, int] = {}
    for layer in layers:
        if not is_model_class(layer):
            continue
        name = layer_name(layer)
        count = len(layer.get("inbound_nodes") or [])
        used = [r[1] for r in refs if r[0] == name]
        offsets[name] = 1 if used and max(used) >= count else 0
    return offsets


def shift_refs(
    layers: list[dict[str, Any]], cfg: dict[str, Any], shifted: set
) -> None:
    for ref in [
        r for layer in layers for r in node_refs(layer.get("inbound_nodes"))
    ] + list(node_refs(cfg.get("output_layers"))):
        if ref[0] in shifted and ref[1] > 0:
            ref[1] -= 1


def _nested_model_problems(model_config: dict[str, Any], problems: list[str]) -> None:
    """Nested models whose node numbering only one of tf_keras / Keras 3 understands."""
    if not is_model_class(model_config):
        return
    cfg = model_config.get("config")
    if not isinstance(cfg, dict):
        return
    layers = cfg.get("layers") or []
    for layer in layers:
        if is_model_class(layer):
            _nested_model_problems(layer, problems)
    if model_config.get("class_name") == "Sequential":
        return
    for name, offset in nested_node_offsets(model_config).items():
        if offset:
            # tfjs-layers and tf_keras count the nested model's own graph as node 0; Keras 3 does not.
            problems.append(
                f"nested model {name!r}: Keras 3 numbers its nodes from 0 and cannot load it from HDF5"
            )
