"""Keras 3's explicit sequence masks → the implicit ones tfjs-layers computes itself (layers path).

Keras 3 writes a functional model's masks into its config: ``Embedding(mask_zero=True)`` on a
tensor ``ids`` leaves an ``ops.NotEqual(ids, 0)`` node, ``Masking(mask_value=v)`` on ``x`` an
``ops.Any(ops.NotEqual(x, v), axis=-1)`` chain, and each layer that uses the mask (an RNN, a
Bidirectional) gets it as a ``mask=`` argument. tfjs-layers has neither the operations nor mask
arguments, but computes the very same masks from the same ``Embedding`` and ``Masking`` layers and
passes them along as tf.keras 2 did. So where every mask argument is one of those two patterns, on
a layer the mask would reach implicitly anyway (``keras/ranks.py`` ``masked_inputs``), the
arguments and the mask operations are dropped and the model is the tf.keras 2 model tfjs-layers
loads; the pre-flight check then holds it to the layers in which tfjs-layers treats masks as
Keras does. Anything else (a mask computed another way, a mask operation used for something
else) is left as it is, and refused as before.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any, Optional

from tfjs_lite.keras.config import OP_CLASS_PREFIX, POSITIONAL_KEY, TENSOR_ARGUMENT
from tfjs_lite.keras.layers import MASK_SEQUENCE_LAYERS
from tfjs_lite.keras.preflight import LayerIssue
from tfjs_lite.keras.ranks import masked_inputs

__all__ = ["MASK_USERS", "drop_implicit_masks"]

_NOT_EQUAL = OP_CLASS_PREFIX + "NotEqual"
_ANY = OP_CLASS_PREFIX + "Any"
_MASK_ARGUMENT = f"{TENSOR_ARGUMENT} 'mask'"
# the layers that read a mask reaching them (the rest pass it on or drop it)
MASK_USERS = MASK_SEQUENCE_LAYERS | {"TimeDistributed", "GlobalAveragePooling1D"}


def drop_implicit_masks(model_config: dict[str, Any], issues: list[LayerIssue]) -> tuple[dict[str, Any], list[LayerIssue]]:
    """The (tfjs-form, Keras 3) config without its mask plumbing, and the issues left, when every
    mask argument is one tfjs-layers recomputes; otherwise both unchanged."""
    config = model_config.get("config")
    if model_config.get("class_name") == "Sequential" or not isinstance(config, Mapping):
        return model_config, issues
    layers = [layer for layer in config.get("layers") or [] if isinstance(layer, Mapping)]
    by_name = {str(layer.get("name")): layer for layer in layers}
    consumers: dict[str, set[str]] = {}  # mask operation -> the layers given it as their mask
    for layer in layers:
        for kwargs in _node_kwargs(layer):
            mask = kwargs.get("mask")
            if mask is None:
                continue
            if not (isinstance(mask, list) and len(mask) == 3 and _is_implicit(str(mask[0]), by_name)):
                return model_config, issues
            consumers.setdefault(str(mask[0]), set()).add(str(layer.get("name")))
    if not consumers:
        return model_config, issues
    dropped = set(consumers) | {_inner(by_name[name]) for name in consumers if by_name[name]["class_name"] == _ANY}
    if _used_otherwise(config, layers, dropped):
        return model_config, issues
    out = copy.deepcopy(model_config)
    out_config = out["config"]
    out_config["layers"] = [layer for layer in out_config["layers"]
                            if not (isinstance(layer, Mapping) and str(layer.get("name")) in dropped)]
    for layer in out_config["layers"]:
        for kwargs in _node_kwargs(layer):
            kwargs.pop("mask", None)
    receivers = set().union(*consumers.values())
    implicit = masked_inputs(out)
    users = {str(layer.get("name")) for layer in out_config["layers"]
             if isinstance(layer, Mapping) and layer.get("class_name") in MASK_USERS}
    # both ways: every layer Keras 3 gave a mask gets it implicitly, and no layer that uses masks
    # gets one implicitly that Keras 3 did not give it
    if not receivers <= implicit or (implicit & users) - receivers:
        return model_config, issues
    kept = [issue for issue in issues if issue.layer not in dropped
            and not (issue.layer in receivers and issue.problem == _MASK_ARGUMENT)]
    return out, kept


def _inbound_refs(layer: Mapping[str, Any]) -> list[list[Any]]:
    """Every inbound reference ``[layer, node, tensor, kwargs?]`` of ``layer`` (tfjs form)."""
    return [ref for node in layer.get("inbound_nodes") or [] for ref in (node if isinstance(node, list) else [])
            if isinstance(ref, list) and ref]


def _node_kwargs(layer: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The keyword-argument dicts of every inbound reference of ``layer``."""
    return [ref[3] for ref in _inbound_refs(layer) if len(ref) > 3 and isinstance(ref[3], dict)]


