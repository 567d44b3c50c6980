"""Lower a whole Keras model (config in the tfjs-layers / Keras 2 form + named weights) to an IR graph.

The walk follows the model config: a Sequential chains its layers, a Functional model resolves
each layer call (``inbound_nodes``) once its input tensors exist, so shared layers are lowered once
per call and nested models are lowered inline with the caller's tensors as their inputs. Each
call is handed to the lowering registered for its class (:data:`~tfjs_lite.keras.lowering.registry.LOWERINGS`).

Weights are looked up by the names the layers path gives them (:mod:`tfjs_lite.keras.weight_paths`):
``<layer>/<variable>``, ``<rnn>/<cell name>/<variable>``, ``<bidirectional>/forward_<inner>/...``.

Signature: the placeholders are named after the model's input layers, in the model's order; each
output gets an ``Identity`` named after its Keras output layer, so the output nodes carry the Keras
names. The batch dimension stays free.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Optional, Sequence

import numpy as np

from tfjs_lite.errors import ModelFormatError, UnsupportedLayerError
from tfjs_lite.ir import DType, Graph
from tfjs_lite.keras.compat import nested_node_offsets
from tfjs_lite.keras.config import TENSOR_LIST_KEY, TF_OP_FUNCTIONS
from tfjs_lite.keras.layers import MASK_CARRIERS, MODEL_CLASSES, canonical_class, layer_name
from tfjs_lite.keras.lowering.builder import Builder, KTensor
from tfjs_lite.keras.preflight import LayerIssue, unsupported_reason, walk_layers

__all__ = ["LayerCall", "lower_model"]

_DTYPES = {"float32": "DT_FLOAT", "int32": "DT_INT32", "bool": "DT_BOOL", "float16": "DT_FLOAT", "int64": "DT_INT32"}


@dataclass
class LayerCall:
    """One call of a Keras layer, as a lowering function sees it."""

    builder: Builder
    name: str
    class_name: str
    config: Mapping[str, Any]
    inputs: list[KTensor]
    weight_prefix: str
    lowerer: "ModelLowerer"
    kwargs: Mapping[str, Any] = field(default_factory=dict)

    @property
    def keras3(self) -> bool:
        return self.lowerer.keras3

    def has_weight(self, leaf: str) -> bool:
        return f"{self.weight_prefix}/{leaf}" in self.lowerer.weights

    def weight(self, leaf: str) -> np.ndarray:
        """The layer's variable ``leaf`` (``kernel``, ``lstm_cell/bias`` ...) as float32/int32 numpy."""
        key = f"{self.weight_prefix}/{leaf}"
        value = self.lowerer.weights.get(key)
        if value is None:
            raise ModelFormatError(f"layer {self.name!r} ({self.class_name}) needs the weight {key!r}, which is missing")
        array = np.asarray(value)
        return array.astype(np.float32) if array.dtype.kind == "f" and array.dtype != np.float32 else array

    def option(self, key: str, default: Any = None) -> Any:
        value = self.config.get(key, default)
        return default if value is None else value

    def refuse(self, problem: str) -> UnsupportedLayerError:
        return UnsupportedLayerError(f"layer {self.name!r} ({self.class_name}): {problem}")

    def call_inner(self, layer: Mapping[str, Any], inputs: list[KTensor], weight_prefix: str,
                   config: Optional[Mapping[str, Any]] = None) -> list[KTensor]:
        """Lower a wrapped layer (TimeDistributed, Bidirectional) on ``inputs``."""
        return self.lowerer.call_layer(layer, inputs, weight_prefix, {}, config=config)


Lowering = Callable[[LayerCall], list[KTensor]]


