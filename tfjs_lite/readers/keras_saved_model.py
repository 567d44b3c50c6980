"""tf.keras 2 SavedModel reader: the model config and each layer's weights, without TensorFlow.

``model.save(folder, save_format="tf")`` (tf.keras / tf_keras 2.x) writes a SavedModel plus
``keras_metadata.pb`` (``SavedMetadata``: one ``SavedObject`` per Keras object, with its
SavedObjectGraph node id, its path like ``root.layer_with_weights-0`` and a JSON document).
The root's JSON holds what an ``.h5`` file keeps as attributes: ``model_config``,
``training_config``, ``keras_version``, ``backend``. The weights are the variables checkpoint:

* the root of the SavedObjectGraph has a child ``layer-<i>`` for each of ``model.layers``;
* a layer's weights are, when the model was saved with traces, its ``variables`` list child
  (``layer.weights`` order); with ``save_traces=False`` that list is absent and they are the
  variables reachable through the layer's own children (its attributes and sub-layers, in the
  order they were tracked), trainable ones first, as ``layer.weights`` orders them;
* each variable's ``SavedVariable.name`` (``dense/kernel``) is the name the ``.h5`` file gives
  it (``dense/kernel:0``), and its checkpoint key comes from matching the SavedObjectGraph to the
  checkpoint's TrackableObjectGraph (:func:`tfjs_lite.readers.saved_model._open_checkpoint`).

The JSON is encoded by tf.keras's ``json_utils.Encoder``: tuples become
``{"class_name": "__tuple__", "items": [...]}`` and TensorShapes
``{"class_name": "TensorShape", "items": [...]}``. Both are turned back into lists, which is what
the ``.h5`` writer's encoder makes of them, so the config equals the one an ``.h5`` file holds.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from tfjs_lite.errors import ConversionError, ModelFormatError, UnsupportedModelError
from tfjs_lite.keras.layers import MODEL_CLASSES
from tfjs_lite.keras.validate import validate_model_config
from tfjs_lite.limits import PROTOBUF_LIMIT
from tfjs_lite.readers.saved_model import (
    LAZY_MIN_BYTES,
    _open_checkpoint,
    _select_meta_graph,
    read_saved_model_proto,
)
from tfjs_lite.safe_io import read_bytes

__all__ = ["METADATA_FILE", "KerasSavedModel", "SavedWeight", "h5_form", "read_keras_saved_model"]

METADATA_FILE = "keras_metadata.pb"

# Children of a layer's SavedObject that are not its weights or sub-layers: serialization-only
# lists and functions, the RNG of Dropout & co, and an optimizer (nested compiled models).
_NOT_WEIGHTS = frozenset({
    "variables", "trainable_variables", "non_trainable_variables", "regularization_losses",
    "keras_api", "__call__", "call_and_return_all_conditional_losses", "call_and_return_conditional_losses",
    "_default_save_signature", "signatures", "_random_generator", "optimizer", "state_spec",
})
_MODEL_IDENTIFIERS = frozenset({"_tf_keras_network", "_tf_keras_sequential", "_tf_keras_model"})


@dataclass(frozen=True)
class SavedWeight:
    """One layer weight: the variable's name (``dense/kernel``), shape and data (read lazily)."""

    name: str
    shape: tuple[int, ...]
    dataset: Any
    checkpoint_key: str


@dataclass
class KerasSavedModel:
    """What a tf.keras SavedModel holds for a layers model (the fields of a Keras ``.h5``)."""

    path: Path
    model_config: dict[str, Any]
    keras_version: Optional[str]
    backend: Optional[str]
    training_config: Optional[Any]
    # (layer name, its weights in layer.weights order) for each of model.layers, in that order.
    layers: list[tuple[str, list[SavedWeight]]] = field(default_factory=list)


def _decode_json(obj: dict[str, Any]) -> Any:
    if obj.get("class_name") in ("__tuple__", "TensorShape") and set(obj) == {"class_name", "items"}:
        items = obj["items"]
        return list(items) if isinstance(items, list) else items
    return obj


