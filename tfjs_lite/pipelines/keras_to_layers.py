"""Keras ``.h5`` / ``.keras`` → TF.js layers model.

* tf.keras 2 ``.h5``: topology and weights as the official converter writes them (model_config
  verbatim apart from legacy class renames and L1/L2 → L1L2; weights in h5py order of
  ``model_weights``, names from ``weight_names`` with ``:0`` stripped) — byte-identical shards.
* Keras 3 ``.h5`` and ``.keras``: the config is translated to the Keras 2 form tfjs-layers reads
  (:mod:`tfjs_lite.keras.config`) and weights are named by structure
  (:mod:`tfjs_lite.keras.weight_paths`), in ``model.layers`` order.
* weights-only files: ``modelTopology`` null, as the official converter.

Every model passes the pre-flight check (:mod:`tfjs_lite.keras.preflight`) and a weight check
(each layer has the weights its config implies, with plausible shapes) before anything is written.
"""

from __future__ import annotations

import math
import zipfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping, Optional, Protocol, Sequence

import h5py

from tfjs_lite.errors import ModelFormatError, UnsupportedModelError
from tfjs_lite.keras.config import fix_regularizers, is_keras3, keras3_to_tfjs, translate_class_names
from tfjs_lite.keras.implicit_masks import drop_implicit_masks
from tfjs_lite.keras.keepdims import expand_keepdims_pooling
from tfjs_lite.keras.layers import check_shape
from tfjs_lite.keras.normalization import translate_normalization
from tfjs_lite.keras.preflight import LayerIssue, check_layer_shapes, check_model, refusal
from tfjs_lite.keras.scaled_sum import expand_scaled_sums
from tfjs_lite.keras.weight_paths import LayerPlan, WeightSlot, plan_weights, vars_group_name
from tfjs_lite.options import ConvertOptions
from tfjs_lite.readers.keras_archive import KerasArchive, open_keras_archive
from tfjs_lite.readers.keras_h5 import H5_ERRORS, KerasH5, check_weight_dataset, hard_get, open_h5, read_keras_h5
from tfjs_lite.report import Report
from tfjs_lite.writers.layers_model import write_layers_model
from tfjs_lite.writers.weights import WeightEntry

__all__ = ["Preflight", "StoredWeight", "keras2_layers_model", "read_keras_file", "run"]

Layers = list[list[WeightEntry]]


class StoredWeight(Protocol):
    """One weight as a tf.keras 2 model file stores it (:class:`~tfjs_lite.readers.keras_h5.H5Weight`
    or a SavedModel variable): ``name`` is the variable name (a trailing ``:0`` is dropped),
    ``dataset`` the array-like data (read lazily by the weight writer)."""

    @property
    def name(self) -> str: ...

    @property
    def dataset(self) -> Any: ...

    @property
    def shape(self) -> tuple[int, ...]: ...


def run(input_path: Path, staging_dir: Path, options: ConvertOptions, report: Report) -> None:
    """Convert ``input_path`` (Keras HDF5 or ``.keras``) into a layers model in ``staging_dir``."""
    with read_keras_file(input_path, options, report) as (topology, layers):
        _write(staging_dir, topology, layers, options, report, input_path)


# A pre-flight check: (config, translation issues, options, report, keras3) → names of the layers
# whose weights are to be passed through unchecked (forced output); raises to refuse the model.
Preflight = Callable[[Mapping[str, Any], list[LayerIssue], ConvertOptions, Report], set[str]]


@contextmanager
def read_keras_file(
    input_path: Path, options: ConvertOptions, report: Report, *, preflight: Optional[Preflight] = None,
    plan_names: bool = False,
) -> Iterator[tuple[Optional[dict[str, Any]], Layers]]:
    """The model of a Keras ``.h5``/``.keras`` file as ``(modelTopology, weight groups)``, checked.

    The weights are read lazily, so they are only valid inside the ``with`` block. ``preflight``
    replaces the tfjs-layers pre-flight (the graph path checks what it can lower instead);
    ``plan_names`` names tf.keras 2 weights by the layer plan (``keras/weight_paths.py``) instead
    of their stored variable names, as Keras 3 weights always are.
    """
    if input_path.is_dir():
        raise ModelFormatError("expected a Keras .h5 or .keras file, got a folder", path=input_path)
    if zipfile.is_zipfile(input_path):
        with open_keras_archive(input_path) as archive:
            yield _from_archive(archive, options, report, preflight)
        return
    with open_h5(input_path, input_path) as handle:
        info = read_keras_h5(handle, input_path)
        if info.kind == "weights":
            yield None, [[_official_entry(w) for w in weights] for _, weights in info.layers]
        elif info.kind == "weights_v3":
            yield None, _weights_v3(handle, report, input_path)
        elif is_keras3(info.keras_version):
            yield _from_keras3_h5(info, options, report, preflight)
        else:
            assert info.model_config is not None
            yield keras2_layers_model(
                info.model_config, info.layers, keras_version=info.keras_version, backend=info.backend,
                training_config=info.training_config, options=options, report=report, path=info.path,
                preflight=preflight, plan_names=plan_names,
            )


