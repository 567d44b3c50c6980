"""Translate Keras model configs into the form tfjs-layers 4.22 deserializes.

tf.keras 2 configs load as they are; like the official converter we only rename a few legacy class
names (:func:`translate_class_names`). Keras 3 configs (``.keras`` and Keras 3 ``.h5``) need
rewriting, because tfjs-layers 4.22 only knows the Keras 2 layout (:func:`keras3_to_tfjs`):

* serialized objects lose ``module``, ``registered_name``, ``build_config``, ``compile_config`` and
  ``shared_object_id``, keeping ``{"class_name", "config"}``;
* ``DTypePolicy``/``FloatDTypePolicy`` objects become their name (``"float32"``);
* InputLayer ``batch_shape`` → ``batch_input_shape`` (``optional`` dropped);
* functional ``inbound_nodes`` ``[{"args": [...__keras_tensor__...], "kwargs": {...}}]`` →
  ``[[[layer, node_index, tensor_index, {kwargs}], ...]]``; ``input_layers``/``output_layers`` given as
  one bare ``[name, node, tensor]`` or a nested structure → a flat list of triples;
* a Sequential without an InputLayer gets ``batch_input_shape`` on its first layer from
  ``build_input_shape``;
* LeakyReLU ``negative_slope`` → ``alpha``; activation ``silu`` → ``swish`` (the same function).

Anything that cannot be expressed is not silently dropped: it is reported to the caller as a
:class:`~tfjs_lite.keras.preflight.LayerIssue` so the pre-flight check can refuse the model.
"""

from __future__ import annotations

import copy
from typing import Any, Optional

from tfjs_lite.keras.layers import LEGACY_CLASS_NAMES, MODEL_CLASSES
from tfjs_lite.keras.preflight import LayerIssue

__all__ = [
    "KERAS_OP_BINARY", "KERAS_OP_CLASSES", "KERAS_OP_COMPARISONS", "KERAS_OP_LIKE", "KERAS_OP_LOGICAL",
    "KERAS_OP_OTHERS", "KERAS_OP_REDUCTIONS",
    "KERAS_OP_SHAPES", "KERAS_OP_UNARY", "NON_TENSOR_ARGS", "OP_CLASS_PREFIX", "POSITIONAL_KEY", "TENSOR_ARGUMENT", "TENSOR_LIST_KEY", "TF_OP_FUNCTIONS", "fix_regularizers", "is_keras3", "keras3_to_tfjs",
    "translate_class_names",
]

# Keras 3 functional models can call ``keras.ops`` functions (``x + 3.0`` in MobileNetV3): their
# nodes have a ``keras.src.ops.*`` module and may take constants. Their class names get this
# prefix (``ops.Add``, unlike the ``Add`` layer), and a call's positional arguments are kept under
# POSITIONAL_KEY of its kwargs (tensors as None) for the graph lowering; tfjs-layers refuses them.
OP_CLASS_PREFIX = "ops."
# A keyword argument holding a list of tensors (Keras 3's ``mask=[query_mask, value_mask]``) is kept
# for the graph lowering as ``{TENSOR_LIST_KEY: [[layer, node, index] or None, ...]}``.
TENSOR_LIST_KEY = "__tensors__"
POSITIONAL_KEY = "__positional__"
NON_TENSOR_ARGS = "is called with non-tensor positional arguments"
# A tensor keyword argument (Keras 3's explicit ``mask=``, ``value=``): tfjs-layers cannot take it;
# it is kept as ``[layer, node, tensor]`` like tf.keras 2 writes tensor arguments.
TENSOR_ARGUMENT = "takes the tensor argument"
# tf.keras 2 records a TensorFlow function called on Keras tensors (``x + y``, ``x * 0.5``,
# ``tf.nn.relu(x)``) as a ``TFOpLambda`` layer naming the function (``config["function"]``, without
# the ``tf.`` prefix); the first argument is the node's tensor, the others are keyword arguments
# (``y``: a tensor reference or a number). The functions the graph lowering runs, as the
# ``keras.ops`` class (OP_CLASS_PREFIX + value) each equals; any other function is refused by name.
TF_OP_FUNCTIONS = {
    "__operators__.add": "Add", "math.add": "Add", "math.subtract": "Subtract", "math.multiply": "Multiply",
    "math.truediv": "TrueDivide", "math.divide": "Divide", "math.maximum": "Maximum", "math.minimum": "Minimum",
    "math.pow": "Power", "math.negative": "Negative", "math.sqrt": "Sqrt", "math.square": "Square",
    "math.exp": "Exp", "math.abs": "Abs", "math.tanh": "Tanh", "math.sigmoid": "Sigmoid", "nn.relu": "Relu",
    "nn.relu6": "Relu6", "math.log": "Log", "math.reciprocal": "Reciprocal",
}

