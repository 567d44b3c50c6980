"""Keras 3's explicit masks dropped for the ones tfjs-layers computes (``keras/implicit_masks.py``).

The TF.js proof is the fixture ``k3_masked_sequences`` (converts on the layers path and matches
Keras) and ``k3_masked_concatenate`` (a merged mask no tfjs-layers layer recomputes: refused);
these are the rule's own cases, including where it must not fire."""

from __future__ import annotations

import copy
import json
import zipfile
from pathlib import Path

from tfjs_lite.keras.config import keras3_to_tfjs
from tfjs_lite.keras.implicit_masks import drop_implicit_masks

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "keras"


def _translated(case: str):
    with zipfile.ZipFile(FIXTURES / case / "model.keras") as z:
        config = json.loads(z.read("config.json"))
    issues: list = []
    return keras3_to_tfjs(config, issues), issues


def _classes(config: dict) -> list[str]:
    return [layer["class_name"] for layer in config["config"]["layers"]]


def _mask_kwargs(config: dict) -> list:
    return [ref[3]["mask"] for layer in config["config"]["layers"] for node in layer.get("inbound_nodes") or []
            for ref in node if len(ref) > 3 and "mask" in ref[3]]


def test_embedding_and_masking_masks_are_dropped_with_their_issues():
    config, issues = _translated("k3_masked_sequences")
    assert "ops.NotEqual" in _classes(config) and "ops.Any" in _classes(config) and _mask_kwargs(config)
    out, kept = drop_implicit_masks(config, issues)
    assert not any(c.startswith("ops.") for c in _classes(out)) and _mask_kwargs(out) == []
    assert kept == [] and issues  # every issue was about the mask plumbing
    assert "ops.NotEqual" in _classes(config)  # the input config is not modified


def test_a_merged_mask_is_left_alone():
    config, issues = _translated("k3_masked_concatenate")
    out, kept = drop_implicit_masks(config, issues)
    assert out is config and kept is issues


def test_a_mask_operation_used_for_something_else_is_left_alone():
    config, issues = _translated("k3_masked_sequences")
    config = copy.deepcopy(config)
    not_equal = next(layer["name"] for layer in config["config"]["layers"] if layer["class_name"] == "ops.NotEqual")
    config["config"]["output_layers"].append([not_equal, 0, 0])
    out, _ = drop_implicit_masks(config, issues)
    assert out is config


def test_a_mask_that_is_not_the_embeddings_is_left_alone():
    config, issues = _translated("k3_masked_sequences")
    config = copy.deepcopy(config)
    for layer in config["config"]["layers"]:
        if layer["class_name"] == "Embedding":
            layer["config"]["mask_zero"] = False  # ids != 0 is then no mask tfjs-layers makes
    out, _ = drop_implicit_masks(config, issues)
    assert out is config


def test_an_rnn_keras_3_gave_no_mask_is_not_given_one_implicitly():
    """Where Keras 3 passed no mask to an RNN the implicit flow would reach, dropping the plumbing
    would make tfjs-layers mask it: the rule must not fire."""
    config, issues = _translated("k3_masked_sequences")
    config = copy.deepcopy(config)
    gru = next(layer for layer in config["config"]["layers"] if layer["class_name"] == "GRU")
    for node in gru["inbound_nodes"]:
        for ref in node:
            ref[3].pop("mask", None)
    out, _ = drop_implicit_masks(config, issues)
    assert out is config