# Keras objects inside layer configs that tf.keras >= 2.13 writes to .h5 in the new serialization
# format, {"module", "class_name", "config", "registered_name"}, and to keras_metadata.pb in the
# legacy one, {"class_name", "config"}; the config key says which module the class is from.
# (Best effort for wrapped layers: the .h5 form of a *built* inner layer also has a build_config,
# which the metadata cannot give. tfjs-layers reads either form.)
_NEW_FORMAT_MODULES = {"_initializer": "keras.initializers", "_regularizer": "keras.regularizers",
                       "_constraint": "keras.constraints"}
_NEW_FORMAT_KEYS = {"layer": "keras.layers", "backward_layer": "keras.layers", "cell": "keras.layers"}


def _version_at_least(version: Optional[str], wanted: tuple[int, int]) -> bool:
    parts = (version or "").split(".")
    try:
        return (int(parts[0]), int(parts[1])) >= wanted
    except (ValueError, IndexError):
        return False


def h5_form(value: Any, keras_version: Optional[str]) -> Any:
    """A config from keras_metadata.pb as the .h5 writer of the same tf.keras version stores it.

    Drops the ``shared_object_id`` keys that only SavedModel serialization adds, and (tf.keras
    2.13 and later) writes built-in initializers, regularizers and constraints in the new
    serialization format, as ``model.save("x.h5")`` does.
    """
    new_format = _version_at_least(keras_version, (2, 13))

    def convert(item: Any, key: str = "") -> Any:
        if isinstance(item, list):
            return [convert(v) for v in item]
        if not isinstance(item, dict):
            return item
        out = {k: convert(v, k) for k, v in item.items() if k != "shared_object_id"}
        module = _NEW_FORMAT_KEYS.get(key) or next(
            (m for suffix, m in _NEW_FORMAT_MODULES.items() if key.endswith(suffix)), None)
        class_name = out.get("class_name")
        if (new_format and module and set(out) == {"class_name", "config"} and isinstance(class_name, str)
                and ">" not in class_name):
            out = {"module": module, "class_name": class_name, "config": out["config"], "registered_name": None}
        return out

    return convert(value)


def _parse_json(text: str, what: str, path: Path) -> Any:
    try:
        return json.loads(text, object_hook=_decode_json)
    except (ValueError, RecursionError) as e:
        raise ModelFormatError(f"{METADATA_FILE}: the metadata of {what} is not valid JSON ({e})", path=path) from None


def _read_metadata(path: Path) -> dict[int, tuple[str, str, str]]:
    """node id → (node path, identifier, metadata JSON text) of every SavedObject."""
    from tfjs_lite._proto.saved_metadata_pb2 import SavedMetadata

    proto = SavedMetadata()
    data = read_bytes(path / METADATA_FILE, root=path, limit=PROTOBUF_LIMIT - 1, what=METADATA_FILE)
    try:
        proto.ParseFromString(data)
    except Exception as e:  # protobuf's DecodeError
        raise ModelFormatError(f"{METADATA_FILE} is not a Keras SavedMetadata protobuf ({e})", path=path) from None
    return {node.node_id: (node.node_path, node.identifier, node.metadata) for node in proto.nodes}


def _no_metadata(path: Path) -> UnsupportedModelError:
    return UnsupportedModelError(
        f"this SavedModel has no {METADATA_FILE} (it was not saved by tf.keras model.save), so it holds no "
        "Keras model to rebuild as a layers model; convert it to a graph model instead "
        "(--input_format tf_saved_model --output_format tfjs_graph_model)",
        path=path,
    )


def _root_metadata(path: Path, nodes: dict[int, tuple[str, str, str]]) -> dict[str, Any]:
    roots = [(nid, meta) for nid, (node_path, _, meta) in nodes.items() if node_path == "root"]
    if not roots:
        raise ModelFormatError(f"{METADATA_FILE} has no 'root' object", path=path)
    root = _parse_json(roots[0][1], "the root object", path)
    if not isinstance(root, dict):
        raise ModelFormatError(f"{METADATA_FILE}: the root object's metadata is not a JSON object", path=path)
    return root


