"""Local TF-Hub module folders -> the graph of one signature. Never touches the network.

Two layouts exist (the official converter's ``convert_tf_hub_module`` tells them apart the same way):

* **TF2 modules** are plain SavedModels (no ``tfhub_module.pb``): loaded like any SavedModel, with
  signature ``default`` unless another is asked for.
* **TF1 modules** carry ``tfhub_module.pb``, a ``tensorflow_hub.ModuleDef``
  (``proto/tensorflow_hub/module_def.proto``) next to a TF1 SavedModel. tensorflow_hub only reads
  ``format == FORMAT_V3`` (3) and refuses any ``required_features`` (it supports none). The
  SavedModel holds one MetaGraph per graph variant, tagged ``[]`` (the default graph, what
  ``hub.Module(path)`` instantiates) and e.g. ``["train"]``; signatures are ``default`` and
  others from ``hub.add_signature``; variables live in ``variables/`` under TF1 name keys.

MetaGraph choice for TF1 modules: the official converter ignores ``--saved_model_tags`` and always
uses the ``[]`` graph. ``--saved_model_tags`` defaults to ``serve``, so ``serve`` (and ``""``) mean
"not given" here and pick the ``[]`` graph (or the only MetaGraph); any other value is taken as
explicit and must name a MetaGraph exactly (``--saved_model_tags train`` converts the training
variant), else the conversion fails listing the tag sets.
"""

from __future__ import annotations

from pathlib import Path

from tfjs_lite.errors import ModelFormatError, UnsupportedModelError
from tfjs_lite.ir.graph import Graph
from tfjs_lite.readers.saved_model import load_saved_model, read_saved_model_proto
from tfjs_lite.safe_io import read_bytes

__all__ = ["MODULE_DEF_FILE", "is_tf1_hub_module", "load_hub_module", "read_module_def"]

MODULE_DEF_FILE = "tfhub_module.pb"
FORMAT_V3 = 3
_DEFAULT_TAGS = ("", "serve")
_MAX_MODULE_DEF_BYTES = 1 << 20  # a real ModuleDef is a few bytes


def is_tf1_hub_module(path: Path) -> bool:
    """Whether ``path`` is a folder holding ``tfhub_module.pb`` (the TF1 hub format)."""
    return (Path(path) / MODULE_DEF_FILE).is_file()


def read_module_def(path: Path):
    """Parse and validate ``tfhub_module.pb`` of a TF1 hub module folder; returns the ModuleDef.

    Raises:
        ModelFormatError: The file is unreadable or not a ModuleDef.
        UnsupportedModelError: A format other than FORMAT_V3, or required features.
    """
    from google.protobuf.message import DecodeError

    from tfjs_lite._proto.module_def_pb2 import ModuleDef

    file = Path(path) / MODULE_DEF_FILE
    data = read_bytes(file, root=path, limit=_MAX_MODULE_DEF_BYTES, what="TF-Hub ModuleDef")
    proto = ModuleDef()
    try:
        proto.ParseFromString(data)
    except DecodeError as e:
        raise ModelFormatError(f"{file}: not a TF-Hub ModuleDef protobuf ({e})") from None
    if proto.format != FORMAT_V3:
        raise UnsupportedModelError(
            f"{file}: unsupported TF-Hub module format {proto.format} (ModuleDef.format); only "
            f"FORMAT_V3 ({FORMAT_V3}) TF1 hub modules can be read")
    if proto.required_features:
        raise UnsupportedModelError(
            f"{file}: the TF-Hub module requires features no reader supports: "
            f"{', '.join(sorted(proto.required_features))}")
    return proto


def _tf1_tags(path: Path, tags: str) -> str:
    """The ``tags`` argument for :func:`load_saved_model` that selects the MetaGraph to convert."""
    wanted = {t.strip() for t in tags.split(",") if t.strip()}
    if ",".join(sorted(wanted)) not in _DEFAULT_TAGS:
        return tags  # explicit: that MetaGraph or a ModelFormatError naming the tag sets
    tag_sets = [set(mg.meta_info_def.tags) for mg in read_saved_model_proto(path).meta_graphs]
    if set() in tag_sets or len(tag_sets) == 1:
        return ""  # the default graph ([] tags), or the only one there is
    if wanted in tag_sets:
        return tags
    raise ModelFormatError(
        f"{path}: TF-Hub module without a default ([]-tagged) MetaGraph; available tag sets: "
        f"{sorted(sorted(s) for s in tag_sets)}; pick one with --saved_model_tags")


def load_hub_module(path: Path, *, tags: str = "serve", signature_name: str | None = None) -> Graph:
    """Load signature ``signature_name`` (default ``default``) of a local hub module folder.

    TF1 modules (``tfhub_module.pb``) get their ModuleDef checked and the MetaGraph picked as the
    module docstring says; TF2 modules are read as SavedModels with ``tags``.

    Raises:
        ModelFormatError: Not a module folder, unreadable files, unknown tags or signature.
        UnsupportedModelError: An unknown ModuleDef format or required feature; things a TF.js
            graph model cannot hold.
    """
    path = Path(path)
    if not path.is_dir():
        raise ModelFormatError(
            f"{path}: tf_hub input must be a downloaded module folder (tfjs-lite never uses the network)")
    if is_tf1_hub_module(path):
        read_module_def(path)
        tags = _tf1_tags(path, tags)
    return load_saved_model(path, tags=tags, signature_name=signature_name, default_signature="default")