def _write(
    staging_dir: Path,
    topology: Optional[dict[str, Any]],
    layers: Layers,
    options: ConvertOptions,
    report: Report,
    path: Path,
) -> None:
    where = _non_finite_number(topology)
    if where is not None:
        raise UnsupportedModelError(
            f"the model config holds NaN or Infinity at {where}, which model.json (JSON, as TF.js parses it) "
            "cannot represent; convert with --output_format tfjs_graph_model", path=path)
    try:
        write_layers_model(staging_dir, topology, layers, options, report)
    except H5_ERRORS as e:
        if isinstance(e, OSError) and e.errno is not None:  # a file-system error writing the output
            raise
        # h5py reports unreadable data (truncated or corrupt files) with errno-less OSErrors etc.
        raise ModelFormatError(f"cannot read the weights ({' '.join(str(e).split())[:200]})", path=path) from None


def _non_finite_number(value: Any, where: str = "") -> Optional[str]:
    """The JSON path of the first NaN/Infinity in ``value``, or None."""
    if isinstance(value, float) and not math.isfinite(value):
        return where or "the top level"
    if isinstance(value, dict):
        items: Any = value.items()
    elif isinstance(value, list):
        items = enumerate(value)
    else:
        return None
    for key, item in items:
        found = _non_finite_number(item, f"{where}/{key}")
        if found is not None:
            return found
    return None


# --- pre-flight ------------------------------------------------------------------------------


def _preflight(
    config: Mapping[str, Any], issues: list[LayerIssue], options: ConvertOptions, report: Report, *, keras3: bool
) -> set[str]:
    """Refuse (or, with force, warn about) layers tfjs-layers cannot load; returns their names."""
    check_layer_shapes(config)
    issues = issues + check_model(config, keras3=keras3)
    if not issues:
        return set()
    error = refusal(issues)
    if not options.force:
        raise error
    report.warn(f"force: writing the model anyway. {error}")
    return {issue.layer for issue in issues}


def _translated(config: dict[str, Any], layers: Layers) -> tuple[dict[str, Any], Layers]:
    """The config and weights as written for tfjs-layers, after the weights were checked against the
    original layers: exact translations of what tfjs-layers lacks (``Normalization``, ``Subtract``,
    ``CustomScaleLayer``) or ignores (global pooling ``keepdims``)."""
    config, layers = translate_normalization(config, layers)
    return expand_scaled_sums(expand_keepdims_pooling(config)), layers


# --- tf.keras 2 ------------------------------------------------------------------------------


def _official_entry(weight: StoredWeight) -> WeightEntry:
    name = weight.name[:-2] if weight.name.endswith(":0") else weight.name
    return WeightEntry(name, weight.dataset)


def keras2_layers_model(
    model_config: Mapping[str, Any],
    layers: Sequence[tuple[str, Sequence[StoredWeight]]],
    *,
    keras_version: Optional[str],
    backend: Optional[str],
    training_config: Optional[Any],
    options: ConvertOptions,
    report: Report,
    path: Path,
    preflight: Optional[Preflight] = None,
    plan_names: bool = False,
) -> tuple[dict[str, Any], Layers]:
    """A tf.keras 2 model (config + each layer's stored weights) → ``(modelTopology, layers)``.

    The config is kept as the official converter keeps it (legacy class renames, L1/L2 → L1L2),
    checked by the pre-flight and against the stored weights; ``layers`` is
    ``[(layer name, weights in the layer's order)]`` in the order the weights are to be written.
    Any reader of tf.keras 2 models (HDF5, SavedModel) can feed it. ``path`` names the input in errors.
    With ``plan_names`` the weights are grouped and named by the layer plan (their stored names
    can be anything, e.g. ``mean:0`` for a Normalization layer).
    """
    config = fix_regularizers(translate_class_names(model_config))
    refused = _check(preflight, config, [], options, report, keras3=False)
    by_name = dict(layers)
    planned: Layers = []
    for plan in plan_weights(config):
        if plan.name in refused or plan.opaque:
            continue
        slots, stored = plan.legacy_h5_slots(), by_name.get(plan.name, [])
        _check_layer_weights(plan, slots, [w.shape for w in stored], path)
        planned.append([WeightEntry(slot.name, w.dataset) for slot, w in zip(slots, stored)])
    if plan_names:  # the graph lowering reads the Keras config itself: no tfjs-layers translations
        entries = planned
    else:
        config, entries = _translated(config, [[_official_entry(w) for w in weights] for _, weights in layers])
    topology: dict[str, Any] = {"keras_version": keras_version, "backend": backend, "model_config": config}
    if training_config is not None:
        topology["training_config"] = training_config
    return topology, entries