def _model_config(path: Path, identifier: str, root: dict[str, Any]) -> dict[str, Any]:
    class_name = root.get("class_name")
    config = root.get("model_config")
    if isinstance(config, dict) and isinstance(config.get("config"), dict):
        return config
    # Older tf.keras versions: no model_config, but class_name + config of a graph network.
    config = root.get("config")
    if class_name in MODEL_CLASSES and isinstance(config, dict) and isinstance(config.get("layers"), list):
        return {"class_name": class_name, "config": config}
    if identifier in ("_tf_keras_layer", "_tf_keras_rnn_layer", "_tf_keras_input_layer"):
        raise UnsupportedModelError(
            f"the SavedModel holds a single Keras layer ({class_name}), not a model; only Sequential and "
            "functional models can be converted to a layers model",
            path=path,
        )
    raise UnsupportedModelError(
        f"the Keras model ({class_name}) has no config to rebuild it from: a subclassed model cannot be "
        "converted to a layers model; rebuild it as a Sequential or functional model, or convert the "
        "SavedModel to a graph model (--input_format tf_saved_model --output_format tfjs_graph_model)",
        path=path,
    )


def read_keras_saved_model(path: Path, *, tags: str = "serve") -> KerasSavedModel:
    """Read the model config and the layers' weights of a tf.keras SavedModel folder.

    Raises:
        UnsupportedModelError: no ``keras_metadata.pb`` (not a Keras SavedModel), or a subclassed
            model / single layer without a model config.
        ModelFormatError: damaged metadata, SavedModel or checkpoint.
    """
    path = Path(path)
    if not path.is_dir():
        raise ModelFormatError("expected a SavedModel folder", path=path)
    if not (path / METADATA_FILE).is_file():
        if not any((path / name).is_file() for name in ("saved_model.pb", "saved_model.pbtxt")):
            raise ModelFormatError("no saved_model.pb found; not a SavedModel folder", path=path)
        raise _no_metadata(path)
    nodes = _read_metadata(path)
    root = _root_metadata(path, nodes)
    root_identifier = next((ident for node_path, ident, _ in nodes.values() if node_path == "root"), "")
    keras_version = _optional_str(root.get("keras_version"))
    model_config = h5_form(_model_config(path, root_identifier, root), keras_version)
    try:
        validate_model_config(model_config, keras3=False)
    except ConversionError as e:
        raise type(e)(f"{METADATA_FILE}: {e}", path=path) from None
    training_config = root.get("training_config")
    model = KerasSavedModel(
        path=path,
        model_config=model_config,
        keras_version=keras_version,
        backend=_optional_str(root.get("backend")),
        training_config=training_config if isinstance(training_config, dict) else None,
    )
    saved_model = read_saved_model_proto(path)
    meta_graph = _select_meta_graph(saved_model, tags, path)
    objects = meta_graph.object_graph_def.nodes
    if not objects:
        raise ModelFormatError("saved_model.pb has no object graph (a TF1 SavedModel?)", path=path)
    bundle, keys = _open_checkpoint(path, meta_graph)
    infos = {nid: _parse_json(text, node_path, path) for nid, (node_path, _, text) in nodes.items()}
    layers = {
        nid: (identifier, not (isinstance(infos[nid], dict) and infos[nid].get("trainable") is False))
        for nid, (_, identifier, _) in nodes.items()
    }
    for index, node_id in _top_level_layers(objects, path):
        info = infos.get(node_id)
        name = info.get("name") if isinstance(info, dict) else None
        if not isinstance(name, str):
            raise ModelFormatError(f"{METADATA_FILE} has no layer name for root.layer-{index}", path=path)
        weights = []
        for var_id in _layer_variables(objects, node_id, layers, path, name):
            key = keys.get(var_id)
            var_name = objects[var_id].variable.name
            if key is None or key not in bundle:
                raise ModelFormatError(
                    f"the variables checkpoint has no value for {var_name!r} of layer {name!r}", path=path
                )
            shape = tuple(int(d.size) for d in bundle.entry(key).shape.dim)
            data = bundle.read_lazy(key, min_bytes=LAZY_MIN_BYTES)
            weights.append(SavedWeight(name=var_name, shape=shape, dataset=data, checkpoint_key=key))
        model.layers.append((name, weights))
    return model


