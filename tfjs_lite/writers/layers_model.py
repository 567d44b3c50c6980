"""Write a TF.js layers model: ``model.json`` plus weight shards (docs/formats.md §2, §3).

``model.json`` keys, in the official order: ``format`` ("layers-model"), ``generatedBy``
(``"keras v<keras_version>"``, null without a topology), ``convertedBy``, ``userDefinedMetadata``
(only when metadata is given), ``modelTopology`` (null for weights-only inputs), ``weightsManifest``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, Optional, Sequence

from tfjs_lite import __version__
from tfjs_lite.options import ConvertOptions
from tfjs_lite.report import Report
from tfjs_lite.writers.model_json import write_model_json
from tfjs_lite.writers.weights import WeightEntry, write_weights

__all__ = ["CONVERTED_BY", "layers_model_json", "write_layers_model"]

CONVERTED_BY = f"tfjs-lite {__version__}"


def layers_model_json(
    topology: Optional[Mapping[str, Any]],
    manifest: Sequence[Mapping[str, Any]],
    *,
    metadata: Optional[Mapping[str, Any]] = None,
) -> dict[str, Any]:
    """The ``model.json`` dict for a layers model, keys in the official order."""
    version = topology.get("keras_version") if topology else None
    model_json: dict[str, Any] = {
        "format": "layers-model",
        "generatedBy": f"keras v{version}" if topology is not None else None,
        "convertedBy": CONVERTED_BY,
    }
    if metadata:
        model_json["userDefinedMetadata"] = dict(metadata)
    model_json["modelTopology"] = dict(topology) if topology is not None else None
    model_json["weightsManifest"] = list(manifest)
    return model_json


def write_layers_model(
    directory: Path,
    topology: Optional[Mapping[str, Any]],
    layers: Sequence[Sequence[WeightEntry]],
    options: ConvertOptions,
    report: Report,
) -> None:
    """Write shards and ``model.json`` into ``directory``.

    Args:
        directory: The (staging) output folder.
        topology: ``modelTopology`` (``keras_version``, ``backend``, ``model_config``, ...) or None.
        layers: Each layer's weights in manifest order; layers without weights may be empty.
        options: Shard size, quantization, ``split_weights_by_layer`` and metadata.
        report: Receives warnings from the weight writer.
    """
    non_empty = [list(entries) for entries in layers if entries]
    if options.split_weights_by_layer:
        groups = non_empty
    else:
        groups = [[entry for entries in non_empty for entry in entries]]
    quantization = options.quantization if options.quantization.active else None
    manifest = write_weights(
        groups,
        directory,
        shard_size_bytes=options.weight_shard_size_bytes,
        quantization=quantization,
        report=report,
    )
    write_model_json(directory, layers_model_json(topology, manifest, metadata=options.metadata or None))
