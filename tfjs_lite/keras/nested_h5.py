"""A nested Sequential in a Keras 2 HDF5 config, written so that tf_keras 2.x and Keras 3 both load it.

tf_keras (and tfjs-layers) build a nested Sequential that has an InputLayer as a graph of its own
(its node 0) and number the outer model's calls from 1; Keras 3's legacy loader numbers them from
0 and cannot wire such a file. Without the InputLayer neither builds the nested model before the
outer model calls it, and both number that call 0. TF.js, however, needs the input shape of a
Sequential's first layer, so the HDF5 writer keeps the InputLayer's config under
:data:`INPUT_LAYER_KEY` of the nested model's config (both Keras ignore unknown keys there) and
the HDF5 reader puts it back (:func:`restore_sequential_inputs`), with the numbering from 1.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from tfjs_lite.keras.layers import MODEL_CLASSES

__all__ = ["INPUT_LAYER_KEY", "node_refs", "restore_sequential_inputs"]

INPUT_LAYER_KEY = "tfjs_lite_input_layer"


def node_refs(obj: Any) -> Iterator[list[Any]]:
    """``[layer name, node index, tensor index(, kwargs)]`` leaves of inbound_nodes / output_layers."""
    if isinstance(obj, list):
        if len(obj) >= 3 and isinstance(obj[0], str) and isinstance(obj[1], int) and isinstance(obj[2], int):
            yield obj
            return
        for item in obj:
            yield from node_refs(item)


def restore_sequential_inputs(model_config: Any) -> None:
    """In place: every nested Sequential with :data:`INPUT_LAYER_KEY` gets its InputLayer back,
    and the outer model's references to it are numbered from 1 again (tf_keras' form).

    Runs before the config is validated, so anything malformed is left for validation to refuse.
    """
    if not isinstance(model_config, dict) or model_config.get("class_name") not in MODEL_CLASSES:
        return
    cfg = model_config.get("config")
    layers = cfg.get("layers") if isinstance(cfg, dict) else None
    if not isinstance(cfg, dict) or not isinstance(layers, list):
        return
    layers = [layer for layer in layers if isinstance(layer, dict)]
    restored = set()
    for layer in layers:
        restore_sequential_inputs(layer)
        inner = layer.get("config")
        if layer.get("class_name") != "Sequential" or not isinstance(inner, dict):
            continue
        saved, sublayers = inner.get(INPUT_LAYER_KEY), inner.get("layers")
        if isinstance(saved, dict) and isinstance(sublayers, list) and isinstance(inner.get("name"), str):
            sublayers.insert(0, inner.pop(INPUT_LAYER_KEY))
            restored.add(inner["name"])
    if restored:
        for ref in [r for layer in layers for r in node_refs(layer.get("inbound_nodes"))] + list(
                node_refs(cfg.get("output_layers"))):
            if ref[0] in restored:
                ref[1] += 1
