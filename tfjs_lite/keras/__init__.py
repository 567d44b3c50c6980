"""Keras model configs and weights as tfjs-layers 4.22 reads them.

* :mod:`tfjs_lite.keras.config` — Keras 3 → Keras 2 / tfjs-layers config translation.
* :mod:`tfjs_lite.keras.weight_specs` — which weights each layer class owns, in Keras order, and
  the shape checks that catch weights contradicting the config.
* :mod:`tfjs_lite.keras.weight_paths` — pairing stored weights with the names tfjs-layers matches.
* :mod:`tfjs_lite.keras.preflight` — the tfjs-layers 4.22 support table and the refusal check.
"""
