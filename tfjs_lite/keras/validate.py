"""Structural validation of a Keras model config, before anything else reads it.

Every Keras reader (``.h5``, ``.keras``, Keras SavedModel, TF.js layers ``model.json``) hands the
model config it parsed to :func:`validate_model_config`. It checks the *types* the rest of tfjs-lite
and tfjs-layers rely on, so that a config of the wrong shape is refused with one
:class:`~tfjs_lite.errors.ModelFormatError` naming the layer and the field, instead of crashing
deep in a pass (``TypeError``) or converting into a model TF.js cannot load:

* the model: a JSON object with a string ``class_name`` that is a model class (Sequential,
  Functional, Model; anything else is an :class:`~tfjs_lite.errors.UnsupportedModelError`) and a
  ``config`` object whose ``layers`` is a non-empty list (a Keras < 2.2 Sequential's ``config`` may
  be the list itself);
* every layer: an object with a string ``class_name``, an object ``config`` and a string name;
  nested models are checked the same way, wrapped layers (``layer``, ``backward_layer``) and RNN
  cells as layers;
* functional models: ``input_layers``/``output_layers`` made of ``[layer name, node index, tensor
  index]`` triples naming layers of the model, and each layer's ``inbound_nodes`` in the Keras 2
  list form (``[[name, node, tensor, {kwargs}], ...]``) or, for Keras 3 configs, the
  ``{"args": [...], "kwargs": {...}}`` form whose tensors carry a ``[name, node, tensor]`` history;
* common options: ``units``, ``filters``, ... positive integers; ``kernel_size``, ``strides``, ...
  an integer or a list of integers, each at most ``limits.MAX_WINDOW_EXTENT``; shapes lists of non-negative integers or null; ``dtype`` a
  string or a dtype policy object ``{"class_name": str, "config": {"name": str}}``.

Semantic checks (supported layers, weight shapes) stay in :mod:`tfjs_lite.keras.preflight` and
:mod:`tfjs_lite.keras.layers`; this module only makes sure they get well-typed input.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Optional

from tfjs_lite.errors import ModelFormatError, UnsupportedModelError
from tfjs_lite.keras.layers import MODEL_CLASSES
from tfjs_lite.limits import MAX_WINDOW_EXTENT

if TYPE_CHECKING:
    from typing import TypeGuard  # Python 3.10+; only the checker needs it

__all__ = ["MAX_DEPTH", "validate_model_config"]

_CONSTANT_VALUE = "_CONSTANT_VALUE"  # tf.keras 2's marker for a constant first call argument
MAX_DEPTH = 64  # nested models / wrappers deeper than this are refused (no Keras model nests so deep)
_INT32_MAX = 2**31 - 1

# Options that must be a positive integer (tfjs-layers uses them as sizes).
_POSITIVE_INTS = ("units", "filters", "input_dim", "output_dim", "depth_multiplier", "n", "num_tokens")
# Options that must be an integer or a list of integers (a null is allowed: "same as pool_size").
_INT_OR_INT_LISTS = ("kernel_size", "strides", "pool_size", "dilation_rate", "size")
# Shapes: lists of non-negative integers or null.
_SHAPES = ("batch_input_shape", "batch_shape", "input_shape")
# Reshape-like targets: lists of integers (-1 allowed) or null.
_INT_LISTS = ("target_shape", "dims")
# Options that must be a string when present.
_STRINGS = ("activation", "recurrent_activation", "data_format")


def validate_model_config(model: Any, *, keras3: bool = False) -> None:
    """Raise :class:`ModelFormatError` unless ``model`` is a structurally sound Keras model config.

    ``keras3`` allows the Keras 3 serialization forms (``{"args", "kwargs"}`` inbound nodes).
    Errors carry no path: the conversion prefixes the input's.
    """
    if not isinstance(model, dict):
        raise ModelFormatError(f"the model config is a {_kind(model)}, not a JSON object")
    class_name = model.get("class_name")
    if not isinstance(class_name, str):
        raise ModelFormatError(f"the model config's class_name is {_show(class_name)}, not a string")
    if class_name not in MODEL_CLASSES:
        raise UnsupportedModelError(
            f"the model class {class_name!r} is not Sequential, Functional or Model "
            "(tfjs-layers can only load those; a subclassed or single-layer model has no layers model)"
        )
    try:
        _Validator(keras3).model(model, "the model", depth=0)
    except RecursionError:
        raise ModelFormatError("the model config is nested too deeply") from None


class _Validator:
    def __init__(self, keras3: bool) -> None:
        self.keras3 = keras3

    # --- models ---------------------------------------------------------------------------

    def model(self, model: dict[str, Any], where: str, *, depth: int) -> None:
        if depth > MAX_DEPTH:
            raise ModelFormatError(f"{where}: models or wrappers nested more than {MAX_DEPTH} deep")
        class_name = model.get("class_name")
        config = model.get("config")
        if class_name == "Sequential" and isinstance(config, list):  # Keras < 2.2: the config is the layers
            layers: Any = config
        elif isinstance(config, dict):
            if "layers" not in config:
                raise ModelFormatError(f"{where} ({class_name}) has no 'layers' in its config")
            layers = config["layers"]
            if "name" in config and not isinstance(config["name"], str):
                raise ModelFormatError(f"{where} ({class_name}): 'name' is {_show(config['name'])}, not a string")
        else:
            raise ModelFormatError(f"{where} ({class_name}): 'config' is {_show(config)}, not a JSON object")
        if not isinstance(layers, list):
            raise ModelFormatError(f"{where} ({class_name}): 'layers' is {_show(layers)}, not a list")
        if not layers:
            raise ModelFormatError(f"{where} ({class_name}) has no layers")
        names: list[str] = []
        for index, layer in enumerate(layers):
            names.append(self.layer(layer, f"layer {index} of {where}" if depth else f"layer {index}", depth=depth))
        if class_name == "Sequential":
            if isinstance(config, dict):
                self.nested_shape(config.get("build_input_shape"), where, "build_input_shape")
            return
        assert isinstance(config, dict)
        known = set(names)
        for key in ("input_layers", "output_layers"):
            if key not in config:
                raise ModelFormatError(f"{where} ({class_name}) has no {key!r}")
            triples = self.triples(config[key], f"{where} ({class_name}): {key!r}")
            if not triples:
                raise ModelFormatError(f"{where} ({class_name}): {key!r} is empty")
            for name, _, _ in triples:
                if name not in known:
                    raise ModelFormatError(f"{where} ({class_name}): {key!r} names {name!r}, which is not a layer of it")
        for layer, name in zip(layers, names):
            self.inbound_nodes(layer, name, known)
        _check_functional_graph(layers, names, config, f"{where} ({class_name})")

    def triples(self, value: Any, what: str) -> list[tuple[str, int, int]]:
        """``[name, node, tensor]`` triples of an input/output layer structure (lists/dicts of them)."""
        if _is_triple(value):
            return [(value[0], value[1], value[2])]
        if isinstance(value, list):
            return [t for item in value for t in self.triples(item, what)]
        if isinstance(value, dict):
            return [t for item in value.values() for t in self.triples(item, what)]
        raise ModelFormatError(f"{what} holds {_show(value)}, not [layer name, node index, tensor index]")

    # --- layers ---------------------------------------------------------------------------

    def layer(self, layer: Any, where: str, *, depth: int) -> str:
        """Check one layer (and what it contains); returns its name."""
        if depth > MAX_DEPTH:
            raise ModelFormatError(f"{where}: models or wrappers nested more than {MAX_DEPTH} deep")
        if not isinstance(layer, dict):
            raise ModelFormatError(f"{where} is {_show(layer)}, not a layer config object")
        class_name = layer.get("class_name")
        if not isinstance(class_name, str) or not class_name:
            raise ModelFormatError(f"{where}: class_name is {_show(class_name)}, not a string")
        config = layer.get("config")
        if not isinstance(config, dict):
            raise ModelFormatError(f"{where} ({class_name}): 'config' is {_show(config)}, not a JSON object")
        name = layer.get("name") if isinstance(layer.get("name"), str) else config.get("name")
        for value in (layer.get("name"), config.get("name")):
            if value is not None and not isinstance(value, str):
                raise ModelFormatError(f"{where} ({class_name}): 'name' is {_show(value)}, not a string")
        if not isinstance(name, str) or not name:
            raise ModelFormatError(f"{where} ({class_name}) has no name")
        label = f"layer {name!r} ({class_name})"
        if class_name in MODEL_CLASSES:
            self.model({"class_name": class_name, "config": config}, f"layer {name!r}", depth=depth + 1)
        else:
            self.options(config, label)
        for key in ("layer", "backward_layer"):
            inner = config.get(key)
            if inner is not None:
                self.layer(inner, f"{label}: {key!r}", depth=depth + 1)
        cell = config.get("cell")
        if cell is not None:
            for i, item in enumerate(cell if isinstance(cell, list) else [cell]):
                self.layer(item, f"{label}: 'cell'" + (f" {i}" if isinstance(cell, list) else ""), depth=depth + 1)
        cells = config.get("cells")
        if cells is not None:
            if not isinstance(cells, list):
                raise ModelFormatError(f"{label}: 'cells' is {_show(cells)}, not a list")
            for i, item in enumerate(cells):
                self.layer(item, f"{label}: cell {i}", depth=depth + 1)
        return name

    def options(self, config: dict[str, Any], label: str) -> None:
        for key in _POSITIVE_INTS:
            if key in config and not _positive_int(config[key]):
                raise ModelFormatError(f"{label}: {key!r} is {_show(config[key])}, not a positive integer")
        for key in _INT_OR_INT_LISTS:
            value = config.get(key)
            if value is None or _positive_int(value):
                values = [] if value is None else [value]
            elif isinstance(value, list) and value and all(_positive_int(v) for v in value):
                values = value
            else:
                raise ModelFormatError(
                    f"{label}: {key!r} is {_show(value)}, not a positive integer or a list of positive integers"
                )
            if any(v > MAX_WINDOW_EXTENT for v in values):
                # A window TF.js unrolls into a shader or loops over per output (limits.py).
                raise ModelFormatError(f"{label}: {key!r} is {_show(value)}, over {MAX_WINDOW_EXTENT}")
        for key in _SHAPES:
            if key in config:
                self.shape(config[key], label, key)
        for key in _INT_LISTS:
            value = config.get(key)
            if value is not None and not (isinstance(value, list) and all(_int(v) for v in value)):
                raise ModelFormatError(f"{label}: {key!r} is {_show(value)}, not a list of integers")
        for key in _STRINGS:
            value = config.get(key)
            if value is not None and not isinstance(value, (str, dict)):
                raise ModelFormatError(f"{label}: {key!r} is {_show(value)}, not a string")
        if "dtype" in config:
            self.dtype(config["dtype"], label)

    def shape(self, value: Any, label: str, key: str) -> None:
        if value is None:
            return
        if not isinstance(value, list) or not all(v is None or (_int(v) and 0 <= v <= _INT32_MAX) for v in value):
            raise ModelFormatError(f"{label}: {key!r} is {_show(value)}, not a list of non-negative integers or null")

    def nested_shape(self, value: Any, label: str, key: str) -> None:
        """A shape or a structure (lists/dicts) of shapes, e.g. a model's build_input_shape."""
        if value is None or (isinstance(value, list) and all(v is None or _int(v) for v in value)):
            if isinstance(value, list):
                self.shape(value, label, key)
            return
        if isinstance(value, list):
            for item in value:
                self.nested_shape(item, label, key)
        elif isinstance(value, dict):
            for item in value.values():
                self.nested_shape(item, label, key)
        else:
            raise ModelFormatError(f"{label}: {key!r} holds {_show(value)}, not a shape")

    def dtype(self, value: Any, label: str) -> None:
        if value is None or isinstance(value, str):
            return
        if isinstance(value, dict):  # a dtype policy: {"class_name": "DTypePolicy", "config": {"name": ...}}
            policy_config = value.get("config")
            if isinstance(value.get("class_name"), str) and isinstance(policy_config, dict):
                name = policy_config.get("name")
                if name is None or isinstance(name, str):
                    return
        raise ModelFormatError(f"{label}: 'dtype' is {_show(value)}, not a dtype name or a dtype policy")

    # --- functional wiring ----------------------------------------------------------------

    def inbound_nodes(self, layer: dict[str, Any], name: str, known: set[str]) -> None:
        label = f"layer {name!r} ({layer['class_name']})"
        nodes = layer.get("inbound_nodes")
        if nodes is None:
            return
        if not isinstance(nodes, list):
            raise ModelFormatError(f"{label}: 'inbound_nodes' is {_show(nodes)}, not a list")
        for node in nodes:
            if isinstance(node, dict) and ("args" in node or "kwargs" in node):
                if not self.keras3:
                    raise ModelFormatError(
                        f"{label}: an inbound node has the Keras 3 form ({{args, kwargs}}) in a Keras 2 config"
                    )
                args, kwargs = node.get("args", []), node.get("kwargs", {})
                if not isinstance(args, list):
                    raise ModelFormatError(f"{label}: an inbound node's 'args' is {_show(args)}, not a list")
                if not isinstance(kwargs, dict):
                    raise ModelFormatError(f"{label}: an inbound node's 'kwargs' is {_show(kwargs)}, not an object")
                self.tensors(args, label, known)
                self.tensors(kwargs, label, known)
            elif isinstance(node, (list, dict)):
                self.connections(node, label, known)
            else:
                raise ModelFormatError(f"{label}: an inbound node is {_show(node)}, not a list of connections")

    def connections(self, value: Any, label: str, known: set[str]) -> None:
        """A Keras 2 node: ``[name, node, tensor, {kwargs}]`` entries, in a list (or, for layers that
        keep their input structure, a nested list/dict or one bare entry)."""
        if isinstance(value, list) and value and isinstance(value[0], str):
            if value[0] == _CONSTANT_VALUE and len(value) in (3, 4):  # a constant call argument
                return
            if not (len(value) in (3, 4) and _is_triple(value[:3])):
                raise ModelFormatError(
                    f"{label}: an inbound connection is {_show(value)}, not [layer name, node index, tensor index, {{}}]"
                )
            if len(value) == 4 and not isinstance(value[3], dict):
                raise ModelFormatError(
                    f"{label}: an inbound connection's call arguments are {_show(value[3])}, not an object"
                )
            if value[0] not in known:
                raise ModelFormatError(
                    f"{label}: an inbound connection names {value[0]!r}, which is not a layer of the model"
                )
            return
        if isinstance(value, list):
            for item in value:
                self.connections(item, label, known)
        elif isinstance(value, dict):
            for item in value.values():
                self.connections(item, label, known)
        else:
            raise ModelFormatError(
                f"{label}: an inbound connection is {_show(value)}, not [layer name, node index, tensor index, {{}}]"
            )

    def tensors(self, value: Any, label: str, known: set[str]) -> None:
        """Every ``__keras_tensor__`` in a Keras 3 call's args/kwargs has a valid history."""
        if isinstance(value, dict):
            if value.get("class_name") == "__keras_tensor__":
                config = value.get("config")
                history = config.get("keras_history") if isinstance(config, dict) else None
                if not _is_triple(history):
                    raise ModelFormatError(
                        f"{label}: an input tensor's keras_history is {_show(history)}, "
                        "not [layer name, node index, tensor index]"
                    )
                if history[0] not in known:
                    raise ModelFormatError(f"{label}: an input tensor comes from {history[0]!r}, which is not a layer of the model")
                return
            for item in value.values():
                self.tensors(item, label, known)
        elif isinstance(value, list):
            for item in value:
                self.tensors(item, label, known)