# --- Keras 3 ---------------------------------------------------------------------------------


def _check(
    preflight: Optional[Preflight], config: Mapping[str, Any], issues: list[LayerIssue], options: ConvertOptions,
    report: Report, *, keras3: bool,
) -> set[str]:
    if preflight is None:
        return _preflight(config, issues, options, report, keras3=keras3)
    return preflight(config, issues, options, report)


def _from_keras3_h5(
    info: KerasH5, options: ConvertOptions, report: Report, preflight: Optional[Preflight]
) -> tuple[dict[str, Any], Layers]:
    assert info.model_config is not None
    issues: list[LayerIssue] = []
    config, issues = drop_implicit_masks(fix_regularizers(keras3_to_tfjs(info.model_config, issues)), issues)
    refused = _check(preflight, config, issues, options, report, keras3=True)
    by_name = dict(info.layers)
    layers: Layers = []
    for plan in plan_weights(config):
        stored = by_name.get(plan.name, [])
        if plan.name in refused or plan.opaque:
            layers.append([WeightEntry(w.name, w.dataset) for w in stored])
            continue
        slots = plan.legacy_h5_slots()
        _check_layer_weights(plan, slots, [w.shape for w in stored], info.path)
        layers.append([WeightEntry(slot.name, w.dataset) for slot, w in zip(slots, stored)])
    config, layers = _translated(config, layers)
    topology = {"keras_version": info.keras_version, "backend": info.backend, "model_config": config}
    return topology, layers


def _from_archive(
    archive: KerasArchive, options: ConvertOptions, report: Report, preflight: Optional[Preflight]
) -> tuple[dict[str, Any], Layers]:
    issues: list[LayerIssue] = []
    config, issues = drop_implicit_masks(fix_regularizers(keras3_to_tfjs(archive.config, issues)), issues)
    refused = _check(preflight, config, issues, options, report, keras3=True)
    layers: Layers = []
    for plan in plan_weights(config):
        if plan.name in refused or plan.opaque:
            layers.append(_opaque_archive_entries(archive, plan))
            continue
        datasets = [_archive_dataset(archive, slot.archive_path, slot.owner) for slot in plan.slots]
        _check_layer_weights(plan, plan.slots, [tuple(d.shape) for d in datasets], archive.path)
        _check_no_extra_vars(archive, plan)
        layers.append([WeightEntry(slot.name, d) for slot, d in zip(plan.slots, datasets)])
    config, layers = _translated(config, layers)
    topology = {"keras_version": archive.keras_version, "model_config": config}
    return topology, layers


def _archive_dataset(archive: KerasArchive, path: str, owner: str) -> h5py.Dataset:
    if archive.weights is None:
        raise ModelFormatError(
            f"layer {owner!r} needs weights but the archive has no model.weights.h5", path=archive.path
        )
    try:
        dataset = hard_get(archive.weights, path, archive.path)
    except H5_ERRORS:
        raise ModelFormatError(
            f"layer {owner!r} needs the weight {path} but model.weights.h5 does not have it", path=archive.path
        ) from None
    if not isinstance(dataset, h5py.Dataset):
        raise ModelFormatError(f"{path} in model.weights.h5 is not a dataset", path=archive.path)
    check_weight_dataset(dataset, path, archive.path)
    stored_name = vars_group_name(dataset.parent.attrs)
    parts = path.split("/")
    if stored_name is not None and len(parts) >= 4 and parts[-4] == "layers" and stored_name != owner:
        raise ModelFormatError(
            f"model.weights.h5 keeps layer {stored_name!r}'s weights where the config puts {owner!r} ({path})",
            path=archive.path,
        )
    return dataset


def _check_no_extra_vars(archive: KerasArchive, plan: LayerPlan) -> None:
    assert archive.weights is not None or not plan.slots
    expected: dict[str, int] = {}
    for slot in plan.slots:
        group = slot.archive_path.rsplit("/", 1)[0]
        expected[group] = expected.get(group, 0) + 1
    if archive.weights is None:
        return
    for group_path in _vars_groups(archive.weights, plan.archive_path, archive.path):
        count = len(archive.weights[group_path])
        if count != expected.get(group_path, 0):
            raise ModelFormatError(
                f"layer {plan.name!r} ({plan.class_name}) has {count} stored weights in {group_path} "
                f"but its config implies {expected.get(group_path, 0)}",
                path=archive.path,
            )