class ModelLowerer:
    """Walks a model config and lowers each layer call with the registered lowering."""

    def __init__(self, graph: Graph, weights: Mapping[str, Any], lowerings: Mapping[str, Lowering], *, keras3: bool):
        self.builder = Builder(graph)
        self.weights = weights
        self.lowerings = lowerings
        self.keras3 = keras3

    def call_layer(
        self, layer: Mapping[str, Any], inputs: list[KTensor], weight_prefix: str, kwargs: Mapping[str, Any],
        *, config: Optional[Mapping[str, Any]] = None,
    ) -> list[KTensor]:
        class_name = canonical_class(str(layer.get("class_name")))
        name = layer_name(layer)
        if class_name in MODEL_CLASSES:
            return self.lower_container(layer, inputs)
        lowering = self.lowerings.get(class_name)
        if lowering is None:  # the check before lowering refuses these; a safety net
            raise UnsupportedLayerError(f"layer {name!r} ({class_name}) has no graph lowering")
        mask = kwargs.get("mask")
        if isinstance(mask, list) and class_name not in LIST_MASK_LAYERS:
            raise UnsupportedLayerError(f"layer {name!r} ({class_name}) is given a list of masks")
        if isinstance(mask, KTensor) and inputs:  # Keras 3 passes masks explicitly
            inputs = [dataclasses.replace(inputs[0], mask=mask), *inputs[1:]]
            kwargs = {k: v for k, v in kwargs.items() if k != "mask"}
        saved_scope = self.builder.scope
        self.builder.scope = name if not saved_scope or saved_scope == name else f"{saved_scope}/{name}"
        try:
            call = LayerCall(self.builder, name, class_name, config if config is not None else layer.get("config") or {},
                             inputs, weight_prefix, self, kwargs)
            return _carry_mask(class_name, inputs, lowering(call), self.builder)
        except (UnsupportedLayerError, ModelFormatError) as e:
            if f"layer {name!r}" not in str(e):
                raise type(e)(f"layer {name!r} ({class_name}): {e}") from None
            raise
        except (IndexError, TypeError, ValueError, KeyError, ZeroDivisionError) as e:
            # a config the validators let through but no lowering can apply (a Dense on a scalar,
            # operands of different ranks): the input's fault, said in one line
            detail = " ".join(str(e).split())[:200]
            raise ModelFormatError(f"layer {name!r} ({class_name}) cannot be applied to inputs of shapes "
                                   f"{[t.shape for t in inputs]} ({type(e).__name__}: {detail})") from None
        finally:
            self.builder.scope = saved_scope

    # ------------------------------------------------------------------ containers
    def lower_container(self, model: Mapping[str, Any], inputs: Optional[list[KTensor]]) -> list[KTensor]:
        """Lower a Sequential or Functional model; ``inputs`` None at the top (placeholders are made)."""
        if model.get("class_name") == "Sequential":
            return self._sequential(model, inputs)
        return self._functional(model, inputs)

    def _sequential(self, model: Mapping[str, Any], inputs: Optional[list[KTensor]]) -> list[KTensor]:
        config = model.get("config")
        layers = config.get("layers") if isinstance(config, Mapping) else config
        layers = [x for x in layers or [] if isinstance(x, Mapping)]
        first = layers[0] if layers else {}
        if inputs is None:
            input_layer = first if first.get("class_name") == "InputLayer" else None
            cfg = (input_layer or first).get("config") or {}
            shape = cfg.get("batch_input_shape") or cfg.get("batch_shape")
            if not isinstance(shape, list):
                raise ModelFormatError("the Sequential model does not say its input shape (no batch_input_shape)")
            name = layer_name(input_layer) if input_layer else f"{layer_name(first)}_input"
            inputs = [self._placeholder(name, shape, cfg.get("dtype"))]
        tensors = inputs
        for layer in layers:
            if layer.get("class_name") == "InputLayer":
                continue
            tensors = self.call_layer(layer, tensors[:1], layer_name(layer), {})
        return tensors[:1]

    def _placeholder(self, name: str, shape: Sequence[Any], dtype: Any) -> KTensor:
        dims = tuple(d if isinstance(d, int) and d >= 0 else None for d in shape)
        dtype_name = dtype if isinstance(dtype, str) else "float32"
        if dtype_name not in _DTYPES:
            raise UnsupportedLayerError(f"input {name!r}: dtype {dtype_name!r} is not supported")
        tensor = self.builder.placeholder(name, dims, DType(_DTYPES[dtype_name]))
        self.builder.graph.inputs[name] = tensor.ref
        return tensor

    def _functional(self, model: Mapping[str, Any], inputs: Optional[list[KTensor]]) -> list[KTensor]:
        config = model.get("config") or {}
        layers = {layer_name(x): x for x in config.get("layers") or []}
        offsets = nested_node_offsets(dict(model))
        produced: dict[tuple[str, int], list[KTensor]] = {}
        input_refs = _layer_refs(config, "input_layers")
        for index, (name, node, _tensor) in enumerate(t[:3] for t in input_refs):
            layer = layers.get(name)
            if layer is None:
                raise ModelFormatError(f"input layer {name!r} is not a layer of the model")
            if inputs is None:
                cfg = layer.get("config") or {}
                produced[(name, node)] = [self._placeholder(name, cfg.get("batch_input_shape") or [], cfg.get("dtype"))]
            else:
                produced[(name, node)] = [inputs[index]]
        pending = [
            (name, index + offsets.get(name, 0), node)
            for name, layer in layers.items()
            if layer.get("class_name") != "InputLayer"
            for index, node in enumerate(layer.get("inbound_nodes") or [])
        ]
        while pending:
            left = []
            for name, index, node in pending:
                # tf.keras 2 writes a TFOpLambda's node as its one reference, not a list of them
                node = [node] if isinstance(node, list) and _is_ref(node[:3]) else node
                refs = [entry for entry in node if isinstance(entry, list) and len(entry) >= 3]
                kwargs = dict(refs[0][3]) if refs and len(refs[0]) > 3 and isinstance(refs[0][3], dict) else {}
                tensor_kwargs = {k: v for k, v in kwargs.items() if _is_ref(v)}  # tf.keras 2: value=[name, node, i]
                listed = {k: v[TENSOR_LIST_KEY] for k, v in kwargs.items()
                          if isinstance(v, dict) and isinstance(v.get(TENSOR_LIST_KEY), list)}
                needed = [*refs, *tensor_kwargs.values(), *(r for items in listed.values() for r in items if _is_ref(r))]
                if not all((r[0], r[1]) in produced for r in needed):
                    left.append((name, index, node))
                    continue
                args = [_output(produced[(r[0], r[1])], r) for r in refs]
                kwargs.update({k: _output(produced[(r[0], r[1])], r) for k, r in tensor_kwargs.items()})
                kwargs.update({k: [_output(produced[(r[0], r[1])], r) if _is_ref(r) else r for r in items]
                               for k, items in listed.items()})
                produced[(name, index)] = self.call_layer(layers[name], args, name, kwargs)
            if len(left) == len(pending):
                raise ModelFormatError(f"layer {left[0][0]!r} is called on tensors no layer produces")
            pending = left
        outputs = []
        for ref in _layer_refs(config, "output_layers"):
            if (ref[0], ref[1]) not in produced:
                raise ModelFormatError(f"output {ref[0]!r} is not produced by the model")
            outputs.append(_output(produced[(ref[0], ref[1])], list(ref)))
        return outputs