# Layers that may return more than one tensor from one call (tensor index > 0); every other
# layer's output is one tensor. Nested models return one per output layer.
_MULTI_OUTPUT = frozenset({
    "RNN", "SimpleRNN", "GRU", "LSTM", "ConvLSTM1D", "ConvLSTM2D", "ConvLSTM3D", "CuDNNGRU", "CuDNNLSTM",
    "Bidirectional", "Lambda", "TFOpLambda", "SlicingOpLambda", "TensorFlowOpLayer", "MultiHeadAttention",
    "Attention", "AdditiveAttention", "GroupQueryAttention",
})
_MODELS = frozenset({"Functional", "Model", "Sequential"})


def _references(value: Any) -> list[tuple[str, int, int]]:
    """Every [layer name, node index, tensor index] an inbound node reads (both config forms)."""
    found: list[tuple[str, int, int]] = []
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if item.get("class_name") == "__keras_tensor__":
                config = item.get("config")
                history = config.get("keras_history") if isinstance(config, dict) else None
                if _is_triple(history):
                    found.append((history[0], history[1], history[2]))
                continue
            stack.extend(item.values())
        elif isinstance(item, list):
            if item and isinstance(item[0], str) and len(item) in (3, 4) and _is_triple(item[:3]):
                if item[0] != _CONSTANT_VALUE:
                    found.append((item[0], item[1], item[2]))
                stack.extend(item[3:])
            else:
                stack.extend(item)
    return found