def _vars_groups(root: h5py.File, path: str, input_path: Path) -> list[str]:
    group = _hard_child(root, path, input_path)
    if not isinstance(group, h5py.Group):
        return []
    found: list[str] = []

    def visit(name: str, obj: Any) -> None:
        if isinstance(obj, h5py.Group) and name.split("/")[-1] == "vars":
            found.append(f"{path}/{name}")

    group.visititems(visit)  # hard links only: every group found is in the file
    return sorted(found)


def _opaque_archive_entries(archive: KerasArchive, plan: LayerPlan) -> list[WeightEntry]:
    """Weights of a layer we cannot plan (forced output): named by their place in the archive."""
    if archive.weights is None or plan.archive_path not in archive.weights:
        return []
    group = hard_get(archive.weights, plan.archive_path, archive.path)
    if not isinstance(group, h5py.Group):
        return []
    return [
        WeightEntry(f"{plan.name}/{name.replace('vars/', '')}", obj)
        for name, obj in _datasets(group, archive.path)
    ]


def _natural_key(name: str) -> list[Any]:
    return [(0, int(part), "") if part.isdigit() else (1, 0, part) for part in name.split("/")]


def _datasets(group: h5py.Group, path: Path) -> list[tuple[str, h5py.Dataset]]:
    """Every dataset under ``group`` as (relative path, dataset), ``vars/10`` after ``vars/9``.

    ``visititems`` follows hard links only; each dataset is checked like any weight."""
    found: list[tuple[str, h5py.Dataset]] = []

    def visit(name: str, obj: Any) -> None:
        if isinstance(obj, h5py.Dataset):
            check_weight_dataset(obj, f"{group.name}/{name}", path)
            found.append((name, obj))

    group.visititems(visit)
    return sorted(found, key=lambda item: _natural_key(item[0]))


# --- checks ----------------------------------------------------------------------------------


def _check_layer_weights(
    plan: LayerPlan, slots: list[WeightSlot], shapes: list[tuple[int, ...]], path: Path
) -> None:
    """``shapes`` are the stored weights of ``plan``'s layer, in the order ``slots`` expects them."""
    if len(shapes) != len(slots):
        wanted = ", ".join(slot.name for slot in slots) or "none"
        raise ModelFormatError(
            f"layer {plan.name!r} ({plan.class_name}) has {len(shapes)} stored weights but its config "
            f"implies {len(slots)} ({wanted})",
            path=path,
        )
    for slot, shape in zip(slots, shapes):
        problem = check_shape(slot.owner_class, slot.owner_config, slot.leaf, shape)
        if problem:
            raise ModelFormatError(f"layer {slot.owner!r} ({slot.owner_class}): {problem}", path=path)


# --- Keras-v3 weights-only files ---------------------------------------------------------------


def _weights_v3(handle: h5py.File, report: Report, path: Path) -> Layers:
    """``layers/<x>/vars/<i>`` without a config: names ``<layer>/<index>`` (tfjs's Keras-v3 form)."""
    owners: dict[str, list[WeightEntry]] = {}
    for owner_path, owner, datasets in _iter_v3_vars(hard_get(handle, "layers", path), "layers", path):
        entries = owners.setdefault(owner_path, [])
        for dataset in datasets:
            entries.append(WeightEntry(f"{owner}/{len(entries)}", dataset))
    report.warn(
        "the weights file has no model config, so weights are named <layer>/<index> after the layer "
        "names stored in it (or Keras's default names); load them into a model with those layer names"
    )
    return [entries for entries in owners.values()]


def _iter_v3_vars(
    group: h5py.Group, path: str, input_path: Path
) -> Iterable[tuple[str, str, list[h5py.Dataset]]]:
    for key in group:
        layer = hard_get(group, key, input_path)
        if not isinstance(layer, h5py.Group):
            continue
        owner_path = f"{path}/{key}"
        own_vars = _hard_child(layer, "vars", input_path)
        owner = (vars_group_name(own_vars.attrs) if isinstance(own_vars, h5py.Group) else None) or key
        nested = _hard_child(layer, "layers", input_path)
        if isinstance(nested, h5py.Group):
            yield from _iter_v3_vars(nested, f"{owner_path}/layers", input_path)
            continue
        yield owner_path, owner, [dataset for _, dataset in _datasets(layer, input_path)]


def _hard_child(group: h5py.Group, name: str, path: Path) -> Any:
    try:
        return hard_get(group, name, path)
    except KeyError:
        return None