def _single_input(layer: Mapping[str, Any]) -> Optional[tuple[tuple[Any, ...], list[Any]]]:
    """(the reference of the one tensor argument, the positional layout) of a one-call layer."""
    nodes = layer.get("inbound_nodes") or []
    if len(nodes) != 1 or not isinstance(nodes[0], list) or len(nodes[0]) != 1:
        return None
    ref = nodes[0][0]
    if not isinstance(ref, list) or len(ref) < 3:
        return None
    kwargs = ref[3] if len(ref) > 3 and isinstance(ref[3], dict) else {}
    layout = kwargs.get(POSITIONAL_KEY)
    return tuple(ref[:3]), layout if isinstance(layout, list) else [None]


def _is_implicit(name: str, by_name: Mapping[str, Mapping[str, Any]]) -> bool:
    """Whether the operation ``name`` computes the mask of an Embedding(mask_zero) or a Masking."""
    layer = by_name.get(name)
    if layer is None:
        return False
    if layer.get("class_name") == _NOT_EQUAL:  # Embedding: ids != 0
        call = _single_input(layer)
        return call is not None and call[1] == [None, 0] and any(
            other.get("class_name") == "Embedding" and (other.get("config") or {}).get("mask_zero")
            and (_single_input(other) or ((),))[0] == call[0] for other in by_name.values())
    if layer.get("class_name") == _ANY:  # Masking: any(x != value, axis=-1)
        options = layer.get("config") or {}
        call = _single_input(layer)
        inner = by_name.get(str(call[0][0])) if call else None
        inner_call = _single_input(inner) if inner is not None and inner.get("class_name") == _NOT_EQUAL else None
        if call is None or call[1] != [None] or options.get("axis") != -1 or options.get("keepdims") or not inner_call:
            return False
        value = inner_call[1][1] if len(inner_call[1]) == 2 and inner_call[1][0] is None else None
        return isinstance(value, (int, float)) and any(
            other.get("class_name") == "Masking" and (other.get("config") or {}).get("mask_value", 0.0) == value
            and (_single_input(other) or ((),))[0] == inner_call[0] for other in by_name.values())
    return False


def _inner(layer: Mapping[str, Any]) -> str:
    call = _single_input(layer)
    return str(call[0][0]) if call else ""


def _used_otherwise(config: Mapping[str, Any], layers: list[Mapping[str, Any]], dropped: set[str]) -> bool:
    """Whether a mask operation's output feeds anything but mask arguments and the dropped chain."""
    for ref in config.get("output_layers") or []:
        if isinstance(ref, list) and ref and str(ref[0]) in dropped:
            return True
    for layer in layers:
        if str(layer.get("name")) in dropped:
            continue
        for ref in _inbound_refs(layer):
            if str(ref[0]) in dropped:
                return True
            kwargs = ref[3] if len(ref) > 3 and isinstance(ref[3], dict) else {}
            if any(isinstance(v, list) and v and str(v[0]) in dropped for k, v in kwargs.items() if k != "mask"):
                return True
    return False