def _check_functional_graph(layers: list[Any], names: list[str], config: dict[str, Any], label: str) -> None:
    """A functional model's layer calls must form a DAG of existing calls: every [layer, node,
    tensor] read names a call the layer makes (node index < its number of inbound nodes) and an
    output it has, and no call reads, directly or not, its own output. TF.js otherwise loads the
    model and then fails or loops on it."""
    from tfjs_lite.keras.preflight import SUPPORTED_LAYERS

    calls: dict[str, int] = {}
    outputs: dict[str, Optional[int]] = {}
    for layer, name in zip(layers, names):
        nodes = layer.get("inbound_nodes")
        count = len(nodes) if isinstance(nodes, list) else 0
        class_name = layer.get("class_name")
        calls[name] = max(count, 1) if class_name == "InputLayer" else count
        if class_name in _MODELS:
            calls[name] += 1  # a nested model's own construction is its call 0 when it is rebuilt
            inner = layer.get("config")
            outs = inner.get("output_layers") if isinstance(inner, dict) else None
            outputs[name] = len(_triples_loose(outs)) if outs is not None else 1
        else:  # other layers TF.js knows return one tensor; custom (--force) ones are not checked
            single = class_name in SUPPORTED_LAYERS and class_name not in _MULTI_OUTPUT
            outputs[name] = 1 if single else None

    def check(ref: tuple[str, int, int], what: str) -> tuple[str, int]:
        name, node, tensor = ref
        if not 0 <= node < calls.get(name, 0):
            raise ModelFormatError(f"{label}: {what} reads call {node} of layer {name!r}, which is called "
                                   f"{calls.get(name, 0)} time(s)")
        limit = outputs.get(name)
        if tensor < 0 or (limit is not None and tensor >= limit):
            raise ModelFormatError(f"{label}: {what} reads output {tensor} of layer {name!r}, which has "
                                   f"{limit if limit is not None else 'no such'} output(s)")
        return name, node

    edges: dict[tuple[str, int], list[tuple[str, int]]] = {}
    for layer, name in zip(layers, names):
        nodes = layer.get("inbound_nodes")
        for index, node in enumerate(nodes if isinstance(nodes, list) else []):
            edges[(name, index)] = [check(r, f"layer {name!r} call {index}") for r in _references(node)]
    classes = {name: layer.get("class_name") for layer, name in zip(layers, names)}
    for key in ("input_layers", "output_layers"):
        for ref in _triples_loose(config.get(key)):
            check(ref, f"{key!r}")
            if key == "input_layers" and classes.get(ref[0]) != "InputLayer":
                raise ModelFormatError(f"{label}: 'input_layers' names {ref[0]!r} ({classes.get(ref[0])}), "
                                       "which is not an InputLayer")
    # Iterative DFS (configs of thousands of layers must not hit the recursion limit).
    state: dict[tuple[str, int], int] = {}  # 1 = on the current path, 2 = done
    for start in edges:
        if start in state:
            continue
        stack = [(start, iter(edges.get(start, ())))]
        state[start] = 1
        while stack:
            vertex, successors = stack[-1]
            for nxt in successors:
                if state.get(nxt) == 1:
                    what = "reads its own output" if nxt == vertex else "is on a cycle of layer calls"
                    raise ModelFormatError(f"{label}: layer {nxt[0]!r} call {nxt[1]} {what}; a functional "
                                           "model must be acyclic")
                if nxt not in state:
                    state[nxt] = 1
                    stack.append((nxt, iter(edges.get(nxt, ()))))
                    break
            else:
                state[vertex] = 2
                stack.pop()