# The keras.ops classes the graph lowering runs (lowering/keras_ops.py), with the TF op each is
# where it is one elementwise op.
KERAS_OP_BINARY = {"Add": "AddV2", "Subtract": "Sub", "Multiply": "Mul", "Divide": "RealDiv", "TrueDivide": "RealDiv",
                   "Maximum": "Maximum", "Minimum": "Minimum", "Power": "Pow"}
KERAS_OP_UNARY = {"Negative": "Neg", "Sqrt": "Sqrt", "Square": "Square", "Exp": "Exp", "Abs": "Abs", "Tanh": "Tanh",
                  "Sigmoid": "Sigmoid", "Relu": "Relu", "Relu6": "Relu6", "Log": "Log", "Reciprocal": "Reciprocal"}
KERAS_OP_COMPARISONS = ("Equal", "NotEqual", "Greater", "GreaterEqual", "Less", "LessEqual")
KERAS_OP_REDUCTIONS = {"Any": "Any", "All": "All", "Sum": "Sum", "Mean": "Mean", "Max": "Max", "Min": "Min",
                       "Prod": "Prod"}
KERAS_OP_SHAPES = ("Reshape", "Transpose", "ExpandDims", "Squeeze", "Concatenate")
KERAS_OP_LOGICAL = {"LogicalAnd": "LogicalAnd", "LogicalOr": "LogicalOr", "LogicalNot": "LogicalNot"}
KERAS_OP_LIKE = {"ZerosLike": "ZerosLike", "OnesLike": "OnesLike"}
KERAS_OP_OTHERS = ("Matmul", "Softmax", "Clip", "Where", "Cast", "ConvertToTensor")
KERAS_OP_CLASSES = frozenset({*KERAS_OP_BINARY, *KERAS_OP_UNARY, *KERAS_OP_COMPARISONS, *KERAS_OP_REDUCTIONS,
                              *KERAS_OP_SHAPES, *KERAS_OP_LOGICAL, *KERAS_OP_LIKE, *KERAS_OP_OTHERS})
# operations whose own arguments include a ``dtype`` (so it does not mark a layer, see _is_operation)
_OPS_WITH_DTYPE = ("Cast", "ConvertToTensor", "ZerosLike", "OnesLike")

_OBJECT_KEYS_TO_DROP = ("module", "registered_name", "build_config", "compile_config", "shared_object_id")
_DTYPE_POLICIES = ("DTypePolicy", "FloatDTypePolicy", "Policy")
_ACTIVATION_RENAMES = {"silu": "swish"}
_SEPARABLE_UNUSED = ("kernel_initializer", "kernel_regularizer", "kernel_constraint")


def is_keras3(keras_version: Optional[str]) -> bool:
    """True for Keras 3.x version strings."""
    return (
        bool(keras_version)
        and str(keras_version).split(".")[0].isdigit()
        and int(str(keras_version).split(".")[0]) >= 3
    )


def translate_class_names(value: Any) -> Any:
    """The official ``translate_class_names``: legacy class names renamed anywhere in the config."""
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if key == "class_name" and isinstance(item, str):
                out[key] = LEGACY_CLASS_NAMES.get(item, item)
            else:
                out[key] = translate_class_names(item)
        return out
    if isinstance(value, list):
        return [translate_class_names(item) for item in value]
    return value