# Layers whose ``mask`` argument is a list (one per input) that their lowering reads.
LIST_MASK_LAYERS = frozenset({"Attention", "AdditiveAttention"})



def _carry_mask(class_name: str, inputs: list[KTensor], outputs: list[KTensor], builder: Builder) -> list[KTensor]:
    masks = [t.mask for t in inputs if t.mask is not None]
    if not masks or class_name not in MASK_CARRIERS:
        return outputs
    mask = masks[0]
    for other in masks[1:]:  # merge layers: a step is real when it is real in every input
        mask = builder.op("LogicalAnd", [mask, other], mask.shape, dtype=mask.dtype)
    return [dataclasses.replace(t, mask=mask) if t.rank >= 2 and t.shape[:2] == inputs[0].shape[:2] else t
            for t in outputs]


def _is_ref(value: Any) -> bool:
    return (isinstance(value, list) and len(value) == 3 and isinstance(value[0], str)
            and isinstance(value[1], int) and isinstance(value[2], int))


def _output_names(model_config: Mapping[str, Any]) -> list[str]:
    config = model_config.get("config")
    if model_config.get("class_name") == "Sequential":
        layers = (config.get("layers") if isinstance(config, Mapping) else config) or []
        return [layer_name(layers[-1])]
    names: list[str] = []
    for ref in _layer_refs(config or {}, "output_layers"):
        name = str(ref[0])
        names.append(name if name not in names else f"{name}_{names.count(name)}")
    return names


def lower_model(
    model_config: Mapping[str, Any], weights: Mapping[str, Any], lowerings: Mapping[str, Lowering], *, keras3: bool
) -> tuple[Graph, dict[str, list[str]]]:
    """The IR graph of a Keras model; also, per layer name, the nodes its lowering emitted."""
    graph = Graph()
    lowerer = ModelLowerer(graph, weights, lowerings, keras3=keras3)
    outputs = lowerer.lower_container(model_config, None)
    builder = lowerer.builder
    builder.scope = ""
    for name, tensor in zip(_output_names(model_config), outputs):
        if name in graph:
            name = graph.unique_name(name)
        out = builder.op("Identity", [tensor], tensor.shape, name=name)
        graph.outputs[name] = out.ref
    graph.meta["signature"] = {"inputs": {k: {} for k in graph.inputs}, "outputs": {k: {} for k in graph.outputs}}
    graph.meta["keep_signature_order"] = True
    return graph, builder.emitted


def lowering_issues(model_config: Mapping[str, Any], lowerings: Mapping[str, Lowering]) -> list[LayerIssue]:
    """Layers (nested and wrapped ones included) that have no lowering, with the reason."""
    issues = []
    for name, class_name, config in walk_layers(model_config):
        class_name = canonical_class(class_name)
        function = config.get("function")
        translated = class_name != "TFOpLambda" or (isinstance(function, str) and function in TF_OP_FUNCTIONS)
        if translated and (class_name in lowerings or class_name in MODEL_CLASSES or class_name == "InputLayer"):
            continue
        issues.append(LayerIssue(name, class_name, unsupported_reason(class_name, graph=True, config=config)))
    return issues


def _output(outputs: list[KTensor], ref: list) -> KTensor:
    """Output ``ref[2]`` of the layer call ``ref`` names."""
    index = ref[2]
    if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < len(outputs):
        raise ModelFormatError(f"a reference to output {index!r} of layer {ref[0]!r}, which has "
                               f"{len(outputs)} output(s)")
    return outputs[index]


def _layer_refs(config: Mapping[str, Any], key: str) -> list[tuple]:
    """The ``[layer, node, tensor]`` references of ``config[key]`` (input_layers/output_layers; the
    config translation has already wrapped Keras 3's single unwrapped reference)."""
    refs = config.get(key) or []
    if not isinstance(refs, list) or not all(isinstance(r, (list, tuple)) and len(r) >= 3 for r in refs):
        raise ModelFormatError(f"{key} {refs!r} is not a list of [layer, node, tensor] references")
    return [tuple(r) for r in refs]