def _triples_loose(value: Any) -> list[tuple[str, int, int]]:
    if _is_triple(value):
        return [(value[0], value[1], value[2])]
    if isinstance(value, list):
        return [t for item in value for t in _triples_loose(item)]
    if isinstance(value, dict):
        return [t for item in value.values() for t in _triples_loose(item)]
    return []


def _int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _positive_int(value: Any) -> bool:
    return _int(value) and 0 < value <= _INT32_MAX


def _is_triple(value: Any) -> TypeGuard[list[Any]]:
    return (
        isinstance(value, list)
        and len(value) == 3
        and isinstance(value[0], str)
        and _int(value[1])
        and _int(value[2])
        and value[1] >= 0
        and value[2] >= 0
    )


def _kind(value: Any) -> str:
    return {dict: "JSON object", list: "list", str: "string", bool: "boolean", type(None): "null"}.get(
        type(value), "number" if isinstance(value, (int, float)) else type(value).__name__
    )


def _show(value: Any, limit: int = 40) -> str:
    """A short one-line rendering of a JSON value for error messages."""
    if isinstance(value, dict):
        return "a JSON object"
    if isinstance(value, list):
        if len(value) <= 4 and all(v is None or isinstance(v, (str, int, float)) for v in value):
            text = repr(value)
            if len(text) <= limit:
                return text
        return f"a list of {len(value)} items"
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