def keras3_to_tfjs(model_config: dict[str, Any], issues: list[LayerIssue]) -> dict[str, Any]:
    """A Keras 2 style copy of a Keras 3 model config; problems are appended to ``issues``."""
    return _model(copy.deepcopy(model_config), issues)


def _clean(value: Any) -> Any:
    """Drop Keras 3 serialization extras from every nested object and flatten dtype policies."""
    if isinstance(value, dict):
        if value.get("class_name") in _DTYPE_POLICIES and isinstance(value.get("config"), dict):
            return value["config"].get("name", "float32")
        serialized = "class_name" in value
        return {k: _clean(v) for k, v in value.items() if not (serialized and k in _OBJECT_KEYS_TO_DROP)}
    if isinstance(value, list):
        return [_clean(item) for item in value]
    return value


def _model(model: dict[str, Any], issues: list[LayerIssue]) -> dict[str, Any]:
    class_name = model.get("class_name")
    config = model.get("config")
    if not isinstance(config, dict):
        return {"class_name": class_name, "config": _clean(config)}
    out_config: dict[str, Any] = {}
    functional = class_name != "Sequential"
    # tfjs-layers (like Keras 2) gives a nested model a node of its own when it is built, so the
    # first call from the outer model is node 1, where Keras 3 says 0.
    layers = config.get("layers")
    models = {
        str(layer.get("name") or _get(layer.get("config"), "name"))
        for layer in (layers if isinstance(layers, list) else [])
        if isinstance(layer, dict) and layer.get("class_name") in MODEL_CLASSES
    }
    for key, value in config.items():
        if key == "layers" and isinstance(value, list):
            out_config[key] = [_layer(layer, issues, functional=functional, models=models) for layer in value]
        elif key in ("input_layers", "output_layers"):
            out_config[key] = [
                [t[0], t[1] + (1 if t[0] in models and isinstance(t[1], int) else 0), t[2]]
                for t in _flat_triples(value)
            ]
        elif key == "build_input_shape":
            continue
        else:
            out_config[key] = _clean(value)
    if class_name == "Sequential":
        _sequential_input_shape(out_config, config.get("build_input_shape"))
    return {"class_name": class_name, "config": out_config}


def _sequential_input_shape(config: dict[str, Any], build_input_shape: Any) -> None:
    layers = config.get("layers") or []
    if not layers or not isinstance(layers, list) or not isinstance(build_input_shape, list):
        return
    first = layers[0]
    first_config = first.get("config") if isinstance(first, dict) else None
    if not isinstance(first_config, dict) or first.get("class_name") == "InputLayer":
        return
    if "batch_input_shape" not in first_config and "batch_shape" not in first_config:
        first_config["batch_input_shape"] = build_input_shape


def _layer(
    layer: Any, issues: list[LayerIssue], *, functional: bool, models: frozenset[str] | set[str] = frozenset()
) -> Any:
    if not isinstance(layer, dict):
        return layer
    class_name = layer.get("class_name")
    if _is_operation(layer) and isinstance(class_name, str):
        class_name = OP_CLASS_PREFIX + class_name
    if class_name in MODEL_CLASSES:
        out = _model({"class_name": class_name, "config": layer.get("config")}, issues)
    else:
        out = {"class_name": class_name, "config": _layer_config(class_name, layer.get("config"), issues)}
    if "name" in layer:
        out["name"] = layer["name"]
    if "inbound_nodes" in layer or functional:
        name = layer.get("name") or _get(out["config"], "name")
        out["inbound_nodes"] = [
            _node(node, str(name), str(class_name), issues, models) for node in layer.get("inbound_nodes") or []
        ]
    if not functional:
        out.pop("inbound_nodes", None)
    return out


def _is_operation(layer: dict[str, Any]) -> bool:
    """A ``keras.ops`` call, not a layer. A ``.keras`` config says so with the module. Keras 3's
    ``.h5`` writes no module, and the class name alone is ambiguous (``Add`` is both the layer and
    ``ops.add``); there, an entry is an operation when its class is a keras.ops class we know
    (KERAS_OP_CLASSES) and its config has neither the ``dtype`` nor the ``trainable`` that every
    Keras 3 layer writes: an operation's config is its name and its arguments."""
    if "module" in layer:
        return str(layer.get("module") or "").startswith("keras.src.ops")
    config = layer.get("config")
    class_name = layer.get("class_name")
    return (class_name in KERAS_OP_CLASSES and isinstance(config, dict) and "trainable" not in config
            and ("dtype" not in config or class_name in _OPS_WITH_DTYPE))


