"""Keras layers → TF ops in the IR, for Keras / TF.js layers models converted to graph models.

* :mod:`~tfjs_lite.keras.lowering.registry` — ``LOWERINGS``: Keras class name → lowering function
  (start here);
* :mod:`~tfjs_lite.keras.lowering.model` — the walk over a model config (Sequential, Functional,
  nested models, shared layers) and :class:`~tfjs_lite.keras.lowering.model.LayerCall`;
* :mod:`~tfjs_lite.keras.lowering.builder` — emitting ops with static shapes;
* the lowerings by family: ``core``, ``activations``, ``conv``, ``normalization``, ``rnn``,
  ``attention``.
"""

from __future__ import annotations

from typing import Any, Mapping

from tfjs_lite.ir import Graph

__all__ = ["lower_keras_model", "lowering_issues"]


def lowering_issues(model_config: Mapping[str, Any]) -> list[Any]:
    """Layers of the model that cannot be lowered (Lambda, custom classes, unknown classes)."""
    from tfjs_lite.keras.lowering import model
    from tfjs_lite.keras.lowering.registry import LOWERINGS

    return model.lowering_issues(model_config, LOWERINGS)


def lower_keras_model(model_config: Mapping[str, Any], weights: Mapping[str, Any], *,
                      keras3: bool) -> tuple[Graph, dict[str, list[str]]]:
    """The IR graph of a Keras model and, per layer, the nodes it was lowered to."""
    from tfjs_lite.keras.lowering import model
    from tfjs_lite.keras.lowering.registry import LOWERINGS

    return model.lower_model(model_config, weights, LOWERINGS, keras3=keras3)