def _optional_str(value: Any) -> Optional[str]:
    return value if isinstance(value, str) else None


def _top_level_layers(objects: Any, path: Path) -> list[tuple[int, int]]:
    """(i, SavedObjectGraph node id) of the root's ``layer-<i>`` children, by i."""
    found = []
    if not objects:
        raise ModelFormatError("saved_model.pb: the object graph is empty (no root object)", path=path)
    for child in objects[0].children:
        prefix, _, number = child.local_name.partition("-")
        if prefix == "layer" and number.isdigit():
            if not 0 <= child.node_id < len(objects):
                raise ModelFormatError(f"saved_model.pb: {child.local_name} points at a missing object", path=path)
            found.append((int(number), child.node_id))
    return sorted(found)


def _layer_variables(objects: Any, node_id: int, layers: dict[int, tuple[str, bool]], path: Path,
                     name: str) -> list[int]:
    """Variable node ids of one top-level layer in the order an ``.h5`` file lists them.

    That is tf.keras's ``trainable_weights + non_trainable_weights``, rebuilt from the object
    graph: a layer's own variables (in tracking order) come before its sub-layers' weights, a
    model's after its layers'; a frozen layer (``trainable: false`` in its metadata) lists every
    weight as non-trainable. ``layers``: SavedObjectGraph node id → (Keras identifier, trainable)
    of every Keras layer object. When the layer also has its ``variables`` list (saved with
    traces), that list must hold the same variables.
    """
    seen: set[int] = set()

    def split(nid: int) -> tuple[list[int], list[int]]:
        own: list[int] = []
        subs: list[int] = []

        def collect(parent: int) -> None:
            for child in objects[parent].children:
                cid = child.node_id
                if child.local_name in _NOT_WEIGHTS or cid in seen or not 0 <= cid < len(objects):
                    continue
                seen.add(cid)
                kind = objects[cid].WhichOneof("kind")
                if kind == "variable":
                    own.append(cid)
                elif kind == "user_object":
                    if cid in layers:
                        subs.append(cid)
                    else:  # a container (list/dict wrapper) or helper object: look inside
                        collect(cid)

        seen.add(nid)
        collect(nid)
        identifier, trainable = layers.get(nid, ("", True))
        is_model = identifier in _MODEL_IDENTIFIERS
        own_t = [v for v in own if objects[v].variable.trainable]
        own_nt = [v for v in own if not objects[v].variable.trainable]
        parts = [split(sub) for sub in subs]
        sub_t = [v for t, _ in parts for v in t]
        sub_nt = [v for _, nt in parts for v in nt]
        if trainable:
            if is_model:
                return sub_t + own_t, sub_nt + own_nt
            return own_t + sub_t, own_nt + sub_nt
        if is_model:
            return [], sub_t + own_t + sub_nt + own_nt
        return [], own_t + own_nt + [v for t, nt in parts for v in t + nt]

    trainable, non_trainable = split(node_id)
    found = trainable + non_trainable
    listed = {c.local_name: c.node_id for c in objects[node_id].children}.get("variables")
    if listed is not None and 0 <= listed < len(objects):
        ids = [c.node_id for c in objects[listed].children]
        for var_id in ids:
            if not 0 <= var_id < len(objects) or objects[var_id].WhichOneof("kind") != "variable":
                raise ModelFormatError(f"saved_model.pb: layer {name!r} lists a weight that is not a variable",
                                       path=path)
        if sorted(ids) != sorted(found):
            raise ModelFormatError(
                f"saved_model.pb: layer {name!r} lists {len(ids)} variables but {len(found)} are reachable "
                "from it in the object graph",
                path=path,
            )
    return found