def _layer_config(class_name: Any, config: Any, issues: list[LayerIssue]) -> Any:
    if not isinstance(config, dict):
        return _clean(config)
    config = _clean(config)
    if class_name == "InputLayer":
        config = _input_layer_config(config)
    if class_name == "LeakyReLU" and "negative_slope" in config:
        config["alpha"] = config.pop("negative_slope")
    for key in ("activation", "recurrent_activation"):
        if isinstance(config.get(key), str):
            config[key] = _ACTIVATION_RENAMES.get(config[key], config[key])
    if class_name == "Bidirectional":
        _bidirectional(config)
    for key in ("layer", "backward_layer"):  # wrappers hold a layer config without wiring
        if isinstance(config.get(key), dict):
            config[key] = _layer(config[key], issues, functional=False)
    if isinstance(config.get("cell"), dict):
        config["cell"] = _layer(config["cell"], issues, functional=False)
    return config


def _bidirectional(config: dict[str, Any]) -> None:
    """Keras 3 always writes ``backward_layer`` and names the wrapped layer ``forward_<name>``.

    tfjs-layers builds the backward layer as a mirror of ``layer`` and prefixes both names itself,
    so a mirrored backward layer is dropped and the prefix removed (a real one stays and is refused).
    """
    forward, backward = config.get("layer"), config.get("backward_layer")
    if not isinstance(forward, dict) or not isinstance(forward.get("config"), dict):
        return
    if isinstance(backward, dict) and isinstance(backward.get("config"), dict):
        f = {k: v for k, v in forward["config"].items() if k not in ("name", "go_backwards")}
        b = {k: v for k, v in backward["config"].items() if k not in ("name", "go_backwards")}
        mirrored = bool(forward["config"].get("go_backwards")) != bool(backward["config"].get("go_backwards"))
        if f == b and mirrored and forward.get("class_name") == backward.get("class_name"):
            del config["backward_layer"]
    name = forward["config"].get("name")
    if "backward_layer" not in config and isinstance(name, str) and name.startswith("forward_"):
        forward["config"]["name"] = name[len("forward_") :]


