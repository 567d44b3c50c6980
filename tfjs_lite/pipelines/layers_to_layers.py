"""tfjs_layers_model → tfjs_layers_model: re-shard, re-quantize or split the weights by layer.

The official converter goes through a Keras model (layers → h5 → layers); tfjs-lite reads the
weights and writes them again, keeping ``modelTopology`` as it is. Quantized inputs are
dequantized first, so their weights come out as float32 unless a ``--quantize_*`` flag quantizes
them again (which adds a second rounding on top of the first: the errors compound).

Weight order: without ``--split_weights_by_layer`` the input manifest order is kept. With it,
every layer gets its own group, layers in name order as the official converter iterates them
(weights-only inputs: grouped by the first segment of the weight names, in manifest order).
"""

from __future__ import annotations

from pathlib import Path

from tfjs_lite.keras.manifest_weights import assign_weights
from tfjs_lite.keras.preflight import check_layer_shapes
from tfjs_lite.options import ConvertOptions
from tfjs_lite.readers.tfjs_layers import LayersModel, read_layers_model
from tfjs_lite.report import Report
from tfjs_lite.writers.layers_model import write_layers_model
from tfjs_lite.writers.weights import WeightEntry

__all__ = ["run"]


def _layer_groups(model: LayersModel) -> list[list[WeightEntry]]:
    if model.model_config is not None:
        layers = assign_weights(
            model.model_config, [(w.name, w.value) for w in model.weights]
        )
        return [
            [WeightEntry(n, v) for n, v in x.weights]
            for x in sorted(layers, key=lambda x: x.name)
        ]
    groups: dict[str, list[WeightEntry]] = {}
    for w in model.weights:
        groups.setdefault(w.name.split("/", 1)[0], []).append(
            WeightEntry(w.name, w.value)
        )
    return list(groups.values())


def run(
    input_path: Path, staging: Path, options: ConvertOptions, report: Report
) -> None:
    """Rewrite the layers model at ``input_path`` into the folder ``staging``."""
    model = read_layers_model(input_path, require_topology=False)
    if model.model_config is not None:
        check_layer_shapes(model.model_config)  # TF.js would refuse such a config at load
    if model.quantized:
        kinds = ", ".join(
            sorted({w.quantization for w in model.weights if w.quantization})
        )
        if options.quantization.active:
            report.warn(
                f"the input's weights are already quantized ({kinds}); they are dequantized and quantized "
                "again, so the two quantization errors compound"
            )
        else:
            report.warn(
                f"the input's weights are quantized ({kinds}); they are written dequantized, as float32"
            )
    if options.split_weights_by_layer:
        layers = _layer_groups(model)
    else:
        layers = [[WeightEntry(w.name, w.value) for w in model.weights]]
    topology = model.model_json.get("modelTopology")
    metadata = dict(model.model_json.get("userDefinedMetadata") or {})
    metadata.update(options.metadata or {})
    write_layers_model(
        staging, topology, layers, options.replace(metadata=metadata), report
    )
