"""Pair stored Keras weights with the names tfjs-layers matches (``LayerVariable.originalName``).

Keras 3 files do not name weights after layers. A ``.keras`` archive stores a layer's variables at
``layers/<snake_class>[_k]/vars/<i>`` where ``<snake_class>`` is the snake-cased Python class name
made unique per container (``dense``, ``dense_1``, ``input_layer``) in ``model.layers`` order —
a Sequential's ``layers`` skip its InputLayer, a Functional's include them. Sub-objects hang off
attribute names: ``<rnn>/cell/vars``, ``<bidirectional>/forward_layer/cell/vars``,
``<time_distributed>/layer/vars``, nested models ``<model>/layers/...``. Keras 3 ``.h5`` files list
each top-level layer's weights positionally (Keras's own legacy loader is positional too).

So both are resolved by walking the model config in layer order and computing, per layer, its
weights in Keras order (:func:`plan_weights`), named the way tf.keras 2 names them: ``dense/kernel``,
``lstm/lstm_cell/kernel``, ``bi/forward_gru/gru_cell/kernel``, ``td/kernel``; inner layers of nested
models by their own name. tfjs-layers resolves the ``.../cell/...`` form by dropping the
second-to-last segment, exactly as for files made by the official converter.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Iterator, Mapping, Optional

from tfjs_lite.keras.layers import CELL_GATES, MODEL_CLASSES, SUBLAYERS, cell_of, own_weights, to_snake_case

__all__ = ["LayerPlan", "WeightSlot", "plan_weights"]



@dataclass
class WeightSlot:
    """One weight a layer owns: its tfjs name, where a ``.keras`` archive keeps it, and its owner."""

    name: str
    archive_path: str  # e.g. "layers/lstm/cell/vars/0"
    owner: str  # the (sub-)layer that creates it, for messages and shape checks
    owner_class: str
    owner_config: Mapping[str, Any]
    leaf: str  # "kernel", "bias", ...
    trainable: bool = True  # False for BN statistics and for weights of frozen (sub-)layers


@dataclass
class LayerPlan:
    """All weights of one top-level layer, in Keras order. ``opaque``: a class we cannot plan."""

    name: str
    class_name: str
    archive_path: str
    slots: list[WeightSlot] = field(default_factory=list)
    opaque: bool = False

    def legacy_h5_slots(self) -> list[WeightSlot]:
        """The slots in the order HDF5 files store them: trainable weights first, then the rest.

        Both tf.keras 2 and Keras 3's legacy writer save ``trainable_weights + non_trainable_weights``,
        which differs from :attr:`slots` for nested models holding BatchNormalization or frozen layers.
        """
        return [s for s in self.slots if s.trainable] + [s for s in self.slots if not s.trainable]


def _layers_of(model: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    config = model.get("config")
    layers = config.get("layers") if isinstance(config, Mapping) else config
    return [layer for layer in layers or [] if isinstance(layer, Mapping)]


def _container(model: Mapping[str, Any], path: str) -> Iterator[tuple[Mapping[str, Any], str]]:
    """(layer config, archive path) for the layers a model tracks, with Keras's unique snake names."""
    used: dict[str, int] = {}
    sequential = model.get("class_name") == "Sequential"
    for layer in _layers_of(model):
        class_name = str(layer.get("class_name"))
        if sequential and class_name == "InputLayer":
            continue
        key = to_snake_case(class_name.split(">")[-1])
        if key in used:
            used[key] += 1
            key = f"{key}_{used[key]}"
        else:
            used[key] = 0
        yield layer, f"{path}/{key}" if path else key


def _name(layer: Mapping[str, Any]) -> str:
    config = _config(layer)
    return str(layer.get("name") or config.get("name") or "")


def plan_weights(model_config: Mapping[str, Any]) -> list[LayerPlan]:
    """Per top-level layer (``model.layers`` order), its weights with tfjs names and archive paths."""
    plans = []
    for layer, path in _container(model_config, "layers"):
        plan = LayerPlan(name=_name(layer), class_name=str(layer.get("class_name")), archive_path=path)
        plan.opaque = not _plan_layer(layer, path, _name(layer), plan.slots)
        plans.append(plan)
    return plans


def _config(layer: Mapping[str, Any]) -> Mapping[str, Any]:
    config = layer.get("config")
    return config if isinstance(config, Mapping) else {}


# Weights Keras keeps out of trainable_weights even in a trainable layer.
_STATISTICS = frozenset({"moving_mean", "moving_variance"})


def _plan_layer(
    layer: Mapping[str, Any], path: str, prefix: str, out: list[WeightSlot], *, trainable: bool = True
) -> bool:
    """Append the slots of ``layer`` (names start with ``prefix``); False if its layout is unknown."""
    class_name = str(layer.get("class_name"))
    config = _config(layer)
    name = _name(layer)
    trainable = trainable and config.get("trainable", True) is not False
    first = len(out)
    if class_name in MODEL_CLASSES:
        for inner, inner_path in _container(layer, f"{path}/layers"):
            if not _plan_layer(inner, inner_path, _name(inner), out, trainable=trainable):
                return False
        return True
    known = _plan_leaf_layer(class_name, config, name, path, prefix, out)
    for index in range(first, len(out)):
        slot = out[index]
        if not trainable or slot.leaf in _STATISTICS:
            out[index] = dataclasses.replace(slot, trainable=False)
    return known


def _plan_leaf_layer(
    class_name: str,
    config: Mapping[str, Any],
    name: str,
    path: str,
    prefix: str,
    out: list[WeightSlot],
) -> bool:
    if class_name == "Bidirectional":
        inner = config.get("layer")
        if not isinstance(inner, Mapping) or config.get("backward_layer") is not None:
            return False
        inner_name = _name(inner)
        return _plan_layer(inner, f"{path}/forward_layer", f"{prefix}/forward_{inner_name}", out) and _plan_layer(
            inner, f"{path}/backward_layer", f"{prefix}/backward_{inner_name}", out
        )
    if class_name == "TimeDistributed":
        inner = config.get("layer")
        if not isinstance(inner, Mapping) or str(inner.get("class_name")) in MODEL_CLASSES:
            return False
        return _plan_layer(inner, f"{path}/layer", prefix, out)
    if class_name in SUBLAYERS:
        for segment, attribute in SUBLAYERS[class_name]:
            _append(out, "Dense", config, f"{path}/{attribute}", f"{prefix}/{segment}", name)
        return True
    cell = cell_of(class_name, config)
    if cell is not None:
        cell_class, cell_config, cell_name = cell
        if cell_class not in CELL_GATES:
            return False
        _append(out, cell_class, cell_config, f"{path}/cell", f"{prefix}/{cell_name}", name)
        return True
    _append(out, class_name, config, path, prefix, name)
    return True


def _append(
    out: list[WeightSlot], class_name: str, config: Mapping[str, Any], path: str, prefix: str, owner: str
) -> None:
    for index, leaf in enumerate(own_weights(class_name, config)):
        out.append(
            WeightSlot(
                name=f"{prefix}/{leaf}",
                archive_path=f"{path}/vars/{index}",
                owner=owner,
                owner_class=class_name,
                owner_config=config,
                leaf=leaf,
            )
        )


def vars_group_name(attrs: Mapping[str, Any]) -> Optional[str]:
    """The real layer name recent Keras 3 versions store on each ``vars`` group, if any."""
    value = attrs.get("name")
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value if isinstance(value, str) else None