def _input_layer_config(config: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    shape = config.get("batch_shape", config.get("batch_input_shape"))
    if shape is not None:
        out["batch_input_shape"] = shape
    for key, value in config.items():
        if key in ("batch_shape", "batch_input_shape", "optional"):
            continue
        out[key] = value
    return out


def _get(value: Any, key: str) -> Any:
    """``value[key]`` when ``value`` is a dict, else None (configs are validated, but stay safe)."""
    return value.get(key) if isinstance(value, dict) else None


def _is_keras_tensor(value: Any) -> bool:
    return isinstance(value, dict) and value.get("class_name") == "__keras_tensor__"


def _collect_tensors(value: Any, found: list[list[Any]]) -> bool:
    """Append the keras_history of every tensor in ``value``; False if a non-tensor is in there."""
    if _is_keras_tensor(value):
        history = _get(value.get("config"), "keras_history")
        if isinstance(history, list) and len(history) == 3:
            found.append([history[0], history[1], history[2]])
            return True
        return False
    if isinstance(value, (list, tuple)):
        return all([_collect_tensors(item, found) for item in value])
    return value is None


def _contains_tensor(value: Any) -> bool:
    if _is_keras_tensor(value):
        return True
    if isinstance(value, dict):
        return any(_contains_tensor(v) for v in value.values())
    if isinstance(value, list):
        return any(_contains_tensor(v) for v in value)
    return False


def _shift_node_index(history: list[Any], models: frozenset[str] | set[str]) -> int:
    # Keras 3 numbers a nested model's calls from 0; tfjs-layers (like tf.keras 2) gives the
    # nested model a node of its own first, so calls count from 1.
    index = history[1]
    if isinstance(history[0], str) and history[0] in models and isinstance(index, int) and not isinstance(index, bool):
        return index + 1
    return index


def _node(node: Any, name: str, class_name: str, issues: list[LayerIssue], models: frozenset[str] | set[str]) -> Any:
    if isinstance(node, list):  # the Keras 2 list form, which Keras 3 still accepts (same numbering)
        return [
            [entry[0], _shift_node_index(entry, models), *entry[2:]] if isinstance(entry, list) and len(entry) >= 3
            else entry
            for entry in node
        ]
    if not isinstance(node, dict):
        issues.append(LayerIssue(name, class_name, "has an unreadable inbound node"))
        return []
    tensors: list[list[Any]] = []
    kwargs: dict[str, Any] = {}
    args = node.get("args") or []
    if not _collect_tensors(args, tensors):
        issues.append(LayerIssue(name, class_name, NON_TENSOR_ARGS))
        if isinstance(args, list):
            kwargs[POSITIONAL_KEY] = [None if _is_keras_tensor(arg) else _clean(arg) for arg in args]
    node_kwargs = node.get("kwargs")
    for key, value in (node_kwargs if isinstance(node_kwargs, dict) else {}).items():
        if _contains_tensor(value):
            issues.append(LayerIssue(name, class_name, f"{TENSOR_ARGUMENT} {key!r}"))
            ref = _tensor_ref(value, models) if _is_keras_tensor(value) else None
            if isinstance(ref, list):  # kept in tf.keras 2's form for the graph path
                kwargs[key] = ref
            elif isinstance(value, list):  # Attention's mask=[query_mask, value_mask]: a list of them
                kwargs[key] = {TENSOR_LIST_KEY: [_tensor_ref(item, models) for item in value]}
        elif value is not None:
            kwargs[key] = _clean(value)
    return [
        [history[0], _shift_node_index(history, models), history[2], dict(kwargs)]
        for history in tensors
    ]


def _tensor_ref(value: Any, models: frozenset[str] | set[str]) -> Any:
    """``[layer, node, index]`` of a serialized Keras tensor; None stays None, anything else is kept
    (and refused by the lowering that reads it)."""
    history = _get(value.get("config"), "keras_history") if _is_keras_tensor(value) else None
    if isinstance(history, list) and len(history) == 3:
        return [history[0], _shift_node_index(history, models), history[2]]
    return value


def _flat_triples(value: Any) -> list[Any]:
    if (
        isinstance(value, list)
        and len(value) == 3
        and isinstance(value[0], str)
        and all(isinstance(v, int) for v in value[1:])
    ):
        return [value]
    if isinstance(value, dict):
        return [t for item in value.values() for t in _flat_triples(item)]
    if isinstance(value, list):
        return [t for item in value for t in _flat_triples(item)]
    return []


def fix_regularizers(value: Any) -> Any:
    """Config fixes that keep inference identical and let tfjs-layers build the layer.

    * ``L1``/``L2`` regularizer objects → ``L1L2``, the only regularizer class tfjs-layers registers
      (regularizers do nothing at inference, but an unknown class stops the model from loading);
    * SeparableConv ``kernel_initializer/regularizer/constraint`` removed: Keras writes them (unused),
      tfjs-layers throws when they are present.
    """
    if isinstance(value, dict):
        out = {}
        separable = str(value.get("class_name", "")).startswith("SeparableConv")
        for key, item in value.items():
            if separable and key == "config" and isinstance(item, dict):
                item = {k: v for k, v in item.items() if k not in _SEPARABLE_UNUSED}
            if key.endswith("_regularizer") and isinstance(item, dict) and item.get("class_name") in ("L1", "L2"):
                params = item.get("config") or {}
                l1 = params.get("l1", 0.0) if item["class_name"] == "L1" else 0.0
                l2 = params.get("l2", 0.0) if item["class_name"] == "L2" else 0.0
                out[key] = {"class_name": "L1L2", "config": {"l1": l1, "l2": l2}}
            else:
                out[key] = fix_regularizers(item)
        return out
    if isinstance(value, list):
        return [fix_regularizers(item) for item in value]
    return value
